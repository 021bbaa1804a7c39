/**
 * The GEMM paths for few rows (native/gemm.cc): the micro-kernel reading a row-major B in place
 * (M up to three micro-tiles), and Cᵀ = Bᵀ·Aᵀ written straight into C for a transposed B (h·Wᵀ of
 * a recurrent step), which reads Bᵀ's rows in place. Against ref, with partial micro-tiles, K
 * blocking, batches and broadcast batches, every micro-kernel and 1-3 threads; and the same bits
 * for every thread count. Skipped when the addon is not built.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DType } from '../../src/core/dtype.js';
import type { View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import {
  getNumThreads,
  nativeBackend,
  nativeBackendInfo,
  setGemmKernel,
  setNumThreads,
} from '../../src/backend/native/index.js';
import {
  Rng,
  assertArraysClose,
  cloneView,
  dataOf,
  outView,
  randomView,
  skipNative,
} from './native-helpers.js';

function kernelsHere(): ('avx512' | 'avx2' | 'scalar')[] {
  const f = nativeBackendInfo().cpuFeatures ?? '';
  const out: ('avx512' | 'avx2' | 'scalar')[] = [];
  if (f.includes('avx512f')) out.push('avx512');
  if (f.includes('avx2') && f.includes('fma')) out.push('avx2');
  out.push('scalar');
  return out;
}

type Form = 'contiguous' | 'transposed' | 'stepped';

/** A (bt, R, C) operand laid out as `form`, with batch stride 0 when `bcast`. */
function operand(
  rng: Rng,
  dtype: DType,
  bt: number,
  R: number,
  C: number,
  form: Form,
  bcast: boolean,
): View {
  const step = form === 'stepped' ? 2 : 1;
  const rowsStored = form === 'transposed' ? C : R;
  const colsStored = (form === 'transposed' ? R : C) * step;
  const batchStride = rowsStored * colsStored;
  const offset = form === 'contiguous' ? 0 : 5;
  const base = randomView(
    rng,
    dtype,
    [(bcast ? 1 : bt) * batchStride + offset],
    'normal',
    'contiguous',
  );
  const strides =
    form === 'transposed' ? [batchStride, 1, colsStored] : [batchStride, colsStored, step];
  return {
    ...base,
    shape: [bt, R, C],
    strides: [bcast ? 0 : strides[0]!, strides[1]!, strides[2]!],
    offset,
  };
}

function check(a: View, b: View, out: View, what: string): void {
  const K = a.shape[2]!;
  const oRef = cloneView(out);
  refBackend.kernels.matmul(a, b, oRef);
  const [atol, rtol] =
    a.dtype === 'float32' ? [2e-6 * Math.max(K, 1), 1e-5] : [1e-13 * Math.max(K, 1), 1e-12];
  const saved = getNumThreads();
  try {
    for (const kern of kernelsHere()) {
      setGemmKernel(kern);
      let first: ArrayLike<number> | null = null;
      for (const threads of [1, 2, 3]) {
        setNumThreads(threads);
        const o = cloneView(out);
        nativeBackend.kernels.matmul(a, b, o);
        assertArraysClose(dataOf(o), dataOf(oRef), atol, rtol, `${what} ${kern} ${threads}t`);
        if (first === null) first = dataOf(o);
        else assert.deepEqual(dataOf(o), first, `${what} ${kern}: ${threads} threads change bits`);
      }
    }
  } finally {
    setGemmKernel('auto');
    setNumThreads(saved);
  }
}

describe('native matmul: the few-row paths', { skip: skipNative }, () => {
  test('h·Wᵀ (transposed B, M ≤ 32): Cᵀ written into C, Bᵀ read in place', () => {
    const rng = new Rng(31);
    for (const dtype of ['float32', 'float64'] as DType[]) {
      for (const [bt, M, N, K, fa, bcA, bcB] of [
        [1, 32, 1024, 256, 'contiguous', false, false],
        [1, 1, 261, 257, 'contiguous', false, false],
        [1, 7, 300, 700, 'transposed', false, false], // K blocked
        [1, 32, 130, 520, 'stepped', false, false],
        [2, 13, 257, 300, 'contiguous', false, true],
        [3, 20, 100, 777, 'transposed', true, false],
      ] as const) {
        const a = operand(rng, dtype, bt, M, K, fa, bcA);
        const b = operand(rng, dtype, bt, K, N, 'transposed', bcB);
        const out = outView(dtype, [bt, M, N], rng); // garbage in C: every element is written
        check(a, b, out, `${dtype} ${fa}·T (${bt}, ${M}, ${K})·(${bt}, ${K}, ${N})`);
      }
    }
  });

  test('g·W (row-major B, M up to three micro-tiles): B read in place', () => {
    const rng = new Rng(32);
    for (const dtype of ['float32', 'float64'] as DType[]) {
      for (const [bt, M, N, K, fa, fb, bcB] of [
        [1, 32, 256, 1024, 'contiguous', 'contiguous', false],
        [1, 1, 1030, 100, 'contiguous', 'contiguous', false],
        [1, 36, 97, 400, 'transposed', 'contiguous', false],
        [1, 37, 65, 129, 'contiguous', 'contiguous', false],
        [2, 12, 70, 800, 'stepped', 'contiguous', true],
        [1, 24, 70, 50, 'contiguous', 'stepped', false], // B not contiguous along N: packed
      ] as const) {
        const a = operand(rng, dtype, bt, M, K, fa, false);
        const b = operand(rng, dtype, bt, K, N, fb, bcB);
        const out = outView(dtype, [bt, M, N], rng);
        check(a, b, out, `${dtype} ${fa}·${fb} (${bt}, ${M}, ${K})·(${bt}, ${K}, ${N})`);
      }
    }
  });
});
