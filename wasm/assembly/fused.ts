/**
 * Fused float32 training kernels with the arithmetic of the reference ones (src/backend/ref/
 * fused-*.ts): layer norm and Adam compute in float64, as ref does with JavaScript numbers, two
 * lanes at a time (f64x2), rounding to float32 where ref stores; cross-entropy sums in float64 the
 * f32x4 exponentials. Strides are in elements; outputs are contiguous.
 */
import { vexp } from './vmath';

/** Two float32 at p as f64x2. */
// @inline
function load2(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

/** Stores f64x2 x as two float32 at p. */
// @inline
function store2(p: usize, x: v128): void {
  v128.store64_lane(p, f32x4.demote_f64x2_zero(x), 0);
}

/** x rounded to float32 and back (a value ref stores, then reads again). */
// @inline
function round2(x: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(x));
}

/** Horizontal sum of an f64x2. */
// @inline
function hsum2(x: v128): f64 {
  return f64x2.extract_lane(x, 0) + f64x2.extract_lane(x, 1);
}

/** dst[i] = src[i·s] as float64, i < n. */
function widen(src: usize, s: i32, n: i32, dst: usize): void {
  const sb = (<usize>s) << 2;
  let i = 0;
  if (s == 1) {
    for (; i + 2 <= n; i += 2) {
      v128.store(dst + ((<usize>i) << 3), load2(src + ((<usize>i) << 2)));
    }
  }
  for (; i < n; i++) store<f64>(dst + ((<usize>i) << 3), <f64>load<f32>(src + <usize>i * sb));
}

/**
 * Layer norm of the rows of x (R, N; strides sxr, sxc): y (R, N), mean, rstd (R). w and b (N,
 * strides sw, sb) are used when nonzero addresses. scratch: 3·N float64.
 */
export function layerNormForward(
  R: i32,
  N: i32,
  x: usize,
  sxr: i32,
  sxc: i32,
  w: usize,
  sw: i32,
  b: usize,
  sb: i32,
  eps: f64,
  y: usize,
  mean: usize,
  rstd: usize,
  scratch: usize,
): void {
  const xr = scratch;
  const wr = scratch + ((<usize>N) << 3);
  const br = wr + ((<usize>N) << 3);
  if (w) widen(w, sw, N, wr);
  if (b) widen(b, sb, N, br);
  const inv = 1 / <f64>N;
  for (let r = 0; r < R; r++) {
    widen(x + ((<usize>r * <usize>sxr) << 2), sxc, N, xr);
    let s2 = f64x2.splat(0);
    let i = 0;
    for (; i + 2 <= N; i += 2) s2 = f64x2.add(s2, v128.load(xr + ((<usize>i) << 3)));
    let s = hsum2(s2);
    for (; i < N; i++) s += load<f64>(xr + ((<usize>i) << 3));
    const mu = s * inv;
    // Two passes (mean, then squared deviations), as ref: no cancellation.
    const m2 = f64x2.splat(mu);
    let v2 = f64x2.splat(0);
    i = 0;
    for (; i + 2 <= N; i += 2) {
      const d = f64x2.sub(v128.load(xr + ((<usize>i) << 3)), m2);
      v2 = f64x2.add(v2, f64x2.mul(d, d));
    }
    let v = hsum2(v2);
    for (; i < N; i++) {
      const d = load<f64>(xr + ((<usize>i) << 3)) - mu;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v * inv + eps);
    store<f32>(mean + ((<usize>r) << 2), <f32>mu);
    store<f32>(rstd + ((<usize>r) << 2), <f32>rs);
    const r2 = f64x2.splat(rs);
    const yr = y + ((<usize>r * <usize>N) << 2);
    i = 0;
    for (; i + 2 <= N; i += 2) {
      const o = (<usize>i) << 3;
      let t = f64x2.mul(f64x2.sub(v128.load(xr + o), m2), r2);
      if (w) t = f64x2.mul(t, v128.load(wr + o));
      if (b) t = f64x2.add(t, v128.load(br + o));
      store2(yr + ((<usize>i) << 2), t);
    }
    for (; i < N; i++) {
      const o = (<usize>i) << 3;
      let t = (load<f64>(xr + o) - mu) * rs;
      if (w) t *= load<f64>(wr + o);
      if (b) t += load<f64>(br + o);
      store<f32>(yr + ((<usize>i) << 2), <f32>t);
    }
  }
}

