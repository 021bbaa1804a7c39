/**
 * The native fused kernels (native/fused.cc) against the reference ones (src/backend/ref/fused-*)
 * kernel by kernel, on random odd shapes and random strided views (permuted, stepped, offset),
 * float32 and float64; and the argument checks that keep a bad call from touching foreign memory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DType } from '../../src/core/dtype.js';
import type { View } from '../../src/backend/backend.js';
import { nativeBackend } from '../../src/backend/native/index.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { newRefStorage } from '../../src/backend/ref/storage.js';
import {
  assertArraysClose,
  dataOf,
  outView,
  randomView,
  Rng,
  skipNative,
  type Fill,
} from '../backend/native-helpers.js';

const ref = refBackend.kernels;
const nat = nativeBackend.kernels;

/** Tolerances: native float32 keeps float32 intermediates where ref computes in double. */
const TOL: Record<'float32' | 'float64', [number, number]> = {
  float32: [2e-5, 2e-4],
  float64: [1e-12, 1e-10],
};

/** Runs `call` with ref and native kernels on separate copies of the outputs and compares them. */
function compare(
  dtype: 'float32' | 'float64',
  outShapes: number[][],
  call: (k: typeof ref, outs: View[]) => void,
  what: string,
): void {
  const refOuts = outShapes.map((s) => outView(dtype, s));
  const natOuts = outShapes.map((s) => outView(dtype, s));
  call(ref, refOuts);
  call(nat, natOuts);
  const [atol, rtol] = TOL[dtype];
  refOuts.forEach((o, i) =>
    assertArraysClose(dataOf(natOuts[i]!), dataOf(o), atol, rtol, `${what} output ${i}`),
  );
}

function targetsView(rng: Rng, R: number, C: number, ignore: number): View {
  const v = randomView(rng, 'int32', [R], 'int', 'any');
  const d = dataOf(v);
  for (let r = 0; r < R; r++) {
    d[v.offset + r * v.strides[0]!] = rng.next() < 0.2 ? ignore : rng.int(0, C - 1);
  }
  return v;
}

