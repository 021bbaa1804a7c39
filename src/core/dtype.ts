/**
 * Data types: float32 (the default), float64 (gradient checks, precise work), int32 (indices) and
 * bool (masks), with the typed-array class that stores each.
 */
import { DTypeError } from './errors.js';

export type DType = 'float32' | 'float64' | 'int32' | 'bool';
export type FloatDType = 'float32' | 'float64';

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** The typed array that stores each dtype (bool is one byte per element, 0 or 1). */
export interface DTypeArrays {
  float32: Float32Array;
  float64: Float64Array;
  int32: Int32Array;
  bool: Uint8Array;
}

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'bool'];

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float64';
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function assertDType(x: unknown, op: string): DType {
  if (!isDType(x)) {
    throw new DTypeError(
      `${op}: unknown dtype ${JSON.stringify(x)}; expected one of ${DTYPES.join(', ')}`,
    );
  }
  return x;
}

/** Allocates a zero-filled typed array for `size` elements of `dtype`. */
export function allocArray<D extends DType>(dtype: D, size: number): DTypeArrays[D];
export function allocArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

/** The dtype a typed array naturally holds (Uint8Array is read as bool). */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  return 'bool';
}

/** Converts one JS number to the value stored for `dtype` (truncation for int32, 0/1 for bool). */
export function castScalar(value: number, dtype: DType): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(value);
    case 'float64':
      return value;
    case 'int32':
      return value | 0;
    case 'bool':
      return value !== 0 && !Number.isNaN(value) ? 1 : 0;
  }
}
