/**
 * The wasm backend: kernels compiled to WebAssembly with 128-bit SIMD (sources in wasm/assembly/,
 * AssemblyScript, embedded by scripts/build-wasm.mjs), for Node and browsers. Storage is typed
 * arrays, so tensors of ref, wasm and native mix freely: where the wasm memory is shared (Node),
 * arrays over blocks of that memory, which the kernels use in place (resident.ts); elsewhere the
 * reference backend's arrays, whose operands each kernel copies into the module's memory and its
 * result out.
 * What it does not run itself (other dtypes, kernels it has no WebAssembly version of, or before
 * the module is compiled) runs the reference kernels.
 *
 * The default backend in browsers; in Node, the fallback when the native addon is not built.
 *
 * @example
 * import * as nb from 'nabla';
 * nb.setBackend('wasm');
 * nb.randn([256, 256]).matmul(nb.randn([256, 256])); // f32x4 GEMM
 */
import type { Backend, Kernels } from '../backend.js';
import { refBackend } from '../ref/index.js';
import { registerBackend } from '../registry.js';
import { attentionBackward, attentionForward } from './attention.js';
import { binary, copy, unary, where } from './elementwise.js';
import {
  adamUpdate,
  crossEntropyBackward,
  crossEntropyForward,
  gruCellBackward,
  gruCellForward,
  layerNormBackward,
  layerNormForward,
  lstmCellBackward,
  lstmCellForward,
} from './fused.js';
import { matmul } from './matmul.js';
import { reduce } from './reduce.js';
import { allocStorage, freeStorage } from './resident.js';

export {
  initWasm,
  wasmFailure,
  wasmFeatures,
  type WasmFeatures,
  type WasmInitOptions,
} from './instance.js';

const wasmKernels: Partial<Kernels> = {
  matmul,
  unary,
  binary,
  where,
  copy,
  reduce,
  attentionForward,
  attentionBackward,
  layerNormForward,
  layerNormBackward,
  adamUpdate,
  crossEntropyForward,
  crossEntropyBackward,
  lstmCellForward,
  lstmCellBackward,
  gruCellForward,
  gruCellBackward,
};

/** The wasm backend object: typed-array storage (resident where it can be), WebAssembly kernels. */
export const wasmBackend: Backend = {
  ...refBackend,
  name: 'wasm',
  alloc: allocStorage,
  free: freeStorage,
  // Kernels it has no WebAssembly version of (including ones added later) are ref's.
  kernels: { ...refBackend.kernels, ...wasmKernels },
};

/** Makes 'wasm' available to `setBackend` (compiling nothing until a kernel runs). */
export function registerWasmBackend(): void {
  registerBackend(wasmBackend);
}
