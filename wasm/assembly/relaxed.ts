// The relaxed-SIMD companion module (scripts/build-wasm.mjs builds it with `--enable relaxed-simd`
// over the main module's imported memory): the kernels whose inner loops gain from a fused
// multiply-add (simd.ts's `madd`). src/backend/wasm/instance.ts swaps them in where the runtime
// validates relaxed SIMD. It must hold no static data: it shares the main module's memory (so e^x's
// constants are written into the attention kernels' scratch: vmath.ts placeExpConstants).
export { gemm, gemmScratchBytes } from './gemm';
export { attentionForward, attentionBackward, attentionScratchBytes } from './attention';