/**
 * Its backward: gx (R, N) from gy (strides sgr, sgc), x, w and the saved mean and rstd (R,
 * contiguous); gw and gb (N) overwritten with Σ_rows gy·x̂ and Σ gy when nonzero addresses.
 * scratch: 6·N float64.
 */
export function layerNormBackward(
  R: i32,
  N: i32,
  x: usize,
  sxr: i32,
  sxc: i32,
  w: usize,
  sw: i32,
  mean: usize,
  rstd: usize,
  gy: usize,
  sgr: i32,
  sgc: i32,
  gx: usize,
  gw: usize,
  gb: usize,
  scratch: usize,
): void {
  const nb = (<usize>N) << 3;
  const xh = scratch;
  const g = xh + nb;
  const d = g + nb;
  const wr = d + nb;
  const aw = wr + nb;
  const ab = aw + nb;
  if (w) widen(w, sw, N, wr);
  memory.fill(aw, 0, nb << 1);
  const inv = 1 / <f64>N;
  for (let r = 0; r < R; r++) {
    const mu = f64x2.splat(<f64>load<f32>(mean + ((<usize>r) << 2)));
    const rsf = <f64>load<f32>(rstd + ((<usize>r) << 2));
    const rs = f64x2.splat(rsf);
    widen(x + ((<usize>r * <usize>sxr) << 2), sxc, N, xh);
    widen(gy + ((<usize>r * <usize>sgr) << 2), sgc, N, g);
    let sd = f64x2.splat(0);
    let sdx = f64x2.splat(0);
    let i = 0;
    for (; i + 2 <= N; i += 2) {
      const o = (<usize>i) << 3;
      const h = f64x2.mul(f64x2.sub(v128.load(xh + o), mu), rs);
      const gi = v128.load(g + o);
      const di = w ? f64x2.mul(gi, v128.load(wr + o)) : gi;
      v128.store(xh + o, h);
      v128.store(d + o, di);
      sd = f64x2.add(sd, di);
      sdx = f64x2.add(sdx, f64x2.mul(di, h));
      v128.store(aw + o, f64x2.add(v128.load(aw + o), f64x2.mul(gi, h)));
      v128.store(ab + o, f64x2.add(v128.load(ab + o), gi));
    }
    let sumD = hsum2(sd);
    let sumDX = hsum2(sdx);
    for (; i < N; i++) {
      const o = (<usize>i) << 3;
      const h = (load<f64>(xh + o) - f64x2.extract_lane(mu, 0)) * rsf;
      const gi = load<f64>(g + o);
      const di = w ? gi * load<f64>(wr + o) : gi;
      store<f64>(xh + o, h);
      store<f64>(d + o, di);
      sumD += di;
      sumDX += di * h;
      store<f64>(aw + o, load<f64>(aw + o) + gi * h);
      store<f64>(ab + o, load<f64>(ab + o) + gi);
    }
    const meanD = f64x2.splat(sumD * inv);
    const meanDX = f64x2.splat(sumDX * inv);
    const out = gx + ((<usize>r * <usize>N) << 2);
    i = 0;
    for (; i + 2 <= N; i += 2) {
      const o = (<usize>i) << 3;
      const t = f64x2.sub(f64x2.sub(v128.load(d + o), meanD), f64x2.mul(v128.load(xh + o), meanDX));
      store2(out + ((<usize>i) << 2), f64x2.mul(rs, t));
    }
    for (; i < N; i++) {
      const o = (<usize>i) << 3;
      const t =
        load<f64>(d + o) -
        f64x2.extract_lane(meanD, 0) -
        load<f64>(xh + o) * f64x2.extract_lane(meanDX, 0);
      store<f32>(out + ((<usize>i) << 2), <f32>(rsf * t));
    }
  }
  for (let i = 0; i < N; i++) {
    if (gw) store<f32>(gw + ((<usize>i) << 2), <f32>load<f64>(aw + ((<usize>i) << 3)));
    if (gb) store<f32>(gb + ((<usize>i) << 2), <f32>load<f64>(ab + ((<usize>i) << 3)));
  }
}

