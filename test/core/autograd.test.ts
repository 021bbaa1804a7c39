/**
 * Autograd semantics: accumulation, reuse of a tensor, detach and noGrad, retained gradients,
 * hooks, explicit gradients, freed graphs, in-place checks and second derivatives.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose } from './helpers.js';

const f64 = { dtype: 'float64', requiresGrad: true } as const;

describe('gradient accumulation and graph structure', () => {
  test('leaf gradients accumulate across two backward calls', () => {
    const x = nb.tensor([1, 2, 3], f64);
    x.mul(x).sum().backward(); // 2x
    assertClose(x.grad!, [2, 4, 6]);
    x.mul(3).sum().backward(); // + 3
    assertClose(x.grad!, [5, 7, 9]);
    x.grad = null;
    x.exp().sum().backward();
    assertClose(x.grad!, [1, 2, 3].map(Math.exp), 1e-12);
  });

  test('a tensor used many times gets the sum of all contributions', () => {
    const x = nb.tensor([0.5, -1.5], f64);
    // y = x + x·x + x·x·x + exp(x)·x  ⇒  dy/dx = 1 + 2x + 3x² + exp(x)(1 + x)
    const y = x.add(x.mul(x)).add(x.mul(x).mul(x)).add(x.exp().mul(x));
    y.sum().backward();
    assertClose(
      x.grad!,
      [0.5, -1.5].map((v) => 1 + 2 * v + 3 * v * v + Math.exp(v) * (1 + v)),
      1e-12,
    );
  });

  test('a shared intermediate used by two branches (diamond)', () => {
    const x = nb.tensor([2], f64);
    const h = x.mul(3); // 3x
    const y = h.sin().add(h.square()); // sin(3x) + 9x²
    y.backward();
    assertClose(x.grad!, [3 * Math.cos(6) + 18 * 2], 1e-12);
  });

  test('gradients reduce over broadcast dims to the leaf shape', () => {
    const a = nb.ones([3, 1], f64);
    const b = nb.ones([4], f64);
    a.add(b).mul(2).sum().backward();
    assertClose(a.grad!, [[8], [8], [8]]);
    assertClose(b.grad!, [6, 6, 6, 6]);
  });

  test('leaves, gradFn and requiresGrad propagate', () => {
    const x = nb.tensor([1, 2], f64);
    const c = nb.tensor([3, 4], { dtype: 'float64' });
    assert.equal(x.isLeaf, true);
    assert.equal(x.gradFn, null);
    const y = x.mul(c);
    assert.equal(y.requiresGrad, true);
    assert.equal(y.isLeaf, false);
    assert.equal(y.gradFn!.name, 'mul');
    const z = c.mul(2);
    assert.equal(z.requiresGrad, false);
    assert.equal(z.gradFn, null);
    y.sum().backward();
    assert.equal(c.grad, null);
    assert.equal(y.grad, null, 'non-leaf gradients are not kept by default');
  });

  test('int and bool tensors cannot require grad', () => {
    assert.throws(() => nb.tensor([1], { dtype: 'int32', requiresGrad: true }), nb.GradError);
    assert.throws(() => (nb.tensor([true]).requiresGrad = true), nb.GradError);
  });

  test('float32 graphs work too (default dtype)', () => {
    const x = nb.tensor([1, 2], { requiresGrad: true });
    x.square().sum().backward();
    assert.equal(x.grad!.dtype, 'float32');
    assert.deepEqual(x.grad!.toArray(), [2, 4]);
  });

  test('cast between float dtypes is differentiable', () => {
    const x = nb.tensor([1, 2], f64);
    x.float().mul(3).sum().backward();
    assert.equal(x.grad!.dtype, 'float64');
    assert.deepEqual(x.grad!.toArray(), [3, 3]);
  });
});

describe('detach and noGrad', () => {
  test('detach stops the gradient but shares data', () => {
    const x = nb.tensor([1, 2], f64);
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    // y = x · detach(x): only the first factor is differentiated.
    x.mul(d).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [1, 2]);
    nb.noGrad(() => x.add_(1));
    assert.deepEqual(d.toArray(), [2, 3]);
  });

  test('noGrad produces tensors that do not require grad; enableGrad re-enables', () => {
    const x = nb.tensor([1, 2], f64);
    const y = nb.noGrad(() => x.mul(2).exp());
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.equal(nb.isGradEnabled(), true);
    nb.noGrad(() => {
      assert.equal(nb.isGradEnabled(), false);
      const z = nb.enableGrad(() => x.mul(2));
      assert.equal(z.requiresGrad, true);
    });
    assert.throws(() => y.sum().backward(), nb.GradError);
  });

  test('noGrad restores the mode after an exception', () => {
    assert.throws(() =>
      nb.noGrad(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(nb.isGradEnabled(), true);
  });
});

describe('retainGrad and hooks', () => {
  test('retainGrad keeps the gradient of an intermediate', () => {
    const x = nb.tensor([1, 2], f64);
    const h = x.mul(3).retainGrad();
    const k = x.mul(5); // not retained
    h.square().add(k).sum().backward();
    assert.equal(h.retainsGrad, true);
    assert.deepEqual(h.grad!.toArray(), [6, 12]); // 2h
    assert.equal(k.grad, null);
    assert.deepEqual(x.grad!.toArray(), [18 + 5, 36 + 5]);
  });

  test('retainGrad on a tensor that does not require grad throws', () => {
    assert.throws(() => nb.tensor([1]).retainGrad(), nb.GradError);
  });

  test('a hook on an intermediate reads its gradient', () => {
    const x = nb.tensor([1, 2], f64);
    const h = x.mul(2);
    const seen: number[][] = [];
    h.registerHook((g) => {
      seen.push(Array.from(g.dataSync()));
    });
    h.mul(nb.tensor([3, 4], { dtype: 'float64' }))
      .sum()
      .backward();
    assert.deepEqual(seen, [[3, 4]]);
    assert.deepEqual(x.grad!.toArray(), [6, 8]);
  });

  test('a hook on an intermediate can replace the gradient; remove() unregisters it', () => {
    const x = nb.tensor([1, 2], f64);
    const h = x.mul(2);
    h.registerHook((g) => g.mul(10));
    h.sum().backward();
    assert.deepEqual(x.grad!.toArray(), [20, 20]);

    const h2 = x.mul(2);
    const handle = h2.registerHook((g) => g.mul(10));
    handle.remove();
    handle.remove(); // a second remove() is harmless
    x.grad = null;
    h2.sum().backward();
    assert.deepEqual(x.grad!.toArray(), [2, 2]);
  });

  test('hooks on a leaf see and can replace the gradient before accumulation', () => {
    const x = nb.tensor([1, 2], f64);
    const seen: number[][] = [];
    const h1 = x.registerHook((g) => {
      seen.push(Array.from(g.dataSync()));
    });
    const h2 = x.registerHook((g) => g.neg());
    x.mul(3).sum().backward();
    assert.deepEqual(seen, [[3, 3]]);
    assert.deepEqual(x.grad!.toArray(), [-3, -3]);
    h2.remove();
    h1.remove();
    x.grad = null;
    x.mul(3).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [3, 3]);
    assert.equal(seen.length, 1, 'removed hook not called again');
  });

  test('a hook returning a wrong shape is an error', () => {
    const x = nb.tensor([1, 2], f64);
    x.registerHook(() => nb.zeros([3], { dtype: 'float64' }));
    assert.throws(() => x.sum().backward(), nb.ShapeError);
  });

  test('registerHook on a tensor that does not require grad throws', () => {
    assert.throws(() => nb.tensor([1]).registerHook(() => undefined), nb.GradError);
  });
});

describe('backward arguments', () => {
  test('backward on a non-scalar without a gradient throws GradError', () => {
    const y = nb.tensor([1, 2], f64).mul(2);
    assert.throws(() => y.backward(), nb.GradError);
  });

  test('backward on a non-scalar with an explicit gradient', () => {
    const x = nb.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      f64,
    );
    const y = x.square();
    y.backward(
      nb.tensor(
        [
          [1, 0],
          [0.5, -1],
        ],
        { dtype: 'float64' },
      ),
    );
    assert.deepEqual(x.grad!.toArray(), [
      [2, 0],
      [3, -8],
    ]);
  });

  test('an explicit gradient of the wrong shape or dtype throws', () => {
    const y = nb.tensor([1, 2], f64).mul(2);
    assert.throws(() => y.backward(nb.ones([3], { dtype: 'float64' })), nb.ShapeError);
    assert.throws(() => y.backward(nb.ones([2])), nb.GradError);
  });

  test('backward on a one-element non-0-d tensor needs no gradient', () => {
    const x = nb.tensor([3], f64);
    x.square().backward();
    assert.deepEqual(x.grad!.toArray(), [6]);
  });

  test('the implicit seed is 1 even when the output is infinite', () => {
    const x = nb.tensor([1e308], f64);
    x.mul(10).backward(); // the output overflows to Infinity
    assert.deepEqual(x.grad!.toArray(), [10]);
  });

  test('piecewise-constant ops (sign, floor) pass a zero gradient', () => {
    const x = nb.tensor([-1.5, 0.5, 2.5], f64);
    x.sign().add(x.floor()).add(x).sum().backward();
    assert.deepEqual(x.grad!.toArray(), [1, 1, 1]);
  });

  test('the gradient stored in .grad does not alias the upstream gradient', () => {
    const x = nb.tensor([1, 2], f64);
    const upstream = nb.tensor([1, 1], { dtype: 'float64' });
    x.add(0).backward(upstream);
    nb.noGrad(() => upstream.fill_(5));
    assert.deepEqual(x.grad!.toArray(), [1, 1]);
  });
});

describe('freed graphs and in-place checks', () => {
  test('a second backward through a freed graph throws GradError naming the op', () => {
    const x = nb.tensor([1, 2], f64);
    const y = x.exp().sum();
    y.backward();
    assert.throws(
      () => y.backward(),
      (e: unknown) => e instanceof nb.GradError && /retainGraph/.test(e.message),
    );
  });

  test('retainGraph allows a second backward (gradients accumulate)', () => {
    const x = nb.tensor([1, 2], f64);
    const y = x.square().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assert.deepEqual(x.grad!.toArray(), [4, 8]);
  });

  test('an in-place change of a tensor saved for backward makes backward throw', () => {
    const x = nb.tensor([1, 2], f64);
    const w = nb.tensor([3, 4], f64);
    const y = x.mul(w).sum();
    nb.noGrad(() => w.mul_(2));
    assert.throws(
      () => y.backward(),
      (e: unknown) => e instanceof nb.GradError && /in-place/.test(e.message),
    );
  });

  test('an in-place change of a saved output (exp) makes backward throw', () => {
    const x = nb.tensor([1, 2], f64);
    const e = x.exp();
    const y = e.sum();
    nb.noGrad(() => e.mul_(2));
    assert.throws(() => y.backward(), nb.GradError);
  });

  test('an in-place change through a view of a saved tensor is detected', () => {
    const x = nb.tensor([1, 2], f64);
    const y = x.sin().sum();
    nb.noGrad(() => x.select(0, 0).fill_(0));
    assert.throws(() => y.backward(), nb.GradError);
  });

  test('in-place op on a leaf requiring grad outside noGrad throws GradError', () => {
    const x = nb.tensor([1, 2], f64);
    assert.throws(() => x.mul_(2), nb.GradError);
    assert.throws(() => x.add_(1), nb.GradError);
    assert.throws(() => x.zero_(), nb.GradError);
    assert.throws(() => x.copy_(nb.zeros([2], { dtype: 'float64' })), nb.GradError);
    assert.deepEqual(x.toArray(), [1, 2], 'the failed ops left the values alone');
    nb.noGrad(() => x.mul_(2));
    assert.deepEqual(x.toArray(), [2, 4]);
  });

  test('an in-place op whose operand requires grad would drop its gradient: GradError', () => {
    const c = nb.zeros([2], { dtype: 'float64' });
    const w = nb.tensor([1, 2], f64);
    assert.throws(() => c.add_(w), nb.GradError);
    assert.throws(() => c.copy_(w.mul(2)), nb.GradError);
    assert.deepEqual(c.toArray(), [0, 0]);
    nb.noGrad(() => c.add_(w)); // explicitly outside autograd: fine
    assert.deepEqual(c.toArray(), [1, 2]);
  });

  test('in-place ops on tensors outside the graph are fine', () => {
    const c = nb.tensor([1, 2]);
    c.mul_(2).add_(1).sub_(0.5).div_(2).clamp_(0, 2);
    assert.deepEqual(c.toArray(), [1.25, 2]);
  });
});

describe('higher-order gradients', () => {
  test('createGraph gives second derivatives: d²/dx² x³ = 6x', () => {
    const x = nb.tensor([1, -2, 0.5], f64);
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    assertClose(g, [3, 12, 0.75], 1e-12);
    assert.equal(g.requiresGrad, true, 'the first derivative is itself differentiable');
    x.grad = null;
    g.sum().backward();
    assertClose(x.grad!, [6, -12, 3], 1e-12);
  });

  test('second derivative through a product form x·x·x and through tanh', () => {
    const x = nb.tensor([0.3, -0.7], f64);
    x.mul(x).mul(x).sum().backward(undefined, { createGraph: true });
    const g = x.grad!;
    x.grad = null;
    g.sum().backward();
    assertClose(x.grad!, [6 * 0.3, 6 * -0.7], 1e-12);

    const y = nb.tensor([0.3, -0.7], f64);
    y.tanh().sum().backward(undefined, { createGraph: true });
    const gy = y.grad!;
    y.grad = null;
    gy.sum().backward();
    // d²/dy² tanh = -2 tanh (1 - tanh²)
    assertClose(
      y.grad!,
      [0.3, -0.7].map((v) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2)),
      1e-12,
    );
  });

  test('createGraph gradients are contiguous, distinct tensors that optimizers can update', () => {
    const a = nb.tensor([1, 2], f64);
    const b = nb.tensor([3, 4], f64);
    a.add(b).sum().backward(undefined, { createGraph: true });
    assert.notEqual(a.grad, b.grad);
    assert.ok(a.grad!.isContiguous() && a.grad!.strides.every((s) => s !== 0));
    nb.noGrad(() => a.grad!.zero_());
    assert.deepEqual(a.grad!.toArray(), [0, 0]);
    assert.deepEqual(b.grad!.toArray(), [1, 1], 'zeroing one gradient leaves the other');
  });

  test('without createGraph the gradient is a plain tensor', () => {
    const x = nb.tensor([1], f64);
    x.pow(3).sum().backward();
    assert.equal(x.grad!.requiresGrad, false);
  });
});
