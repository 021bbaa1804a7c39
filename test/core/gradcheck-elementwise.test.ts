/**
 * Finite-difference gradient checks (float64) of every differentiable elementwise op: arithmetic
 * with broadcasting and scalars, unary maths, activations, maximum/minimum, clamp, where, maskedFill.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { gradcheck, input, inputs } from './helpers.js';

describe('gradcheck: binary arithmetic', () => {
  test('add, same shape and broadcast [3,1,4] + [2,4]', () => {
    const [a, b] = inputs(
      [
        [2, 3],
        [2, 3],
      ],
      { seed: 1 },
    );
    gradcheck((a, b) => a.add(b), [a!, b!]);
    const [c, d] = inputs(
      [
        [3, 1, 4],
        [2, 4],
      ],
      { seed: 2 },
    );
    gradcheck((c, d) => nb.add(c, d), [c!, d!]);
  });

  test('add with alpha and with a scalar', () => {
    const [a, b] = inputs(
      [
        [3, 1, 4],
        [2, 4],
      ],
      { seed: 3 },
    );
    gradcheck((a, b) => a.add(b, -2.5), [a!, b!]);
    gradcheck((a) => a.add(1.5), [a!]);
    gradcheck((a) => nb.add(0.25, a), [a!]);
  });

  test('sub, with alpha, broadcasting and a scalar on either side', () => {
    const [a, b] = inputs(
      [
        [3, 1, 4],
        [2, 4],
      ],
      { seed: 4 },
    );
    gradcheck((a, b) => a.sub(b), [a!, b!]);
    gradcheck((a, b) => a.sub(b, 3), [a!, b!]);
    gradcheck((a, b) => nb.sub(b, a, 0.5), [a!, b!]);
    gradcheck((a) => nb.sub(2, a), [a!]);
  });

  test('mul, broadcasting, scalar', () => {
    const [a, b] = inputs(
      [
        [3, 1, 4],
        [2, 4],
      ],
      { seed: 5 },
    );
    gradcheck((a, b) => a.mul(b), [a!, b!]);
    gradcheck((a) => a.mul(-1.75), [a!]);
    const [c, d] = inputs([[4], [3, 1]], { seed: 6 });
    gradcheck((c, d) => nb.mul(c, d), [c!, d!]);
  });

  test('div, broadcasting, scalar numerator and denominator', () => {
    const [a, b] = inputs(
      [
        [3, 1, 4],
        [2, 4],
      ],
      { seed: 7 },
    );
    gradcheck((a, b) => a.div(b), [a!, b!]);
    gradcheck((a) => a.div(3), [a!]);
    gradcheck((a) => nb.div(2, a), [a!]);
  });

  test('pow with a tensor exponent (base > 0), broadcasting', () => {
    const base = input([2, 3], { seed: 8, positive: true });
    const expo = input([3], { seed: 9 });
    gradcheck((b, e) => b.pow(e), [base, expo]);
  });

  test('pow with scalar exponents and a scalar base', () => {
    const x = input([2, 3], { seed: 10 });
    gradcheck((x) => x.pow(3), [x]);
    gradcheck((x) => x.pow(2), [x]);
    gradcheck((x) => x.pow(-2), [x]);
    const p = input([2, 3], { seed: 11, positive: true });
    gradcheck((p) => p.pow(2.5), [p]);
    gradcheck((p) => p.pow(-0.5), [p]);
    gradcheck((x) => nb.pow(1.7, x), [x]);
  });

  test('pow with only the exponent requiring grad', () => {
    const base = input([4], { seed: 12, positive: true, requiresGrad: false });
    const expo = input([4], { seed: 13 });
    gradcheck((b, e) => nb.pow(b, e), [base, expo]);
    assert.equal(base.grad, null);
  });

  test('maximum and minimum (no ties), broadcasting [3,1,4] with [2,4]', () => {
    const [a, b] = inputs(
      [
        [3, 1, 4],
        [2, 4],
      ],
      { seed: 14 },
    );
    gradcheck((a, b) => a.maximum(b), [a!, b!]);
    gradcheck((a, b) => nb.minimum(a, b), [a!, b!]);
    gradcheck((a) => a.maximum(0.3), [a!]);
    gradcheck((a) => a.minimum(-0.3), [a!]);
  });
});

describe('gradcheck: unary maths', () => {
  const x = input([2, 3], { seed: 20 });
  const p = input([2, 3], { seed: 21, positive: true });

  test('neg', () => gradcheck((x) => x.neg(), [x]));
  test('exp', () => gradcheck((x) => x.exp(), [x]));
  test('log (x > 0)', () => gradcheck((p) => p.log(), [p]));
  test('sqrt (x > 0)', () => gradcheck((p) => p.sqrt(), [p]));
  test('rsqrt (x > 0)', () => gradcheck((p) => p.rsqrt(), [p]));
  test('abs (away from 0)', () => gradcheck((x) => x.abs(), [x]));
  test('sin', () => gradcheck((x) => x.sin(), [x]));
  test('cos', () => gradcheck((x) => x.cos(), [x]));
  test('tanh', () => gradcheck((x) => x.tanh(), [x]));
  test('sigmoid', () => gradcheck((x) => x.sigmoid(), [x]));
  test('erf', () => gradcheck((x) => x.erf(), [x]));
  test('reciprocal (away from 0)', () => gradcheck((x) => x.reciprocal(), [x]));
  test('square', () => gradcheck((x) => x.square(), [x]));
  test('functional forms match the methods', () => {
    gradcheck((x) => nb.exp(nb.sin(nb.neg(x))), [x]);
  });
});

describe('gradcheck: activations', () => {
  const x = input([3, 4], { seed: 30 });

  test('relu (away from 0; both signs present)', () => {
    const v = Array.from(x.dataSync());
    assert.ok(v.some((e) => e > 0) && v.some((e) => e < 0));
    gradcheck((x) => x.relu(), [x]);
  });
  test('leakyRelu with the default and a custom slope', () => {
    gradcheck((x) => x.leakyRelu(), [x]);
    gradcheck((x) => nb.leakyRelu(x, 0.2), [x]);
  });
  test("gelu exact and 'tanh'", () => {
    gradcheck((x) => x.gelu(), [x]);
    gradcheck((x) => x.gelu('tanh'), [x]);
  });
  test("gelu's gradient is itself differentiable (createGraph), exact and 'tanh'", () => {
    for (const approximate of ['none', 'tanh'] as const) {
      const firstGrad = (t: nb.Tensor): number[] => {
        const a = t.detach().requiresGrad_();
        a.gelu(approximate).sum().backward();
        return Array.from(a.grad!.dataSync());
      };
      // Second derivative through the recorded backward...
      const a = x.detach().requiresGrad_();
      a.gelu(approximate).sum().backward(undefined, { createGraph: true });
      const g = a.grad!;
      a.grad = null;
      g.sum().backward();
      const second = Array.from(a.grad!.dataSync());
      // ...against central differences of the first derivative (the fused kernel's).
      const h = 1e-6;
      const up = firstGrad(x.add(h));
      const down = firstGrad(x.sub(h));
      second.forEach((s2, i) => {
        const fd = (up[i]! - down[i]!) / (2 * h);
        assert.ok(Math.abs(s2 - fd) < 1e-6, `${approximate}[${i}]: ${s2} vs ${fd}`);
      });
      assert.ok(second.some((v) => Math.abs(v) > 0.1));
    }
  });
  test('sigmoid and tanh on large inputs stay accurate', () => {
    const big = input([5], { seed: 31, scale: 8 });
    gradcheck((x) => x.sigmoid().add(x.tanh()), [big]);
  });
});

describe('gradcheck: clamp, where, maskedFill', () => {
  test('clamp with both bounds, min only and max only (away from the bounds)', () => {
    const x = input([3, 4], { seed: 40, avoid: [-0.5, 0.7] });
    const v = Array.from(x.dataSync());
    assert.ok(v.some((e) => e < -0.5) && v.some((e) => e > 0.7), 'inputs cover both clamped sides');
    gradcheck((x) => x.clamp(-0.5, 0.7), [x]);
    gradcheck((x) => x.clamp(-0.5), [x]);
    gradcheck((x) => nb.clamp(x, null, 0.7), [x]);
  });

  test('where with a broadcast condition and broadcast branches', () => {
    const cond = input([3, 1, 4], { seed: 41, requiresGrad: false }).gt(0);
    const [a, b] = inputs(
      [
        [2, 4],
        [3, 2, 1],
      ],
      { seed: 42 },
    );
    gradcheck((a, b) => nb.where(cond, a, b), [a!, b!]);
    gradcheck((a) => nb.where(cond, a, 0.5), [a!]);
    gradcheck((b) => nb.where(cond, -1, b), [b!]);
  });

  test('maskedFill with a broadcast mask', () => {
    const x = input([3, 4], { seed: 43 });
    const mask = nb.tensor([true, false, true, false]);
    gradcheck((x) => x.maskedFill(mask, -3), [x]);
    // The masked positions get no gradient.
    const g = x.grad!.toArray() as number[][];
    for (const row of g) {
      assert.equal(row[0], 0);
      assert.equal(row[2], 0);
    }
  });
});

describe('gradcheck: composite graphs', () => {
  test('a tensor used several times: x·x + exp(x)·x', () => {
    const x = input([2, 3], { seed: 50 });
    gradcheck((x) => x.mul(x).add(x.exp().mul(x)), [x]);
  });

  test('a chain mixing broadcasting, unary ops and both inputs twice', () => {
    const [a, b] = inputs(
      [
        [3, 1, 4],
        [2, 4],
      ],
      { seed: 51 },
    );
    gradcheck(
      (a, b) =>
        a
          .mul(b)
          .tanh()
          .add(a.sigmoid().div(b.square().add(1)))
          .sub(b),
      [a!, b!],
    );
  });

  test('an input not requiring grad is left alone', () => {
    const [a, b] = inputs(
      [
        [2, 2],
        [2, 2],
      ],
      { seed: 52 },
    );
    b!.requiresGrad = false;
    gradcheck((a, b) => a.mul(b).add(b), [a!, b!]);
    assert.equal(b!.grad, null);
  });
});
