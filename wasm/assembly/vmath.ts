/**
 * f32x4 versions of the elementwise functions: exp (Cephes' expf polynomial, ~1 ulp), and tanh and
 * sigmoid built on it. Each is used on four lanes, or on one value splatted (the scalar paths).
 */
import { madd } from './simd';

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.1219444e-4;

/** a·x + b: the multiply-adds of the polynomials (simd.ts's madd: fused under relaxed SIMD). */
// @inline
function axpb(x: v128, a: v128, b: v128): v128 {
  return madd(a, x, b);
}

/** 1.5·2^23: adding it rounds a float32 below 2^22 in magnitude to an integer, in its low bits. */
const ROUND: f32 = 12582912.0;

/**
 * e^x's constants, read with a load-splat (one instruction) where it runs: V8 builds each f32x4
 * constant anew at every use, in three instructions (half of e^x's), and hoists none out of loops;
 * Binaryen would fold constants kept in locals back into their uses. Measured 16% faster on the
 * attention forward (e^x over the scores). Static data in the main module; the relaxed-SIMD
 * companion may have none (it shares the main module's memory), so its kernels write them into
 * their scratch first (`placeExpConstants`) and read them from there.
 */
const EXP_STATIC: usize = ASC_FEATURE_RELAXED_SIMD
  ? 0
  : memory.data<f32>([
      ROUND,
      LN2_HI,
      LN2_LO,
      LOG2E,
      1.6666665459e-1,
      5.0000001201e-1,
      8.3334519073e-3,
      4.1665795894e-2,
      1.98756915e-4,
      1.3981999507e-3,
      1,
      -104,
      89,
    ]);
let expConstants: usize = EXP_STATIC;

/** Bytes of scratch `placeExpConstants` takes. */
export const EXP_CONSTANT_BYTES = 64;

/** In the relaxed companion: writes e^x's constants at `at` and reads them from there on. */
export function placeExpConstants(at: usize): void {
  if (!ASC_FEATURE_RELAXED_SIMD) return;
  store<f32>(at, ROUND);
  store<f32>(at, LN2_HI, 4);
  store<f32>(at, LN2_LO, 8);
  store<f32>(at, LOG2E, 12);
  store<f32>(at, 1.6666665459e-1, 16);
  store<f32>(at, 5.0000001201e-1, 20);
  store<f32>(at, 8.3334519073e-3, 24);
  store<f32>(at, 4.1665795894e-2, 28);
  store<f32>(at, 1.98756915e-4, 32);
  store<f32>(at, 1.3981999507e-3, 36);
  store<f32>(at, 1, 40);
  store<f32>(at, -104, 44);
  store<f32>(at, 89, 48);
  expConstants = at;
}
const K_ROUND = 0;
const K_LN2_HI = 1;
const K_LN2_LO = 2;
const K_LOG2E = 3;
const K_P = 4; // the polynomial's six coefficients
const K_ONE = 10;
const K_MIN = 11;
const K_MAX = 12;

/** e^x's constant k on four lanes. */
// @inline
function k4(k: i32): v128 {
  const base = ASC_FEATURE_RELAXED_SIMD ? expConstants : EXP_STATIC;
  return v128.load32_splat(base + ((<usize>k) << 2));
}

/**
 * e^(hi + lo) from the rounded n = round((hi + lo)·log2 e) (t = that + ROUND, in float32): the
 * Cephes polynomial on r = hi + lo − n·ln 2, times 2^n. 2^n is two factors 2^(n>>1)·2^(n−(n>>1)),
 * each a normal float for n in [−150, 129], or (`wide` false, n in [−126, 127]) one. The rounding by
 * ROUND replaces nearest and trunc_sat (which V8 expands to several instructions each on x64).
 */
