/// <reference types="node" />
/**
 * Worker threads for the wasm backend in Node: the kernels are instantiated over one shared
 * WebAssembly memory (the shared build of wasm/assembly/, and its relaxed-SIMD companion where V8
 * has relaxed SIMD) on this thread and on n − 1 worker_threads; matmul splits its batches, rows or
 * columns among them, the attention kernels their batch entries, the costly elementwise ops (GELU,
 * exp, ...) their rows, and each blocks with Atomics.wait until all are done (the control block
 * and the workers' loop: ../pool.ts, shared with the browser's Web Workers, ../browser/threads.ts).
 * Workers are unref'd: they never keep the process alive.
 */
import { Worker } from 'node:worker_threads';
import { KERNELS_SHARED_WASM_BASE64, RELAXED_SHARED_WASM_BASE64 } from '../binary.js';
import {
  decodeBase64,
  relaxedBytes,
  type RelaxedExports,
  type KernelExports,
  useKernels,
} from '../instance.js';
import { WORKER_LOOP, controlBytes, kernelPool } from '../pool.js';
import { enableRelaxedSimd } from './relaxed-simd.js';

// The part of the WebAssembly JS API used here.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => object;
}
declare const WebAssembly: WasmApi;

// A worker: instantiates the modules over the shared memory and runs the pool's loop. `relaxed` is
// the compiled relaxed-SIMD companion, or null where the runtime lacks relaxed SIMD.
const WORKER = `
const { workerData } = require('node:worker_threads');
const { module, relaxed, memory, control, index } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const r = relaxed ? new WebAssembly.Instance(relaxed, { env: { memory } }).exports : k;
const ctrl = new Int32Array(control);
${WORKER_LOOP}`;

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
    ? (new WebAssembly.Instance(relaxed, { env: { memory } }).exports as RelaxedExports)
    : null;
  const control = new SharedArrayBuffer(controlBytes(n));
  for (let i = 1; i < n; i++) {
    const w = new Worker(WORKER, {
      eval: true,
      workerData: { module, relaxed, memory, control, index: i },
    });
    w.unref();
  }
  // One thread: the shared instance without a pool (its memory is what counts: ../resident.ts).
  useKernels(k, r, n === 1 ? null : kernelPool(n, k, r, control, true));
}

/** Threads the pool started with (0: not started yet). */
export function wasmThreadsStarted(): number {
  return started;
}
