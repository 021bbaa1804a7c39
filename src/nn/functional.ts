/**
 * Functional forms of the layers (PyTorch's torch.nn.functional): stateless, taking every weight
 * as an argument. Modules call these; so can users.
 */
import { ShapeError } from '../core/errors.js';
import { formatShape } from '../core/shape.js';
import type { Generator } from '../core/random.js';
import { isFloat } from '../core/dtype.js';
import { add } from '../ops/elementwise.js';
import { fusedKernelsEnabled } from '../ops/fused-switch.js';
import { linearOp, matmul } from '../ops/matmul.js';
import { dropout as dropoutOp } from '../ops/random.js';
import type { Tensor } from '../tensor.js';

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
  if (
    fusedKernelsEnabled() &&
    x.ndim >= 2 &&
    weight.dtype === x.dtype &&
    isFloat(x.dtype) &&
    (!bias || (bias.ndim === 1 && bias.shape[0] === weight.shape[0] && bias.dtype === x.dtype))
  ) {
    return linearOp(x, weight, bias ?? null); // one kernel: the product, then the bias on each row
  }
  const y = matmul(x, weight.mT);
  return bias ? add(y, bias) : y;
}

export { layerNorm } from './layer-norm.js';

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
