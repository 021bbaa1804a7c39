// The vectorized float32 math of vmath.cc, written once over a small SIMD vocabulary. vmath.cc
// includes this file twice, inside namespace `avx2` (8 lanes) and namespace `avx512` (16 lanes),
// after defining there the types V (a vector of floats), M (a lane mask) and I (a vector of int32),
// the lane count W, the macro VM_TGT (the target attribute of every function) and the primitives
// used below: set1, load, store, add, sub, mul, div, vmin, vmax, fmadd (a·b + c), fnmadd
// (c − a·b), fmsub (a·b − c), vabs, sign_bits, or_bits, xor_bits, round_near, cvt_i, cvt_f, as_f, as_i,
// add_i, sub_i, srai_i, slli_i, srli_i, and_i, or_i, set1_i, lt, le, ge, eq, nan_mask, sel (m ? a : b).
// No include guard: it is meant to be included once per instruction set.

// e^x as m·s2 (m = y·2^⌊n/2⌋, s2 = 2^(n − ⌊n/2⌋), both normal floats): Cephes' expf,
// x = n·ln 2 + r with |r| ≤ ln2/2 and a degree-6 polynomial for e^r. The final product m·s2 is
// left to the caller, which may fold other factors into m first (so that a denormal e^x does not
// cost them their precision). x is clamped to [−150, 89] (e^{−150}·2^{150} is still in range, and
// e^{−150} rounds to 0); NaN is not handled here.
struct ExpParts {
  V m, s2;
};
VM_TGT inline ExpParts exp_parts(V x) {
  // Clamp so that 2^n stays representable in two factors; results over/underflow naturally.
  const V xc = vmin(vmax(x, set1(-150.0f)), set1(89.0f));
  const V n = round_near(mul(xc, set1(1.44269504088896341f)));
  V r = fnmadd(n, set1(0.693359375f), xc);
  r = fnmadd(n, set1(-2.12194440e-4f), r);
  V p = set1(1.9875691500e-4f);
  p = fmadd(p, r, set1(1.3981999507e-3f));
  p = fmadd(p, r, set1(8.3334519073e-3f));
  p = fmadd(p, r, set1(4.1665795894e-2f));
  p = fmadd(p, r, set1(1.6666665459e-1f));
  p = fmadd(p, r, set1(5.0000001201e-1f));
  const V y = fmadd(p, mul(r, r), add(r, set1(1.0f)));
  const I k = cvt_i(n);
  const I k1 = srai_i<1>(k);
  const I k2 = sub_i(k, k1);
  const I bias = set1_i(127);
  ExpParts e;
  e.m = mul(y, as_f(slli_i<23>(add_i(k1, bias))));
  e.s2 = as_f(slli_i<23>(add_i(k2, bias)));
  return e;
}

// e^x (denormal results and 2^128 scale correctly through the two factors).
VM_TGT inline V exp_v(V x) {
  const ExpParts e = exp_parts(x);
  return sel(nan_mask(x), x, mul(e.m, e.s2));  // NaN stays NaN
}

// ln x. Cephes' logf: x = m·2^e with m in [√½, √2), a degree-8 polynomial for ln(1 + (m − 1)).
VM_TGT inline V log_v(V x) {
  const V zero = set1(0.0f);
  // Denormals: scale into the normal range first.
  const M tiny = lt(x, set1(1.17549435e-38f));
  const V xs = sel(tiny, mul(x, set1(8388608.0f)), x);  // · 2^23
  V e = sel(tiny, set1(-23.0f), zero);
  const I bits = as_i(xs);
  e = add(e, cvt_f(sub_i(srli_i<23>(bits), set1_i(126))));
  // Mantissa in [0.5, 1).
  V m = as_f(or_i(and_i(bits, set1_i(0x007fffff)), set1_i(0x3f000000)));
  const M low = lt(m, set1(0.707106781186547524f));
  e = sub(e, sel(low, set1(1.0f), zero));
  m = add(sub(m, set1(1.0f)), sel(low, m, zero));  // 2m − 1 or m − 1
  const V z = mul(m, m);
  V y = set1(7.0376836292e-2f);
  y = fmadd(y, m, set1(-1.1514610310e-1f));
  y = fmadd(y, m, set1(1.1676998740e-1f));
  y = fmadd(y, m, set1(-1.2420140846e-1f));
  y = fmadd(y, m, set1(1.4249322787e-1f));
  y = fmadd(y, m, set1(-1.6668057665e-1f));
  y = fmadd(y, m, set1(2.0000714765e-1f));
  y = fmadd(y, m, set1(-2.4999993993e-1f));
  y = fmadd(y, m, set1(3.3333331174e-1f));
  y = mul(mul(y, m), z);
  y = fmadd(e, set1(-2.12194440e-4f), y);
  y = fnmadd(z, set1(0.5f), y);
  V r = add(m, y);
  r = fmadd(e, set1(0.693359375f), r);
  // Special values: log 0 = −Inf, log(x < 0) = NaN, log(+Inf) = +Inf, NaN stays NaN.
  r = sel(eq(x, zero), set1(-INFINITY), r);
  r = sel(lt(x, zero), set1(NAN), r);
  r = sel(eq(x, set1(INFINITY)), x, r);
  return sel(nan_mask(x), x, r);
}

