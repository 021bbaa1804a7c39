/**
 * The wasm backend's WebAssembly instance and its linear memory. A kernel's operands are copied
 * into this memory unless they already live there (resident.ts: tensors allocated in a shared
 * memory), it runs, and its result is copied out unless it was written in place. The memory holds a
 * heap (heap.ts) of such tensors and one staging arena: `begin()` resets the arena (a heap block,
 * replaced by a larger one when a call needs more) and `alloc` hands out 16-byte-aligned blocks
 * of it. WebAssembly memory never shrinks.
 *
 * Compilation is synchronous on first use, except where the platform forbids it (Chrome's main
 * thread refuses to compile modules over 4 KB synchronously): there `initWasm()` compiles
 * asynchronously, and the kernels run the reference kernels until it is done. In Node, the first
 * use starts the shared-memory instance instead (`setKernelStarter`: node/threads.ts).
 *
 * Where the runtime validates relaxed SIMD, the relaxed-SIMD companion module (wasm/assembly/
 * relaxed.ts: the GEMM and the fused attention with fused multiply-adds) is instantiated over the
 * same memory and its kernels used instead of the main module's.
 */
import { KERNELS_WASM_BASE64, RELAXED_WASM_BASE64 } from './binary.js';
import { Heap } from './heap.js';

/** The module's exports (wasm/assembly/index.ts). Addresses are byte offsets; sizes are i32. */
export interface KernelExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  gemmScratchBytes(): number;
  gemm(
    batch: number,
    M: number,
    N: number,
    K: number,
    a: number,
    sab: number,
    sam: number,
    sak: number,
    b: number,
    sbb: number,
    sbk: number,
    sbn: number,
    c: number,
    ldc: number,
    scratch: number,
  ): void;
  unary(
    op: number,
    planes: number,
    rows: number,
    n: number,
    x: number,
    sxp: number,
    sxr: number,
    sx: number,
    out: number,
  ): void;
  binary(
    op: number,
    planes: number,
    rows: number,
    n: number,
    a: number,
    sap: number,
    sar: number,
    sa: number,
    b: number,
    sbp: number,
    sbr: number,
    sb: number,
    out: number,
  ): void;
  where(
    rows: number,
    n: number,
    c: number,
    scr: number,
    sc: number,
    a: number,
    sar: number,
    sa: number,
    b: number,
    sbr: number,
    sb: number,
    out: number,
  ): void;
  attentionScratchBytes(L: number, S: number, E: number, Ev: number, backward: number): number;
  attentionForward(params: number, b0: number, b1: number, scratch: number): void;
  attentionBackward(params: number, b0: number, b1: number, scratch: number): void;
  layerNormForward(
    R: number,
    N: number,
    x: number,
    sxr: number,
    sxc: number,
    w: number,
    sw: number,
    b: number,
    sb: number,
    eps: number,
    y: number,
    mean: number,
    rstd: number,
    scratch: number,
  ): void;
  layerNormBackward(
    R: number,
    N: number,
    x: number,
    sxr: number,
    sxc: number,
    w: number,
    sw: number,
    mean: number,
    rstd: number,
    gy: number,
    sgr: number,
    sgc: number,
    gx: number,
    gw: number,
    gb: number,
    scratch: number,
  ): void;
  adamUpdate(
    n: number,
    p: number,
    g: number,
    m: number,
    v: number,
    vmax: number,
    flags: number,
    w1: number,
    beta2: number,
    oneMinusBeta2: number,
    wd: number,
    decay: number,
    stepSize: number,
    bc2Sqrt: number,
    eps: number,
  ): void;
  crossEntropyForward(
    R: number,
    C: number,
    x: number,
    sr: number,
    sc: number,
    t: number,
    st: number,
    ignoreIndex: number,
    eps: number,
    loss: number,
    lse: number,
  ): void;
  crossEntropyBackward(
    R: number,
    C: number,
    x: number,
    sr: number,
    sc: number,
    t: number,
    st: number,
    lse: number,
    sl: number,
    gl: number,
    sg: number,
    ignoreIndex: number,
    eps: number,
    gx: number,
  ): void;
  lstmCellForward(...args: number[]): void;
  lstmCellBackward(...args: number[]): void;
  gruCellForward(...args: number[]): void;
  gruCellBackward(...args: number[]): void;
  reduce(
    op: number,
    ni: number,
    nj: number,
    nk: number,
    x: number,
    si: number,
    sj: number,
    sk: number,
    out: number,
    scratch: number,
  ): void;
}

