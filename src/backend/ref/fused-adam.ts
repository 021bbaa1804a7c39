/**
 * Reference fused Adam/AdamW update (Kingma & Ba, 2015; Loshchilov & Hutter, 2019): one pass over
 * a parameter updating it and its moment estimates in place, with the update rule and order of
 * operations of PyTorch's torch.optim.adam._single_tensor_adam (the CPU default):
 *
 *   g ← −g if maximize;  p ← p·(1 − lr·wd) (AdamW) or g ← g + wd·p (Adam)
 *   m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g·g;  v̂ ← max(v̂, v) with AMSGrad
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
 */
import type { AdamParams, View } from '../backend.js';
import { arrayOf } from './storage.js';
import { elementOffsets } from './strided.js';

/** torch.lerp's formula, which switches form at weight 0.5 to stay exact at both ends. */
function lerp(a: number, b: number, w: number): number {
  return Math.abs(w) < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w);
}

export function adamUpdate(
  param: View,
  grad: View,
  expAvg: View,
  expAvgSq: View,
  maxExpAvgSq: View | null,
  o: AdamParams,
): void {
  const [pa, ga, ma, va] = [param, grad, expAvg, expAvgSq].map(arrayOf);
  const xa = maxExpAvgSq ? arrayOf(maxExpAvgSq) : null;
  const [po, go, mo, vo] = [param, grad, expAvg, expAvgSq].map(elementOffsets);
  const xo = maxExpAvgSq ? elementOffsets(maxExpAvgSq) : null;
  const stepSize = o.lr / (1 - o.beta1 ** o.step);
  const bc2Sqrt = Math.sqrt(1 - o.beta2 ** o.step);
  const decay = 1 - o.lr * o.weightDecay;
  for (let k = 0; k < po!.length; k++) {
    const pi = po![k]!;
    const mi = mo![k]!;
    const vi = vo![k]!;
    let g = ga![go![k]!]!;
    if (o.maximize) g = -g;
    if (o.weightDecay !== 0) {
      if (o.decoupled) pa![pi] = pa![pi]! * decay;
      else g = g + o.weightDecay * pa![pi]!;
    }
    // Each value is stored before it is read again, so float32 rounds where PyTorch's does.
    ma![mi] = lerp(ma![mi]!, g, 1 - o.beta1);
    va![vi] = va![vi]! * o.beta2 + (1 - o.beta2) * g * g;
    let second = va![vi]!;
    if (xa) {
      const xi = xo![k]!;
      xa[xi] = Math.max(xa[xi]!, second);
      second = xa[xi]!;
    }
    pa![pi] = pa![pi]! - (stepSize * ma![mi]!) / (Math.sqrt(second) / bc2Sqrt + o.eps);
  }
}
