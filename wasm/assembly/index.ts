// The wasm backend's kernels, one module: GEMM (gemm.ts), elementwise (elementwise.ts),
// reductions (reduce.ts), fused attention (attention.ts), the fused training kernels (fused.ts)
// and recurrent cells (rnn.ts).
export { gemm, gemmScratchBytes } from './gemm';
export { unary, binary, where } from './elementwise';
export { reduce } from './reduce';
export { attentionForward, attentionBackward, attentionScratchBytes } from './attention';
export {
  layerNormForward,
  layerNormBackward,
  adamUpdate,
  crossEntropyForward,
  crossEntropyBackward,
} from './fused';
export { lstmCellForward, lstmCellBackward, gruCellForward, gruCellBackward } from './rnn';

/** First free byte after the static data: the TypeScript side's scratch starts here. */
export function heapBase(): usize {
  return __heap_base;
}
