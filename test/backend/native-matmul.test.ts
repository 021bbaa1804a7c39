/**
 * The native GEMM against the reference one: sizes around the block and micro-tile edges (1, 7, 63,
 * 64, 65, 257), transposed and stepped operands, batched and broadcast (stride-0) batches, K = 0,
 * float32 and float64, every micro-kernel this CPU can run (AVX-512, AVX2+FMA, portable) and 1-3
 * threads; then torch.matmul-style broadcasting through the tensor API. Skipped when the addon is
 * not built.
 */
import { describe, test } from 'node:test';
import type { DType } from '../../src/core/dtype.js';
import type { View } from '../../src/backend/backend.js';
import * as nb from '../../src/index.js';
import { refBackend } from '../../src/backend/ref/index.js';
import {
  getNumThreads,
  nativeBackend,
  nativeBackendInfo,
  setGemmKernel,
  setNumThreads,
  useNativeBackend,
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

const SIZES = [1, 7, 63, 64, 65, 257];

/** The GEMM kernels this CPU can run (the best first). */
function kernelsHere(): ('avx512' | 'avx2' | 'scalar')[] {
  const f = nativeBackendInfo().cpuFeatures ?? '';
  const out: ('avx512' | 'avx2' | 'scalar')[] = [];
  if (f.includes('avx512f')) out.push('avx512');
  if (f.includes('avx2') && f.includes('fma')) out.push('avx2');
  out.push('scalar');
  return out;
}

/** Float32 accumulates in float32 (ref in float64): allow K-proportional rounding. */
function tol(dtype: DType, K: number): { atol: number; rtol: number } {
  return dtype === 'float32'
    ? { atol: 2e-6 * Math.max(K, 1), rtol: 1e-5 }
    : { atol: 1e-13 * Math.max(K, 1), rtol: 1e-12 };
}

/**
 * A (bt, R, C) operand: contiguous, transposed (the storage holds (bt, C, R)), or a stepped slice;
 * with batch stride 0 when `bcast`.
 */
function operand(
  rng: Rng,
  dtype: DType,
  bt: number,
  R: number,
  C: number,
  form: 'contiguous' | 'transposed' | 'stepped',
  bcast: boolean,
): View {
  const step = form === 'stepped' ? 2 : 1;
  const rowsStored = form === 'transposed' ? C : R;
  const colsStored = (form === 'transposed' ? R : C) * step;
  const batchStride = rowsStored * colsStored;
  const offset = form === 'contiguous' ? 0 : 3;
  const storageBt = bcast ? 1 : bt;
  const base = randomView(rng, dtype, [storageBt * batchStride + offset], 'normal', 'contiguous');
  const strides =
    form === 'transposed' ? [batchStride, 1, colsStored] : [batchStride, colsStored, step];
  return {
    ...base,
    shape: [bt, R, C],
    strides: [bcast ? 0 : strides[0]!, strides[1]!, strides[2]!],
    offset,
  };
}

function checkMatmul(a: View, b: View, out: View, what: string, kernels: string[]): void {
  const K = a.shape[2]!;
  const oRef = cloneView(out);
  refBackend.kernels.matmul(a, b, oRef);
  const { atol, rtol } = tol(a.dtype, K);
  const saved = getNumThreads();
  try {
    for (const kern of kernels) {
      setGemmKernel(kern as 'avx2');
      for (const threads of [1, 2, 3]) {
        setNumThreads(threads);
        const o = cloneView(out);
        nativeBackend.kernels.matmul(a, b, o);
        assertArraysClose(dataOf(o), dataOf(oRef), atol, rtol, `${what} ${kern} ${threads}t`);
      }
    }
  } finally {
    setGemmKernel('auto');
    setNumThreads(saved);
  }
}

describe('native matmul against ref', { skip: skipNative }, () => {
  test('every M, N, K in {1, 7, 63, 64, 65, 257}, float32 and float64, every micro-kernel', () => {
    const rng = new Rng(21);
    const kernels = skipNative ? [] : kernelsHere();
    for (const dtype of ['float32', 'float64'] as DType[]) {
      for (const M of SIZES) {
        for (const N of SIZES) {
          for (const K of SIZES) {
            // The largest products only with the default kernel: they take the ref longest.
            if (M * N * K > 257 * 65 * 65) continue;
            const a = operand(rng, dtype, 1, M, K, 'contiguous', false);
            const b = operand(rng, dtype, 1, K, N, 'contiguous', false);
            checkMatmul(a, b, outView(dtype, [1, M, N]), `${dtype} ${M}×${K}·${K}×${N}`, kernels);
          }
        }
      }
      for (const [M, N, K] of [
        [257, 257, 257],
        [257, 65, 257],
        [300, 520, 700],
      ] as const) {
        const a = operand(rng, dtype, 1, M, K, 'contiguous', false);
        const b = operand(rng, dtype, 1, K, N, 'contiguous', false);
        checkMatmul(a, b, outView(dtype, [1, M, N]), `${dtype} ${M}×${K}·${K}×${N}`, kernels);
      }
    }
  });

  test('transposed and stepped operands, batches, broadcast batches, K = 0', () => {
    const rng = new Rng(22);
    const kernels = skipNative ? [] : kernelsHere();
    const forms = ['contiguous', 'transposed', 'stepped'] as const;
    for (const dtype of ['float32', 'float64'] as DType[]) {
      for (const fa of forms) {
        for (const fb of forms) {
          for (const [bt, M, N, K, bcA, bcB] of [
            [1, 65, 33, 70, false, false],
            [3, 17, 40, 9, false, true],
            [4, 13, 7, 64, true, false],
            [2, 100, 130, 1, false, false],
            [5, 6, 16, 0, false, false],
          ] as const) {
            const a = operand(rng, dtype, bt, M, K, fa, bcA);
            const b = operand(rng, dtype, bt, K, N, fb, bcB);
            const what = `${dtype} ${fa}·${fb} (${bt}, ${M}, ${K})·(${bt}, ${K}, ${N}) bcast ${bcA}/${bcB}`;
            checkMatmul(a, b, outView(dtype, [bt, M, N]), what, kernels);
          }
        }
      }
    }
  });

  test('the folded-row output view ops use for (B, T, K) @ (K, N)', () => {
    const rng = new Rng(23);
    const a = operand(rng, 'float32', 1, 6 * 35, 48, 'contiguous', false);
    const b = operand(rng, 'float32', 1, 48, 70, 'contiguous', false);
    const o = outView('float32', [6 * 35, 70]);
    const out: View = { ...o, shape: [1, 6 * 35, 70], strides: [0, 70, 1] };
    checkMatmul(a, b, out, 'folded', skipNative ? [] : kernelsHere());
  });

  test('through the tensor API: broadcasting batch dims, vectors, gradients', () => {
    const saved = nb.getBackend();
    try {
      nb.manualSeed(5);
      const shapes: [number[], number[]][] = [
        [
          [2, 1, 5, 7],
          [3, 7, 4],
        ],
        [[7], [7]],
        [[7], [2, 7, 3]],
        [[4, 5, 6], [6]],
        [
          [65, 64],
          [64, 63],
        ],
      ];
      for (const [sa, sb] of shapes) {
        nb.setBackend('ref');
        const ar = nb.randn(sa, { requiresGrad: true });
        const br = nb.randn(sb, { requiresGrad: true });
        const yr = nb.matmul(ar, br);
        yr.square().sum().backward();
        useNativeBackend();
        const an = nb.tensor(ar.dataSync(), { dtype: 'float32' }).reshape(sa).requiresGrad_();
        const bn = nb.tensor(br.dataSync(), { dtype: 'float32' }).reshape(sb).requiresGrad_();
        const yn = nb.matmul(an, bn);
        yn.square().sum().backward();
        assertArraysClose(yn.dataSync(), yr.dataSync(), 1e-4, 1e-5, `y [${sa}]@[${sb}]`);
        assertArraysClose(an.grad!.dataSync(), ar.grad!.dataSync(), 1e-3, 1e-4, 'grad a');
        assertArraysClose(bn.grad!.dataSync(), br.grad!.dataSync(), 1e-3, 1e-4, 'grad b');
      }
    } finally {
      nb.setBackend(saved);
    }
  });
});
