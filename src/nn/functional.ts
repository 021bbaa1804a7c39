/**
 * Functional forms of the layers (PyTorch's torch.nn.functional): stateless, taking every weight
 * as an argument. Modules call these; so can users.
 */
import { ShapeError, ValueError } from '../core/errors.js';
import { isFloat } from '../core/dtype.js';
import { formatShape, shapesEqual } from '../core/shape.js';
import { fusedKernelsEnabled } from '../ops/fused-switch.js';
import type { Generator } from '../core/random.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { dropout as dropoutOp } from '../ops/random.js';
import { mean, variance } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { layerNormFused } from './layer-norm.js';

export { softmax, logSoftmax, logsumexp } from '../ops/reduce.js';
export { embedding } from '../ops/indexing.js';
export { setFusedKernels, fusedKernelsEnabled } from '../ops/fused-switch.js';
export { relu, gelu, leakyRelu, tanh, sigmoid } from '../ops/elementwise.js';

/**
 * y = x·Wᵀ + b, with W of shape (out, in) as in PyTorch.
 *
 * @example
 * const y = nb.F.linear(nb.randn([4, 3]), nb.randn([2, 3]), nb.zeros([2])); // [4, 2]
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inFeatures = weight.shape[weight.ndim - 1];
  if (weight.ndim !== 2 || x.shape[x.ndim - 1] !== inFeatures) {
    throw new ShapeError(
      `linear: input of shape ${formatShape(x.shape)} does not fit weight ${formatShape(weight.shape)}; expected (..., ${inFeatures ?? '?'}) and a 2-D (out, in) weight`,
    );
  }
  const y = matmul(x, weight.mT);
  return bias ? add(y, bias) : y;
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims (Ba et al., 2016):
 * (x − mean) / √(var + eps) · weight + bias, with the biased variance as in PyTorch.
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  const k = normalizedShape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || k > x.ndim || tail.some((s, i) => s !== normalizedShape[i])) {
    throw new ShapeError(
      `layerNorm: input of shape ${formatShape(x.shape)} does not end with normalizedShape ${formatShape(normalizedShape)}`,
    );
  }
  if (!(eps > 0)) throw new ValueError(`layerNorm: eps must be positive, got ${eps}`);
  if (fusedLayerNormApplies(x, normalizedShape, weight, bias))
    return layerNormFused(x, normalizedShape, weight ?? null, bias ?? null, eps);
  const dims = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const mu = mean(x, dims, true);
  const centered = sub(x, mu);
  const v = variance(x, dims, { correction: 0, keepdim: true });
  let y = mul(centered, add(v, eps).rsqrt());
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/** The fused kernel covers float inputs with weight and bias of exactly normalizedShape. */
function fusedLayerNormApplies(
  x: Tensor,
  normalizedShape: readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
): boolean {
  if (!fusedKernelsEnabled() || !isFloat(x.dtype) || x.size === 0) return false;
  const fits = (t?: Tensor | null): boolean =>
    !t || (t.dtype === x.dtype && shapesEqual(t.shape, normalizedShape));
  return fits(weight) && fits(bias);
}

/** Dropout with PyTorch's argument order: (input, p, training). */
export function dropout(x: Tensor, p = 0.5, training = true, generator?: Generator): Tensor {
  return dropoutOp(x, p, training, generator);
}
export {
  crossEntropy,
  nllLoss,
  mseLoss,
  l1Loss,
  binaryCrossEntropyWithLogits,
  type Reduction,
  type ReductionOptions,
  type NllLossOptions,
  type CrossEntropyOptions,
  type BceWithLogitsOptions,
} from './losses.js';
export { scaledDotProductAttention } from './attention.js';
