/**
 * Reductions over one or several dims with `keepdim`: sum, mean, max, min (PyTorch's amax/amin),
 * argmax, argmin, var, std; and the numerically stable logsumexp, softmax and logSoftmax, which
 * subtract the (detached) maximum first so that exp never overflows.
 */
import type { ReduceOp, View } from '../backend/backend.js';
import { noGrad } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import {
  contiguousStrides,
  formatShape,
  normalizeDim,
  normalizeDims,
  sizeOf,
  type Shape,
} from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { add, div, eq, exp, isFinite, log, mul, sqrt, sub, where } from './elementwise.js';
import { _bindSum, expand, reshape } from './movement.js';
import { castPlain, empty, kernelsFor, requireFloat } from './util.js';

/** Axes to reduce (all when `dim` is undefined or empty) and the kept-dims shape. */
function reductionAxes(
  x: Tensor,
  dim: number | readonly number[] | undefined,
  op: string,
): { axes: number[]; keepShape: number[] } {
  const all = dim === undefined || (Array.isArray(dim) && dim.length === 0);
  const axes = all ? x.shape.map((_, i) => i) : normalizeDims(dim, x.ndim, op);
  const keepShape = x.shape.map((s, i) => (axes.includes(i) ? 1 : s));
  return { axes, keepShape };
}

function outShape(x: Tensor, axes: readonly number[], keepdim: boolean): number[] {
  return keepdim
    ? x.shape.map((s, i) => (axes.includes(i) ? 1 : s))
    : x.shape.filter((_, i) => !axes.includes(i));
}

/** A contiguous kernel view of `out` presented with the kept-dims shape. */
function keepView(out: Tensor, keepShape: Shape): View {
  return {
    storage: out.storage,
    dtype: out.dtype,
    shape: keepShape,
    strides: contiguousStrides(keepShape),
    offset: 0,
  };
}

function runReduce(
  op: ReduceOp,
  x: Tensor,
  axes: number[],
  keepShape: number[],
  keepdim: boolean,
): Tensor {
  const out = empty(outShape(x, axes, keepdim), x.dtype);
  kernelsFor(x).reduce(op, x, axes, keepView(out, keepShape));
  return out;
}

/** Sum over `dim` (all elements when omitted). bool sums count as int32. */
export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  x._check('sum');
  const src = x.dtype === 'bool' ? castPlain(x, 'int32') : x;
  const { axes, keepShape } = reductionAxes(src, dim, 'sum');
  const out = runReduce('sum', src, axes, keepShape, keepdim);
  return record(out, 'sum', [src], (g) => [expand(reshape(g, keepShape), src.shape)]);
}

_bindSum((g, dims) => sum(g, dims, false));

export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  requireFloat(x, 'mean');
  const { axes } = reductionAxes(x, dim, 'mean');
  const n = sizeOf(axes.map((a) => x.shape[a]!));
  if (n === 0)
    throw new ValueError(
      `mean: cannot average over zero elements (shape ${formatShape(x.shape)}, dims [${axes.join(', ')}])`,
    );
  return div(sum(x, axes, keepdim), n);
}

function extremum(
  op: 'max' | 'min',
  x: Tensor,
  dim: number | readonly number[] | undefined,
  keepdim: boolean,
): Tensor {
  x._check(op);
  if (x.dtype === 'bool') throw new DTypeError(`${op}: not supported for bool tensors; cast first`);
  const { axes, keepShape } = reductionAxes(x, dim, op);
  if (axes.some((a) => x.shape[a] === 0) || (x.size === 0 && axes.length === 0)) {
    throw new ShapeError(
      `${op}: cannot reduce over an empty dimension (shape ${formatShape(x.shape)}); the result has no identity`,
    );
  }
  const out = runReduce(op, x, axes, keepShape, keepdim);
  return record(
    out,
    op,
    [x],
    (g) => {
      // The gradient goes to the extreme elements, split evenly among ties (PyTorch's amax rule).
      const hit = castPlain(eq(x, expand(reshape(out, keepShape), x.shape)), g.dtype);
      const count = sum(hit, axes, true);
      return [mul(div(hit, count), expand(reshape(g, keepShape), x.shape))];
    },
    [x, out],
  );
}

