/** Lower and upper triangles of the last two dims (masks for causal attention). */
import { ShapeError } from '../core/errors.js';
import { formatShape } from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { arange } from './creation.js';
import { ge, le, sub, where } from './elementwise.js';
import { reshape } from './movement.js';
import { scalarTensor } from './util.js';

/** Elements with column − row <= diagonal kept (zeros elsewhere or false for bool). */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle(x, diagonal, 'tril');
}

/** Elements with column − row >= diagonal kept. */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle(x, diagonal, 'triu');
}

function triangle(x: Tensor, diagonal: number, op: 'tril' | 'triu'): Tensor {
  x._check(op);
  if (x.ndim < 2)
    throw new ShapeError(`${op}: expects at least 2 dimensions, got shape ${formatShape(x.shape)}`);
  const rows = x.shape[x.ndim - 2]!;
  const cols = x.shape[x.ndim - 1]!;
  // (rows, 1) and (1, cols) index grids; their difference is column − row.
  const offset = sub(reshape(arange(0, cols), [1, cols]), reshape(arange(0, rows), [rows, 1]));
  const keep = op === 'tril' ? le(offset, diagonal) : ge(offset, diagonal);
  return where(keep, x, scalarTensor(0, x.dtype));
}
