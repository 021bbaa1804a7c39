/**
 * The wasm GEMM's two builds (plain SIMD, and relaxed SIMD's fused multiply-adds: wasm/assembly/
 * gemm.ts) on one thread against the reference kernel: edge tiles, K not a multiple of the packing
 * transposes' 4, row-major, transposed and strided operands, sizes across the cache blocks,
 * batches, K = 0. In Node the relaxed one must be the one that runs (node/relaxed-simd.ts turns
 * V8's flag on where needed); wasm-threads.test.ts covers the threaded splits.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { View } from '../../src/backend/backend.js';
import { newRefStorage } from '../../src/backend/ref/storage.js';
import { wasmBackend, wasmFeatures } from '../../src/backend/wasm/index.js';
import { gemmTuning } from '../../src/backend/wasm/matmul.js';
import { enableRelaxedSimd } from '../../src/backend/wasm/node/relaxed-simd.js';
import { Rng, dataOf, randomStorage } from './native-helpers.js';
import { checkMatmul, junkOut } from './wasm-helpers.js';

const wasm = wasmBackend.kernels;
// Before the kernels compile, as the Node entry does.
const relaxedAvailable = enableRelaxedSimd();

type Order = 'rows' | 'cols' | 'gaps';

/** A random (batch, R, C) float32 view: row-major, column-major (a transpose) or with gaps. */
function matrix(rng: Rng, [bt, R, C]: readonly number[], order: Order, broadcast = false): View {
  const inner = order === 'gaps' ? 2 : 1;
  const [sr, sc] = order === 'cols' ? [inner, R] : [C * inner + (order === 'gaps' ? 3 : 0), inner];
  const plane = Math.max(R * sr, C * sc, 1) + (order === 'gaps' ? 5 : 0);
  return {
    storage: randomStorage(rng, 'float32', (broadcast ? 1 : bt!) * plane + 2, 'normal'),
    dtype: 'float32',
    shape: [bt!, R!, C!],
    strides: [broadcast ? 0 : plane, sr, sc],
    offset: 1,
  };
}

test('in Node the relaxed-SIMD GEMM is available, selected, and really fused', () => {
  assert.equal(relaxedAvailable, true, 'V8 should validate relaxed SIMD (flag or default)');
  assert.equal(wasmFeatures().relaxedSimd, true);
  // A fused multiply-add rounds once: some of 4096 sums of 200 products differ in their last bits
  // from the plain kernel's (on x64 with FMA3 and on Arm; V8 without FMA would make them equal).
  const rng = new Rng(11);
  const a = matrix(rng, [1, 64, 200], 'rows');
  const b = matrix(rng, [1, 200, 64], 'rows');
  const run = (relaxedSimd: boolean): Float32Array => {
    gemmTuning.relaxedSimd = relaxedSimd;
    const out = junkOut(rng, [1, 64, 64]);
    wasm.matmul(a, b, out);
    return dataOf(out) as Float32Array;
  };
  const [fused, plain] = [run(true), run(false)];
  gemmTuning.relaxedSimd = true;
  let differ = 0;
  for (let i = 0; i < 64 * 64; i++) if (fused[i] !== plain[i]) differ++;
  assert.ok(differ > 0, 'the relaxed and plain GEMMs gave bit-identical results');
});

for (const relaxedSimd of [true, false]) {
  describe(relaxedSimd ? 'relaxed-SIMD GEMM' : 'plain-SIMD GEMM', () => {
    const check = (a: View, b: View, what: string): void => {
      gemmTuning.relaxedSimd = relaxedSimd;
      try {
        checkMatmul(wasm, a, b, what);
      } finally {
        gemmTuning.relaxedSimd = true;
      }
    };

    test('edge tiles and depths around the micro-kernel and the packing transposes', () => {
      const rng = new Rng(12);
      for (const M of [1, 3, 4, 5, 9, 13]) {
        for (const N of [1, 7, 8, 9, 17]) {
          const K = rng.pick([1, 3, 4, 5, 8, 19]);
          const [oa, ob] = [rng.pick<Order>(['rows', 'cols']), rng.pick<Order>(['rows', 'cols'])];
          const a = matrix(rng, [1, M, K], oa);
          const b = matrix(rng, [1, K, N], ob);
          check(a, b, `${M}x${K}x${N} ${oa}/${ob}`);
        }
      }
    });

    test('every layout pair: row-major, transposed, gaps', () => {
      const rng = new Rng(13);
      for (const oa of ['rows', 'cols', 'gaps'] as const) {
        for (const ob of ['rows', 'cols', 'gaps'] as const) {
          const a = matrix(rng, [2, 37, 45], oa);
          const b = matrix(rng, [2, 45, 27], ob);
          check(a, b, `37x45x27 ${oa}/${ob}`);
        }
      }
    });

    test('sizes across the cache blocks (K > 256, M > 128, N > 1024), transposed too', () => {
      const rng = new Rng(14);
      check(matrix(rng, [1, 133, 301], 'cols'), matrix(rng, [1, 301, 21], 'rows'), 'M,K > blocks');
      check(matrix(rng, [1, 6, 270], 'rows'), matrix(rng, [1, 270, 1037], 'cols'), 'N,K > blocks');
    });

    test('batches, with a stride-0 (broadcast) operand', () => {
      const rng = new Rng(15);
      check(matrix(rng, [3, 10, 20], 'rows', true), matrix(rng, [3, 20, 12], 'cols'), 'bcast a');
      check(matrix(rng, [4, 9, 17], 'cols'), matrix(rng, [4, 17, 33], 'rows', true), 'bcast b');
    });

    test('K = 0 writes zeros', () => {
      const rng = new Rng(16);
      const empty = (shape: number[]): View => ({
        storage: newRefStorage('float32', 1),
        dtype: 'float32',
        shape,
        strides: [0, shape[2]!, 1],
        offset: 0,
      });
      gemmTuning.relaxedSimd = relaxedSimd;
      const out = junkOut(rng, [2, 5, 9], 1);
      wasm.matmul(empty([2, 5, 0]), empty([2, 0, 9]), out);
      gemmTuning.relaxedSimd = true;
      const o = dataOf(out);
      for (let i = 1; i <= 90; i++) assert.equal(o[i], 0);
    });
  });
}
