/**
 * The wasm backend's thread pool, platform-neutral: the control block that the calling thread and
 * the workers share (a SharedArrayBuffer of Int32 words), the loop each worker runs (as source
 * text: Node's worker_threads and browsers' Web Workers both start from a string), and the
 * pool's `run`. The platforms start the workers (src/backend/wasm/node/threads.ts,
 * src/backend/wasm/browser/threads.ts); this file imports no platform API.
 *
 * Protocol: the calling thread writes each worker's kernel code and arguments into the worker's
 * slot, sets PENDING to the number of workers, bumps GEN and notifies it; each worker wakes, runs
 * its slot's kernel, decrements PENDING (setting FAILED if the kernel threw) and notifies PENDING;
 * the calling thread runs task 0 meanwhile, then waits until PENDING is 0 — blocking in
 * Atomics.wait where the thread may block (Node, a Web Worker), spinning on Atomics.load where it
 * may not (a browser page's main thread).
 */
import type { RelaxedExports, KernelExports, KernelPool, PoolKernel } from './instance.js';

/** Int32 words per thread in the control block: the kernel's code, then its arguments (gemm: 15). */
const SLOT = 16;
const GEN = 0; // bumped to start a round
const PENDING = 1; // workers still running this round
const FAILED = 2; // set by a worker whose kernel threw this round
const READY = 3; // workers that have started their loop
const HEADER = 4;

/** Kernel codes of the control block. Every kernel does nothing on all-zero arguments. */
const CODES: Record<PoolKernel, number> = {
  gemm: 0,
  attentionForward: 1,
  attentionBackward: 2,
  unary: 3,
  binary: 4,
  gemmRelaxed: 5,
  attentionForwardRelaxed: 6,
  attentionBackwardRelaxed: 7,
};

/** Kernels of the relaxed-SIMD companion, by their pool name: its export of the same name less "Relaxed". */
const RELAXED: Partial<Record<PoolKernel, keyof RelaxedExports>> = {
  gemmRelaxed: 'gemm',
  attentionForwardRelaxed: 'attentionForward',
  attentionBackwardRelaxed: 'attentionBackward',
};

/** Bytes of the control block for `threads` threads (the calling one included). */
export function controlBytes(threads: number): number {
  return 4 * (HEADER + SLOT * threads);
}

// Each code's function on a worker: `k` is the main module's exports, `r` the relaxed companion's.
const FNS = (Object.keys(CODES) as PoolKernel[])
  .sort((a, b) => CODES[a] - CODES[b])
  .map((name) => (RELAXED[name] ? `r.${RELAXED[name]}` : `k.${name}`))
  .join(', ');

/**
 * The worker's loop, as JavaScript source for a worker script: it expects `k` (the main module's
 * exports), `r` (the relaxed companion's, or `k` where there is none: gemmRelaxed is then never
 * asked for), `ctrl` (an Int32Array over the control block) and `index` (the worker's slot, ≥ 1)
 * in scope, and never returns. It waits for a round, runs its slot's kernel with its arguments
 * (extra ones are ignored; a task of zeros does nothing) and counts down.
 */
export const WORKER_LOOP = `
const fns = [${FNS}];
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
  } catch {
    Atomics.store(ctrl, ${FAILED}, 1);
  }
  if (Atomics.sub(ctrl, ${PENDING}, 1) === 1) Atomics.notify(ctrl, ${PENDING});
}
`;

/**
 * Whether this thread may block in Atomics.wait: true in Node and in Web Workers, false on a
 * browser page's main thread (where Atomics.wait throws).
 */
export function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // 'not-equal' at once
    return true;
  } catch {
    return false;
  }
}

/**
 * The pool over started workers: `threads` threads in all (this one and threads − 1 workers that
 * run WORKER_LOOP over `control`), `k` and `r` this thread's instances over the shared memory.
 * `block`: whether this thread waits in Atomics.wait (else it spins on Atomics.load).
 */
export function kernelPool(
  threads: number,
  k: KernelExports,
  r: RelaxedExports | null,
  control: SharedArrayBuffer,
  block: boolean,
): KernelPool {
  const ctrl = new Int32Array(control);
  // A spin-wait hint to the CPU where the runtime has it (Atomics.pause: Chrome 133, Node 24).
  const pause = (Atomics as { pause?: () => void }).pause?.bind(Atomics) ?? (() => {});
  const relaxedOrMain = (kernel: PoolKernel): ((...args: number[]) => void) => {
    const relaxedName = RELAXED[kernel];
    return (relaxedName ? r![relaxedName] : k[kernel as keyof KernelExports]) as (
      ...args: number[]
    ) => void;
  };
  const pool: KernelPool = {
    threads,
    ready: () => Atomics.load(ctrl, READY) === threads - 1,
    run(tasks, kernel = 'gemm') {
      const own = relaxedOrMain(kernel);
      // Until every worker has started its loop (Node's start while this thread runs on), this
      // thread runs all the tasks itself: it must never wait on a worker that is not there yet.
      if (!pool.ready()) {
        for (const t of tasks) own(...t);
        return;
      }
      const code = CODES[kernel];
      for (let i = 1; i < threads; i++) {
        const t = tasks[i];
        const p = HEADER + i * SLOT;
        ctrl[p] = code;
        // Int32 words: addresses past 2 GiB wrap to the same i32 bits the kernel takes.
        for (let j = 0; j < SLOT - 1; j++) ctrl[p + 1 + j] = t ? (t[j] ?? 0) : 0;
      }
      Atomics.store(ctrl, FAILED, 0);
      Atomics.store(ctrl, PENDING, threads - 1);
      Atomics.add(ctrl, GEN, 1);
      Atomics.notify(ctrl, GEN);
      try {
        own(...tasks[0]!);
      } finally {
        // Even when this thread's part threw: the next round must not start under the workers.
        for (;;) {
          const left = Atomics.load(ctrl, PENDING);
          if (left === 0) break;
          if (block) Atomics.wait(ctrl, PENDING, left);
          else pause();
        }
      }
      if (Atomics.load(ctrl, FAILED))
        throw new Error(`wasm backend: the ${kernel} kernel failed on a worker thread`);
    },
  };
  return pool;
}
