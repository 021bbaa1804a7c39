/** Shared helpers for op definitions: operand conversion, dtype rules, allocation, kernel access. */
import type { Kernels } from '../backend/backend.js';
import { getBackend } from '../backend/registry.js';
import { type DType, isFloat } from '../core/dtype.js';
import { DTypeError, ValueError } from '../core/errors.js';
import { formatShape, normalizeDim, type Shape } from '../core/shape.js';
import { Tensor } from '../tensor.js';

/** A JS scalar accepted wherever a tensor operand is. */
export type Scalar = number | boolean;
/** A tensor or a JS scalar (which takes the other operand's dtype). */
export type TensorLike = Tensor | Scalar;

/** Kernels of the backend that owns `t` (the current backend for new work). */
export function kernelsFor(t?: Tensor): Kernels {
  t?._check('kernel');
  return t ? t._buffer.backend.kernels : getBackend().kernels;
}

/** A new contiguous tensor (zero-filled) on the current backend. */
export function empty(shape: Shape, dtype: DType): Tensor {
  return Tensor._empty(shape, dtype);
}

/**
 * A new contiguous tensor whose contents are undefined (a reused buffer is not zero-filled), for
 * the output of a kernel that writes every element of it: unary, binary, where, matmul with K > 0.
 */
export function emptyForKernel(shape: Shape, dtype: DType): Tensor {
  return Tensor._empty(shape, dtype, true);
}

/** A 0-d tensor holding `value` in `dtype`. */
export function scalarTensor(value: number, dtype: DType): Tensor {
  const t = empty([], dtype);
  t._buffer.backend.write(t.storage, [value]);
  return t;
}

/**
 * Converts an operand of `op` to a tensor. A JS number takes `like`'s dtype, except that a
 * non-integer number with an int32/bool tensor gives float32 (as PyTorch promotes
 * `int_tensor * 0.5`).
 */
export function toTensor(x: TensorLike, like: Tensor, op = 'operand'): Tensor {
  if (x instanceof Tensor) {
    x._check(op);
    return x;
  }
  const v = typeof x === 'boolean' ? (x ? 1 : 0) : x;
  if (typeof v !== 'number') {
    throw new DTypeError(`expected a Tensor or a number as operand, got ${typeof x}`);
  }
  let dtype = like.dtype;
  if (!isFloat(dtype) && !(Number.isInteger(v) || !Number.isFinite(v))) dtype = 'float32';
  if (dtype === 'bool' && typeof x === 'number') dtype = Number.isInteger(v) ? 'int32' : 'float32';
  return scalarTensor(v, dtype);
}

const DTYPE_RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 2 };

/**
 * The operands of an arithmetic op, brought to one dtype. Two tensors must agree (float32 with
 * float64 is a DTypeError: cast explicitly); a JS scalar adapts to the tensor, and the result
 * widens only where the scalar needs it (int32 tensor * 0.5 is float32).
 */
export function promoteArithmetic(
  op: string,
  a: TensorLike,
  b: TensorLike,
  ta: Tensor,
  tb: Tensor,
  allowBool = false,
): [Tensor, Tensor] {
  if (ta.dtype === tb.dtype) {
    if (ta.dtype === 'bool' && !allowBool) {
      throw new DTypeError(
        `${op}: arithmetic on bool tensors is not supported; cast with .to('float32') or use logicalAnd/logicalOr`,
      );
    }
    return [ta, tb];
  }
  const scalarA = !(a instanceof Tensor);
  const scalarB = !(b instanceof Tensor);
  if (scalarA || scalarB) {
    const dtype = DTYPE_RANK[ta.dtype] >= DTYPE_RANK[tb.dtype] ? ta.dtype : tb.dtype;
    return [castPlain(ta, dtype), castPlain(tb, dtype)];
  }
  throw new DTypeError(
    `${op}: dtype mismatch between ${ta.dtype} ${formatShape(ta.shape)} and ${tb.dtype} ${formatShape(tb.shape)}; ` +
      `cast one of them explicitly, e.g. other.to('${ta.dtype}')`,
  );
}

/** A copy in another dtype, outside autograd (for int/bool operands and scalars only). */
export function castPlain(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  const out = empty(t.shape, dtype);
  kernelsFor(t).copy(t, out);
  return out;
}

export function normalizeDimArg(dim: number, ndim: number, op: string): number {
  return normalizeDim(dim, ndim, op);
}

/** Throws ValueError unless `x` is a finite number. */
export function checkFinite(x: number, what: string, op: string): void {
  if (typeof x !== 'number' || !Number.isFinite(x))
    throw new ValueError(`${op}: ${what} must be a finite number, got ${x}`);
}

/** Throws DTypeError unless t has a float dtype. */
export function requireFloat(t: Tensor, op: string): void {
  if (!isFloat(t.dtype)) {
    throw new DTypeError(
      `${op}: expects a float32 or float64 tensor, got ${t.dtype}; cast with .to('float32')`,
    );
  }
}

/**
 * A contiguous copy with its own buffer, outside autograd; `collected`: in storage the garbage
 * collector frees (see Backend.alloc). The copy writes every element: no zero fill first.
 */
export function copyOf(t: Tensor, collected = false): Tensor {
  const out = Tensor._empty(t.shape, t.dtype, true, collected);
  kernelsFor(t).copy(t, out);
  return out;
}
