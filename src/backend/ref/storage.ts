/** Reference-backend storage: a plain typed array, reclaimed by the garbage collector. */
import { allocArray, type DType, type TypedArray } from '../../core/dtype.js';
import type { Storage, View } from '../backend.js';

export class RefStorage implements Storage {
  constructor(
    readonly dtype: DType,
    readonly data: TypedArray,
  ) {}
  get size(): number {
    return this.data.length;
  }
}

export function newRefStorage(dtype: DType, size: number): RefStorage {
  return new RefStorage(dtype, allocArray(dtype, size));
}

/** The typed array behind a view (every view the reference kernels see holds a RefStorage). */
export function arrayOf(v: View): TypedArray {
  return (v.storage as RefStorage).data;
}
