/**
 * Fused float32 recurrent cells with the semantics of the reference ones (src/backend/ref/
 * fused-rnn.ts): the pointwise gate math of one LSTM step (gate order i, f, g, o) and one GRU step
 * (gate order r, z, n), forward and backward, four hidden units at a time. Inputs have any strides
 * (a row stride and a column stride, in elements; biases one stride; address 0 is an absent
 * operand); outputs are contiguous.
 */
import { vsigmoid, vtanh } from './vmath';

/**
 * Four elements at p, `s` bytes apart (`four`), or the one at p in every lane (a row's tail, which
 * runs one element at a time).
 */
// @inline
function ld(p: usize, s: usize, four: bool): v128 {
  if (!four) return v128.load32_splat(p);
  if (s == 4) return v128.load(p);
  let v = v128.load32_splat(p);
  v = f32x4.replace_lane(v, 1, load<f32>(p + s));
  v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * s));
  return f32x4.replace_lane(v, 3, load<f32>(p + 3 * s));
}

/** Stores the four lanes of v at p (contiguous), or lane 0 only. */
// @inline
function st(p: usize, v: v128, four: bool): void {
  if (four) v128.store(p, v);
  else store<f32>(p, f32x4.extract_lane(v, 0));
}

/** Column k of a row at p (column stride s bytes). */
// @inline
function col(p: usize, s: usize, k: i32, four: bool): v128 {
  return ld(p + <usize>k * s, s, four);
}

/** gi + gh (+ bias) at column k of a row. */
// @inline
function sum3(
  gi: usize,
  si: usize,
  gh: usize,
  sh: usize,
  bias: usize,
  sb: usize,
  k: i32,
  four: bool,
): v128 {
  const u = f32x4.add(col(gi, si, k, four), col(gh, sh, k, four));
  return bias ? f32x4.add(u, col(bias, sb, k, four)) : u;
}

const ONE = f32x4.splat(1);

/**
 * u = gi + gh (+ bias), (B, 4H): out (2, B, H) = [o·tanh(c'), c'] with c' = f·c + i·g, and the
 * activated gates (B, 4H).
 */
export function lstmCellForward(
  B: i32,
  H: i32,
  gi: usize,
  sir: i32,
  sic: i32,
  gh: usize,
  shr: i32,
  shc: i32,
  bias: usize,
  sb: i32,
  c: usize,
  scr: i32,
  scc: i32,
  out: usize,
  gates: usize,
): void {
  const si = (<usize>sic) << 2;
  const sh = (<usize>shc) << 2;
  const sbb = (<usize>sb) << 2;
  const sc = (<usize>scc) << 2;
  const plane = (<usize>B * <usize>H) << 2;
  for (let b = 0; b < B; b++) {
    const ib = gi + ((<usize>b * <usize>sir) << 2);
    const hb = gh + ((<usize>b * <usize>shr) << 2);
    const cb = c + ((<usize>b * <usize>scr) << 2);
    const gb = gates + ((<usize>b * <usize>H) << 4);
    const ob = out + ((<usize>b * <usize>H) << 2);
    let j = 0;
    while (j < H) {
      const four = j + 4 <= H;
      const i = vsigmoid(sum3(ib, si, hb, sh, bias, sbb, j, four));
      const f = vsigmoid(sum3(ib, si, hb, sh, bias, sbb, H + j, four));
      const g = vtanh(sum3(ib, si, hb, sh, bias, sbb, 2 * H + j, four));
      const o = vsigmoid(sum3(ib, si, hb, sh, bias, sbb, 3 * H + j, four));
      const c2 = f32x4.add(f32x4.mul(f, col(cb, sc, j, four)), f32x4.mul(i, g));
      const gj = gb + ((<usize>j) << 2);
      const hq = (<usize>H) << 2;
      st(gj, i, four);
      st(gj + hq, f, four);
      st(gj + 2 * hq, g, four);
      st(gj + 3 * hq, o, four);
      const oj = ob + ((<usize>j) << 2);
      st(oj + plane, c2, four);
      st(oj, f32x4.mul(o, vtanh(c2)), four);
      j += four ? 4 : 1;
    }
  }
}

