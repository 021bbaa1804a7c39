/**
 * Reference fused recurrent cells: the pointwise gate math of one LSTM step (Hochreiter &
 * Schmidhuber, 1997, gate order i, f, g, o as PyTorch) and one GRU step (Cho et al., 2014, gate
 * order r, z, n, the reset gate applied to W_hn·h + b_hn) as a forward kernel and a backward kernel
 * each; the two matmuls that feed them stay outside. Views are (B, kH) with any strides, biases 1-D.
 */
import type { View } from '../backend.js';
import { arrayOf } from './storage.js';

const sigmoid = (u: number): number => 1 / (1 + Math.exp(-u));

type Arr = Float32Array | Float64Array;

/** Offset of element (b, j) of a 2-D view (or of 1-D element j when b is ignored). */
const at2 = (v: View, b: number, j: number): number =>
  v.offset + b * v.strides[0]! + j * v.strides[1]!;
const at1 = (v: View, j: number): number => v.offset + j * v.strides[0]!;
const at3 = (v: View, k: number, b: number, j: number): number =>
  v.offset + k * v.strides[0]! + b * v.strides[1]! + j * v.strides[2]!;

export function lstmCellForward(
  gi: View,
  gh: View,
  bias: View | null,
  c: View,
  out: View,
  gates: View,
): void {
  const [B, H] = c.shape as [number, number];
  const [ia, ha, ca, oa, ga] = [gi, gh, c, out, gates].map(arrayOf) as Arr[];
  const ba = bias ? arrayOf(bias) : null;
  const [is, hs, gs] = [gi.strides[1]!, gh.strides[1]!, gates.strides[1]!];
  const bs = bias ? bias.strides[0]! : 0;
  const u = new Float64Array(4 * H); // this row's gate pre-activations
  for (let b = 0; b < B; b++) {
    const io = at2(gi, b, 0);
    const ho = at2(gh, b, 0);
    for (let k = 0; k < 4 * H; k++) {
      u[k] = ia![io + k * is]! + ha![ho + k * hs]! + (ba ? ba[bias!.offset + k * bs]! : 0);
    }
    const go = at2(gates, b, 0);
    for (let j = 0; j < H; j++) {
      const i = sigmoid(u[j]!);
      const f = sigmoid(u[H + j]!);
      const g = Math.tanh(u[2 * H + j]!);
      const o = sigmoid(u[3 * H + j]!);
      const c2 = f * ca![at2(c, b, j)]! + i * g;
      ga![go + j * gs] = i;
      ga![go + (H + j) * gs] = f;
      ga![go + (2 * H + j) * gs] = g;
      ga![go + (3 * H + j) * gs] = o;
      oa![at3(out, 1, b, j)] = c2;
      oa![at3(out, 0, b, j)] = o * Math.tanh(c2);
    }
  }
}

/**
 * With dc' = gc' + gh'·o·(1 − tanh²c'): du_i = dc'·g·i(1 − i), du_f = dc'·c·f(1 − f),
 * du_g = dc'·i·(1 − g²), du_o = gh'·tanh(c')·o(1 − o), dc = dc'·f.
 */
export function lstmCellBackward(
  gates: View,
  c: View,
  out: View,
  gH: View | null,
  gC: View | null,
  dGates: View,
  dc: View,
): void {
  const [B, H] = c.shape as [number, number];
  const [ga, ca, oa, da, dca] = [gates, c, out, dGates, dc].map(arrayOf);
  const gHa = gH ? arrayOf(gH) : null;
  const gCa = gC ? arrayOf(gC) : null;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const i = ga![at2(gates, b, j)]!;
      const f = ga![at2(gates, b, H + j)]!;
      const g = ga![at2(gates, b, 2 * H + j)]!;
      const o = ga![at2(gates, b, 3 * H + j)]!;
      const tc = Math.tanh(oa![at3(out, 1, b, j)]!);
      const gh2 = gHa ? gHa[at2(gH!, b, j)]! : 0;
      const dcTotal = (gCa ? gCa[at2(gC!, b, j)]! : 0) + gh2 * o * (1 - tc * tc);
      da![at2(dGates, b, j)] = dcTotal * g * i * (1 - i);
      da![at2(dGates, b, H + j)] = dcTotal * ca![at2(c, b, j)]! * f * (1 - f);
      da![at2(dGates, b, 2 * H + j)] = dcTotal * i * (1 - g * g);
      da![at2(dGates, b, 3 * H + j)] = gh2 * tc * o * (1 - o);
      dca![at2(dc, b, j)] = dcTotal * f;
    }
  }
}

export function gruCellForward(
  gi: View,
  gh: View,
  bias: View | null,
  h: View,
  out: View,
  saved: View,
): void {
  const [B, H] = h.shape as [number, number];
  const [ia, ha, hha, oa, sa] = [gi, gh, h, out, saved].map(arrayOf);
  const ba = bias ? arrayOf(bias) : null;
  const hk = (b: number, k: number): number => ha![at2(gh, b, k)]! + (ba ? ba[at1(bias!, k)]! : 0);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const r = sigmoid(ia![at2(gi, b, j)]! + hk(b, j));
      const z = sigmoid(ia![at2(gi, b, H + j)]! + hk(b, H + j));
      const ghn = hk(b, 2 * H + j);
      const n = Math.tanh(ia![at2(gi, b, 2 * H + j)]! + r * ghn);
      const hp = hha![at2(h, b, j)]!;
      oa![at2(out, b, j)] = n + z * (hp - n);
      sa![at2(saved, b, j)] = r;
      sa![at2(saved, b, H + j)] = z;
      sa![at2(saved, b, 2 * H + j)] = n;
      sa![at2(saved, b, 3 * H + j)] = ghn;
    }
  }
}

/**
 * With h' = n + z·(h − n): dn = g·(1 − z), dz = g·(h − n), dh = g·z; da_n = dn·(1 − n²),
 * da_r = da_n·ghn·r(1 − r), da_z = dz·z(1 − z); dgi = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n·r].
 */
export function gruCellBackward(
  saved: View,
  h: View,
  gOut: View,
  dgi: View,
  dgh: View,
  dh: View,
): void {
  const [B, H] = h.shape as [number, number];
  const [sa, hha, ga, ia, ha, dha] = [saved, h, gOut, dgi, dgh, dh].map(arrayOf);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const r = sa![at2(saved, b, j)]!;
      const z = sa![at2(saved, b, H + j)]!;
      const n = sa![at2(saved, b, 2 * H + j)]!;
      const ghn = sa![at2(saved, b, 3 * H + j)]!;
      const g = ga![at2(gOut, b, j)]!;
      const hp = hha![at2(h, b, j)]!;
      const an = g * (1 - z) * (1 - n * n);
      const ar = an * ghn * r * (1 - r);
      const az = g * (hp - n) * z * (1 - z);
      ia![at2(dgi, b, j)] = ar;
      ia![at2(dgi, b, H + j)] = az;
      ia![at2(dgi, b, 2 * H + j)] = an;
      ha![at2(dgh, b, j)] = ar;
      ha![at2(dgh, b, H + j)] = az;
      ha![at2(dgh, b, 2 * H + j)] = an * r;
      dha![at2(dh, b, j)] = g * z;
    }
  }
}
