/**
 * Movement ops: views that share the buffer (reshape/view, permute, transpose, expand, squeeze,
 * unsqueeze, narrow/slice/select, flatten), plus contiguous/clone/cast, split and chunk.
 * Each view's backward moves the gradient back into the input's layout.
 */
import { record } from '../autograd/node.js';
import { type DType, isFloat } from '../core/dtype.js';
import { DimError, IndexError, ShapeError, ValueError } from '../core/errors.js';
import {
  contiguousStrides,
  formatShape,
  normalizeDim,
  normalizeDims,
  shapesEqual,
  sizeOf,
  type Shape,
} from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { empty, kernelsFor } from './util.js';

/** Resolves one -1 in a requested shape against `size` elements. */
function inferShape(shape: readonly number[], size: number, op: string, from: Shape): number[] {
  const out = [...shape];
  let infer = -1;
  let known = 1;
  out.forEach((d, i) => {
    if (d === -1) {
      if (infer >= 0)
        throw new ShapeError(`${op}: only one dimension can be -1, got ${formatShape(shape)}`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid size ${d} in shape ${formatShape(shape)}`);
    } else known *= d;
  });
  if (infer >= 0) {
    if (known === 0 || size % known !== 0) {
      throw new ShapeError(
        `${op}: shape ${formatShape(shape)} is invalid for a tensor of shape ${formatShape(from)} (${size} elements)`,
      );
    }
    out[infer] = size / known;
  } else if (known !== size) {
    throw new ShapeError(
      `${op}: shape ${formatShape(shape)} is invalid for a tensor of shape ${formatShape(from)} (${size} elements)`,
    );
  }
  return out;
}

/** Strides that present (shape, strides) as `newShape` without copying, or null (PyTorch's rule). */
function viewStrides(shape: Shape, strides: Shape, newShape: Shape): number[] | null {
  if (sizeOf(shape) === 0 || shape.length === 0) return contiguousStrides(newShape);
  const newStrides = new Array<number>(newShape.length);
  let viewD = newShape.length - 1;
  let chunkBase = strides[strides.length - 1]!;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d]!;
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        newStrides[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = strides[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? newStrides : null;
}

/** A view with a new shape; throws if the layout makes that impossible without a copy. */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  x._check('view');
  const newShape = inferShape(shape, x.size, 'view', x.shape);
  const strides = viewStrides(x.shape, x.strides, newShape);
  if (strides === null) {
    throw new ShapeError(
      `view: a tensor of shape ${formatShape(x.shape)} and strides ${formatShape(x.strides)} cannot be viewed as ` +
        `${formatShape(newShape)} without a copy; use reshape() (or contiguous() first)`,
    );
  }
  const out = x._view(newShape, strides, x.offset);
  return record(out, 'view', [x], (g) => [reshape(g, x.shape)]);
}

/** The same elements in a new shape: a view when the layout allows it, else a copy. One size may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x._check('reshape');
  const newShape = inferShape(shape, x.size, 'reshape', x.shape);
  if (shapesEqual(newShape, x.shape)) return x;
  const strides = viewStrides(x.shape, x.strides, newShape);
  if (strides !== null) return view(x, newShape);
  return view(contiguous(x), newShape);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x._check('permute');
  if (dims.length !== x.ndim) {
    throw new DimError(
      `permute: expected ${x.ndim} dims for a tensor of shape ${formatShape(x.shape)}, got [${dims.join(', ')}]`,
    );
  }
  const perm = dims.map((d) => normalizeDim(d, x.ndim, 'permute'));
  if (new Set(perm).size !== perm.length)
    throw new DimError(`permute: repeated dim in [${dims.join(', ')}]`);
  const out = x._view(
    perm.map((d) => x.shape[d]!),
    perm.map((d) => x.strides[d]!),
    x.offset,
  );
  const inverse = new Array<number>(perm.length);
  perm.forEach((d, i) => (inverse[d] = i));
  return record(out, 'permute', [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const a = normalizeDim(dim0, x.ndim, 'transpose');
  const b = normalizeDim(dim1, x.ndim, 'transpose');
  if (x.ndim < 2 || a === b) return x;
  const perm = Array.from({ length: x.ndim }, (_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` without copying; -1 keeps a size. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x._check('expand');
  if (shape.length < x.ndim) {
    throw new ShapeError(
      `expand: target shape ${formatShape(shape)} has fewer dims than the tensor's ${formatShape(x.shape)}`,
    );
  }
  const lead = shape.length - x.ndim;
  const strides = new Array<number>(shape.length);
  const outShape = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const want = shape[i]!;
    if (i < lead) {
      if (!Number.isInteger(want) || want < 0)
        throw new ShapeError(`expand: invalid size ${want} in ${formatShape(shape)}`);
      outShape[i] = want;
      strides[i] = 0;
      continue;
    }
    const have = x.shape[i - lead]!;
    if (want === -1 || want === have) {
      outShape[i] = have;
      strides[i] = x.strides[i - lead]!;
    } else if (have === 1 && Number.isInteger(want) && want >= 0) {
      outShape[i] = want;
      strides[i] = 0;
    } else {
      throw new ShapeError(
        `expand: cannot expand shape ${formatShape(x.shape)} to ${formatShape(shape)} (size ${have} at dim ${i - lead} is not 1)`,
      );
    }
  }
  if (shapesEqual(outShape, x.shape)) return x;
  const out = x._view(outShape, strides, x.offset);
  return record(out, 'expand', [x], (g) => [sumToShape(g, x.shape)]);
}

/** Sums a broadcast gradient back to `shape` (the inverse of broadcasting). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  return reshape(sumDims(g, dims), shape);
}

// Late-bound to avoid a module cycle with reduce.ts.
let sumDims: (g: Tensor, dims: number[]) => Tensor;
export function _bindSum(fn: (g: Tensor, dims: number[]) => Tensor): void {
  sumDims = fn;
}

export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  const dims = dim === undefined ? x.shape.map((_, i) => i) : normalizeDims(dim, x.ndim, 'squeeze');
  const shape = x.shape.filter((s, i) => !(s === 1 && dims.includes(i)));
  return reshape(x, shape);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normalizeDim(dim, x.ndim + 1, 'unsqueeze');
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeDim(startDim, x.ndim, 'flatten');
  const e = normalizeDim(endDim, x.ndim, 'flatten');
  if (s > e) throw new DimError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function unflatten(x: Tensor, dim: number, sizes: readonly number[]): Tensor {
  const d = normalizeDim(dim, x.ndim, 'unflatten');
  const inner = inferShape(sizes, x.shape[d]!, 'unflatten', x.shape);
  return reshape(x, [...x.shape.slice(0, d), ...inner, ...x.shape.slice(d + 1)]);
}

/** Elements start, start+step, ... (< end) along `dim`, as a view. Python slice semantics. */
export function slice(x: Tensor, dim: number, start?: number, end?: number, step = 1): Tensor {
  x._check('slice');
  const d = normalizeDim(dim, x.ndim, 'slice');
  if (x.ndim === 0) throw new DimError('slice: cannot slice a 0-d tensor');
  if (!Number.isInteger(step) || step <= 0)
    throw new ValueError(`slice: step must be a positive integer, got ${step}`);
  const n = x.shape[d]!;
  const clampIdx = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const s = clampIdx(start ?? 0);
  const e = Math.max(clampIdx(end ?? n), s);
  const len = Math.ceil((e - s) / step);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape[d] = len;
  strides[d] = x.strides[d]! * step;
  const out = x._view(shape, strides, x.offset + s * x.strides[d]!);
  record(out, 'slice', [x], (g) => [embedSlice(g, x.shape, d, s, step)]);
  // Lets the engine gather the gradients of several slices of x into one buffer.
  if (out._gradFn) out._gradFn.sliceOf = { dim: d, start: s, step };
  return out;
}

/** Like `slice` with step 1, but out-of-range bounds are errors (PyTorch's narrow). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normalizeDim(dim, x.ndim, 'narrow');
  const n = x.shape[d]!;
  const s = start < 0 ? start + n : start;
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(length) ||
    s < 0 ||
    length < 0 ||
    s + length > n
  ) {
    throw new IndexError(
      `narrow: start ${start} and length ${length} are out of range for dimension ${dim} of size ${n}`,
    );
  }
  return slice(x, d, s, s + length);
}

export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normalizeDim(dim, x.ndim, 'select');
  const n = x.shape[d]!;
  if (!Number.isInteger(index) || index < -n || index >= n) {
    throw new IndexError(
      `select: index ${index} is out of range for dimension ${dim} of size ${n}`,
    );
  }
  const i = index < 0 ? index + n : index;
  return squeeze(slice(x, d, i, i + 1), d);
}

/** Zeros of `shape` with `g` written at start, start+step, ... along `dim` (slice's backward). */
function embedSlice(g: Tensor, shape: Shape, dim: number, start: number, step: number): Tensor {
  const out = empty(shape, g.dtype);
  const strides = contiguousStrides(shape);
  const target = out._view(
    g.shape,
    strides.map((s, i) => (i === dim ? s * step : s)),
    start * strides[dim]!,
  );
  kernelsFor(g).copy(g, target);
  target.dispose();
  return record(out, 'embedSlice', [g], (gg) => [
    slice(gg, dim, start, start + g.shape[dim]! * step, step),
  ]);
}

/** This tensor if already contiguous, else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  x._check('contiguous');
  if (x.isContiguous()) return x;
  return clone(x);
}

/** A contiguous copy with its own buffer (differentiable). */
export function clone(x: Tensor): Tensor {
  const out = empty(x.shape, x.dtype);
  kernelsFor(x).copy(x, out);
  return record(out, 'clone', [x], (g) => [g]);
}

/** A copy converted to `dtype`; differentiable between float dtypes. */
export function cast(x: Tensor, dtype: DType): Tensor {
  x._check('to');
  if (x.dtype === dtype) return x;
  const out = empty(x.shape, dtype);
  kernelsFor(x).copy(x, out);
  if (!isFloat(dtype)) return out;
  return record(out, 'to', [x], (g) => [cast(g, x.dtype)]);
}

export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const d = normalizeDim(dim, x.ndim, 'split');
  const n = x.shape[d]!;
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0) {
      throw new ValueError(`split: split size must be a positive integer, got ${sizeOrSections}`);
    }
    sizes = [];
    for (let s = 0; s < n; s += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - s));
    if (n === 0) sizes.push(0);
  } else {
    sizes = [...sizeOrSections];
    const total = sizes.reduce((a, b) => a + b, 0);
    if (sizes.some((s) => !Number.isInteger(s) || s < 0) || total !== n) {
      throw new ShapeError(
        `split: sections [${sizes.join(', ')}] must be non-negative and sum to ${n} (size of dim ${dim})`,
      );
    }
  }
  const out: Tensor[] = [];
  let start = 0;
  for (const s of sizes) {
    out.push(narrow(x, d, start, s));
    start += s;
  }
  return out;
}

export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0)
    throw new ValueError(`chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normalizeDim(dim, x.ndim, 'chunk');
  const n = x.shape[d]!;
  return split(x, Math.max(1, Math.ceil(n / chunks)), d);
}
