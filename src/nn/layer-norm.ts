/**
 * Layer normalisation (Ba, Kiros & Hinton, 2016), PyTorch's nn.LayerNorm, and the fused layer-norm
 * op (one forward kernel saving each row's mean and 1/σ, one backward kernel for x, weight and
 * bias, as llm.c's layernorm_forward/backward) that F.layerNorm uses when fused kernels are on.
 * F.layerNorm lives here too (re-exported by functional.ts), so that the two files import nothing
 * of each other.
 */
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import { isFloat, type DType } from '../core/dtype.js';
import { ShapeError, ValueError } from '../core/errors.js';
import { formatShape, shapesEqual } from '../core/shape.js';
import { fusedKernelsEnabled } from '../ops/fused-switch.js';
import { ones, zeros } from '../ops/creation.js';
import { add, mul, sub } from '../ops/elementwise.js';
import { reshape } from '../ops/movement.js';
import { mean, sum, variance } from '../ops/reduce.js';
import { empty, kernelsFor } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { Module, Parameter } from './module.js';

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

export interface LayerNormOptions {
  eps?: number;
  /** Learn a per-element scale and shift (default true). */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, learn the shift too (default true). */
  bias?: boolean;
  dtype?: DType;
}

/**
 * @example
 * const ln = new nb.nn.LayerNorm([8]);
 * ln.forward(nb.randn([2, 5, 8])); // each 8-vector normalised
 */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: readonly number[];
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape =
      typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    const dtype = options.dtype ?? 'float32';
    this.weight = affine ? new Parameter(ones(this.normalizedShape, { dtype })) : null;
    this.bias =
      affine && options.bias !== false
        ? new Parameter(zeros(this.normalizedShape, { dtype }))
        : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

/**
 * Fused layer norm over the trailing dims of x that `normalizedShape` names (already checked by
 * F.layerNorm; weight and bias, if any, have exactly that shape and x's dtype, x is non-empty).
 * Its backward is one kernel; under `createGraph` it is written in Tensor ops instead, so that
 * higher-order gradients still flow.
 */
export function layerNormFused(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): Tensor {
  const N = normalizedShape.reduce((a, b) => a * b, 1);
  const R = x.size / N;
  const k = kernelsFor(x);
  const [x2, w1, b1] = noGrad(() => [
    reshape(x, [R, N]), // (..., N) → (R, N), a view unless x's layout forbids it
    weight ? reshape(weight, [N]) : null,
    bias ? reshape(bias, [N]) : null,
  ]);
  const y = empty(x.shape, x.dtype);
  const mu = empty([R], x.dtype);
  const rstd = empty([R], x.dtype);
  k.layerNormForward(x2, w1, b1, eps, reshape(y, [R, N]), mu, rstd);
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return record(
    y,
    'layerNorm',
    inputs,
    (g) => {
      if (isGradEnabled()) return layerNormBackwardOps(x, normalizedShape, weight, bias, eps, g);
      const gx = x.requiresGrad ? empty(x.shape, x.dtype) : null;
      const gw = weight?.requiresGrad ? empty(weight.shape, x.dtype) : null;
      const gb = bias?.requiresGrad ? empty(bias.shape, x.dtype) : null;
      const g2 = reshape(g, [R, N]);
      // gx is always computed (the kernel's one pass needs somewhere to write it).
      const gxOut = gx ?? empty([R, N], x.dtype);
      k.layerNormBackward(
        x2,
        w1,
        mu,
        rstd,
        g2,
        reshape(gxOut, [R, N]),
        gw ? reshape(gw, [N]) : null,
        gb ? reshape(gb, [N]) : null,
      );
      return [gx, ...(weight ? [gw] : []), ...(bias ? [gb] : [])];
    },
    [x2, ...(w1 ? [w1] : []), mu, rstd],
  );
}

/** The same gradients in differentiable Tensor ops (for createGraph). */
function layerNormBackwardOps(
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
  g: Tensor,
): (Tensor | null)[] {
  const k = normalizedShape.length;
  const dims = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const lead = Array.from({ length: x.ndim - k }, (_, i) => i);
  const rs = add(variance(x, dims, { correction: 0, keepdim: true }), eps).rsqrt();
  const xhat = mul(sub(x, mean(x, dims, true)), rs);
  const d = weight ? mul(g, weight) : g;
  const gx = mul(rs, sub(sub(d, mean(d, dims, true)), mul(xhat, mean(mul(d, xhat), dims, true))));
  const over = (t: Tensor): Tensor => (lead.length > 0 ? sum(t, lead) : t);
  return [gx, ...(weight ? [over(mul(g, xhat))] : []), ...(bias ? [over(g)] : [])];
}
