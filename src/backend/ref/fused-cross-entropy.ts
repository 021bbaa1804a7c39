/**
 * Reference fused softmax-cross-entropy: log-softmax and the negative log-likelihood (with
 * PyTorch's label smoothing) per row in one kernel, and a backward softmax − target that reads the
 * logits and the saved row log-sum-exp instead of a stored (R, C) log-probability matrix.
 *
 * logits (R, C) and the int32 targets (R) may have any strides.
 */
import type { View } from '../backend.js';
import { arrayOf } from './storage.js';

export function crossEntropyForward(
  logits: View,
  target: View,
  ignoreIndex: number,
  labelSmoothing: number,
  loss: View,
  lse: View,
): void {
  const [R, C] = logits.shape as [number, number];
  const xa = arrayOf(logits);
  const ta = arrayOf(target);
  const la = arrayOf(loss);
  const sa = arrayOf(lse);
  const [s0, s1] = logits.strides as [number, number];
  for (let r = 0; r < R; r++) {
    const o = logits.offset + r * s0;
    let mx = -Infinity;
    let sumX = 0;
    for (let c = 0; c < C; c++) {
      const v = xa[o + c * s1]!;
      if (v > mx) mx = v;
      sumX += v;
    }
    // An all −∞ row (or one holding +∞) has no finite maximum to shift by.
    const shift = Number.isFinite(mx) ? mx : 0;
    let se = 0;
    for (let c = 0; c < C; c++) se += Math.exp(xa[o + c * s1]! - shift);
    const l = shift + Math.log(se);
    sa[lse.offset + r * lse.strides[0]!] = l;
    const t = ta[target.offset + r * target.strides[0]!]!;
    let value = 0;
    if (t !== ignoreIndex) {
      value = (1 - labelSmoothing) * (l - xa[o + t * s1]!);
      if (labelSmoothing !== 0) value += labelSmoothing * (l - sumX / C);
    }
    la[loss.offset + r * loss.strides[0]!] = value;
  }
}

export function crossEntropyBackward(
  logits: View,
  target: View,
  lse: View,
  gLoss: View,
  ignoreIndex: number,
  labelSmoothing: number,
  gx: View,
): void {
  const [R, C] = logits.shape as [number, number];
  const xa = arrayOf(logits);
  const ta = arrayOf(target);
  const sa = arrayOf(lse);
  const ga = arrayOf(gLoss);
  const oa = arrayOf(gx);
  const [s0, s1] = logits.strides as [number, number];
  const [o0, o1] = gx.strides as [number, number];
  const off = labelSmoothing / C;
  for (let r = 0; r < R; r++) {
    const t = ta[target.offset + r * target.strides[0]!]!;
    const oo = gx.offset + r * o0;
    if (t === ignoreIndex) {
      for (let c = 0; c < C; c++) oa[oo + c * o1] = 0;
      continue;
    }
    const g = ga[gLoss.offset + r * gLoss.strides[0]!]!;
    const l = sa[lse.offset + r * lse.strides[0]!]!;
    const o = logits.offset + r * s0;
    for (let c = 0; c < C; c++) {
      const p = Math.exp(xa[o + c * s1]! - l);
      oa[oo + c * o1] = g * (p - off - (c === t ? 1 - labelSmoothing : 0));
    }
  }
}
