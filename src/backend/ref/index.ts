/**
 * The reference backend: plain TypeScript loops over typed arrays, float32 and float64 (int32 and
 * bool where an op allows them). It is the living specification every faster backend is tested
 * against, so clarity wins over speed everywhere except matmul.
 */
import { allocArray, type DType, type TypedArray } from '../../core/dtype.js';
import type { Backend, Kernels, Storage, View } from '../backend.js';
import { attentionBackward, attentionForward } from './attention.js';
import { binary, copy, fill, unary, where } from './elementwise.js';
import { adamUpdate } from './fused-adam.js';
import { crossEntropyBackward, crossEntropyForward } from './fused-cross-entropy.js';
import { layerNormBackward, layerNormForward } from './fused-layer-norm.js';
import { gruCellBackward, gruCellForward, lstmCellBackward, lstmCellForward } from './fused-rnn.js';
import { gather, indexAdd, indexSelect, scatterAdd } from './indexing.js';
import { addBiasInPlace } from '../matmul-bias.js';
import { matmul as gemm } from './matmul.js';
import { argReduce, reduce } from './reduce.js';
import { freeRefStorage, newRefStorage, RefStorage } from './storage.js';

function matmul(a: View, b: View, out: View, bias?: View | null): void {
  gemm(a, b, out);
  if (bias) addBiasInPlace(binary, out, bias);
}

const kernels: Kernels = {
  fill,
  copy,
  unary,
  binary,
  where,
  reduce,
  argReduce,
  matmul,
  indexSelect,
  indexAdd,
  gather,
  scatterAdd,
  attentionForward,
  attentionBackward,
  layerNormForward,
  layerNormBackward,
  crossEntropyForward,
  crossEntropyBackward,
  lstmCellForward,
  lstmCellBackward,
  gruCellForward,
  gruCellBackward,
  adamUpdate,
};

function data(storage: Storage): TypedArray {
  return (storage as RefStorage).data;
}

export const refBackend: Backend = {
  name: 'ref',
  gcManaged: true,
  kernels,
  alloc: (dtype: DType, size: number, uninitialized?: boolean) =>
    newRefStorage(dtype, size, uninitialized),
  write(storage, values, offset = 0) {
    const d = data(storage);
    if (storage.dtype === 'bool') {
      for (let i = 0; i < values.length; i++) d[offset + i] = values[i] ? 1 : 0;
    } else if (storage.dtype === 'int32') {
      for (let i = 0; i < values.length; i++) d[offset + i] = Math.trunc(values[i]!);
    } else {
      d.set(values as ArrayLike<number>, offset);
    }
  },
  read(storage) {
    const d = data(storage);
    const out = allocArray(storage.dtype, d.length);
    out.set(d as never);
    return out;
  },
  readAsync(storage) {
    return Promise.resolve(this.read(storage));
  },
  // Called only once a buffer's last tensor was disposed: its array may be recycled (storage.ts).
  // Arrays of tensors dropped without dispose() are reclaimed by the garbage collector.
  free: freeRefStorage,
};