/** torch.lerp's formula on f64x2, which switches form at weight 0.5 to stay exact at both ends. */
// @inline
function lerp2(a: v128, b: v128, w: f64): v128 {
  return Math.abs(w) < 0.5
    ? f64x2.add(a, f64x2.mul(f64x2.splat(w), f64x2.sub(b, a)))
    : f64x2.sub(b, f64x2.mul(f64x2.sub(b, a), f64x2.splat(1 - w)));
}

const MAXIMIZE = 1;
const DECOUPLED = 2;
const AMSGRAD = 4;

/**
 * One Adam/AdamW step over n contiguous elements of p, g, m, v (and vmax for AMSGrad), with ref's
 * order of operations and roundings (each value stored as float32 before it is read again).
 * w1 = 1 − β1, stepSize = lr/(1 − β1ᵗ), bc2Sqrt = √(1 − β2ᵗ), decay = 1 − lr·wd.
 */
export function adamUpdate(
  n: i32,
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  vmax: usize,
  flags: i32,
  w1: f64,
  beta2: f64,
  oneMinusBeta2: f64,
  wd: f64,
  decay: f64,
  stepSize: f64,
  bc2Sqrt: f64,
  eps: f64,
): void {
  const b2 = f64x2.splat(beta2);
  const c2 = f64x2.splat(oneMinusBeta2);
  const wd2 = f64x2.splat(wd);
  const dec = f64x2.splat(decay);
  const ss = f64x2.splat(stepSize);
  const bc = f64x2.splat(bc2Sqrt);
  const e2 = f64x2.splat(eps);
  const maximize = (flags & MAXIMIZE) != 0;
  const decoupled = (flags & DECOUPLED) != 0;
  const ams = (flags & AMSGRAD) != 0;
  let i = 0;
  // Pairs of elements; an odd last one runs the same code on a pair whose second lane is garbage
  // and is not stored (its loads stay inside the arena: 16-byte-aligned blocks).
  for (; i < n; i += 2) {
    const o = (<usize>i) << 2;
    let pi = load2(p + o);
    let gi = load2(g + o);
    if (maximize) gi = f64x2.neg(gi);
    if (wd != 0) {
      if (decoupled) pi = round2(f64x2.mul(pi, dec));
      else gi = f64x2.add(gi, f64x2.mul(wd2, pi));
    }
    const mi = round2(lerp2(load2(m + o), gi, w1));
    const vi = round2(f64x2.add(f64x2.mul(load2(v + o), b2), f64x2.mul(f64x2.mul(c2, gi), gi)));
    let second = vi;
    let xi = second;
    if (ams) {
      xi = f64x2.max(load2(vmax + o), second);
      second = xi;
    }
    const den = f64x2.add(f64x2.div(f64x2.sqrt(second), bc), e2);
    const pn = f64x2.sub(pi, f64x2.div(f64x2.mul(ss, mi), den));
    if (i + 2 <= n) {
      store2(p + o, pn);
      store2(m + o, mi);
      store2(v + o, vi);
      if (ams) store2(vmax + o, xi);
    } else {
      store<f32>(p + o, <f32>f64x2.extract_lane(pn, 0));
      store<f32>(m + o, <f32>f64x2.extract_lane(mi, 0));
      store<f32>(v + o, <f32>f64x2.extract_lane(vi, 0));
      if (ams) store<f32>(vmax + o, <f32>f64x2.extract_lane(xi, 0));
    }
  }
}

/**
 * Per-row cross-entropy of logits (R, C; strides sr, sc) at int32 targets t (stride st): loss and
 * lse (R, contiguous). ε = labelSmoothing.
 */