// tanh x: an odd polynomial fitted for |x| < 0.625, 1 − 2/(e^{2|x|} + 1) above.
VM_TGT inline V tanh_v(V x) {
  const V ax = vabs(x);
  // |x| < 0.625: x + x³·P(x²) (least-squares fit on the relative error, < 1 ulp).
  const V x2 = mul(x, x);
  V p = set1(0.00215359078720212f);
  p = fmadd(p, x2, set1(-0.008189946413040161f));
  p = fmadd(p, x2, set1(0.021706251427531242f));
  p = fmadd(p, x2, set1(-0.05394788831472397f));
  p = fmadd(p, x2, set1(0.13333216309547424f));
  p = fmadd(p, x2, set1(-0.3333333134651184f));
  const V small = fmadd(mul(ax, x2), p, ax);
  const V e = exp_v(add(ax, ax));
  const V large = sub(set1(1.0f), div(set1(2.0f), add(e, set1(1.0f))));
  // tanh is odd: x's sign on |tanh x| (which keeps tanh(−0) = −0).
  const V mag = sel(lt(ax, set1(0.625f)), small, large);
  return or_bits(mag, sign_bits(x));
}

// 1/(1 + e^{−x}) for x ≥ 0, e^x/(1 + e^x) below.
VM_TGT inline V sigmoid_v(V x) {
  const V e = exp_v(sub(set1(0.0f), vabs(x)));
  const V num = sel(lt(x, set1(0.0f)), e, set1(1.0f));
  return div(num, add(set1(1.0f), e));
}

// ---- The normal distribution: Φ and erf ---------------------------------------------------------

// R(a) = Q(a)·e^{a²/2} for 0 ≤ a ≤ 14.5, where Q(a) = 1 − Φ(a) = ½·erfc(a/√2) is the upper tail of
// the standard normal distribution (R is √(2π)⁻¹ times Mills' ratio; R(0) = ½, R(a) ≈ 1/(a√(2π))
// for large a). R = t·P(t − 0.6) with t = 4/(4 + a) and P of degree 9, fitted (Lawson's
// iteration, coefficients rounded to float one at a time, the rest refitted) to a relative error
// of 1e-8; t is corrected for the rounding of 4 + a and of the division, so that R is within
// about 2 ulp.
VM_TGT inline V normal_tail_ratio(V a) {
  const V four = set1(4.0f);
  const V d = add(a, four);
  V t = div(four, d);
  // d + err = 4 + a exactly (Fast2Sum); then one Newton step for t = 4/(d + err).
  const V err = sub(vmin(a, four), sub(d, vmax(a, four)));
  const V q = mul(t, set1(0.25f));
  V r = fnmadd(d, q, set1(1.0f));
  r = fnmadd(err, q, r);
  t = fmadd(t, r, t);
  const V s = sub(t, set1(0.6f));
  V p = set1(0.017000366f);
  p = fmadd(p, s, set1(0.0265855398f));
  p = fmadd(p, s, set1(-0.0350109562f));
  p = fmadd(p, s, set1(-0.0867085457f));
  p = fmadd(p, s, set1(0.0167919174f));
  p = fmadd(p, s, set1(0.261627525f));
  p = fmadd(p, s, set1(0.474421024f));
  p = fmadd(p, s, set1(0.51405549f));
  p = fmadd(p, s, set1(0.393559933f));
  p = fmadd(p, s, set1(0.223485231f));
  return mul(t, p);
}

