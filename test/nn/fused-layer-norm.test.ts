/**
 * The fused layer norm (F.layerNorm / nn.LayerNorm with fused kernels on) against the composite
 * version, on ref and native: values and gradients of x, weight and bias on odd shapes and
 * non-contiguous inputs; a float64 finite-difference check; second-order gradients (createGraph).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { gradcheck, input, inputs } from '../core/helpers.js';
import { BACKENDS, compareFused, onBackend, withFused } from './fused-helpers.js';

const CASES: {
  shape: number[];
  norm: number[];
  transpose?: boolean;
  affine: 'both' | 'weight' | 'none';
}[] = [
  { shape: [3, 5, 7], norm: [7], affine: 'both' },
  { shape: [4, 13], norm: [13], affine: 'weight', transpose: true },
  { shape: [2, 3, 4], norm: [3, 4], affine: 'both' },
  { shape: [1, 1], norm: [1], affine: 'none' },
  { shape: [6, 129], norm: [129], affine: 'both', transpose: true },
];

describe('fused layer norm', () => {
  for (const backend of BACKENDS) {
    for (const dtype of ['float32', 'float64'] as const) {
      test(`matches the composite version (${backend.name}, ${dtype})`, () => {
        onBackend(backend, () => {
          for (const c of CASES) {
            const label = `${JSON.stringify(c)}`;
            compareFused(
              () => {
                nb.manualSeed(5);
                // A non-contiguous x: the transpose of a leaf laid out the other way round.
                const base = c.transpose
                  ? nb.randn([...c.shape].reverse(), { dtype, requiresGrad: true })
                  : nb.randn(c.shape, { dtype, requiresGrad: true });
                const x = c.transpose ? base.permute([...c.shape.keys()].reverse()) : base;
                if (c.transpose) assert.ok(!x.isContiguous());
                const w =
                  c.affine !== 'none' ? nb.randn(c.norm, { dtype, requiresGrad: true }) : null;
                const b =
                  c.affine === 'both' ? nb.randn(c.norm, { dtype, requiresGrad: true }) : null;
                const y = nb.F.layerNorm(x.mul(3).add(1), c.norm, w, b);
                return { outputs: [y], leaves: [base, ...(w ? [w] : []), ...(b ? [b] : [])] };
              },
              dtype,
              label,
            );
          }
        });
      });
    }
  }

  test('takes the fused path only when it is on', () => {
    const x = nb.randn([2, 4], { requiresGrad: true });
    assert.equal(
      withFused(true, () => nb.F.layerNorm(x, [4]).gradFn!.name),
      'layerNorm',
    );
    assert.notEqual(
      withFused(false, () => nb.F.layerNorm(x, [4]).gradFn!.name),
      'layerNorm',
    );
  });

  test('the LayerNorm module uses it and agrees with the composite version', () => {
    nb.manualSeed(2);
    const ln = new nb.nn.LayerNorm([6]);
    const x = nb.randn([3, 6]);
    const fused = withFused(true, () => ln.forward(x));
    const composite = withFused(false, () => ln.forward(x));
    assert.equal(fused.gradFn!.name, 'layerNorm');
    const d = fused.sub(composite).abs().max().item();
    assert.ok(d < 1e-6, `difference ${d}`);
  });

  test('float64 finite-difference gradcheck of x, weight and bias', () => {
    withFused(true, () => {
      const [x, w, b] = inputs([[3, 5], [5], [5]], { seed: 11 });
      gradcheck((x, w, b) => nb.F.layerNorm(x!, [5], w, b), [x!, w!, b!]);
      const x3 = input([2, 3, 4], { seed: 12 });
      gradcheck((x) => nb.F.layerNorm(x!, [3, 4]), [x3]);
    });
  });

  test('second-order gradients (createGraph) match the composite version', () => {
    const run = (on: boolean): number[] =>
      withFused(on, () => {
        nb.manualSeed(3);
        const x = nb.randn([4, 6], { dtype: 'float64', requiresGrad: true });
        const w = nb.randn([6], { dtype: 'float64', requiresGrad: true });
        const b = nb.randn([6], { dtype: 'float64', requiresGrad: true });
        nb.enableGrad(() => {
          nb.F.layerNorm(x, [6], w, b).pow(3).sum().backward(undefined, { createGraph: true });
        });
        const gx = x.grad!;
        const gw = w.grad!;
        x.grad = null;
        w.grad = null;
        gx.square().sum().add(gw.sin().sum()).backward();
        return [...x.grad!.dataSync(), ...w.grad!.dataSync()];
      });
    const fused = run(true);
    const composite = run(false);
    assert.ok(
      fused.some((v) => Math.abs(v) > 1e-3),
      'vacuous second-order gradient',
    );
    fused.forEach((v, i) => assert.ok(Math.abs(v - composite[i]!) < 1e-9, `element ${i}`));
  });
});
