// The wasm backend's kernels, one module: GEMM (gemm.ts), elementwise (elementwise.ts) and
// reductions (reduce.ts).
export { gemm, gemmScratchBytes } from './gemm';
export { unary, binary, where } from './elementwise';
export { reduce } from './reduce';

/** First free byte after the static data: the TypeScript side's scratch starts here. */
export function heapBase(): usize {
  return __heap_base;
}