describe('native fused kernels against ref', { skip: skipNative }, () => {
  const rng = new Rng(2024);
  const view = (dtype: DType, shape: number[], fill: Fill = 'normal'): View =>
    randomView(rng, dtype, shape, fill, 'any');

  for (const dtype of ['float32', 'float64'] as const) {
    test(`layer norm forward and backward (${dtype})`, () => {
      for (let trial = 0; trial < 12; trial++) {
        const R = rng.int(1, 9);
        const N = rng.pick([1, 3, 17, 64, 129]);
        const x = view(dtype, [R, N]);
        const affine = trial % 3 !== 0;
        const w = affine ? view(dtype, [N]) : null;
        const b = trial % 3 === 1 ? view(dtype, [N]) : null;
        const eps = 1e-5;
        compare(
          dtype,
          [[R, N], [R], [R]],
          (k, [y, m, r]) => k.layerNormForward(x, w, b, eps, y!, m!, r!),
          'lnF',
        );
        const mean = outView(dtype, [R]);
        const rstd = outView(dtype, [R]);
        ref.layerNormForward(x, w, b, eps, outView(dtype, [R, N]), mean, rstd);
        const gy = view(dtype, [R, N]);
        compare(
          dtype,
          [[R, N], [N], [N]],
          (k, [gx, gw, gb]) =>
            k.layerNormBackward(x, w, mean, rstd, gy, gx!, affine ? gw! : null, gb!),
          'lnB',
        );
      }
    });

    test(`cross-entropy forward and backward (${dtype})`, () => {
      for (let trial = 0; trial < 12; trial++) {
        const R = rng.int(1, 9);
        const C = rng.pick([2, 5, 65, 130]);
        const x = view(dtype, [R, C]);
        const ignore = trial % 2 ? -100 : 1;
        const t = targetsView(rng, R, C, ignore);
        const eps = trial % 3 === 0 ? 0.1 : 0;
        compare(
          dtype,
          [[R], [R]],
          (k, [l, s]) => k.crossEntropyForward(x, t, ignore, eps, l!, s!),
          'ceF',
        );
        const lse = outView(dtype, [R]);
        ref.crossEntropyForward(x, t, ignore, eps, outView(dtype, [R]), lse);
        const g = view(dtype, [R]);
        compare(
          dtype,
          [[R, C]],
          (k, [gx]) => k.crossEntropyBackward(x, t, lse, g, ignore, eps, gx!),
          'ceB',
        );
      }
    });

    test(`LSTM and GRU cells forward and backward (${dtype})`, () => {
      for (let trial = 0; trial < 10; trial++) {
        const B = rng.int(1, 6);
        const H = rng.pick([1, 3, 8, 33]);
        const bias = trial % 2 ? view(dtype, [4 * H]) : null;
        // LSTM
        const gi = view(dtype, [B, 4 * H]);
        const gh = view(dtype, [B, 4 * H]);
        const c = view(dtype, [B, H]);
        compare(
          dtype,
          [
            [2, B, H],
            [B, 4 * H],
          ],
          (k, [o, g]) => k.lstmCellForward(gi, gh, bias, c, o!, g!),
          'lstmF',
        );
        const out = outView(dtype, [2, B, H]);
        const gates = outView(dtype, [B, 4 * H]);
        ref.lstmCellForward(gi, gh, bias, c, out, gates);
        const gH = view(dtype, [B, H]);
        const gC = view(dtype, [B, H]);
        compare(
          dtype,
          [
            [B, 4 * H],
            [B, H],
          ],
          (k, [d, dc]) => k.lstmCellBackward(gates, c, out, gH, trial % 3 ? gC : null, d!, dc!),
          'lstmB',
        );
        // GRU
        const gi3 = view(dtype, [B, 3 * H]);
        const gh3 = view(dtype, [B, 3 * H]);
        const b3 = trial % 2 ? view(dtype, [3 * H]) : null;
        compare(
          dtype,
          [
            [B, H],
            [B, 4 * H],
          ],
          (k, [o, s]) => k.gruCellForward(gi3, gh3, b3, c, o!, s!),
          'gruF',
        );
        const saved = outView(dtype, [B, 4 * H]);
        ref.gruCellForward(gi3, gh3, b3, c, outView(dtype, [B, H]), saved);
        const g = view(dtype, [B, H]);
        compare(
          dtype,
          [
            [B, 3 * H],
            [B, 3 * H],
            [B, H],
          ],
          (k, [a, b, d]) => k.gruCellBackward(saved, c, g, a!, b!, d!),
          'gruB',
        );
      }
    });

    test(`Adam update (${dtype})`, () => {
      for (let trial = 0; trial < 8; trial++) {
        const n = rng.pick([1, 7, 1000, 40000]);
        const amsgrad = trial % 2 === 1;
        const params = {
          lr: 0.01,
          beta1: trial % 4 === 2 ? 0.3 : 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: trial % 3 === 0 ? 0 : 0.05,
          step: 1 + trial,
          decoupled: trial % 2 === 0,
          maximize: trial === 3,
        };
        const make = (): View => outView(dtype, [n], rng);
        const grad = make();
        const init = [make(), make(), make(), make()];
        // The second moments are non-negative.
        for (const v of init.slice(2)) dataOf(v).forEach((x, i, a) => (a[i] = Math.abs(x)));
        const copies = (): View[] =>
          init.map((v) => {
            const s = newRefStorage(dtype, n);
            s.data.set(dataOf(v) as never);
            return { ...v, storage: s };
          });
        const a = copies();
        const b = copies();
        ref.adamUpdate(a[0]!, grad, a[1]!, a[2]!, amsgrad ? a[3]! : null, params);
        nat.adamUpdate(b[0]!, grad, b[1]!, b[2]!, amsgrad ? b[3]! : null, params);
        const [atol, rtol] = dtype === 'float64' ? [1e-14, 1e-12] : [1e-6, 1e-5];
        a.forEach((v, i) => assertArraysClose(dataOf(b[i]!), dataOf(v), atol, rtol, `adam ${i}`));
      }
    });
  }

  test('shapes that do not fit are an error, not a stray memory access', () => {
    const x = outView('float32', [3, 4]);
    assert.throws(
      () =>
        nat.layerNormForward(
          x,
          null,
          null,
          1e-5,
          outView('float32', [3, 4]),
          outView('float32', [2]),
          outView('float32', [3]),
        ),
      RangeError,
    );
    const t = outView('int32', [3]);
    dataOf(t)[1] = 9; // class 9 of 4
    assert.throws(
      () =>
        nat.crossEntropyForward(x, t, -100, 0, outView('float32', [3]), outView('float32', [3])),
      RangeError,
    );
  });
});
