/**
 * Reference fused layer norm (Ba, Kiros & Hinton, 2016), a forward/backward kernel pair in the
 * style of llm.c's layernorm_forward/backward: the forward saves each row's mean and 1/σ, and the
 * backward produces the input, weight and bias gradients in one pass over the rows.
 *
 * Rows are the first dim of x (R, N); every view may have any strides.
 */
import type { View } from '../backend.js';
import { arrayOf } from './storage.js';

export function layerNormForward(
  x: View,
  weight: View | null,
  bias: View | null,
  eps: number,
  y: View,
  mean: View,
  rstd: View,
): void {
  const [R, N] = x.shape as [number, number];
  const xa = arrayOf(x);
  const ya = arrayOf(y);
  const wa = weight ? arrayOf(weight) : null;
  const ba = bias ? arrayOf(bias) : null;
  const ma = arrayOf(mean);
  const ra = arrayOf(rstd);
  const [xs0, xs1] = x.strides as [number, number];
  const [ys0, ys1] = y.strides as [number, number];
  for (let r = 0; r < R; r++) {
    const xo = x.offset + r * xs0;
    let s = 0;
    for (let i = 0; i < N; i++) s += xa[xo + i * xs1]!;
    const mu = s / N;
    // Two passes (mean, then squared deviations), as the composite version: no cancellation.
    let v = 0;
    for (let i = 0; i < N; i++) {
      const d = xa[xo + i * xs1]! - mu;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / N + eps);
    ma[mean.offset + r * mean.strides[0]!] = mu;
    ra[rstd.offset + r * rstd.strides[0]!] = rs;
    const yo = y.offset + r * ys0;
    for (let i = 0; i < N; i++) {
      let t = (xa[xo + i * xs1]! - mu) * rs;
      if (wa) t *= wa[weight!.offset + i * weight!.strides[0]!]!;
      if (ba) t += ba[bias!.offset + i * bias!.strides[0]!]!;
      ya[yo + i * ys1] = t;
    }
  }
}

/**
 * With x̂ = (x − μ)·rstd and d = gy·w: gx = rstd·(d − mean(d) − x̂·mean(d·x̂)), gw = Σ_rows gy·x̂,
 * gb = Σ_rows gy.
 */
export function layerNormBackward(
  x: View,
  weight: View | null,
  mean: View,
  rstd: View,
  gy: View,
  gx: View,
  gWeight: View | null,
  gBias: View | null,
): void {
  const [R, N] = x.shape as [number, number];
  const xa = arrayOf(x);
  const ga = arrayOf(gy);
  const oa = arrayOf(gx);
  const wa = weight ? arrayOf(weight) : null;
  const ma = arrayOf(mean);
  const ra = arrayOf(rstd);
  const gw = new Float64Array(gWeight ? N : 0);
  const gb = new Float64Array(gBias ? N : 0);
  const xhat = new Float64Array(N);
  const d = new Float64Array(N);
  const [xs0, xs1] = x.strides as [number, number];
  const [gs0, gs1] = gy.strides as [number, number];
  const [os0, os1] = gx.strides as [number, number];
  for (let r = 0; r < R; r++) {
    const mu = ma[mean.offset + r * mean.strides[0]!]!;
    const rs = ra[rstd.offset + r * rstd.strides[0]!]!;
    const xo = x.offset + r * xs0;
    const go = gy.offset + r * gs0;
    let sumD = 0;
    let sumDX = 0;
    for (let i = 0; i < N; i++) {
      const xh = (xa[xo + i * xs1]! - mu) * rs;
      const g = ga[go + i * gs1]!;
      const di = wa ? g * wa[weight!.offset + i * weight!.strides[0]!]! : g;
      xhat[i] = xh;
      d[i] = di;
      sumD += di;
      sumDX += di * xh;
      if (gWeight) gw[i]! += g * xh;
      if (gBias) gb[i]! += g;
    }
    const meanD = sumD / N;
    const meanDX = sumDX / N;
    const oo = gx.offset + r * os0;
    for (let i = 0; i < N; i++) oa[oo + i * os1] = rs * (d[i]! - meanD - xhat[i]! * meanDX);
  }
  if (gWeight) {
    const a = arrayOf(gWeight);
    for (let i = 0; i < N; i++) a[gWeight.offset + i * gWeight.strides[0]!] = gw[i]!;
  }
  if (gBias) {
    const a = arrayOf(gBias);
    for (let i = 0; i < N; i++) a[gBias.offset + i * gBias.strides[0]!] = gb[i]!;
  }
}