/**
 * The relaxed-SIMD companion's exports (the GEMM and the fused attention kernels, with fused
 * multiply-adds), the same as the main module's.
 */
export type RelaxedExports = Pick<
  KernelExports,
  'gemm' | 'gemmScratchBytes' | 'attentionForward' | 'attentionBackward' | 'attentionScratchBytes'
>;

// The part of the WebAssembly JS API used here (not in the ES lib; the DOM lib is not loaded).
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: unknown } }>;
  validate(bytes: Uint8Array): boolean;
}
declare const WebAssembly: WasmApi;

let exports: KernelExports | null = null;
let relaxed: RelaxedExports | null = null;
let failure: string | null = null;
let pending: Promise<boolean> | null = null;

/** Decodes base64 without atob/Buffer (neither is in every runtime's typings). */
export function decodeBase64(s: string): Uint8Array {
  const table = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
  let n = s.length;
  while (n > 0 && s[n - 1] === '=') n--;
  const out = new Uint8Array((n * 3) >> 2);
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    acc = (acc << 6) | table[s.charCodeAt(i)]!;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function adopt(e: unknown, r: RelaxedExports | null): void {
  exports = e as KernelExports;
  relaxed = r;
  heap = new Heap(exports.memory, exports.heapBase());
  shared =
    typeof SharedArrayBuffer !== 'undefined' && exports.memory.buffer instanceof SharedArrayBuffer;
  arena = arenaEnd = top = 0;
}

/**
 * The relaxed-SIMD companion's bytes when this runtime validates them (feature detection: a
 * runtime without relaxed SIMD rejects its opcodes), else null.
 */
export function relaxedBytes(base64: string): Uint8Array | null {
  const bytes = decodeBase64(base64);
  try {
    return WebAssembly.validate(bytes) ? bytes : null;
  } catch {
    return null;
  }
}

let enableRelaxed: (() => void) | null = null;

/**
 * @internal Sets what runs before the companion is first validated: the Node entry turns V8's
 * relaxed-SIMD flag on there (Node 20), so that only a process that compiles the kernels gets it.
 */
export function setRelaxedSimdEnabler(fn: () => void): void {
  enableRelaxed = fn;
}

/** @internal The companion instantiated over `memory`; null where relaxed SIMD is not there. */
export function instantiateRelaxed(base64: string, memory: unknown): RelaxedExports | null {
  enableRelaxed?.();
  const bytes = relaxedBytes(base64);
  if (!bytes) return null;
  try {
    const module = new WebAssembly.Module(bytes);
    return new WebAssembly.Instance(module, { env: { memory } }).exports as RelaxedExports;
  } catch {
    return null; // e.g. a platform that forbids synchronous compiles: the plain GEMM runs
  }
}

let syncTried = false;
let starter: (() => void) | null = null;

/**
 * @internal Sets what provides the kernels on first use instead of compiling the module over its
 * own memory: the Node entry starts the shared-memory instance there (node/threads.ts), so that
 * tensors can live in the wasm memory. If it throws, the module is compiled as usual.
 */
export function setKernelStarter(fn: (() => void) | null): void {
  starter = fn;
}

/**
 * Kernels a pool can run on its threads: their exports' names; `…Relaxed` are the companion's
 * (the pool's threads have it where the calling thread has it).
 */
export type PoolKernel =
  | 'gemm'
  | 'gemmRelaxed'
  | 'attentionForward'
  | 'attentionBackward'
  | 'attentionForwardRelaxed'
  | 'attentionBackwardRelaxed'
  | 'unary'
  | 'binary';

/**
 * Runs kernel calls on several threads: `run(tasks, kernel)` runs `kernel` (gemm by default) once
 * per task with the task's arguments (the first on the calling thread; at most `threads` tasks)
 * and returns when all are done. Made by src/backend/wasm/pool.ts, for Node's worker threads
 * (node/threads.ts) and browsers' Web Workers (browser/threads.ts).
 */
export interface KernelPool {
  readonly threads: number;
  run(tasks: number[][], kernel?: PoolKernel): void;
  /** Whether every worker has started (until then `run` runs all the tasks on this thread). */
  ready(): boolean;
}

let pool: KernelPool | null = null;

/**
 * @internal Replaces the kernels by `e` (a shared-memory instance) and its relaxed companion `r`
 * (or null), with a thread pool.
 */
export function useKernels(e: unknown, r: RelaxedExports | null, p: KernelPool | null): void {
  adopt(e, r);
  pool = p;
  syncTried = true;
  failure = null;
}

/** The thread pool, if threads were started. */
export function wasmPool(): KernelPool | null {
  return pool;
}

/** @internal The relaxed-SIMD companion (GEMM, attention), when the runtime has relaxed SIMD (after compilation). */
export function relaxedKernels(): RelaxedExports | null {
  return relaxed;
}

/** What the wasm backend runs on this runtime (once compiled: see `initWasm`). */
export interface WasmFeatures {
  /** Whether the kernels run in WebAssembly at all (false before compilation or without it). */
  ready: boolean;
  /** Whether the runtime has relaxed SIMD, so the GEMM and attention use fused multiply-adds. */
  relaxedSimd: boolean;
  /**
   * Threads the matmul and the heavy kernels may use: `initWasm({ threads })` (or
   * NABLA_WASM_THREADS in Node).
   */
  threads: number;
  /**
   * Why `threads` is 1 (null when more run): not asked for, one asked for, still starting, the
   * page is not cross-origin isolated (browsers share memory with workers only then), or a worker
   * failed to start (its error).
   */
  threadsUnavailable: string | null;
}

/**
 * What the wasm backend runs on this runtime. In Node, asking starts the kernels (with
 * NABLA_WASM_THREADS threads, unless `initWasm({ threads })` came first).
 *
 * @example
 * import * as nb from 'nabla';
 * await nb.initWasm();
 * console.log(nb.wasmFeatures());
 * // { ready: true, relaxedSimd: true, threads: 1, threadsUnavailable: 'not requested: ...' }
 */
export function wasmFeatures(): WasmFeatures {
  const ready = kernelsOrNull() !== null;
  const threads = pool?.threads ?? 1;
  return {
    ready,
    relaxedSimd: ready && relaxed !== null,
    threads,
    threadsUnavailable: threads > 1 ? null : threadsUnavailable,
  };
}

/** The instance, compiled synchronously on first use; null where that is not allowed (yet). */
export function kernelsOrNull(): KernelExports | null {
  if (exports || syncTried) return exports;
  syncTried = true;
  if (starter) {
    try {
      starter(); // calls useKernels
      if (exports) return exports;
    } catch {
      // The module over its own memory, below.
    }
  }
  try {
    const module = new WebAssembly.Module(decodeBase64(KERNELS_WASM_BASE64));
    const e = new WebAssembly.Instance(module, {}).exports as KernelExports;
    adopt(e, instantiateRelaxed(RELAXED_WASM_BASE64, e.memory));
  } catch (e) {
    failure = typeof WebAssembly === 'undefined' ? 'WebAssembly is not available' : String(e);
    // Chrome's main thread: an asynchronous compile is allowed; the kernels use ref meanwhile.
    void initSingle();
  }
  return exports;
}

/** Options of `initWasm`. */
export interface WasmInitOptions {
  /**
   * Threads for the matmul, attention and the costly elementwise kernels, this one included: a
   * count, or 'auto' (browsers: `navigator.hardwareConcurrency`, Node: one per physical core; at
   * most 8). Default: 1 in browsers; in Node, the count the kernels started with
   * (NABLA_WASM_THREADS, else one per physical core). In a browser they need a cross-origin
   * isolated page.
   */
  threads?: number | 'auto';
}

/**
 * @internal Starts the platform's thread pool (installing it with `useKernels` once running):
 * resolves to why it runs on one thread after all, or null.
 */
export type ThreadStarter = (threads: number | 'auto') => Promise<string | null>;

let threadStarter: ThreadStarter | null = null;
let threadsUnavailable: string | null =
  'not requested: initWasm({ threads }) starts them (NABLA_WASM_THREADS in Node)';
let threading: Promise<void> | null = null;

/** @internal Sets how `initWasm({ threads })` starts threads (each entry point sets its own). */
export function setThreadStarter(fn: ThreadStarter): void {
  threadStarter = fn;
}

/**
 * Compiles the kernels asynchronously (allowed everywhere); resolves to whether they are ready.
 * The browser entry calls it at import; awaiting it makes the first kernels run in WebAssembly.
 *
 * With `threads` (a count above 1, or 'auto'), it then starts worker threads over a shared
 * WebAssembly memory, and resolves once they run (the kernels stay single-threaded until then).
 * Threads start once per page or process; later calls keep them. Browsers allow them only on a
 * cross-origin isolated page (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`); elsewhere, or when a worker fails to start, the
 * kernels stay on one thread (still resolving true) and `wasmFeatures().threadsUnavailable`
 * says why.
 *
 * @example
 * import * as nb from 'nabla';
 * await nb.initWasm(); // one thread
 * await nb.initWasm({ threads: 'auto' }); // on a cross-origin isolated page
 * const { threads, threadsUnavailable } = nb.wasmFeatures();
 * console.log(threads > 1 ? `${threads} threads` : `one thread: ${threadsUnavailable}`);
 */
export function initWasm(options: WasmInitOptions = {}): Promise<boolean> {
  const t = options.threads ?? 1;
  if (t !== 'auto' && !(Number.isInteger(t) && t >= 1)) {
    return Promise.reject(new RangeError(`initWasm: threads must be an integer ≥ 1 or 'auto'`));
  }
  // Node: the shared-memory instance starts synchronously; threads apply if it has not started.
  if (starter) return initNode(t, options.threads !== undefined);
  const single = initSingle();
  if (t === 1 && !threading) {
    if (options.threads === 1 && !pool) threadsUnavailable = 'one thread requested';
    return single;
  }
  threading ??= single.then(async (ok) => {
    if (pool) return;
    if (!ok) {
      threadsUnavailable = `the kernels did not compile: ${failure}`;
      return;
    }
    if (!threadStarter) {
      threadsUnavailable = 'no thread support in this build';
      return;
    }
    threadsUnavailable = 'starting';
    await startThreads(threadStarter, t);
  });
  return threading.then(() => exports !== null);
}

/** Node: `threads` (when asked) goes to the thread starter before the instance starts. */
async function initNode(threads: number | 'auto', asked: boolean): Promise<boolean> {
  if (asked && threadStarter) await startThreads(threadStarter, threads);
  kernelsOrNull();
  return exports !== null;
}

/** Runs the thread starter; its answer (or error) is why the kernels run on one thread. */
async function startThreads(start: ThreadStarter, threads: number | 'auto'): Promise<void> {
  try {
    threadsUnavailable = await start(threads);
  } catch (e) {
    threadsUnavailable = e instanceof Error ? e.message : String(e);
  }
}

/** The single-threaded kernels, compiled asynchronously. */
function initSingle(): Promise<boolean> {
  if (exports) return Promise.resolve(true);
  pending ??= (async () => {
    try {
      if (typeof WebAssembly === 'undefined') throw new Error('WebAssembly is not available');
      const { instance } = await WebAssembly.instantiate(decodeBase64(KERNELS_WASM_BASE64), {});
      const e = instance.exports as KernelExports;
      adopt(e, await instantiateRelaxedAsync(e.memory));
      failure = null;
      return true;
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
      return false;
    }
  })();
  return pending;
}

/** `instantiateRelaxed`, compiling asynchronously (what Chrome's main thread allows). */
async function instantiateRelaxedAsync(memory: unknown): Promise<RelaxedExports | null> {
  enableRelaxed?.();
  const bytes = relaxedBytes(RELAXED_WASM_BASE64);
  if (!bytes) return null;
  try {
    const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
    return instance.exports as RelaxedExports;
  } catch {
    return null;
  }
}

/** Why the kernels are not running in WebAssembly (null when they are, or not yet tried). */
export function wasmFailure(): string | null {
  return exports ? null : failure;
}

// ---- Arena ---------------------------------------------------------------------------------------

/**
 * @internal Elementwise calls on fewer elements than this run the reference kernels, which beat
 * the copies in and out at that size (measured: ref is faster below about 128 to 256 elements).
 * The tests set it to 0 to run every size in WebAssembly.
 */
export const wasmTuning = { minElements: 256 };

let calls = 0;

/** @internal How many kernel calls have run in WebAssembly: for the tests. */
export function wasmKernelCalls(): number {
  return calls;
}

let heap: Heap | null = null;
let shared = false;

/** @internal The heap of the current instance's memory (null before compilation). */
export function wasmHeap(): Heap | null {
  return heap;
}

/**
 * @internal Whether the current instance's memory is a shared WebAssembly.Memory: growing it then
 * leaves typed arrays over it valid, so tensors may live there (resident.ts).
 */
export function sharedMemory(): boolean {
  return shared;
}

// The staging arena: the heap block [arena, arenaEnd), and its next free byte.
let arena = 0;
let arenaEnd = 0;
let top = 0;
let f32View = new Float32Array(0);

/**
 * Starts a kernel call that will allocate at most `bytes` (plus 16 per block for alignment):
 * earlier blocks are released, and the arena is replaced by a larger one if needed. False when the
 * memory cannot grow that far (WebAssembly's 4 GiB, or the platform's limit): the caller then runs
 * the reference kernel.
 */
export function begin(bytes: number): boolean {
  if (arenaEnd - arena < bytes) {
    const h = heap!;
    if (arena !== 0) h.release(arena);
    arena = arenaEnd = 0;
    // Doubling sizes: a run whose calls grow bit by bit replaces its arena a few times only.
    let size = 2 ** Math.ceil(Math.log2(Math.max(bytes, 65536)));
    let p = h.alloc(size);
    if (p === 0) p = h.alloc((size = bytes));
    if (p === 0) return false;
    arena = p;
    arenaEnd = p + Math.ceil(size / 64) * 64; // heap blocks are whole multiples of 64 bytes
  }
  top = arena;
  calls++; // counted only when the call will run in WebAssembly
  return true;
}

/** A 16-byte-aligned block of `bytes` inside what `begin` reserved; returns its address. */
export function alloc(bytes: number): number {
  const ptr = top;
  top = (top + bytes + 15) & ~15;
  // Past the arena lie tensors: a call that allocates more than it reserved is a bug.
  if (ptr + bytes > arenaEnd) throw new Error('wasm: a kernel call overran its staging arena');
  return ptr;
}

let u8View = new Uint8Array(0);

/** A Uint8Array over the whole memory (renewed after the memory grows). */
export function heapU8(): Uint8Array {
  const buf = exports!.memory.buffer;
  if (u8View.buffer !== buf) u8View = new Uint8Array(buf);
  return u8View;
}

let i32View = new Int32Array(0);

/** An Int32Array over the whole memory (renewed after the memory grows). */
export function heapI32(): Int32Array {
  const buf = exports!.memory.buffer;
  if (i32View.buffer !== buf) i32View = new Int32Array(buf);
  return i32View;
}

/** A Float32Array over the whole memory (renewed after the memory grows). */
export function heapF32(): Float32Array {
  const buf = exports!.memory.buffer;
  if (f32View.buffer !== buf) f32View = new Float32Array(buf);
  return f32View;
}