// @inline
function expRounded(t: v128, hi: v128, lo: v128, withLo: bool, wide: bool = true): v128 {
  const fn = f32x4.sub(t, k4(K_ROUND));
  let r = f32x4.sub(f32x4.sub(hi, f32x4.mul(fn, k4(K_LN2_HI))), f32x4.mul(fn, k4(K_LN2_LO)));
  if (withLo) r = f32x4.add(r, lo); // (a constant: no branch once inlined, no + 0 without lo)
  // The polynomial in pairs (Horner in r², half the dependent steps of Horner in r).
  const r2 = f32x4.mul(r, r);
  const p01 = axpb(r, k4(K_P), k4(K_P + 1));
  const p23 = axpb(r, k4(K_P + 2), k4(K_P + 3));
  const p45 = axpb(r, k4(K_P + 4), k4(K_P + 5));
  const p = f32x4.add(p01, f32x4.mul(r2, f32x4.add(p23, f32x4.mul(r2, p45))));
  const y = f32x4.add(f32x4.add(f32x4.mul(p, r2), r), k4(K_ONE));
  // n in t's low bits: ROUND's own bits shift out of n << 23.
  const n = i32x4.shr_s(i32x4.shl(t, 10), 10);
  if (!wide) return f32x4.mul(y, i32x4.shl(i32x4.add(n, i32x4.splat(127)), 23));
  const n1 = i32x4.shr_s(n, 1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(n, n1), i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/** e^x on four lanes: overflow gives +Inf, underflow 0 (or a subnormal), NaN stays NaN. */
// @inline
export function vexp(x: v128): v128 {
  // Past these bounds the result is Inf or 0 anyway; clamping keeps n in range. pmin/pmax (one
  // instruction each, where min/max are several) return x when it is NaN.
  x = f32x4.pmin(f32x4.pmax(x, k4(K_MIN)), k4(K_MAX));
  const t = f32x4.add(f32x4.mul(x, k4(K_LOG2E)), k4(K_ROUND));
  return expRounded(t, x, x, false);
}

/**
 * e^x on four lanes for x in [−87, 87] (or NaN, which stays NaN): vexp without its clamping and
 * with 2^n one factor, a fifth fewer instructions. For the softmax's shifted scores (x ≤ 0 up to
 * rounding, and floored by the caller).
 */
// @inline
export function vexpSmall(x: v128): v128 {
  const t = f32x4.add(f32x4.mul(x, k4(K_LOG2E)), k4(K_ROUND));
  return expRounded(t, x, x, false, false);
}

/**
 * tanh on four lanes: Cephes' odd polynomial below |x| = 0.625 (keeps the relative accuracy of
 * small values), 1 − 2/(e^{2|x|} + 1) with x's sign above.
 */
// @inline
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
// @inline
export function vsigmoid(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), vexp(f32x4.neg(x))));
}

/**
 * erf on four lanes, to about 2e-7: musl's rational approximation x + x·P(x²)/Q(x²) below
 * |x| = 0.84375 (keeps the relative accuracy of small values), and 1 − erfc(|x|) with x's sign
 * above, erfc from Abramowitz & Stegun 7.1.26 (absolute error 1.5e-7, where erf ≥ 0.76).
 */
// @inline
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

/**
 * e^(hi + lo) on four lanes for a value split in two (|lo| ≪ |hi|, hi + lo in [−103, 88]): as
 * vexp, with lo added to the reduced argument, so that an argument known to more than float32's
 * precision (−x²/2 below) keeps it.
 */
// @inline
function vexpSplit(hi: v128, lo: v128): v128 {
  const t = f32x4.add(f32x4.mul(f32x4.add(hi, lo), k4(K_LOG2E)), k4(K_ROUND));
  return expRounded(t, hi, lo, true);
}

/**
 * |x| clamped to this in the GELU helpers: past it, x·Φ(−|x|) and x·φ(x) round to 0 in float32
 * (at 14.5 the latter is still −2^−149).
 */
const GELU_MAX: f32 = 15;
/** 2^−64: R is kept scaled by it, and e^{−a²/2} = y·2^(n+64) (n ≥ −163), so both factors stay normal. */
const TWO_M64: f32 = 5.421010862427522e-20;

/**
 * The GELU kernels' constants, read with a load-splat where they are used (see e^x's above: V8
 * rebuilds each f32x4 constant in three instructions at every use inside a loop). In the main
 * module only: the relaxed companion has no static data, and no GELU.
 */
const GELU_F32: usize = ASC_FEATURE_RELAXED_SIMD
  ? 0
  : memory.data<f32>([
      GELU_MAX,
      0.5 * LOG2E,
      ROUND,
      2 * LN2_HI,
      2 * LN2_LO,
      -0.5,
      1.6666665459e-1,
      5.0000001201e-1,
      8.3334519073e-3,
      4.1665795894e-2,
      1.98756915e-4,
      1.3981999507e-3,
      1,
      4,
      0.25,
      0.6,
      0.393559933 * TWO_M64,
      0.223485231 * TWO_M64,
      0.474421024 * TWO_M64,
      0.51405549 * TWO_M64,
      0.0167919174 * TWO_M64,
      0.261627525 * TWO_M64,
      -0.0350109562 * TWO_M64,
      -0.0867085457 * TWO_M64,
      0.017000366 * TWO_M64,
      0.0265855398 * TWO_M64,
      0.3989422804014327 * TWO_M64,
      -0.0,
    ]);
