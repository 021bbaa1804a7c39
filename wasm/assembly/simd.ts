/**
 * SIMD helpers shared by the kernels. Under `--enable relaxed-simd` (the companion module of
 * scripts/build-wasm.mjs) `madd` is one fused multiply-add (FMA3 on x64, FMLA on Arm); otherwise a
 * multiply then an add, which needs a temporary register beside the accumulator.
 */

/** a·b + c, per lane. Relaxed: fused or not, as the hardware does it (one rounding or two). */
// @inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}