/**
 * Its backward from the saved gates (B, 4H), c, out = [h', c'] (2, B, H; strides sop, sor, soc)
 * and the gradients gH, gC (B, H; address 0: zero): with dc' = gC + gH·o·(1 − tanh²c'),
 * dGates (B, 4H) = [dc'·g·i(1 − i), dc'·c·f(1 − f), dc'·i·(1 − g²), gH·tanh(c')·o(1 − o)] and
 * dc (B, H) = dc'·f.
 */
export function lstmCellBackward(
  B: i32,
  H: i32,
  gates: usize,
  sgr: i32,
  sgc: i32,
  c: usize,
  scr: i32,
  scc: i32,
  out: usize,
  sop: i32,
  sor: i32,
  soc: i32,
  gH: usize,
  shr: i32,
  shc: i32,
  gC: usize,
  sCr: i32,
  sCc: i32,
  dGates: usize,
  dc: usize,
): void {
  const sg = (<usize>sgc) << 2;
  const sc = (<usize>scc) << 2;
  const so = (<usize>soc) << 2;
  const sh = (<usize>shc) << 2;
  const sC = (<usize>sCc) << 2;
  const zero = f32x4.splat(0);
  for (let b = 0; b < B; b++) {
    const gb = gates + ((<usize>b * <usize>sgr) << 2);
    const cb = c + ((<usize>b * <usize>scr) << 2);
    const ob = out + ((<usize>(b * sor + sop)) << 2); // c' = out[1]
    const hb = gH + ((<usize>b * <usize>shr) << 2);
    const Cb = gC + ((<usize>b * <usize>sCr) << 2);
    const db = dGates + ((<usize>b * <usize>H) << 4);
    const dcb = dc + ((<usize>b * <usize>H) << 2);
    let j = 0;
    while (j < H) {
      const four = j + 4 <= H;
      const i = col(gb, sg, j, four);
      const f = col(gb, sg, H + j, four);
      const g = col(gb, sg, 2 * H + j, four);
      const o = col(gb, sg, 3 * H + j, four);
      const tc = vtanh(col(ob, so, j, four));
      const gh2 = gH ? col(hb, sh, j, four) : zero;
      const gc = gC ? col(Cb, sC, j, four) : zero;
      const dcT = f32x4.add(gc, f32x4.mul(f32x4.mul(gh2, o), f32x4.sub(ONE, f32x4.mul(tc, tc))));
      const dj = db + ((<usize>j) << 2);
      const hq = (<usize>H) << 2;
      st(dj, f32x4.mul(f32x4.mul(f32x4.mul(dcT, g), i), f32x4.sub(ONE, i)), four);
      const cj = col(cb, sc, j, four);
      st(dj + hq, f32x4.mul(f32x4.mul(f32x4.mul(dcT, cj), f), f32x4.sub(ONE, f)), four);
      st(dj + 2 * hq, f32x4.mul(f32x4.mul(dcT, i), f32x4.sub(ONE, f32x4.mul(g, g))), four);
      st(dj + 3 * hq, f32x4.mul(f32x4.mul(f32x4.mul(gh2, tc), o), f32x4.sub(ONE, o)), four);
      st(dcb + ((<usize>j) << 2), f32x4.mul(dcT, f), four);
      j += four ? 4 : 1;
    }
  }
}

/**
 * GRU step: gi, gh (B, 3H), bias (3H, added to gh) or 0, h (B, H): r = σ(gi_r + gh_r),
 * z = σ(gi_z + gh_z), n = tanh(gi_n + r·gh_n); out (B, H) = n + z·(h − n), saved (B, 4H) =
 * [r, z, n, gh_n (+ b_n)].
 */
