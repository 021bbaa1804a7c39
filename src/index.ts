/**
 * nabla: tensors, reverse-mode autograd and sequence models for TypeScript.
 *
 * @example
 * import * as nb from 'nabla';
 * const x = nb.tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * x.mul(x).sum().backward();
 * x.grad!.toArray(); // [[2, 4], [6, 8]]
 */
export { Tensor, type NestedArray, type GradHook, type ShapeArgs } from './tensor.js';
export * from './ops/index.js';
export type { DType, FloatDType, TypedArray } from './core/dtype.js';
export {
  NablaError,
  ShapeError,
  DimError,
  IndexError,
  DTypeError,
  ValueError,
  GradError,
  DisposedError,
  GradcheckError,
} from './core/errors.js';
export { broadcastShapes } from './core/shape.js';
export { Generator, manualSeed, defaultGenerator, type GeneratorState } from './core/random.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd/grad-mode.js';
export { GradNode } from './autograd/node.js';
export type { BackwardOptions } from './autograd/backward.js';
export {
  gradcheck,
  type GradcheckOptions,
  type GradcheckInputReport,
} from './autograd/gradcheck.js';
export { scope, keep } from './memory.js';
export * as io from './io/index.js';
export { setBackend, getBackend, registerBackend, listBackends } from './backend/registry.js';
export {
  wasmBackend,
  initWasm,
  wasmFeatures,
  type WasmFeatures,
  type WasmInitOptions,
} from './backend/wasm/index.js';
import { setBackend } from './backend/registry.js';
import { initWasm, registerWasmBackend, wasmBackend } from './backend/wasm/index.js';
import { startBrowserThreads } from './backend/wasm/browser/threads.js';
import { setThreadStarter } from './backend/wasm/instance.js';
export type {
  Backend,
  Kernels,
  KernelName,
  Storage,
  View,
  UnaryOp,
  BinaryOp,
  ReduceOp,
  ArgReduceOp,
} from './backend/backend.js';
export * as nn from './nn/index.js';
export * as F from './nn/functional.js';
export * as optim from './optim/index.js';
export * as models from './models/index.js';
export { memoryStats, setBufferPooling, type MemoryStats } from './memory.js';
export type { BufferPoolStats } from './backend/ref/storage.js';
export * as lab from './lab/index.js';
export * as train from './train/index.js';
export * as data from './data/index.js';

// The wasm backend is available everywhere. Outside Node (browsers, web workers) it is the default
// and starts compiling now (asynchronously: Chrome's main thread allows nothing else for modules
// over 4 KB; until it is ready the kernels run the reference ones). In Node the native backend is
// the default (src/index.node.ts), with wasm as its fallback.
registerWasmBackend();
// `initWasm({ threads })` starts Web Workers (on a cross-origin isolated page); the Node entry
// replaces this with worker_threads.
setThreadStarter(startBrowserThreads);
if (
  typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !==
  'string'
) {
  setBackend(wasmBackend);
  void initWasm();
}