export function crossEntropyForward(
  R: i32,
  C: i32,
  x: usize,
  sr: i32,
  sc: i32,
  t: usize,
  st: i32,
  ignoreIndex: i32,
  eps: f64,
  loss: usize,
  lse: usize,
): void {
  const scb = (<usize>sc) << 2;
  for (let r = 0; r < R; r++) {
    const row = x + ((<usize>r * <usize>sr) << 2);
    let mx: f32 = -Infinity;
    let sumX: f64 = 0;
    let p = row;
    for (let c = 0; c < C; c++) {
      const v = load<f32>(p);
      if (v > mx) mx = v;
      sumX += <f64>v;
      p += scb;
    }
    // An all −∞ row (or one holding +∞) has no finite maximum to shift by.
    const shift: f32 = mx - mx == 0 ? mx : 0;
    const sh = f32x4.splat(shift);
    let se: f64 = 0;
    let c = 0;
    if (sc == 1) {
      let acc = f64x2.splat(0);
      for (; c + 4 <= C; c += 4) {
        const e = vexp(f32x4.sub(v128.load(row + ((<usize>c) << 2)), sh));
        acc = f64x2.add(acc, f64x2.promote_low_f32x4(e));
        acc = f64x2.add(acc, f64x2.promote_low_f32x4(v128.shuffle<f32>(e, e, 2, 3, 0, 1)));
      }
      se = hsum2(acc);
    }
    for (; c < C; c++) {
      const e = vexp(f32x4.splat(load<f32>(row + <usize>c * scb) - shift));
      se += <f64>f32x4.extract_lane(e, 0);
    }
    const l = <f64>shift + Math.log(se);
    store<f32>(lse + ((<usize>r) << 2), <f32>l);
    const target = load<i32>(t + ((<usize>r * <usize>st) << 2));
    let value: f64 = 0;
    if (target != ignoreIndex) {
      value = (1 - eps) * (l - <f64>load<f32>(row + <usize>target * scb));
      if (eps != 0) value += eps * (l - sumX / <f64>C);
    }
    store<f32>(loss + ((<usize>r) << 2), <f32>value);
  }
}

/**
 * Its backward: gx (R, C, contiguous) = gLoss_r·(softmax_r − (1 − ε)·onehot(t_r) − ε/C), 0 for
 * ignored rows; lse and gLoss (R) with strides sl, sg.
 */
export function crossEntropyBackward(
  R: i32,
  C: i32,
  x: usize,
  sr: i32,
  sc: i32,
  t: usize,
  st: i32,
  lse: usize,
  sl: i32,
  gl: usize,
  sg: i32,
  ignoreIndex: i32,
  eps: f64,
  gx: usize,
): void {
  const scb = (<usize>sc) << 2;
  const off = <f32>(eps / <f64>C);
  const hit = <f32>(1 - eps);
  for (let r = 0; r < R; r++) {
    const target = load<i32>(t + ((<usize>r * <usize>st) << 2));
    const out = gx + ((<usize>r * <usize>C) << 2);
    if (target == ignoreIndex) {
      memory.fill(out, 0, (<usize>C) << 2);
      continue;
    }
    const g = load<f32>(gl + ((<usize>r * <usize>sg) << 2));
    const l = load<f32>(lse + ((<usize>r * <usize>sl) << 2));
    const row = x + ((<usize>r * <usize>sr) << 2);
    const g4 = f32x4.splat(g);
    const l4 = f32x4.splat(l);
    const off4 = f32x4.splat(off);
    let c = 0;
    if (sc == 1) {
      for (; c + 4 <= C; c += 4) {
        const e = vexp(f32x4.sub(v128.load(row + ((<usize>c) << 2)), l4));
        v128.store(out + ((<usize>c) << 2), f32x4.mul(g4, f32x4.sub(e, off4)));
      }
    }
    for (; c < C; c++) {
      const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(row + <usize>c * scb) - l)), 0);
      store<f32>(out + ((<usize>c) << 2), g * (e - off));
    }
    const pt = out + ((<usize>target) << 2);
    const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(row + <usize>target * scb) - l)), 0);
    store<f32>(pt, g * (e - off - hit));
  }
}
