/// <reference types="node" />
/**
 * The wasm backend in Node (the Node entry, and the tests' backend setup): the kernels start on
 * first use as the shared-memory instance of node/threads.ts, on NABLA_WASM_THREADS threads (unset:
 * one per physical core; 1: no workers), so that tensors live in the wasm memory and kernels use them in place
 * (../resident.ts), at most NABLA_WASM_RESIDENT_MIB of them (512 by default; 0: none); and V8's
 * relaxed-SIMD flag is set only then, so a process that never runs wasm keeps V8's defaults.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { setKernelStarter, setRelaxedSimdEnabler, setThreadStarter } from '../instance.js';
import { residentTuning } from '../resident.js';
import { enableRelaxedSimd } from './relaxed-simd.js';
import { startWasmThreads, wasmThreadsStarted } from './threads.js';

/**
 * The default thread count: one per physical core, as the native backend (hyper-threads add
 * nothing to the GEMM), read from Linux's CPU topology; elsewhere the available parallelism; at
 * most 8.
 */
export function defaultWasmThreads(): number {
  const logical = availableParallelism();
  const cores = new Set<string>();
  try {
    for (let c = 0; c < cpus().length; c++) {
      const dir = `/sys/devices/system/cpu/cpu${c}/topology/`;
      const id = (f: string): string => readFileSync(dir + f, 'utf8').trim();
      cores.add(`${id('physical_package_id')}:${id('core_id')}`);
    }
  } catch {
    cores.clear(); // no topology to read (not Linux): count logical CPUs
  }
  return Math.max(1, Math.min(8, logical, cores.size || logical));
}

/**
 * Sets the wasm backend up for Node; `threads` is NABLA_WASM_THREADS (unset: one per physical
 * core, see defaultWasmThreads), `residentMiB`
 * NABLA_WASM_RESIDENT_MIB (unset: the default bound).
 */
export function setUpWasmForNode(threads: string | undefined, residentMiB?: string): void {
  if (residentMiB !== undefined && residentMiB !== '') {
    const mib = Number(residentMiB);
    if (Number.isFinite(mib) && mib >= 0) residentTuning.maxBytes = mib * 2 ** 20;
    else
      console.warn(`nabla: NABLA_WASM_RESIDENT_MIB=${residentMiB} is not a number >= 0; ignored`);
  }
  setRelaxedSimdEnabler(enableRelaxedSimd);
  // null: the default, read from the CPU topology only when the kernels start (not at import).
  let n: number | null = threads === undefined || threads === '' ? null : Number(threads);
  if (n !== null && !(Number.isInteger(n) && n >= 1)) {
    console.warn(
      `nabla: NABLA_WASM_THREADS=${threads} is not an integer >= 1; the wasm backend runs on one thread`,
    );
    n = 1;
  }
  setKernelStarter(() => startWasmThreads(n ?? defaultWasmThreads()));
  // initWasm({ threads }): the count the instance starts with, if it has not started yet.
  setThreadStarter(async (threads) => {
    const want = threads === 'auto' ? defaultWasmThreads() : threads;
    const running = wasmThreadsStarted();
    if (running === 0) n = want;
    if (running !== 0 && running !== want) {
      return `already running on ${running} thread(s): initWasm({ threads }) and NABLA_WASM_THREADS apply before the first wasm kernel`;
    }
    if (want > 1) return null;
    return threads === 'auto' ? 'auto: this machine has one core' : 'one thread requested';
  });
}
