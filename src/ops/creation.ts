/** Creating tensors: from nested arrays or typed arrays, constants, ranges, identity matrices. */
import { type DType, type TypedArray, assertDType, dtypeOfArray } from '../core/dtype.js';
import { ShapeError, ValueError } from '../core/errors.js';
import { checkShape, formatShape, sizeOf } from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { empty, kernelsFor } from './util.js';

export interface CreateOptions {
  /** float32 by default; float64, int32 or bool. */
  dtype?: DType;
  /** Make the new tensor a leaf that collects gradients. */
  requiresGrad?: boolean;
}

/** Nested arrays of numbers or booleans, as accepted by `tensor()`. */
export type NestedInput = number | boolean | readonly NestedInput[];

function finish(t: Tensor, options: CreateOptions | undefined): Tensor {
  if (options?.requiresGrad) t.requiresGrad_(true);
  return t;
}

function inferNested(
  data: NestedInput,
  op: string,
): { shape: number[]; flat: number[]; allBool: boolean } {
  const shape: number[] = [];
  let probe: NestedInput = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0] as NestedInput;
  }
  const flat: number[] = [];
  let sawBool = false;
  let sawNumber = false;
  const walk = (node: NestedInput, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node))
        throw new ShapeError(`${op}: ragged nested array: ${path} is an array, expected a number`);
      if (typeof node === 'boolean') {
        sawBool = true;
        flat.push(node ? 1 : 0);
      } else if (typeof node === 'number') {
        sawNumber = true;
        flat.push(node);
      } else throw new ShapeError(`${op}: ${path} is ${typeof node}, expected a number or boolean`);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new ShapeError(
        `${op}: ragged nested array: ${path} has ${Array.isArray(node) ? `length ${node.length}` : 'a scalar'}, expected length ${shape[depth]} (shape ${formatShape(shape)})`,
      );
    }
    for (let i = 0; i < node.length; i++) walk(node[i] as NestedInput, depth + 1, `${path}[${i}]`);
  };
  walk(data, 0, 'data');
  // Booleans mixed with numbers are numbers (as in PyTorch), not a lossy bool tensor.
  return { shape, flat, allBool: sawBool && !sawNumber };
}

export interface TensorOptions extends CreateOptions {
  /** The shape of a flat typed array (1-D by default). */
  shape?: readonly number[];
}

/**
 * A tensor from nested arrays, a number, or a typed array (Float32Array → float32, Float64Array →
 * float64, Int32Array → int32, Uint8Array → bool). Numbers default to float32; booleans to bool.
 *
 * @example
 * const x = nb.tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * const i = nb.tensor([0, 2, 1], { dtype: 'int32' });
 */
export function tensor(data: NestedInput | TypedArray, options: TensorOptions = {}): Tensor {
  let shape: number[];
  let values: ArrayLike<number>;
  let natural: DType;
  if (ArrayBuffer.isView(data)) {
    values = data as TypedArray;
    natural = dtypeOfArray(data as TypedArray);
    shape = options.shape ? checkShape(options.shape, 'tensor') : [values.length];
    if (sizeOf(shape) !== values.length) {
      throw new ShapeError(
        `tensor: shape ${formatShape(shape)} needs ${sizeOf(shape)} elements, the array has ${values.length}`,
      );
    }
  } else {
    const inferred = inferNested(data, 'tensor');
    shape = inferred.shape;
    values = inferred.flat;
    natural = inferred.allBool ? 'bool' : 'float32';
    if (options.shape) {
      const s = checkShape(options.shape, 'tensor');
      if (sizeOf(s) !== values.length)
        throw new ShapeError(
          `tensor: shape ${formatShape(s)} does not fit ${values.length} elements`,
        );
      shape = s;
    }
  }
  const dtype = options.dtype === undefined ? natural : assertDType(options.dtype, 'tensor');
  const t = empty(shape, dtype);
  t._buffer.backend.write(t.storage, values);
  return finish(t, options);
}

/** A 0-d tensor. */
export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return tensor(value, options);
}

export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  const t = empty(checkShape(shape, 'full'), assertDType(options.dtype ?? 'float32', 'full'));
  if (value !== 0) kernelsFor(t).fill(t, value);
  return finish(t, options);
}

export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

export function zerosLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return full(t.shape, 0, { dtype: t.dtype, ...options });
}

export function onesLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return full(t.shape, 1, { dtype: t.dtype, ...options });
}

export function fullLike(t: Tensor, value: number, options: CreateOptions = {}): Tensor {
  return full(t.shape, value, { dtype: t.dtype, ...options });
}

/**
 * Values from `start` (inclusive) to `end` (exclusive) in steps of `step`; `arange(n)` is 0..n−1.
 * int32 when all arguments are integers and no dtype is given, else float32.
 */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  for (const [name, v] of [
    ['start', start],
    ['end', end],
    ['step', step],
  ] as const) {
    if (!Number.isFinite(v)) throw new ValueError(`arange: ${name} must be finite, got ${v}`);
  }
  if (step === 0) throw new ValueError('arange: step must be non-zero');
  if ((end - start) * step < 0) {
    throw new ValueError(
      `arange: the range [${start}, ${end}) is empty or infinite with step ${step}; check the sign of step`,
    );
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const values = new Array<number>(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  const allInt = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  return tensor(values, {
    dtype: options.dtype ?? (allInt ? 'int32' : 'float32'),
    requiresGrad: options.requiresGrad,
  });
}

/** `steps` evenly spaced values from start to end, both included. */
export function linspace(
  start: number,
  end: number,
  steps: number,
  options: CreateOptions = {},
): Tensor {
  if (!Number.isInteger(steps) || steps < 0)
    throw new ValueError(`linspace: steps must be a non-negative integer, got ${steps}`);
  if (!Number.isFinite(start) || !Number.isFinite(end))
    throw new ValueError(`linspace: start and end must be finite, got ${start}, ${end}`);
  const values = new Array<number>(steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Fill from both ends as PyTorch does, so the last value is exactly `end`; a single step is
  // `start` (the second half would otherwise start at `end`).
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++)
    values[i] = steps === 1 || i < half ? start + step * i : end - step * (steps - 1 - i);
  return tensor(values, { dtype: options.dtype ?? 'float32', requiresGrad: options.requiresGrad });
}

/** The n×m identity (m defaults to n). */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  checkShape([n, m], 'eye');
  const values = new Array<number>(n * m).fill(0);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return tensor(values, {
    dtype: options.dtype ?? 'float32',
    requiresGrad: options.requiresGrad,
    shape: [n, m],
  });
}
