/**
 * `nabla` as Node resolves it (the "node" condition of package.json's exports): the same API as
 * the browser entry (./index.js), plus the native backend registered and made the default when its
 * addon is built (see src/backend/native), else the wasm backend (with one warning). Set
 * NABLA_BACKEND=ref to keep the reference backend, NABLA_BACKEND=wasm for the wasm backend, and
 * NABLA_WASM_THREADS=n (or `initWasm({ threads: n })`) to run the wasm backend's matmul on n
 * threads.
 */
/// <reference types="node" />
import { installNativeBackend, nativeBackendInfo } from './backend/native/index.js';
import { getBackend, setBackend } from './backend/registry.js';
import { wasmBackend } from './backend/wasm/index.js';
import { setRelaxedSimdEnabler, setThreadStarter } from './backend/wasm/instance.js';
import { enableRelaxedSimd } from './backend/wasm/node/relaxed-simd.js';
import { startNodeThreads, startWasmThreads } from './backend/wasm/node/threads.js';

export * from './index.js';

installNativeBackend();
// The wasm backend's GEMM uses fused multiply-adds where V8 has relaxed SIMD (behind a flag in
// Node 20; a no-op where it validates already): the flag is set when the kernels first compile,
// so a process that never runs wasm keeps V8's defaults.
setRelaxedSimdEnabler(enableRelaxedSimd);
// `initWasm({ threads })` starts worker_threads (the browser entry's starter uses Web Workers).
setThreadStarter(startNodeThreads);
// Without the addon (and with no NABLA_BACKEND choice), the wasm backend: said once, plainly.
const wanted = process.env.NABLA_BACKEND;
if (wanted === 'wasm') {
  setBackend(wasmBackend);
} else if ((wanted === undefined || wanted === '') && getBackend().name === 'ref') {
  console.warn(
    `nabla: native backend not built (${nativeBackendInfo().reason}); using the slower wasm ` +
      'backend. Build native with `npm rebuild nabla` (needs a C++17 compiler, Python 3 and make).',
  );
  setBackend(wasmBackend);
}
// Opt-in worker threads for the wasm backend's matmul (NABLA_WASM_THREADS=2, say).
const wasmThreads = Number(process.env.NABLA_WASM_THREADS ?? 1);
if (Number.isInteger(wasmThreads) && wasmThreads > 1) startWasmThreads(wasmThreads);
else if (!(Number.isInteger(wasmThreads) && wasmThreads >= 1))
  console.warn(
    `nabla: NABLA_WASM_THREADS=${process.env.NABLA_WASM_THREADS} is not an integer >= 1; the wasm backend's matmul runs on one thread`,
  );