const G_MAX = 0;
const G_HALF_LOG2E = 1;
const G_ROUND = 2;
const G_LN2_HI2 = 3;
const G_LN2_LO2 = 4;
const G_MINUS_HALF = 5;
const G_EXP = 6; // e^x's six coefficients, as K_P
const G_ONE = 12;
const G_FOUR = 13;
const G_QUARTER = 14;
const G_SHIFT = 15;
const G_R = 16; // R's ten coefficients (pairs as tailRatio's p01 ... p89), times 2^−64
const G_INV_SQRT_2PI = 26; // times 2^−64
const G_NEG_ZERO = 27;
const GELU_I32: usize = ASC_FEATURE_RELAXED_SIMD
  ? 0
  : memory.data<i32>([0x7fffffff, 0xfffff000, 0x80000000, 127 + 64]);
const G_ABS = 0;
const G_SPLIT = 1;
const G_SIGN = 2;
const G_BIAS = 3;

// @inline
function g4(k: i32): v128 {
  return v128.load32_splat(GELU_F32 + ((<usize>k) << 2));
}
// @inline
function gi4(k: i32): v128 {
  return v128.load32_splat(GELU_I32 + ((<usize>k) << 2));
}

/** t = ROUND + n, n = round(−ah²/2·log2 e), ah = `a & G_SPLIT` (geluExp's split). */
// @inline
function geluRound(a: v128): v128 {
  const ah = v128.and(a, gi4(G_SPLIT));
  return f32x4.sub(g4(G_ROUND), f32x4.mul(f32x4.mul(ah, ah), g4(G_HALF_LOG2E)));
}

/** 2^(n+64) from geluRound's t: t's bits are ROUND's plus n (ROUND's low 9 bits are 0). */
// @inline
function geluScale(t: v128): v128 {
  return i32x4.shl(i32x4.add(t, gi4(G_BIAS)), 23);
}

/**
 * e^{−a²/2} for 0 ≤ a ≤ GELU_MAX as y·2^(n+64), t from geluRound: returns y (in [½√2, √2]); the
 * caller takes geluScale(t) (n ≥ −163, so one normal factor). a² is split as u + v, u = ah² exact (ah: a's top 12
 * bits, Dekker's split), so e^{−a²/2} loses nothing to the rounding of a² (which, at a = 5, would
 * cost some ten ulp). n = round(−u/2·log2 e), and the reduced argument
 * −½((u + 2n·ln2_hi) + (v + 2n·ln2_lo)), u + 2n·ln2_hi exact: Cephes' expf reduction and
 * polynomial (vexp's), without the clamping, and with the scaling left to the caller, which folds
 * it into a factor known early (off the critical path).
 */
// @inline
function geluExp(a: v128, t: v128): v128 {
  const ah = v128.and(a, gi4(G_SPLIT));
  const u = f32x4.mul(ah, ah);
  const v = f32x4.mul(f32x4.sub(a, ah), f32x4.add(a, ah));
  const fn = f32x4.sub(t, g4(G_ROUND));
  const rHi = f32x4.add(u, f32x4.mul(fn, g4(G_LN2_HI2)));
  const rLo = f32x4.add(v, f32x4.mul(fn, g4(G_LN2_LO2)));
  const r = f32x4.mul(f32x4.add(rHi, rLo), g4(G_MINUS_HALF));
  const r2 = f32x4.mul(r, r);
  const p01 = axpb(r, g4(G_EXP), g4(G_EXP + 1));
  const p23 = axpb(r, g4(G_EXP + 2), g4(G_EXP + 3));
  const p45 = axpb(r, g4(G_EXP + 4), g4(G_EXP + 5));
  const p = f32x4.add(p01, f32x4.mul(r2, f32x4.add(p23, f32x4.mul(r2, p45))));
  return f32x4.add(f32x4.add(f32x4.mul(p, r2), r), g4(G_ONE));
}

