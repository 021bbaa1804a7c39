/// <reference types="node" />
/**
 * Worker threads for the wasm backend in Node: the kernels are instantiated over one shared
 * WebAssembly memory (the shared build of wasm/assembly/, and its relaxed-SIMD companion where V8
 * has relaxed SIMD) on this thread and on n − 1 workers; matmul splits its batches, rows or columns
 * among them, the attention kernels their batch entries, the costly elementwise ops (GELU, exp,
 * ...) their rows, and each blocks with Atomics.wait until all are done (a browser's main thread
 * may not block, so this is Node only). Workers are unref'd: they never keep the process alive.
 */
import { Worker } from 'node:worker_threads';
import { KERNELS_SHARED_WASM_BASE64, RELAXED_SHARED_WASM_BASE64 } from '../binary.js';
import {
  decodeBase64,
  relaxedBytes,
  type GemmExports,
  type KernelExports,
  type KernelPool,
  type PoolKernel,
  useKernels,
} from '../instance.js';
import { enableRelaxedSimd } from './relaxed-simd.js';

// The part of the WebAssembly JS API used here.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => object;
}
declare const WebAssembly: WasmApi;

// The control block: a header, then per thread a slot of int32 words: the kernel's code, then its
// arguments (gemm has 15).
const GEN = 0; // bumped to start a round
const PENDING = 1; // workers still running this round
const READY = 2; // workers started
const FAILED = 3; // set by a worker whose kernel threw
const HEADER = 4;
const SLOT = 16;
/** Kernel codes of the control block. Every kernel does nothing on all-zero arguments. */
const CODES: Record<PoolKernel, number> = {
  gemm: 0,
  attentionForward: 1,
  attentionBackward: 2,
  unary: 3,
  binary: 4,
  gemmRelaxed: 5,
};

// A worker: says it is ready, waits for a round, runs its slot's kernel with its arguments (extra
// ones are ignored; a task of zeros does nothing), counts down. A kernel that throws is reported on
// stderr at once (the calling thread is blocked, so messages to it would wait) and flagged, and
// the round still ends. \`relaxed\` is the compiled relaxed-SIMD companion, or null where the
// runtime lacks relaxed SIMD (then gemmRelaxed is never asked for).
const WORKER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { module, relaxed, memory, control, index } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const r = relaxed ? new WebAssembly.Instance(relaxed, { env: { memory } }).exports : k;
const fns = [k.gemm, k.attentionForward, k.attentionBackward, k.unary, k.binary, r.gemm];
const ctrl = new Int32Array(control);
Atomics.add(ctrl, ${READY}, 1);
let gen = 0;
for (;;) {
  Atomics.wait(ctrl, ${GEN}, gen);
  gen = Atomics.load(ctrl, ${GEN});
  const p = ${HEADER} + index * ${SLOT};
  try {
    fns[ctrl[p]](ctrl[p + 1], ctrl[p + 2], ctrl[p + 3], ctrl[p + 4], ctrl[p + 5], ctrl[p + 6],
      ctrl[p + 7], ctrl[p + 8], ctrl[p + 9], ctrl[p + 10], ctrl[p + 11], ctrl[p + 12],
      ctrl[p + 13], ctrl[p + 14], ctrl[p + 15]);
  } catch (e) {
    writeSync(2, 'nabla: wasm worker ' + index + ': ' + ((e && e.stack) || e) + '\\n');
    Atomics.store(ctrl, ${FAILED}, 1);
  }
  if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
}
`;

let started = 0;

/**
 * Runs the wasm backend's matmul on `n` threads (this one included) from now on, over a shared
 * memory (n = 1 too: tensors then live in it, ../resident.ts). Once per process: a second call
 * with another count throws.
 */
export function startWasmThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`wasm threads: expected n ≥ 1, got ${n}`);
  if (started) {
    if (started !== n) throw new RangeError(`wasm threads: already started with ${started}`);
    return;
  }
  started = n;
  enableRelaxedSimd();
  const module = new WebAssembly.Module(decodeBase64(KERNELS_SHARED_WASM_BASE64));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports as KernelExports;
  // The relaxed-SIMD companion over the same shared memory, here and (compiled once) on the workers.
  const bytes = relaxedBytes(RELAXED_SHARED_WASM_BASE64);
  const relaxed = bytes ? new WebAssembly.Module(bytes) : null;
  const r = relaxed
    ? (new WebAssembly.Instance(relaxed, { env: { memory } }).exports as GemmExports)
    : null;
  const control = new SharedArrayBuffer(4 * (HEADER + SLOT * n));
  const ctrl = new Int32Array(control);
  for (let i = 1; i < n; i++) {
    const w = new Worker(WORKER, {
      eval: true,
      workerData: { module, relaxed, memory, control, index: i },
    });
    w.unref();
  }
  const pool: KernelPool = {
    threads: n,
    ready: () => Atomics.load(ctrl, READY) === n - 1,
    run(tasks, kernel = 'gemm') {
      const own = (kernel === 'gemmRelaxed' ? r!.gemm : k[kernel]) as (...args: number[]) => void;
      // Until every worker has started (they start while this thread runs on, and it must not
      // block on one that is not there yet), this thread runs all the tasks itself.
      if (!pool.ready()) {
        for (const t of tasks) own(...t);
        return;
      }
      const code = CODES[kernel];
      for (let i = 1; i < n; i++) {
        const t = tasks[i];
        const p = HEADER + i * SLOT;
        ctrl[p] = code;
        // Int32 words: addresses past 2 GiB wrap to the same i32 bits the kernel takes.
        for (let j = 0; j < SLOT - 1; j++) ctrl[p + 1 + j] = t ? (t[j] ?? 0) : 0;
      }
      Atomics.store(ctrl, PENDING, n - 1);
      Atomics.add(ctrl, GEN, 1);
      Atomics.notify(ctrl, GEN);
      own(...tasks[0]!);
      for (;;) {
        const left = Atomics.load(ctrl, PENDING);
        if (left === 0) break;
        Atomics.wait(ctrl, PENDING, left);
      }
      if (Atomics.exchange(ctrl, FAILED, 0) !== 0) {
        throw new Error('wasm: a kernel failed on a worker thread (its error is on stderr)');
      }
    },
  };
  // One thread: the shared instance without a pool (its memory is what counts: ../resident.ts).
  useKernels(k, r, n === 1 ? null : pool);
}
