/**
 * The fused softmax-cross-entropy (F.crossEntropy on (N, C) or (C) logits with class-index targets
 * and no class weights) against the composite version, on ref and native: every reduction, ignored
 * targets, label smoothing, non-contiguous logits; float64 gradchecks; errors; createGraph.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { gradcheck, input } from '../core/helpers.js';
import { BACKENDS, compareFused, onBackend, withFused } from './fused-helpers.js';

/** Targets in [0, C) with every third one set to ignoreIndex when `ignore` is given. */
function targets(n: number, C: number, seed: number, ignore?: number): nb.Tensor {
  const g = new nb.Generator(seed);
  const t = Int32Array.from({ length: n }, (_, i) =>
    ignore !== undefined && i % 3 === 1 ? ignore : g.nextInt(0, C),
  );
  return nb.tensor(t, { dtype: 'int32' });
}

describe('fused cross-entropy', () => {
  for (const backend of BACKENDS) {
    for (const dtype of ['float32', 'float64'] as const) {
      test(`matches the composite version (${backend.name}, ${dtype})`, () => {
        onBackend(backend, () => {
          for (const [N, C] of [
            [7, 5],
            [16, 65],
            [1, 3],
            [3, 130],
          ] as const) {
            let k = 0;
            for (const reduction of ['mean', 'sum', 'none'] as const) {
              for (const labelSmoothing of [0, 0.1]) {
                // Ignored targets (at ignoreIndex −100 or a class id) and transposed logits in turn.
                const ignore = [undefined, -100, 2][k % 3];
                const transpose = k++ % 2 === 1;
                const label = JSON.stringify({
                  N,
                  C,
                  reduction,
                  labelSmoothing,
                  ignore,
                  transpose,
                });
                const t = targets(N, C, N + C, ignore);
                if (reduction === 'mean' && ignore !== undefined && N === 1) continue;
                compareFused(
                  () => {
                    nb.manualSeed(N * C);
                    const base = transpose
                      ? nb.randn([C, N], { dtype, requiresGrad: true })
                      : nb.randn([N, C], { dtype, requiresGrad: true });
                    const x = transpose ? base.T : base;
                    const loss = nb.F.crossEntropy(x.mul(2), t, {
                      reduction,
                      labelSmoothing,
                      ...(ignore !== undefined ? { ignoreIndex: ignore } : {}),
                    });
                    return { outputs: [loss], leaves: [base] };
                  },
                  dtype,
                  label,
                );
              }
            }
          }
          // An unbatched (C) input with a 0-d target.
          compareFused(
            () => {
              nb.manualSeed(6);
              const x = nb.randn([6], { dtype, requiresGrad: true });
              const t = nb.tensor(4, { dtype: 'int32' });
              return { outputs: [nb.F.crossEntropy(x, t, { reduction: 'none' })], leaves: [x] };
            },
            dtype,
            'unbatched',
          );
        });
      });
    }
  }

  test('takes the fused path for (N, C) class indices only', () => {
    const x = nb.randn([4, 3], { requiresGrad: true });
    const t = nb.tensor([0, 2, 1, 1], { dtype: 'int32' });
    const lossOp = (l: nb.Tensor): string => l.gradFn!.inputs[0]!.gradFn?.name ?? '';
    assert.equal(
      withFused(true, () => lossOp(nb.F.crossEntropy(x, t, { reduction: 'sum' }))),
      'crossEntropy',
    );
    assert.notEqual(
      withFused(false, () => lossOp(nb.F.crossEntropy(x, t, { reduction: 'sum' }))),
      'crossEntropy',
    );
    // Class weights stay composite, and agree.
    const w = nb.tensor([1, 2, 0.5]);
    const a = withFused(true, () => nb.F.crossEntropy(x, t, { weight: w }).item());
    const b = withFused(false, () => nb.F.crossEntropy(x, t, { weight: w }).item());
    assert.equal(a, b);
  });

  test('extreme logits: no overflow, and −∞ logits of other classes are fine', () => {
    withFused(true, () => {
      const x = nb.tensor(
        [
          [1000, -1000, 0],
          [-Infinity, 2, 1],
        ],
        { requiresGrad: true },
      );
      const loss = nb.F.crossEntropy(x, nb.tensor([0, 1], { dtype: 'int32' }), {
        reduction: 'none',
      });
      const v = loss.dataSync();
      assert.ok(Math.abs(v[0]!) < 1e-6);
      assert.ok(Math.abs(v[1]! - Math.log(1 + Math.exp(-1))) < 1e-6);
      loss.sum().backward();
      assert.ok(Array.from(x.grad!.dataSync()).every(Number.isFinite));
    });
  });

  test('float64 finite-difference gradcheck (smoothing, ignored targets, every reduction)', () => {
    withFused(true, () => {
      const t = nb.tensor([0, 3, -100, 2, 1], { dtype: 'int32' });
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const x = input([5, 4], { seed: 21 });
        gradcheck((x) => nb.F.crossEntropy(x!, t, { reduction, labelSmoothing: 0.2 }), [x]);
      }
    });
  });

  test('errors: targets out of range, every target ignored with mean', () => {
    withFused(true, () => {
      const x = nb.randn([2, 3]);
      assert.throws(
        () => nb.F.crossEntropy(x, nb.tensor([0, 3], { dtype: 'int32' })),
        nb.IndexError,
      );
      assert.throws(
        () => nb.F.crossEntropy(x, nb.tensor([-100, -100], { dtype: 'int32' })),
        nb.ValueError,
      );
      assert.equal(
        nb.F.crossEntropy(x, nb.tensor([-100, -100], { dtype: 'int32' }), {
          reduction: 'sum',
        }).item(),
        0,
      );
    });
  });

  test('second-order gradients (createGraph) match the composite version', () => {
    const run = (on: boolean): number[] =>
      withFused(on, () => {
        nb.manualSeed(4);
        const x = nb.randn([5, 4], { dtype: 'float64', requiresGrad: true });
        const t = nb.tensor([0, 3, -100, 2, 1], { dtype: 'int32' });
        nb.enableGrad(() =>
          nb.F.crossEntropy(x, t, { labelSmoothing: 0.1 }).backward(undefined, {
            createGraph: true,
          }),
        );
        const g = x.grad!;
        x.grad = null;
        g.square().sum().backward();
        return Array.from(x.grad!.dataSync());
      });
    const fused = run(true);
    const composite = run(false);
    assert.ok(
      fused.some((v) => Math.abs(v) > 1e-4),
      'vacuous second-order gradient',
    );
    fused.forEach((v, i) => assert.ok(Math.abs(v - composite[i]!) < 1e-12, `element ${i}`));
  });
});