/** Maximum over `dim` (all elements when omitted); PyTorch's amax. */
export const max = (x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor =>
  extremum('max', x, dim, keepdim);
/** Minimum over `dim` (all elements when omitted); PyTorch's amin. */
export const min = (x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor =>
  extremum('min', x, dim, keepdim);

function argExtremum(
  op: 'argmax' | 'argmin',
  x: Tensor,
  dim: number | undefined,
  keepdim: boolean,
): Tensor {
  x._check(op);
  const src = dim === undefined ? reshape(x, [x.size]) : x;
  const axis = dim === undefined ? 0 : normalizeDim(dim, x.ndim, op);
  if (src.ndim === 0) return empty([], 'int32');
  if (src.shape[axis] === 0)
    throw new ShapeError(
      `${op}: cannot reduce over an empty dimension (shape ${formatShape(x.shape)})`,
    );
  const keepShape = src.shape.map((s, i) => (i === axis ? 1 : s));
  const shape =
    dim === undefined ? (keepdim ? x.shape.map(() => 1) : []) : outShape(src, [axis], keepdim);
  const out = empty(shape, 'int32');
  kernelsFor(x).argReduce(op, src, axis, keepView(out, keepShape));
  return out;
}

/** Index (int32) of the first maximum along `dim`, or in the flattened tensor. */
export const argmax = (x: Tensor, dim?: number, keepdim = false): Tensor =>
  argExtremum('argmax', x, dim, keepdim);
export const argmin = (x: Tensor, dim?: number, keepdim = false): Tensor =>
  argExtremum('argmin', x, dim, keepdim);

export interface VarOptions {
  /** Subtracted from the element count in the denominator: 1 (default, Bessel) or 0. */
  correction?: number;
  /** PyTorch's older spelling: true means correction 1, false means 0. */
  unbiased?: boolean;
  keepdim?: boolean;
}

export function variance(
  x: Tensor,
  dim?: number | readonly number[],
  options: VarOptions = {},
): Tensor {
  requireFloat(x, 'var');
  const correction = options.correction ?? (options.unbiased === false ? 0 : 1);
  const { axes } = reductionAxes(x, dim, 'var');
  const n = sizeOf(axes.map((a) => x.shape[a]!));
  if (n - correction <= 0) {
    throw new ValueError(
      `var: ${n} element(s) with correction ${correction} leave no degrees of freedom (shape ${formatShape(x.shape)}); ` +
        'use correction: 0 or reduce over more elements',
    );
  }
  const centered = sub(x, mean(x, axes, true));
  return div(sum(mul(centered, centered), axes, options.keepdim ?? false), n - correction);
}

export function std(x: Tensor, dim?: number | readonly number[], options: VarOptions = {}): Tensor {
  return sqrt(variance(x, dim, options));
}

/** The detached maximum over `axes` (keepdim), with infinities replaced by 0 so x − m stays finite. */
function stableShift(x: Tensor, axes: number[]): Tensor {
  return noGrad(() => {
    const m = max(x, axes, true);
    return where(isFinite(m), m, 0);
  });
}

/** log Σ exp(x) over `dim`, computed as m + log Σ exp(x − m). */
export function logsumexp(x: Tensor, dim: number | readonly number[], keepdim = false): Tensor {
  requireFloat(x, 'logsumexp');
  const { axes } = reductionAxes(x, dim, 'logsumexp');
  if (x.size === 0) return log(sum(exp(x), axes, keepdim));
  const m = stableShift(x, axes);
  const lse = add(log(sum(exp(sub(x, m)), axes, true)), m);
  return keepdim ? lse : reshape(lse, outShape(x, axes, false));
}

/** exp(x) / Σ exp(x) along `dim`, shifted by the maximum. */
export function softmax(x: Tensor, dim: number): Tensor {
  requireFloat(x, 'softmax');
  const d = normalizeDim(dim, x.ndim, 'softmax');
  if (x.size === 0) return x;
  const e = exp(sub(x, stableShift(x, [d])));
  return div(e, sum(e, d, true));
}

/** x − logsumexp(x) along `dim`. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  requireFloat(x, 'logSoftmax');
  const d = normalizeDim(dim, x.ndim, 'logSoftmax');
  if (x.size === 0) return x;
  const z = sub(x, stableShift(x, [d]));
  return sub(z, log(sum(exp(z), d, true)));
}
