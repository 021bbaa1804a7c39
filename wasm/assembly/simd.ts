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

/**
 * Writes a 4×8 micro-tile (rows of two f32x4: c00 c01 | c10 c11 | ...) to C at `c`, row stride
 * `ldc` bytes, adding what C holds when `accumulate` (a later block of the K loop).
 */
// @inline
export function storeTile(
  c: usize,
  ldc: usize,
  accumulate: bool,
  c00: v128,
  c01: v128,
  c10: v128,
  c11: v128,
  c20: v128,
  c21: v128,
  c30: v128,
  c31: v128,
): void {
  if (accumulate) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc));
    c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
    c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
    c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

/** Rows 0..3 of the 4×4 transpose of the rows r0..r3 (lane i of row j goes to lane j of row i). */
// @inline
export function transposeStore(
  d: usize,
  step: usize,
  r0: v128,
  r1: v128,
  r2: v128,
  r3: v128,
): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(d, i64x2.shuffle(t0, t1, 0, 2));
  v128.store(d + step, i64x2.shuffle(t0, t1, 1, 3));
  v128.store(d + 2 * step, i64x2.shuffle(t2, t3, 0, 2));
  v128.store(d + 3 * step, i64x2.shuffle(t2, t3, 1, 3));
}