/**
 * R(a)·2^−64, R(a) = Q(a)·e^{a²/2} for 0 ≤ a ≤ GELU_MAX, Q(a) = 1 − Φ(a) the normal upper tail
 * (R(0) = ½, R(a) ≈ 1/(a√(2π)) for large a): native/vmath-simd.h's normal_tail_ratio, t·P(t − 0.6)
 * with t = 4/(4 + a), P of degree 9 fitted to a relative error of 1e-8 (its coefficients scaled by
 * 2^−64, exactly). Splitting Q this way keeps e^{−a²/2} and the division and polynomial two
 * independent chains (erfc as t·e^{−z² + P(t)} chains them, twice the latency), and leaves the lower
 * tail its relative accuracy. t is corrected for the rounding of 4 + a: its error a − (d − 4) is
 * exact for 0 ≤ a < 16 (Fast2Sum below 4; above, d − 4 and the difference are multiples of a's
 * ulp); the division's half ulp remains.
 */
// @inline
function tailRatio(a: v128): v128 {
  const four = g4(G_FOUR);
  const d = f32x4.add(a, four);
  const t0 = f32x4.div(four, d);
  const err = f32x4.sub(a, f32x4.sub(d, four));
  // 4/(d + err) ≈ t0·(1 − err/d) = t0 − t0²·err/4.
  const t = f32x4.sub(t0, f32x4.mul(f32x4.mul(t0, t0), f32x4.mul(err, g4(G_QUARTER))));
  const s = f32x4.sub(t, g4(G_SHIFT));
  // Estrin's scheme: four dependent multiply-adds instead of Horner's nine.
  const s2 = f32x4.mul(s, s);
  const s4 = f32x4.mul(s2, s2);
  const p01 = axpb(s, g4(G_R), g4(G_R + 1));
  const p23 = axpb(s, g4(G_R + 2), g4(G_R + 3));
  const p45 = axpb(s, g4(G_R + 4), g4(G_R + 5));
  const p67 = axpb(s, g4(G_R + 6), g4(G_R + 7));
  const p89 = axpb(s, g4(G_R + 8), g4(G_R + 9));
  const p47 = axpb(s2, p67, p45);
  const p03 = axpb(s2, p23, p01);
  return f32x4.mul(t, axpb(s4, axpb(s4, p89, p47), p03));
}

/**
 * The exact GELU x·Φ(x) on four lanes, to a few ulp in both tails. With a = min(|x|, GELU_MAX),
 * e = e^{−a²/2} and R as above, x·Φ(x) = x − a·R·e for x ≥ 0 and −a·R·e below (a·R is about 0.4
 * for large a, and a·R·2^−64·2^(n+64) is formed while e's polynomial runs: one product after it).
 * max(x, −0) − p: −0 below −GELU_MAX (the exact value rounds to it) and at −∞, +∞ at +∞, NaN stays
 * NaN.
 */
// @inline
export function vgelu(x: v128): v128 {
  const a = f32x4.pmin(v128.and(x, gi4(G_ABS)), g4(G_MAX));
  const t = geluRound(a);
  const y = geluExp(a, t);
  const ars = f32x4.mul(f32x4.mul(a, tailRatio(a)), geluScale(t));
  return f32x4.sub(f32x4.pmax(x, g4(G_NEG_ZERO)), f32x4.mul(y, ars));
}

/**
 * d/dx x·Φ(x) = Φ(x) + x·φ(x) on four lanes, φ(x) = e/√(2π): 1 + e·(a/√(2π) − R) for x ≥ 0,
 * e·(R − a/√(2π)) below (no cancellation: R − a/√(2π) is about −a/√(2π) for large a), a and e as
 * in vgelu: one product and a sum after e's polynomial. 0 at −∞, 1 at +∞, NaN stays NaN.
 */
// @inline
export function vgeluGrad(x: v128): v128 {
  const a = f32x4.pmin(v128.and(x, gi4(G_ABS)), g4(G_MAX));
  const t = geluRound(a);
  const y = geluExp(a, t);
  const d = f32x4.sub(f32x4.mul(a, g4(G_INV_SQRT_2PI)), tailRatio(a));
  const k = v128.xor(f32x4.mul(d, geluScale(t)), v128.and(x, gi4(G_SIGN)));
  // 1 where x's sign bit is clear (−0 counts as negative, consistently with k's sign).
  const h = v128.andnot(g4(G_ONE), i32x4.shr_s(x, 31));
  return f32x4.add(h, f32x4.mul(y, k));
}