export function gruCellForward(
  B: i32,
  H: i32,
  gi: usize,
  sir: i32,
  sic: i32,
  gh: usize,
  shr: i32,
  shc: i32,
  bias: usize,
  sb: i32,
  h: usize,
  shhr: i32,
  shhc: i32,
  out: usize,
  saved: usize,
): void {
  const si = (<usize>sic) << 2;
  const sh = (<usize>shc) << 2;
  const sbb = (<usize>sb) << 2;
  const shh = (<usize>shhc) << 2;
  const zero = f32x4.splat(0);
  for (let b = 0; b < B; b++) {
    const ib = gi + ((<usize>b * <usize>sir) << 2);
    const hb = gh + ((<usize>b * <usize>shr) << 2);
    const hhb = h + ((<usize>b * <usize>shhr) << 2);
    const ob = out + ((<usize>b * <usize>H) << 2);
    const sv = saved + ((<usize>b * <usize>H) << 4);
    let j = 0;
    while (j < H) {
      const four = j + 4 <= H;
      const r = vsigmoid(sum3(ib, si, hb, sh, bias, sbb, j, four));
      const z = vsigmoid(sum3(ib, si, hb, sh, bias, sbb, H + j, four));
      const ghn = f32x4.add(
        col(hb, sh, 2 * H + j, four),
        bias ? col(bias, sbb, 2 * H + j, four) : zero,
      );
      const n = vtanh(f32x4.add(col(ib, si, 2 * H + j, four), f32x4.mul(r, ghn)));
      const hp = col(hhb, shh, j, four);
      st(ob + ((<usize>j) << 2), f32x4.add(n, f32x4.mul(z, f32x4.sub(hp, n))), four);
      const sj = sv + ((<usize>j) << 2);
      const hq = (<usize>H) << 2;
      st(sj, r, four);
      st(sj + hq, z, four);
      st(sj + 2 * hq, n, four);
      st(sj + 3 * hq, ghn, four);
      j += four ? 4 : 1;
    }
  }
}

/**
 * Its backward: with h' = n + z·(h − n), da_n = g·(1 − z)·(1 − n²), da_r = da_n·gh_n·r(1 − r),
 * da_z = g·(h − n)·z(1 − z): dgi = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n·r] (B, 3H) and
 * dh = g·z (B, H).
 */
export function gruCellBackward(
  B: i32,
  H: i32,
  saved: usize,
  ssr: i32,
  ssc: i32,
  h: usize,
  shr: i32,
  shc: i32,
  gOut: usize,
  sgr: i32,
  sgc: i32,
  dgi: usize,
  dgh: usize,
  dh: usize,
): void {
  const ss = (<usize>ssc) << 2;
  const sh = (<usize>shc) << 2;
  const sg = (<usize>sgc) << 2;
  for (let b = 0; b < B; b++) {
    const sb = saved + ((<usize>b * <usize>ssr) << 2);
    const hb = h + ((<usize>b * <usize>shr) << 2);
    const gb = gOut + ((<usize>b * <usize>sgr) << 2);
    const ib = dgi + ((<usize>b * <usize>H * 3) << 2);
    const hh = dgh + ((<usize>b * <usize>H * 3) << 2);
    const db = dh + ((<usize>b * <usize>H) << 2);
    let j = 0;
    while (j < H) {
      const four = j + 4 <= H;
      const r = col(sb, ss, j, four);
      const z = col(sb, ss, H + j, four);
      const n = col(sb, ss, 2 * H + j, four);
      const ghn = col(sb, ss, 3 * H + j, four);
      const g = col(gb, sg, j, four);
      const hp = col(hb, sh, j, four);
      const an = f32x4.mul(f32x4.mul(g, f32x4.sub(ONE, z)), f32x4.sub(ONE, f32x4.mul(n, n)));
      const ar = f32x4.mul(f32x4.mul(f32x4.mul(an, ghn), r), f32x4.sub(ONE, r));
      const az = f32x4.mul(f32x4.mul(f32x4.mul(g, f32x4.sub(hp, n)), z), f32x4.sub(ONE, z));
      const o = (<usize>j) << 2;
      const hq = (<usize>H) << 2;
      st(ib + o, ar, four);
      st(ib + hq + o, az, four);
      st(ib + 2 * hq + o, an, four);
      st(hh + o, ar, four);
      st(hh + hq + o, az, four);
      st(hh + 2 * hq + o, f32x4.mul(an, r), four);
      st(db + o, f32x4.mul(g, z), four);
      j += four ? 4 : 1;
    }
  }
}
