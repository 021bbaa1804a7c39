/** Joining tensors: cat along an existing dim, stack along a new one. */
import { record } from '../autograd/node.js';
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import { contiguousStrides, formatShape, normalizeDim } from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { narrow, unsqueeze } from './movement.js';
import { empty, kernelsFor } from './util.js';

/**
 * Concatenates tensors along `dim`; all other sizes must match.
 *
 * @example
 * nb.cat([nb.ones([2, 3]), nb.zeros([1, 3])], 0); // shape [3, 3]
 */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0)
    throw new ValueError('cat: expects a non-empty array of tensors');
  tensors.forEach((t) => t._check('cat'));
  const first = tensors[0]!;
  if (first.ndim === 0)
    throw new ShapeError('cat: zero-dimensional tensors cannot be concatenated; use stack');
  const d = normalizeDim(dim, first.ndim, 'cat');
  let total = 0;
  for (const t of tensors) {
    if (t.dtype !== first.dtype)
      throw new DTypeError(`cat: dtype mismatch (${first.dtype} and ${t.dtype}); cast first`);
    if (
      t.ndim !== first.ndim ||
      t.shape.some((s: number, i: number) => i !== d && s !== first.shape[i])
    ) {
      throw new ShapeError(
        `cat: shapes ${tensors.map((x) => formatShape(x.shape)).join(', ')} must match except in dimension ${d}`,
      );
    }
    total += t.shape[d]!;
  }
  const shape = [...first.shape];
  shape[d] = total;
  const out = empty(shape, first.dtype);
  const strides = contiguousStrides(shape);
  let start = 0;
  for (const t of tensors) {
    kernelsFor(t).copy(t, {
      storage: out.storage,
      dtype: out.dtype,
      shape: t.shape,
      strides,
      offset: start * strides[d]!,
    });
    start += t.shape[d]!;
  }
  return record(out, 'cat', tensors, (g) => {
    let s = 0;
    return tensors.map((t) => {
      const part = narrow(g, d, s, t.shape[d]!);
      s += t.shape[d]!;
      return part;
    });
  });
}

/** Stacks same-shaped tensors along a new dimension `dim`. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0)
    throw new ValueError('stack: expects a non-empty array of tensors');
  const first = tensors[0]!;
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((s: number, i: number) => s !== first.shape[i])) {
      throw new ShapeError(
        `stack: all tensors must have the same shape, got ${tensors.map((x) => formatShape(x.shape)).join(', ')}`,
      );
    }
  }
  const d = normalizeDim(dim, first.ndim + 1, 'stack');
  return cat(
    tensors.map((t) => unsqueeze(t, d)),
    d,
  );
}