// e^{−a²·k}, k ∈ {½, 1}, with a² split exactly into h + l (the rounding of a² would otherwise cost
// up to a²·2⁻²⁴ of relative error, 6 ulp at a = 14).
VM_TGT inline V exp_neg_sq(V a, float k) {
  const V h = mul(a, a);
  const V l = fmsub(a, a, h);
  const V e = exp_v(mul(h, set1(-k)));
  return fnmadd(mul(l, set1(k)), e, e);  // e·(1 − k·l)
}

// erf x: x + x·P(x²) for |x| < 0.8 (P of degree 5, fitted on the relative error), else
// ±(1 − erfc |x|) with erfc a = 2·Q(a√2) = 2·e^{−a²}·R(a√2).
VM_TGT inline V erf_v(V x) {
  const V z = mul(x, x);
  V p = set1(-0.000654224132f);
  p = fmadd(p, z, set1(0.00508686528f));
  p = fmadd(p, z, set1(-0.0268222429f));
  p = fmadd(p, z, set1(0.112831622f));
  p = fmadd(p, z, set1(-0.376126081f));
  p = fmadd(p, z, set1(0.128379166f));
  const V small = fmadd(x, p, x);
  // erf(4) rounds to 1; the clamp keeps R's argument in its fitted range.
  const V a = vmin(vabs(x), set1(4.0f));
  const V e = exp_neg_sq(a, 1.0f);
  const V erfc = mul(add(e, e), normal_tail_ratio(mul(a, set1(1.41421356237309505f))));
  const V large = or_bits(sub(set1(1.0f), erfc), sign_bits(x));
  const V r = sel(lt(vabs(x), set1(0.8f)), small, large);
  return sel(nan_mask(x), x, r);
}

// ---- GELU ---------------------------------------------------------------------------------------

// The parts of Φ(x) for x and a = |x| ≤ 14.5 (past it e^{−a²/2} underflows): e = e^{−a²/2},
// R = R(a), Q = e·R = Q(a).
struct NormalParts {
  V e, R, Q;
};
VM_TGT inline NormalParts normal_parts(V x) {
  const V a = vmin(vabs(x), set1(14.5f));
  NormalParts n;
  n.e = exp_neg_sq(a, 0.5f);
  n.R = normal_tail_ratio(a);
  n.Q = mul(n.e, n.R);
  return n;
}

// x·Φ(x): x·(1 − Q(x)) for x ≥ 0; for x < 0, (x·R)·e (x·R is about −0.4 for large |x|, so that
// only the last product can underflow); −0 below −14.5 (the exact value rounds to it), which also
// gives gelu(−∞) = −0 instead of −∞·0.
VM_TGT inline V gelu_v(V x) {
  const NormalParts n = normal_parts(x);
  const V pos = mul(x, sub(set1(1.0f), n.Q));
  const V neg = mul(mul(x, n.R), n.e);
  const V r = sel(ge(x, set1(0.0f)), pos, neg);
  return sel(lt(x, set1(-14.5f)), set1(-0.0f), r);
}

// gelu′(x) = Φ(x) + x·φ(x), φ(x) = e^{−x²/2}/√(2π): 1 − Q + x·φ for x ≥ 0, e·(R + x/√(2π)) for
// x < 0 (no cancellation: R − a/√(2π) is about −a/√(2π) for large a). x is clamped to ±14.5 in
// φ's factor (beyond it e = 0), so gelu′(+∞) = 1 and gelu′(−∞) = 0; NaN stays NaN.
VM_TGT inline V gelu_grad_v(V x) {
  const NormalParts n = normal_parts(x);
  const V c = set1(0.398942280401432678f);  // 1/√(2π)
  const V xc = vmax(vmin(x, set1(14.5f)), set1(-14.5f));
  const V pos = fmadd(mul(xc, c), n.e, sub(set1(1.0f), n.Q));
  const V neg = mul(n.e, fmadd(xc, c, n.R));
  const V r = sel(ge(x, set1(0.0f)), pos, neg);
  return sel(nan_mask(x), x, r);
}

