/**
 * Indexing: indexSelect / indexAdd along one dim, gather / scatterAdd, and embedding lookup.
 * Every index is checked against its dim before a kernel sees it; the backward of a lookup is a
 * scatter-add, so repeated indices accumulate their gradients.
 */
import { record } from '../autograd/node.js';
import { DTypeError, IndexError, ShapeError } from '../core/errors.js';
import { formatShape, normalizeDim, type Shape } from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { cat } from './join.js';
import { contiguous, reshape } from './movement.js';
import { copyOf, empty, kernelsFor } from './util.js';

function checkIndex(index: Tensor, size: number, op: string, what: string): void {
  index._check(op);
  if (index.dtype !== 'int32') {
    throw new DTypeError(
      `${op}: indices must be an int32 tensor, got ${index.dtype}; create them with { dtype: 'int32' }`,
    );
  }
  const values = index.dataSync();
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0 || v >= size) {
      throw new IndexError(
        `${op}: index ${v} is out of range for ${what} of size ${size} (valid: 0..${size - 1})`,
      );
    }
  }
}

/** The slices of `x` at `index` (1-D int32) along `dim`. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  x._check('indexSelect');
  const d = normalizeDim(dim, x.ndim, 'indexSelect');
  if (index.ndim > 1)
    throw new ShapeError(
      `indexSelect: index must be 0-D or 1-D, got shape ${formatShape(index.shape)}`,
    );
  const idx = index.ndim === 0 ? reshape(index, [1]) : index;
  checkIndex(idx, x.ndim === 0 ? 1 : x.shape[d]!, 'indexSelect', `dimension ${d}`);
  if (x.ndim === 0) return x;
  const shape = [...x.shape];
  shape[d] = idx.size;
  const out = empty(shape, x.dtype);
  kernelsFor(x).indexSelect(x, d, idx, out);
  return record(out, 'indexSelect', [x], (g) => [indexAdd(empty(x.shape, g.dtype), d, idx, g)], [
    idx,
  ]);
}

/** base with `src`'s slices added at `index` along `dim` (repeated indices accumulate). */
export function indexAdd(base: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  base._check('indexAdd');
  src._check('indexAdd');
  const d = normalizeDim(dim, base.ndim, 'indexAdd');
  checkIndex(index, base.shape[d]!, 'indexAdd', `dimension ${d}`);
  const expected = [...base.shape];
  expected[d] = index.size;
  if (src.ndim !== base.ndim || src.shape.some((s, i) => s !== expected[i])) {
    throw new ShapeError(
      `indexAdd: source shape ${formatShape(src.shape)} does not match ${formatShape(expected)}`,
    );
  }
  if (src.dtype !== base.dtype)
    throw new DTypeError(`indexAdd: source dtype ${src.dtype} differs from ${base.dtype}`);
  const out = copyOf(base);
  kernelsFor(base).indexAdd(out, d, index, src);
  return record(out, 'indexAdd', [base, src], (g) => [g, indexSelect(g, d, index)], [index]);
}

/** out[i][j] = x[index[i][j]][j] (for dim 0), PyTorch's gather: index has out's shape. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  x._check('gather');
  const d = normalizeDim(dim, x.ndim, 'gather');
  if (index.ndim !== x.ndim) {
    throw new ShapeError(
      `gather: index must have as many dims as the input (${x.ndim}), got shape ${formatShape(index.shape)}`,
    );
  }
  for (let i = 0; i < x.ndim; i++) {
    if (i !== d && index.shape[i]! > x.shape[i]!) {
      throw new ShapeError(
        `gather: index shape ${formatShape(index.shape)} exceeds input shape ${formatShape(x.shape)} at dim ${i}`,
      );
    }
  }
  checkIndex(index, x.shape[d]!, 'gather', `dimension ${d}`);
  const out = empty(index.shape, x.dtype);
  kernelsFor(x).gather(x, d, index, out);
  return record(out, 'gather', [x], (g) => [scatterAdd(empty(x.shape, g.dtype), d, index, g)], [
    index,
  ]);
}

/** base with src[i][j] added at [index[i][j]][j] (for dim 0); repeated indices accumulate. */
export function scatterAdd(base: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  base._check('scatterAdd');
  src._check('scatterAdd');
  const d = normalizeDim(dim, base.ndim, 'scatterAdd');
  if (index.ndim !== base.ndim || src.ndim !== base.ndim) {
    throw new ShapeError(
      `scatterAdd: index ${formatShape(index.shape)} and source ${formatShape(src.shape)} must have ${base.ndim} dims like the base`,
    );
  }
  for (let i = 0; i < base.ndim; i++) {
    if (index.shape[i]! > src.shape[i]! || (i !== d && index.shape[i]! > base.shape[i]!)) {
      throw new ShapeError(
        `scatterAdd: index shape ${formatShape(index.shape)} does not fit source ${formatShape(src.shape)} / base ${formatShape(base.shape)}`,
      );
    }
  }
  if (src.dtype !== base.dtype)
    throw new DTypeError(`scatterAdd: source dtype ${src.dtype} differs from ${base.dtype}`);
  checkIndex(index, base.shape[d]!, 'scatterAdd', `dimension ${d}`);
  const out = copyOf(base);
  kernelsFor(base).scatterAdd(out, d, index, src);
  return record(out, 'scatterAdd', [base, src], (g) => [g, padTo(gather(g, d, index), src.shape)], [
    index,
  ]);
}

/**
 * `t` zero-padded at the end of each dim up to `shape`: the index of scatterAdd may be smaller
 * than the source, whose elements outside it were not used and get a zero gradient.
 */
function padTo(t: Tensor, shape: Shape): Tensor {
  let out = t;
  for (let d = 0; d < shape.length; d++) {
    const missing = shape[d]! - out.shape[d]!;
    if (missing <= 0) continue;
    const zerosShape = [...out.shape];
    zerosShape[d] = missing;
    out = cat([out, empty(zerosShape, out.dtype)], d);
  }
  return out;
}

/**
 * Rows of `weight` (V, C) at `indices` (any shape, int32): result (...indices.shape, C). The
 * gradient of `weight` is a scatter-add over the indices, correct for repeats.
 */
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  weight._check('embedding');
  if (weight.ndim !== 2)
    throw new ShapeError(
      `embedding: weight must be 2-D (numEmbeddings, dim), got ${formatShape(weight.shape)}`,
    );
  // Checked here so that a bad token id is reported as embedding's, not indexSelect's.
  checkIndex(indices, weight.shape[0]!, 'embedding', 'an embedding table');
  const flat = reshape(contiguous(indices), [indices.size]);
  const rows = indexSelect(weight, 0, flat);
  return reshape(rows, [...indices.shape, weight.shape[1]!]);
}
