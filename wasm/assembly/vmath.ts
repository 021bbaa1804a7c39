/**
 * f32x4 versions of the elementwise functions: exp (Cephes' expf polynomial, ~1 ulp), and tanh and
 * sigmoid built on it. Each is used on four lanes, or on one value splatted (the scalar paths).
 */

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.1219444e-4;

/** e^x on four lanes: overflow gives +Inf, underflow 0 (or a subnormal), NaN stays NaN. */
export function vexp(x: v128): v128 {
  // Past these bounds the result is Inf or 0 anyway; clamping keeps n in range (NaN passes).
  x = f32x4.min(f32x4.max(x, f32x4.splat(-104.0)), f32x4.splat(89.0));
  const fn = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = f32x4.sub(
    f32x4.sub(x, f32x4.mul(fn, f32x4.splat(LN2_HI))),
    f32x4.mul(fn, f32x4.splat(LN2_LO)),
  );
  let p = f32x4.splat(1.98756915e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // 2^n as two factors 2^(n>>1)·2^(n-(n>>1)), each a normal float for n in [-150, 129].
  const n = i32x4.trunc_sat_f32x4_s(fn);
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/**
 * tanh on four lanes: Cephes' odd polynomial below |x| = 0.625 (keeps the relative accuracy of
 * small values), 1 − 2/(e^{2|x|} + 1) with x's sign above.
 */
export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  const e = vexp(f32x4.add(ax, ax));
  const big = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
  // Copy x's sign bit onto the large-|x| branch.
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  // |x| < 0.625 (false for NaN, whose large branch is NaN too).
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.625)));
}

/** The logistic function 1/(1 + e^{−x}) on four lanes. */
export function vsigmoid(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), vexp(f32x4.neg(x))));
}

/**
 * erf on four lanes, to about 2e-7: musl's rational approximation x + x·P(x²)/Q(x²) below
 * |x| = 0.84375 (keeps the relative accuracy of small values), and 1 − erfc(|x|) with x's sign
 * above, erfc from Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7, where erf ≥ 0.76).
 */
export function verf(x: v128): v128 {
  const z = f32x4.mul(x, x);
  let r = f32x4.splat(-2.3763017452e-5);
  r = f32x4.add(f32x4.mul(r, z), f32x4.splat(-5.770270247e-3));
  r = f32x4.add(f32x4.mul(r, z), f32x4.splat(-2.8481749818e-2));
  r = f32x4.add(f32x4.mul(r, z), f32x4.splat(-3.2504209876e-1));
  r = f32x4.add(f32x4.mul(r, z), f32x4.splat(1.2837916613e-1));
  let s = f32x4.splat(-3.9602282413e-6);
  s = f32x4.add(f32x4.mul(s, z), f32x4.splat(1.3249473704e-4));
  s = f32x4.add(f32x4.mul(s, z), f32x4.splat(5.0813062117e-3));
  s = f32x4.add(f32x4.mul(s, z), f32x4.splat(6.50222525e-2));
  s = f32x4.add(f32x4.mul(s, z), f32x4.splat(3.9791721106e-1));
  s = f32x4.add(f32x4.mul(s, z), f32x4.splat(1));
  const small = f32x4.add(x, f32x4.mul(x, f32x4.div(r, s)));
  const ax = f32x4.abs(x);
  const t = f32x4.div(
    f32x4.splat(1),
    f32x4.add(f32x4.splat(1), f32x4.mul(ax, f32x4.splat(0.3275911))),
  );
  let p = f32x4.splat(1.061405429);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.453152027));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.421413741));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.284496736));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.254829592));
  const erfc = f32x4.mul(f32x4.mul(p, t), vexp(f32x4.neg(z)));
  const big = f32x4.sub(f32x4.splat(1), erfc);
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  // NaN fails the comparison and takes the large branch, where it stays NaN.
  return v128.bitselect(small, signed, f32x4.lt(ax, f32x4.splat(0.84375)));
}