// The tanh approximation through the logistic function: ½(1 + tanh u) = σ(z), z = 2u =
// 2√(2/π)·(x + 0.044715·x³). With e = e^{−|z|} = m·s2 and inv = 1/(1 + e): σ(z) = inv and
// 1 − σ(z) = e·inv for z ≥ 0 (`pos`), the other way round below.
struct TanhParts {
  V inv, e, m, s2;
  M pos;
};
VM_TGT inline TanhParts gelu_tanh_parts(V x) {
  // z = x·(K + Kc·x²) (K = 2√(2/π), Kc = 0.044715·K) as zh + zl, in float-float arithmetic:
  // σ(z) for large negative z has |z| times the relative error of z (a rounded z would cost
  // 100 ulp at x = −10). x is clamped to ±20 (x² must not overflow; σ(z) is 0 or 1 there).
  const V K = set1(1.59576917f), Kc = set1(0.0713548139f);
  x = vmax(vmin(x, set1(20.0f)), set1(-20.0f));
  const V x2 = mul(x, x);
  const V x2l = fmsub(x, x, x2);
  const V ph = mul(x2, Kc);
  const V pl = fmsub(x2, Kc, ph);
  const V wh = add(K, ph);  // TwoSum(K, ph)
  const V bb = sub(wh, K);
  V wl = add(sub(K, sub(wh, bb)), sub(ph, bb));
  // + the low parts: of Kc·x², of x², and of the constants (K, Kc) themselves.
  wl = add(wl, add(pl, fmadd(x2l, Kc, fmadd(x2, set1(2.3988324e-09f), set1(-4.53406803e-08f)))));
  const V zh = mul(x, wh);
  const V zl = fmadd(x, wl, fmsub(x, wh, zh));
  // e^{−|z|} = e^{−|zh|}·(1 − sgn(zh)·zl); 0 past exp_parts' clamp (and for x = ±∞).
  const ExpParts ep = exp_parts(sub(set1(0.0f), vabs(zh)));
  TanhParts t;
  t.m = fnmadd(xor_bits(zl, sign_bits(zh)), ep.m, ep.m);
  t.m = sel(lt(vabs(zh), set1(150.0f)), t.m, set1(0.0f));
  t.s2 = ep.s2;
  t.e = mul(t.m, t.s2);
  t.inv = div(set1(1.0f), add(set1(1.0f), t.e));
  t.pos = ge(zh, set1(0.0f));
  return t;
}

// x·σ(z): x·inv for z ≥ 0, (x·m·inv)·s2 below (one rounding into the denormals, not two); −0
// below −20 (where σ(z) underflows), so that −∞ gives −0 and not −∞·0.
VM_TGT inline V gelu_tanh_v(V x) {
  const TanhParts t = gelu_tanh_parts(x);
  const V r = sel(t.pos, mul(x, t.inv), mul(mul(mul(x, t.m), t.inv), t.s2));
  return sel(lt(x, set1(-20.0f)), set1(-0.0f), r);
}

// d/dx x·σ(z) = σ + x·σ·(1 − σ)·z′ = σ·(1 + x·(1 − σ)·z′), z′ = K·(1 + 3·0.044715·x²); x clamped
// to ±20 (where σ·(1 − σ) underflows), so that ±∞ give 1 and 0. For z < 0, σ = m·inv·s2 with s2
// applied last.
VM_TGT inline V gelu_tanh_grad_v(V x) {
  const TanhParts t = gelu_tanh_parts(x);
  const V xc = vmax(vmin(x, set1(20.0f)), set1(-20.0f));
  const V du = mul(set1(1.59576912160573071f), fmadd(mul(xc, xc), set1(0.134145f), set1(1.0f)));
  const V xdu = mul(xc, du);
  const V pos = fmadd(mul(t.inv, mul(t.e, t.inv)), xdu, t.inv);
  const V neg = mul(mul(mul(t.m, t.inv), fmadd(t.inv, xdu, set1(1.0f))), t.s2);
  return sel(nan_mask(x), x, sel(t.pos, pos, neg));
}

// ---- Loops --------------------------------------------------------------------------------------

// Applies F to x[0..n) in blocks of W; the tail goes through a padded block, so every element takes
// the same path (the results do not depend on where a run starts or ends).
template <V (*F)(V)>
VM_TGT void apply(const float* x, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(out + i, F(load(x + i)));
  if (i < n) {
    float buf[W] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    store(buf, F(load(buf)));
    std::memcpy(out + i, buf, (n - i) * sizeof(float));
  }
}

// out = g · F(x) over [0, n).
template <V (*F)(V)>
VM_TGT void apply_scaled(const float* x, const float* g, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + W <= n; i += W) store(out + i, mul(load(g + i), F(load(x + i))));
  if (i < n) {
    float bx[W] = {}, bg[W] = {};
    std::memcpy(bx, x + i, (n - i) * sizeof(float));
    std::memcpy(bg, g + i, (n - i) * sizeof(float));
    store(bx, mul(load(bg), F(load(bx))));
    std::memcpy(out + i, bx, (n - i) * sizeof(float));
  }
}
