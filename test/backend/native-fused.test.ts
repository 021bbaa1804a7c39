/**
 * The native fused kernels (native/fused.cc) at sizes where they run on several threads and take
 * their contiguous fast paths, and on strided views: against ref, and bit for bit the same at 1, 2
 * and 3 threads (layer norm's weight and bias gradients too: they are summed per fixed block of
 * rows, never per thread). Skipped when the addon is not built.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DType } from '../../src/core/dtype.js';
import type { View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { getNumThreads, nativeBackend, setNumThreads } from '../../src/backend/native/index.js';
import {
  Rng,
  assertArraysClose,
  cloneView,
  dataOf,
  outView,
  randomView,
  skipNative,
  type Layout,
} from './native-helpers.js';

const ref = refBackend.kernels;
const nat = nativeBackend.kernels;
type Kernels = typeof ref;

const TOL: Record<'float32' | 'float64', [number, number]> = {
  float32: [2e-5, 2e-4],
  float64: [1e-12, 1e-10],
};

/**
 * Runs `call` with ref on copies of `outs`, then natively at 1, 2 and 3 threads (fresh copies each
 * time): each native result within tolerance of ref, and all native results the same bits.
 */
function compare(dtype: DType, outs: View[], call: (k: Kernels, o: View[]) => void, what: string) {
  const refOuts = outs.map(cloneView);
  call(ref, refOuts);
  const [atol, rtol] = TOL[dtype as 'float32'];
  const saved = getNumThreads();
  let first: View[] | null = null;
  try {
    for (const t of [1, 2, 3]) {
      setNumThreads(t);
      const o = outs.map(cloneView);
      call(nat, o);
      o.forEach((v, i) =>
        assertArraysClose(dataOf(v), dataOf(refOuts[i]!), atol, rtol, `${what} out ${i} (${t}t)`),
      );
      if (first === null) first = o;
      else o.forEach((v, i) => assert.deepEqual(dataOf(v), dataOf(first![i]!), `${what} ${t}t`));
    }
  } finally {
    setNumThreads(saved);
  }
}

