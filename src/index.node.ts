/**
 * `nabla` as Node resolves it (the "node" condition of package.json's exports): the same API as
 * the browser entry (./index.js), plus the native backend registered and made the default when its
 * addon is built (see src/backend/native), else the wasm backend (with one warning). Set
 * NABLA_BACKEND=ref to keep the reference backend, NABLA_BACKEND=wasm for the wasm backend, and
 * NABLA_WASM_THREADS=n to run the wasm backend's heavy kernels on n threads (default: one per
 * physical core; its worker threads and its shared memory start when its kernels are first used).
 */
/// <reference types="node" />
import { installNativeBackend, nativeBackendInfo } from './backend/native/index.js';
import { getBackend, setBackend } from './backend/registry.js';
import { wasmBackend } from './backend/wasm/index.js';
import { setUpWasmForNode } from './backend/wasm/node/setup.js';

export * from './index.js';

installNativeBackend();
// The wasm backend's shared-memory instance, its threads (NABLA_WASM_THREADS) and V8's
// relaxed-SIMD flag (fused multiply-adds in the GEMM: behind a flag in Node 20), all started when
// its kernels are first used.
setUpWasmForNode(process.env.NABLA_WASM_THREADS, process.env.NABLA_WASM_RESIDENT_MIB);
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