const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_C = 0.044715;

/** The low part of the last m2u result (a second return value). */
let m2uLo: v128 = f32x4.splat(0);

/**
 * −2u = −2·√(2/π)·(x + 0.044715·x³) on four lanes, computed in float64 and returned as hi
 * (float32) + lo (in m2uLo): e^{−2u} is needed to relative accuracy where |2u| is large, which
 * float32's rounding of u would cost (some 200 ulp at x = −9).
 */
// @inline
function m2u(x: v128): v128 {
  const k = f64x2.splat(-2 * SQRT_2_OVER_PI);
  const c = f64x2.splat(GELU_C);
  const x0 = f64x2.promote_low_f32x4(x);
  const x1 = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1));
  const w0 = f64x2.mul(k, f64x2.add(x0, f64x2.mul(f64x2.mul(c, x0), f64x2.mul(x0, x0))));
  const w1 = f64x2.mul(k, f64x2.add(x1, f64x2.mul(f64x2.mul(c, x1), f64x2.mul(x1, x1))));
  const h0 = f32x4.demote_f64x2_zero(w0);
  const h1 = f32x4.demote_f64x2_zero(w1);
  const hi = v128.shuffle<f32>(h0, h1, 0, 1, 4, 5);
  const l0 = f32x4.demote_f64x2_zero(f64x2.sub(w0, f64x2.promote_low_f32x4(h0)));
  const l1 = f32x4.demote_f64x2_zero(f64x2.sub(w1, f64x2.promote_low_f32x4(h1)));
  m2uLo = v128.shuffle<f32>(l0, l1, 0, 1, 4, 5);
  return hi;
}

/**
 * e^(hi + lo) for any hi (NaN stays NaN): past [−104, 88.8] the result is 0 or +∞, and lo
 * (meaningless there, NaN for infinite hi) is dropped.
 */
// @inline
function vexpSplitClamped(hi: v128, lo: v128): v128 {
  const inRange = v128.and(f32x4.gt(hi, f32x4.splat(-104)), f32x4.lt(hi, f32x4.splat(88.8)));
  const h = f32x4.pmin(f32x4.pmax(hi, f32x4.splat(-104)), f32x4.splat(89));
  return vexpSplit(h, v128.and(lo, inRange));
}

/**
 * GELU's tanh approximation 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), as x·σ(2u) =
 * x / (1 + e^{−2u}) (no cancellation in 1 + tanh(u) for negative x): −∞ gives −0, +∞ gives +∞.
 */
// @inline
export function vgeluTanh(x: v128): v128 {
  const hi = m2u(x);
  const e = vexpSplitClamped(hi, m2uLo);
  const y = f32x4.div(x, f32x4.add(f32x4.splat(1), e));
  // x = −∞: −∞/∞ is NaN; the limit is −0.
  return v128.bitselect(f32x4.splat(-0.0), y, f32x4.eq(x, f32x4.splat(-Infinity)));
}

/**
 * The derivative of geluTanh: with s = σ(2u), σ(−2u) = 1 − s and 1 − tanh² = 4s(1 − s),
 * s + 2x·s·(1 − s)·√(2/π)·(1 + 3·0.044715·x²), both sigmoids from e^{−|2u|} (no overflow). x is
 * clamped to ±20, past which the derivative is 0 or 1 in float32: 0 at −∞, 1 at +∞.
 */
// @inline
export function vgeluTanhGrad(x: v128): v128 {
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-20)), f32x4.splat(20));
  const hi = m2u(xc);
  const neg = f32x4.lt(hi, f32x4.splat(0)); // u > 0
  const sign = v128.andnot(i32x4.splat(0x80000000), neg); // flips hi + lo to −|2u|
  const e = vexpSplitClamped(v128.xor(hi, sign), v128.xor(m2uLo, sign));
  const big = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e)); // σ(|2u|)
  const small = f32x4.mul(e, big); // σ(−|2u|)
  const s = v128.bitselect(big, small, neg);
  const x2 = f32x4.mul(xc, xc);
  const du = f32x4.mul(
    f32x4.splat(<f32>SQRT_2_OVER_PI),
    f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(<f32>(3 * GELU_C)), x2)),
  );
  const two = f32x4.add(xc, xc);
  return f32x4.add(s, f32x4.mul(f32x4.mul(f32x4.mul(two, big), small), du));
}