describe('native fused kernels on several threads', { skip: skipNative }, () => {
  const rng = new Rng(77);
  const view = (dtype: DType, shape: number[], layout: Layout): View =>
    randomView(rng, dtype, shape, 'normal', layout);

  for (const dtype of ['float32', 'float64'] as const) {
    for (const layout of ['contiguous', 'strided'] as const) {
      test(`layer norm forward and backward (${dtype}, ${layout})`, () => {
        for (const [R, N, affine, bias] of [
          [700, 129, true, true],
          [2048, 128, true, true],
          [300, 64, true, false],
          [513, 200, false, false],
        ] as const) {
          const x = view(dtype, [R, N], layout);
          const w = affine ? view(dtype, [N], layout) : null;
          const b = bias ? view(dtype, [N], layout) : null;
          const outs = [outView(dtype, [R, N]), outView(dtype, [R]), outView(dtype, [R])];
          compare(
            dtype,
            outs,
            (k, [y, m, r]) => k.layerNormForward(x, w, b, 1e-5, y!, m!, r!),
            'lnF',
          );
          const mean = outView(dtype, [R]);
          const rstd = outView(dtype, [R]);
          ref.layerNormForward(x, w, b, 1e-5, outView(dtype, [R, N]), mean, rstd);
          const gy = view(dtype, [R, N], layout);
          compare(
            dtype,
            [outView(dtype, [R, N]), outView(dtype, [N]), outView(dtype, [N])],
            (k, [gx, gw, gb]) =>
              k.layerNormBackward(x, w, mean, rstd, gy, gx!, affine ? gw! : null, gb!),
            `lnB ${R}×${N}`,
          );
        }
      });

      test(`cross-entropy forward and backward (${dtype}, ${layout})`, () => {
        const [R, C] = [900, 65];
        const x = view(dtype, [R, C], layout);
        const t = randomView(rng, 'int32', [R], 'int', layout);
        const td = dataOf(t);
        for (let r = 0; r < R; r++) td[t.offset + r * t.strides[0]!] = r % 11 === 0 ? -100 : r % C;
        compare(
          dtype,
          [outView(dtype, [R]), outView(dtype, [R])],
          (k, [l, s]) => k.crossEntropyForward(x, t, -100, 0.1, l!, s!),
          'ceF',
        );
        const lse = outView(dtype, [R]);
        ref.crossEntropyForward(x, t, -100, 0.1, outView(dtype, [R]), lse);
        const g = view(dtype, [R], layout);
        compare(
          dtype,
          [outView(dtype, [R, C])],
          (k, [gx]) => k.crossEntropyBackward(x, t, lse, g, -100, 0.1, gx!),
          'ceB',
        );
      });

      test(`LSTM and GRU cells forward and backward (${dtype}, ${layout})`, () => {
        for (const [B, H, withBias] of [
          [32, 256, false],
          [40, 65, true],
        ] as const) {
          const bias = withBias ? view(dtype, [4 * H], layout) : null;
          const gi = view(dtype, [B, 4 * H], layout);
          const gh = view(dtype, [B, 4 * H], layout);
          const c = view(dtype, [B, H], layout);
          compare(
            dtype,
            [outView(dtype, [2, B, H]), outView(dtype, [B, 4 * H])],
            (k, [o, g]) => k.lstmCellForward(gi, gh, bias, c, o!, g!),
            `lstmF ${B}×${H}`,
          );
          const out = outView(dtype, [2, B, H]);
          const gates = outView(dtype, [B, 4 * H]);
          ref.lstmCellForward(gi, gh, bias, c, out, gates);
          const gH = view(dtype, [B, H], layout);
          const gC = view(dtype, [B, H], layout);
          for (const withC of [true, false]) {
            compare(
              dtype,
              [outView(dtype, [B, 4 * H]), outView(dtype, [B, H])],
              (k, [d, dc]) => k.lstmCellBackward(gates, c, out, gH, withC ? gC : null, d!, dc!),
              `lstmB ${B}×${H}`,
            );
          }
          const gi3 = view(dtype, [B, 3 * H], layout);
          const gh3 = view(dtype, [B, 3 * H], layout);
          const b3 = withBias ? view(dtype, [3 * H], layout) : null;
          compare(
            dtype,
            [outView(dtype, [B, H]), outView(dtype, [B, 4 * H])],
            (k, [o, s]) => k.gruCellForward(gi3, gh3, b3, c, o!, s!),
            `gruF ${B}×${H}`,
          );
          const saved = outView(dtype, [B, 4 * H]);
          ref.gruCellForward(gi3, gh3, b3, c, outView(dtype, [B, H]), saved);
          const g = view(dtype, [B, H], layout);
          compare(
            dtype,
            [outView(dtype, [B, 3 * H]), outView(dtype, [B, 3 * H]), outView(dtype, [B, H])],
            (k, [a, b, d]) => k.gruCellBackward(saved, c, g, a!, b!, d!),
            `gruB ${B}×${H}`,
          );
        }
      });
    }

    test(`Adam update, every flag combination (${dtype})`, () => {
      const n = 100003;
      for (let trial = 0; trial < 12; trial++) {
        const amsgrad = trial % 2 === 1;
        const params = {
          lr: 0.01,
          beta1: trial % 4 === 2 ? 0.3 : 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: trial % 3 === 0 ? 0 : 0.05,
          step: 1 + trial,
          decoupled: trial % 6 < 3,
          maximize: trial === 5,
        };
        const grad = outView(dtype, [n], rng);
        const state = [0, 1, 2, 3].map(() => outView(dtype, [n], rng));
        for (const v of state.slice(2)) dataOf(v).forEach((x, i, a) => (a[i] = Math.abs(x)));
        compare(
          dtype,
          state,
          (k, [p, m, v, x]) => k.adamUpdate(p!, grad, m!, v!, amsgrad ? x! : null, params),
          `adam ${trial}`,
        );
      }
    });
  }
});
