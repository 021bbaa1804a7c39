/**
 * Worker threads for the wasm backend in browsers (`initWasm({ threads })`, registered by the
 * browser entry): Web Workers over one shared WebAssembly memory, the same pool as Node's
 * worker_threads (../pool.ts: control block, kernel codes, the workers' loop). Browsers share
 * memory with workers only on a cross-origin isolated page (`crossOriginIsolated`: served with
 * `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`).
 *
 * The workers run a small classic script made into a Blob URL (no file to ship or bundle); each
 * gets the compiled modules (the shared build and, where relaxed SIMD validates, its companion),
 * the memory and the control block by postMessage, instantiates them, posts "ready" and loops
 * blocking in Atomics.wait (allowed in workers). The pool is installed only once every worker is
 * ready; an error, or no answer within 30 s, terminates them and leaves the kernels on one thread.
 * A page's main thread may not block: there the pool's caller spins on Atomics.load until the
 * workers are done (inside a worker, it blocks).
 */
import { KERNELS_SHARED_WASM_BASE64, RELAXED_SHARED_WASM_BASE64 } from '../binary.js';
import {
  decodeBase64,
  relaxedBytes,
  type RelaxedExports,
  type KernelExports,
  useKernels,
} from '../instance.js';
import { WORKER_LOOP, canBlock, controlBytes, kernelPool } from '../pool.js';

// The browser APIs used here (the DOM lib is not loaded: the library's typings stay platform-free).
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<{ exports: unknown }>;
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => object;
}
interface WebWorker {
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message?: string }) => void) | null;
  onmessageerror: (() => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
}
interface BrowserGlobals {
  WebAssembly?: WasmApi;
  Worker?: new (url: string, options?: { name?: string }) => WebWorker;
  Blob?: new (parts: string[], options: { type: string }) => object;
  URL: { createObjectURL?(blob: object): string; revokeObjectURL?(url: string): void };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Milliseconds the workers have to report "ready". */
const STARTUP_TIMEOUT = 30e3;

/** At most this many threads for 'auto'. */
const MAX_AUTO = 8;

// A worker: its first message brings the modules, the memory, the control block and its slot; it
// answers "ready" (or the error) and then runs the pool's loop for good.
const WORKER = `onmessage = (e) => {
  onmessage = null;
  const { module, relaxed, memory, control, index } = e.data;
  let k, r;
  try {
    k = new WebAssembly.Instance(module, { env: { memory } }).exports;
    r = relaxed ? new WebAssembly.Instance(relaxed, { env: { memory } }).exports : k;
  } catch (err) {
    postMessage({ error: String((err && err.message) || err) });
    return;
  }
  postMessage({ ready: true });
  const ctrl = new Int32Array(control);
  ${WORKER_LOOP}
};
`;

const NOT_ISOLATED =
  'the page is not cross-origin isolated: serve it with Cross-Origin-Opener-Policy: same-origin ' +
  'and Cross-Origin-Embedder-Policy: require-corp';

/** Why this runtime cannot start Web Workers over shared memory, or null when it can. */
function unavailable(g: BrowserGlobals): string | null {
  if (g.crossOriginIsolated === false) return NOT_ISOLATED;
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available';
  if (!g.WebAssembly) return 'WebAssembly is not available';
  if (!g.Worker || !g.Blob || !g.URL.createObjectURL) return 'Web Workers are not available';
  return null;
}

/**
 * Starts the wasm backend's threads in a browser (`threads`, this one included; 'auto':
 * `navigator.hardwareConcurrency`, at most 8) and installs the pool once every worker is ready.
 * Resolves to why the kernels stay on one thread, or null when the threads run; never rejects.
 */
export async function startBrowserThreads(threads: number | 'auto'): Promise<string | null> {
  const g = globalThis as unknown as BrowserGlobals;
  const why = unavailable(g);
  if (why) return why;
  const cores = g.navigator?.hardwareConcurrency ?? 1;
  const n = threads === 'auto' ? Math.max(1, Math.min(MAX_AUTO, cores)) : threads;
  if (n === 1) {
    return threads === 'auto' ? 'auto: navigator.hardwareConcurrency is 1' : 'one thread requested';
  }
  const wasm = g.WebAssembly!;
  let memory: object;
  let module: object;
  let relaxed: object | null;
  let k: KernelExports;
  let r: RelaxedExports | null;
  try {
    // Asynchronous compiles: a page's main thread refuses synchronous ones over 4 KB.
    module = await wasm.compile(decodeBase64(KERNELS_SHARED_WASM_BASE64));
    const bytes = relaxedBytes(RELAXED_SHARED_WASM_BASE64);
    relaxed = bytes ? await wasm.compile(bytes) : null;
    memory = new wasm.Memory({ initial: 1, maximum: 65536, shared: true });
    k = (await wasm.instantiate(module, { env: { memory } })).exports as KernelExports;
    r = relaxed
      ? ((await wasm.instantiate(relaxed, { env: { memory } })).exports as RelaxedExports)
      : null;
  } catch (e) {
    return `the shared-memory kernels could not be set up: ${e instanceof Error ? e.message : e}`;
  }
  const control = new SharedArrayBuffer(controlBytes(n));
  const url = g.URL.createObjectURL!(new g.Blob!([WORKER], { type: 'text/javascript' }));
  const workers: WebWorker[] = [];
  const failure = await new Promise<string | null>((resolve) => {
    let waiting = n - 1;
    const timer = g.setTimeout(
      () => resolve(`the worker threads did not start within ${STARTUP_TIMEOUT / 1000} s`),
      STARTUP_TIMEOUT,
    );
    const done = (why: string | null): void => {
      g.clearTimeout(timer);
      resolve(why);
    };
    try {
      for (let i = 1; i < n; i++) {
        const w = new g.Worker!(url, { name: `nabla-wasm-${i}` });
        workers.push(w);
        w.onmessage = (e) => {
          const m = e.data as { ready?: boolean; error?: string };
          if (m.error !== undefined) done(`worker ${i} failed: ${m.error}`);
          else if (m.ready && --waiting === 0) done(null);
        };
        w.onerror = (e) => done(`worker ${i} failed: ${e.message ?? 'error'}`);
        w.onmessageerror = () => done(`worker ${i} could not receive the modules`);
        w.postMessage({ module, relaxed, memory, control, index: i });
      }
    } catch (e) {
      done(`could not start the worker threads: ${e instanceof Error ? e.message : e}`);
    }
  });
  g.URL.revokeObjectURL?.(url);
  if (failure) {
    for (const w of workers) w.terminate();
    return failure;
  }
  for (const w of workers) w.onmessage = w.onerror = w.onmessageerror = null;
  useKernels(k, r, kernelPool(n, k, r, control, canBlock()));
  return null;
}
