/**
 * The fused Adam/AdamW update against the composite step (the oracle) over many steps, on ref and
 * native: Adam with L2 decay, AdamW, AMSGrad, maximize, float32 and float64; PyTorch's update rule
 * written out by hand for one element; the in-place version bumps that autograd checks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose } from '../core/helpers.js';
import { BACKENDS, onBackend, withFused } from '../nn/fused-helpers.js';

type Make = (params: nb.Tensor[]) => nb.optim.Adam;

const CONFIGS: [string, Make][] = [
  ['Adam', (p) => new nb.optim.Adam(p, { lr: 0.01 })],
  [
    'Adam L2 decay, AMSGrad',
    (p) => new nb.optim.Adam(p, { lr: 0.02, weightDecay: 0.1, amsgrad: true }),
  ],
  ['AdamW', (p) => new nb.optim.AdamW(p, { lr: 0.01, weightDecay: 0.1, betas: [0.8, 0.99] })],
  [
    'AdamW maximize, AMSGrad',
    (p) => new nb.optim.AdamW(p, { lr: 0.005, maximize: true, amsgrad: true }),
  ],
  // β1 ≥ 0.5: torch.lerp's other branch.
  ['Adam β1 = 0.3', (p) => new nb.optim.Adam(p, { lr: 0.01, betas: [0.3, 0.9] })],
];

/** Runs 25 steps of `make` on a small problem; returns the parameters and the optimizer state. */
function train(make: Make, dtype: nb.DType, fused: boolean): nb.Tensor[] {
  return withFused(fused, () => {
    nb.manualSeed(1);
    const w = nb.randn([5, 7], { dtype, requiresGrad: true });
    const b = nb.randn([7], { dtype, requiresGrad: true });
    const opt = make([w, b]);
    const g = new nb.Generator(2);
    for (let step = 0; step < 25; step++) {
      opt.zeroGrad();
      const x = nb.randn([3, 5], { dtype, generator: g });
      x.matmul(w).add(b).tanh().square().sum().backward();
      opt.step();
    }
    const state = [0, 1].flatMap((i) => {
      const s = opt.stateDict().state[i]! as Record<string, nb.Tensor>;
      return [s.expAvg!, s.expAvgSq!, ...(s.maxExpAvgSq ? [s.maxExpAvgSq] : [])];
    });
    return [w.detach(), b.detach(), ...state];
  });
}

describe('fused Adam update', () => {
  for (const backend of BACKENDS) {
    for (const dtype of ['float32', 'float64'] as const) {
      test(`matches the composite step over 25 steps (${backend.name}, ${dtype})`, () => {
        onBackend(backend, () => {
          for (const [name, make] of CONFIGS) {
            const fused = train(make, dtype, true);
            const composite = train(make, dtype, false);
            const [atol, rtol] = dtype === 'float64' ? [1e-13, 1e-11] : [2e-6, 1e-5];
            fused.forEach((t, i) => {
              try {
                assertClose(t, composite[i]!, atol, rtol);
              } catch (e) {
                throw new Error(`${name}, tensor ${i}: ${(e as Error).message.slice(0, 300)}`);
              }
            });
          }
        });
      });
    }
  }

  test("PyTorch's rule, written out for one element (AdamW, two steps)", () => {
    withFused(true, () => {
      const p = nb.tensor([0.5], { dtype: 'float64', requiresGrad: true });
      const [lr, b1, b2, eps, wd] = [0.1, 0.9, 0.999, 1e-8, 0.01];
      const opt = new nb.optim.AdamW([p], { lr, betas: [b1, b2], eps, weightDecay: wd });
      let [x, m, v] = [0.5, 0, 0];
      for (const [t, g] of [
        [1, 0.3],
        [2, -0.2],
      ] as const) {
        p.grad = nb.tensor([g], { dtype: 'float64' });
        opt.step();
        x *= 1 - lr * wd;
        m = m + (1 - b1) * (g - m);
        v = v * b2 + (1 - b2) * g * g;
        x -= (lr / (1 - b1 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps));
        assert.ok(Math.abs(p.item() - x) < 1e-15, `step ${t}: ${p.item()} vs ${x}`);
      }
    });
  });

  test('bumps the versions of what it writes, so a stale backward fails', () => {
    withFused(true, () => {
      const p = nb.randn([3], { requiresGrad: true });
      const opt = new nb.optim.Adam([p], { lr: 0.1 });
      p.square().sum().backward();
      const stale = p.mul(p).sum(); // saves p for its backward
      opt.step();
      assert.throws(() => stale.backward(), nb.GradError);
      // The moments are written in place too.
      const s = opt.stateDict().state[0]! as Record<string, nb.Tensor>;
      assert.ok(s.expAvg!._buffer.version > 0 && s.expAvgSq!._buffer.version > 0);
    });
  });
});
