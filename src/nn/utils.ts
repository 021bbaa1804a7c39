/**
 * Gradient clipping, as PyTorch's torch.nn.utils.clip_grad_norm_ and clip_grad_value_: both
 * rewrite the `.grad` of the given tensors in place (parameters without a gradient are skipped).
 * Clipping by norm bounds exploding gradients (Pascanu, Mikolov & Bengio, 2013); it does nothing
 * for vanishing ones.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { ValueError } from '../core/errors.js';
import { stack } from '../ops/join.js';
import { Tensor } from '../tensor.js';

export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or ±Infinity instead of scaling by it (default false). */
  errorIfNonfinite?: boolean;
}

function gradsOf(params: Iterable<Tensor> | Tensor): Tensor[] {
  const list = params instanceof Tensor ? [params] : [...params];
  return list.filter((p) => p.grad !== null).map((p) => p.grad!);
}

/** The p-norm of all elements of `g` as a 0-d tensor (p = ±Infinity: max / min of |g|). */
function vectorNorm(g: Tensor, p: number): Tensor {
  const a = g.abs();
  if (p === Infinity) return a.max();
  if (p === -Infinity) return a.min();
  if (p === 1) return a.sum();
  if (p === 2) return g.square().sum().sqrt();
  return a
    .pow(p)
    .sum()
    .pow(1 / p);
}

/**
 * Rescales the gradients of `params` so that their total `normType`-norm (the norm of the vector
 * of per-tensor norms) is at most `maxNorm`, and returns that total norm, measured before
 * clipping. As PyTorch: every gradient is multiplied by min(1, maxNorm / (total + 1e-6)), computed
 * in the gradients' dtype; `normType` may be any p > 0 or Infinity (the largest |g|).
 *
 * @example
 * loss.backward();
 * const norm = nb.nn.utils.clipGradNorm(model.parameters(), 1.0);
 * optimizer.step();
 */
export function clipGradNorm(
  params: Iterable<Tensor> | Tensor,
  maxNorm: number,
  normType: number | 'inf' = 2,
  options: ClipGradNormOptions = {},
): number {
  const p = normType === 'inf' ? Infinity : normType;
  if (typeof p !== 'number' || Number.isNaN(p) || p === 0)
    throw new ValueError(
      `clipGradNorm: normType must be a non-zero number or Infinity, got ${normType}`,
    );
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm))
    throw new ValueError(`clipGradNorm: maxNorm must be a number, got ${maxNorm}`);
  const grads = gradsOf(params);
  if (grads.length === 0) return 0;
  return noGrad(() => {
    const mixed = grads.some((g) => g.dtype !== grads[0]!.dtype);
    const norms = grads.map((g) => (mixed ? vectorNorm(g, p).to('float64') : vectorNorm(g, p)));
    const totalT = vectorNorm(stack(norms), p);
    const total = totalT.item();
    if (options.errorIfNonfinite && !Number.isFinite(total)) {
      throw new ValueError(
        `clipGradNorm: the total norm of order ${p} of the gradients is ${total}, so they cannot be clipped; ` +
          'pass errorIfNonfinite: false to scale them anyway (as PyTorch does by default)',
      );
    }
    // PyTorch computes maxNorm / (total + 1e-6) as reciprocal(total + 1e-6) · maxNorm, clamped to
    // 1, in the norm's dtype: round the same way for float32 gradients.
    const f = totalT.dtype === 'float32' ? Math.fround : (x: number) => x;
    const coef = Math.min(f(f(1 / f(total + f(1e-6))) * maxNorm), 1);
    for (const g of grads) g.mul_(coef);
    return total;
  });
}

/**
 * Clamps every gradient of `params` elementwise to [−clipValue, clipValue], in place.
 *
 * @example
 * loss.backward();
 * nb.nn.utils.clipGradValue(model.parameters(), 0.5);
 */
export function clipGradValue(params: Iterable<Tensor> | Tensor, clipValue: number): void {
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue))
    throw new ValueError(`clipGradValue: clipValue must be a number, got ${clipValue}`);
  noGrad(() => {
    for (const g of gradsOf(params)) g.clamp_(-clipValue, clipValue);
  });
}
