/**
 * Losses (src/nn/losses.ts): values against a plain-JS reference of PyTorch's formulas and
 * hand-computed cases, float64 finite-difference gradient checks of every loss (ignoreIndex,
 * label smoothing, class weights, N-d targets, probability targets) and of F.linear /
 * F.layerNorm, the typed errors, and the loss modules. PyTorch parity itself is checked in
 * basic-layers-parity.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const F = nb.F;

// ---- Helpers ----------------------------------------------------------------------------------

function assertClose(actual: nb.Tensor | number, expected: ArrayLike<number> | number, tol = 1e-9) {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual.dataSync());
  const e = typeof expected === 'number' ? [expected] : Array.from(expected);
  assert.equal(a.length, e.length, 'element count');
  for (let i = 0; i < e.length; i++)
    assert.ok(
      Math.abs(a[i]! - e[i]!) <= tol * (1 + Math.abs(e[i]!)),
      `element ${i}: ${a[i]} vs expected ${e[i]}`,
    );
}

/** A float64 leaf of random values (seeded), scaled to ±scale. */
function rnd(shape: number[], seed: number, scale = 2, requiresGrad = true): nb.Tensor {
  const g = new nb.Generator(seed);
  return nb
    .rand(shape, { dtype: 'float64', low: -scale, high: scale, generator: g })
    .requiresGrad_(requiresGrad);
}

function ints(data: nb.NestedArray): nb.Tensor {
  return nb.tensor(data as number[], { dtype: 'int32' });
}

/** nb.gradcheck, and every input that requires grad must get a non-zero gradient (else vacuous). */
function gradcheck(fn: (...xs: nb.Tensor[]) => nb.Tensor, inputs: nb.Tensor[]): void {
  nb.gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4 });
  inputs.forEach((x, k) => {
    if (!x.requiresGrad) return;
    assert.ok(
      x.grad?.dataSync().some((v) => v !== 0),
      `input ${k}: all-zero gradient`,
    );
  });
}

/**
 * PyTorch's cross_entropy with class indices in plain JS, for (N, C, d...) logits given as a flat
 * row-major array: the reference the tensor implementation is compared with.
 */
function referenceCrossEntropy(
  logits: number[],
  shape: number[],
  target: number[],
  o: { weight?: number[]; ignoreIndex?: number; eps?: number; reduction?: nb.F.Reduction },
): number[] {
  const [N, C] = [shape[0]!, shape[1]!];
  const D = shape.slice(2).reduce((a, b) => a * b, 1);
  const ignore = o.ignoreIndex ?? -100;
  const eps = o.eps ?? 0;
  const w = (c: number) => (o.weight ? o.weight[c]! : 1);
  const nll: number[] = [];
  const smooth: number[] = [];
  let denom = 0;
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) {
      const z = Array.from({ length: C }, (_, c) => logits[(n * C + c) * D + d]!);
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
      const t = target[n * D + d]!;
      if (t === ignore) {
        nll.push(0);
        smooth.push(0);
        continue;
      }
      nll.push(-w(t) * (z[t]! - lse));
      smooth.push(-z.reduce((s, v, c) => s + w(c) * (v - lse), 0));
      denom += w(t);
    }
  }
  const red = (v: number[]): number[] => {
    const s = v.reduce((a, b) => a + b, 0);
    return o.reduction === 'none' ? v : o.reduction === 'sum' ? [s] : [s / denom];
  };
  const a = red(nll);
  const b = red(smooth);
  return a.map((v, i) => (1 - eps) * v + (eps / C) * b[i]!);
}

// ---- crossEntropy -----------------------------------------------------------------------------

describe('crossEntropy: values', () => {
  test('uniform logits give log C; a confident correct logit gives ~0', () => {
    assertClose(F.crossEntropy(nb.zeros([3, 5]), ints([0, 4, 2])), Math.log(5), 1e-6);
    const sure = nb.tensor([[50, 0, 0]]);
    assert.ok(F.crossEntropy(sure, ints([0])).item() < 1e-12);
  });

  test('matches the plain-JS reference: weights × ignoreIndex × smoothing × reduction × N-d', () => {
    const weight = [0.5, 2, 1.25, 0.75];
    const cases: { shape: number[]; target: number[] }[] = [
      { shape: [5, 4], target: [0, 3, -100, 1, 2] },
      { shape: [2, 4, 3], target: [0, 3, -100, 2, 2, 1] },
      { shape: [2, 4, 2, 2], target: [1, -100, 0, 3, 2, 2, -100, 1] },
    ];
    let k = 0;
    for (const { shape, target } of cases) {
      const x = rnd(shape, 10 + k++, 3, false);
      const xs = Array.from(x.dataSync());
      for (const w of [undefined, weight])
        for (const eps of [0, 0.1, 0.3])
          for (const reduction of ['mean', 'sum', 'none'] as const) {
            const got = F.crossEntropy(x, ints(target).reshape(shape.filter((_, i) => i !== 1)), {
              weight: w && nb.tensor(w, { dtype: 'float64' }),
              labelSmoothing: eps,
              reduction,
            });
            const want = referenceCrossEntropy(xs, shape, target, { weight: w, eps, reduction });
            assertClose(got, want, 1e-12);
            if (reduction === 'none')
              assert.deepEqual(got.shape, [shape[0], ...shape.slice(2)], 'none keeps (N, d...)');
          }
    }
  });

  test('a custom ignoreIndex inside [0, C) drops that class', () => {
    const x = rnd([4, 3], 3, 2, false);
    const t = [0, 1, 2, 1];
    const got = F.crossEntropy(x, ints(t), { ignoreIndex: 1 });
    const want = referenceCrossEntropy(Array.from(x.dataSync()), [4, 3], t, { ignoreIndex: 1 });
    assertClose(got, want, 1e-12);
  });

  test('unbatched (C) input with a 0-d target equals the (1, C) batch', () => {
    const x = rnd([4], 4, 2, false);
    const a = F.crossEntropy(x, ints(2), { labelSmoothing: 0.2 });
    const b = F.crossEntropy(x.unsqueeze(0), ints([2]), { labelSmoothing: 0.2 });
    assertClose(a, b.item(), 1e-14);
    const none = F.crossEntropy(x, ints(2), { reduction: 'none' });
    assert.deepEqual(none.shape, []);
    const probs = F.crossEntropy(x, nb.tensor([0.1, 0.2, 0.3, 0.4], { dtype: 'float64' }));
    assert.deepEqual(probs.shape, []);
  });

  test('probability targets: one-hot equals class indices; smoothing mixes in ε/C', () => {
    const x = rnd([3, 4], 5, 2, false);
    const oneHot = nb.tensor(
      [
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 1],
      ],
      { dtype: 'float64' },
    );
    const w = nb.tensor([1, 2, 0.5, 1.5], { dtype: 'float64' });
    for (const labelSmoothing of [0, 0.1]) {
      // Without a weight the two target forms agree exactly, smoothing included.
      assertClose(
        F.crossEntropy(x, oneHot, { labelSmoothing }),
        F.crossEntropy(x, ints([1, 0, 3]), { labelSmoothing }).item(),
        1e-12,
      );
    }
    // With a weight, 'mean' divides by N for probabilities but by Σ w[t] for indices (PyTorch).
    assertClose(
      F.crossEntropy(x, oneHot, { weight: w, reduction: 'sum' }),
      F.crossEntropy(x, ints([1, 0, 3]), { weight: w, reduction: 'sum' }).item(),
      1e-12,
    );
    const sum = F.crossEntropy(x, oneHot, { weight: w, reduction: 'sum' }).item();
    assertClose(F.crossEntropy(x, oneHot, { weight: w }), sum / 3, 1e-12);
    assertClose(F.crossEntropy(x, ints([1, 0, 3]), { weight: w }), sum / (2 + 1 + 1.5), 1e-12);
  });

  test('ignored rows contribute exactly 0 and no gradient, even with −∞ log-probabilities', () => {
    const x = nb.tensor(
      [
        [1, 2, 3],
        [-Infinity, 0, 0],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const loss = F.crossEntropy(x, ints([1, -100]), { reduction: 'none', labelSmoothing: 0.1 });
    const v = loss.dataSync();
    assert.ok(Number.isFinite(v[0]!) && v[1] === 0, `losses ${Array.from(v)}`);
    loss.sum().backward();
    const g = Array.from(x.grad!.dataSync());
    assert.ok(g.every(Number.isFinite), `grad ${g}`);
    assert.deepEqual(g.slice(3), [0, 0, 0]);
  });

  test("every target ignored: 'mean' throws a ValueError (PyTorch: NaN), 'sum' gives 0", () => {
    const x = rnd([2, 3], 6);
    assert.throws(() => F.crossEntropy(x, ints([-100, -100])), {
      name: 'ValueError',
      message: /every target ignored/,
    });
    assert.throws(() => F.nllLoss(x, ints([-100, -100])), nb.ValueError);
    assert.throws(() => F.crossEntropy(nb.zeros([0, 3]), ints([]).reshape([0])), nb.ValueError);
    const s = F.crossEntropy(x, ints([-100, -100]), { reduction: 'sum', labelSmoothing: 0.1 });
    assert.equal(s.item(), 0);
    s.backward();
    assert.ok(x.grad!.dataSync().every((v) => v === 0));
  });

  test("'mean' over targets whose class weights sum to 0 throws instead of giving NaN", () => {
    const w = nb.tensor([0, 1, 1], { dtype: 'float64' });
    assert.throws(() => F.crossEntropy(rnd([2, 3], 7), ints([0, 0]), { weight: w }), {
      name: 'ValueError',
      message: /total class weight/,
    });
  });
});

describe('crossEntropy and nllLoss: errors', () => {
  const x = rnd([3, 4], 8, 2, false);

  test('out-of-range class index: IndexError naming the value and C', () => {
    assert.throws(() => F.crossEntropy(x, ints([0, 4, 1])), {
      name: 'IndexError',
      message: /target 4 .*out of range for 4 classes/,
    });
    assert.throws(() => F.nllLoss(x, ints([0, -1, 1])), {
      name: 'IndexError',
      message: /target -1 /,
    });
  });

  test('wrong target dtype: DTypeError', () => {
    assert.throws(() => F.crossEntropy(x, nb.tensor([0, 1, 2], { dtype: 'float64' })), {
      name: 'DTypeError',
      message: /int32/,
    });
    assert.throws(() => F.crossEntropy(x, nb.tensor([true, false, true])), nb.DTypeError);
    // A target of the input's shape is a probability target and must be float.
    assert.throws(() => F.crossEntropy(x, nb.zeros([3, 4], { dtype: 'int32' })), {
      name: 'DTypeError',
      message: /probabilities/,
    });
    assert.throws(() => F.crossEntropy(x, nb.zeros([3, 4])), /float32 but the input is float64/);
    assert.throws(() => F.crossEntropy(ints([[1, 2]]), ints([0])), nb.DTypeError);
  });

  test('shape mismatches: ShapeError', () => {
    assert.throws(() => F.crossEntropy(x, ints([0, 1])), {
      name: 'ShapeError',
      message: /must have shape \[3\]/,
    });
    assert.throws(() => F.nllLoss(x, ints([[0, 1, 2]])), nb.ShapeError);
    assert.throws(
      () => F.crossEntropy(x, ints([0, 1, 2]), { weight: nb.ones([3], { dtype: 'float64' }) }),
      { name: 'ShapeError', message: /weight must have shape \[4\]/ },
    );
    assert.throws(() => F.crossEntropy(nb.scalar(1), ints(0)), nb.ShapeError);
  });

  test('bad options: ValueError', () => {
    const t = ints([0, 1, 2]);
    assert.throws(() => F.crossEntropy(x, t, { labelSmoothing: 1.5 }), nb.ValueError);
    assert.throws(() => F.crossEntropy(x, t, { reduction: 'avg' as 'mean' }), nb.ValueError);
    assert.throws(() => F.nllLoss(x, t, { ignoreIndex: 0.5 }), nb.ValueError);
    const p = nb.full([3, 4], 0.25, { dtype: 'float64' });
    assert.throws(() => F.crossEntropy(x, p, { ignoreIndex: 0 }), nb.ValueError);
    assert.throws(() => new nb.nn.CrossEntropyLoss({ labelSmoothing: -0.1 }), nb.ValueError);
  });
});

describe('nllLoss: values', () => {
  test('−w[t]·logp[t], divided by Σ w[t] over non-ignored targets', () => {
    const logp = nb.tensor(
      [
        [-1, -2, -3],
        [-0.5, -1.5, -2.5],
        [-4, -5, -6],
      ],
      { dtype: 'float64' },
    );
    const w = nb.tensor([1, 2, 3], { dtype: 'float64' });
    const t = ints([2, 1, -100]);
    assertClose(F.nllLoss(logp, t, { weight: w, reduction: 'none' }), [9, 3, 0]);
    assertClose(F.nllLoss(logp, t, { weight: w, reduction: 'sum' }), 12);
    assertClose(F.nllLoss(logp, t, { weight: w }), 12 / 5);
    assertClose(F.nllLoss(logp, t), (3 + 1.5) / 2);
  });
});

// ---- Gradient checks --------------------------------------------------------------------------

describe('gradcheck (float64): crossEntropy', () => {
  const w = nb.tensor([0.5, 2, 1.25, 0.75], { dtype: 'float64' });

  test('plain, sum and none', () => {
    const x = rnd([5, 4], 20);
    const t = ints([0, 3, 1, 1, 2]);
    gradcheck((x) => F.crossEntropy(x, t), [x]);
    gradcheck((x) => F.crossEntropy(x, t, { reduction: 'sum' }), [x]);
    gradcheck((x) => F.crossEntropy(x, t, { reduction: 'none' }), [x]);
  });

  test('ignoreIndex, label smoothing and class weights, together and apart', () => {
    const x = rnd([5, 4], 21);
    const t = ints([0, -100, 1, 3, 2]);
    gradcheck((x) => F.crossEntropy(x, t), [x]);
    gradcheck((x) => F.crossEntropy(x, ints([0, 2, 1, 3, 2]), { ignoreIndex: 2 }), [x]);
    gradcheck((x) => F.crossEntropy(x, t, { labelSmoothing: 0.1 }), [x]);
    gradcheck((x) => F.crossEntropy(x, t, { weight: w }), [x]);
    gradcheck((x) => F.crossEntropy(x, t, { weight: w, labelSmoothing: 0.2 }), [x]);
    gradcheck(
      (x) => F.crossEntropy(x, t, { weight: w, labelSmoothing: 0.2, reduction: 'none' }),
      [x],
    );
  });

  test('N-d input (N, C, T) and (N, C, H, W) with N-d targets', () => {
    const x3 = rnd([2, 4, 3], 22);
    const t3 = ints([
      [0, 3, -100],
      [2, 2, 1],
    ]);
    gradcheck((x) => F.crossEntropy(x, t3, { weight: w, labelSmoothing: 0.1 }), [x3]);
    gradcheck((x) => F.crossEntropy(x, t3, { reduction: 'none' }), [x3]);
    const x4 = rnd([2, 4, 2, 2], 23);
    const t4 = ints([
      [
        [1, 0],
        [3, -100],
      ],
      [
        [2, 2],
        [0, 1],
      ],
    ]);
    gradcheck((x) => F.crossEntropy(x, t4, { labelSmoothing: 0.3 }), [x4]);
  });

  test('probability targets: gradients of logits and of the target', () => {
    const x = rnd([3, 4], 24);
    const p = nb.softmax(rnd([3, 4], 25, 2, false), 1).requiresGrad_(true);
    gradcheck((x, p) => F.crossEntropy(x, p), [x, p]);
    gradcheck((x, p) => F.crossEntropy(x, p, { weight: w, labelSmoothing: 0.1 }), [x, p]);
    const x3 = rnd([2, 4, 3], 26);
    const p3 = nb.softmax(rnd([2, 4, 3], 27, 2, false), 1).requiresGrad_(true);
    gradcheck((x, p) => F.crossEntropy(x, p, { reduction: 'none' }), [x3, p3]);
  });

  test('unbatched', () => {
    gradcheck((x) => F.crossEntropy(x, ints(1), { labelSmoothing: 0.1 }), [rnd([4], 28)]);
  });
});

describe('gradcheck (float64): nllLoss, mseLoss, l1Loss, binaryCrossEntropyWithLogits', () => {
  test('nllLoss with weights, ignoreIndex and N-d targets', () => {
    const w = nb.tensor([0.5, 2, 1.25], { dtype: 'float64' });
    gradcheck((x) => F.nllLoss(x, ints([0, -100, 2, 1]), { weight: w }), [rnd([4, 3], 30)]);
    gradcheck(
      (x) =>
        F.nllLoss(
          x,
          ints([
            [0, 2],
            [1, -100],
          ]),
          { reduction: 'none' },
        ),
      [rnd([2, 3, 2], 31)],
    );
  });

  test('mseLoss and l1Loss, gradients of input and target', () => {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      gradcheck((a, b) => F.mseLoss(a, b, { reduction }), [rnd([3, 4], 32), rnd([3, 4], 33)]);
      gradcheck((a, b) => F.l1Loss(a, b, { reduction }), [rnd([3, 4], 34), rnd([3, 4], 35)]);
    }
    assertClose(F.mseLoss(nb.tensor([1, 2]), nb.tensor([1, 4])), 2);
    assertClose(F.l1Loss(nb.tensor([1, 2]), nb.tensor([1, 4]), { reduction: 'sum' }), 2);
  });

  test('binaryCrossEntropyWithLogits with weight and posWeight', () => {
    const y = nb.rand([3, 4], { dtype: 'float64', generator: new nb.Generator(36) });
    const w = nb.tensor([[0.5], [1], [2]], { dtype: 'float64' });
    const pw = nb.tensor([1, 2, 0.5, 3], { dtype: 'float64' });
    gradcheck((x) => F.binaryCrossEntropyWithLogits(x, y), [rnd([3, 4], 37, 6)]);
    gradcheck(
      (x, y) =>
        F.binaryCrossEntropyWithLogits(x, y, { weight: w, posWeight: pw, reduction: 'none' }),
      [rnd([3, 4], 38, 6), y.clone().requiresGrad_(true)],
    );
  });

  test('binaryCrossEntropyWithLogits is stable for large logits and exact at 0', () => {
    const x = nb.tensor([-1000, -30, 0, 30, 1000], { dtype: 'float64', requiresGrad: true });
    const y = nb.tensor([1, 0, 0.25, 1, 0], { dtype: 'float64' });
    const loss = F.binaryCrossEntropyWithLogits(x, y, { reduction: 'none' });
    const tiny = Math.log1p(Math.exp(-30));
    assertClose(loss, [1000, tiny, Math.LN2, tiny, 1000], 1e-12);
    loss.sum().backward();
    // d/dx = σ(x) − y, including at x = 0 (a composition with |x| would give 0 there).
    const s30 = 1 / (1 + Math.exp(30));
    assertClose(x.grad!, [-1, s30, 0.25, -s30, 1], 1e-12);
  });

  test('elementwise losses reject mismatched shapes and dtypes', () => {
    assert.throws(() => F.mseLoss(nb.zeros([3]), nb.zeros([3, 1])), nb.ShapeError);
    assert.throws(
      () => F.l1Loss(nb.zeros([3]), nb.zeros([3], { dtype: 'float64' })),
      nb.DTypeError,
    );
    assert.throws(() => F.mseLoss(nb.zeros([3], { dtype: 'int32' }), nb.zeros([3])), nb.DTypeError);
    assert.throws(() => F.mseLoss(nb.zeros([0]), nb.zeros([0])), nb.ValueError);
    assert.throws(
      () =>
        F.binaryCrossEntropyWithLogits(nb.zeros([2, 3]), nb.zeros([2, 3]), {
          posWeight: nb.ones([2]),
        }),
      nb.ShapeError,
    );
  });
});

describe('gradcheck (float64): F.linear and F.layerNorm', () => {
  test('F.linear: input, weight and bias, 2-D and 3-D inputs', () => {
    gradcheck((x, w, b) => F.linear(x, w, b), [rnd([4, 3], 40), rnd([2, 3], 41), rnd([2], 42)]);
    gradcheck((x, w) => F.linear(x, w).tanh(), [rnd([2, 3, 3], 43), rnd([5, 3], 44)]);
  });

  test('F.layerNorm: input, weight and bias over 1 and 2 trailing dims', () => {
    gradcheck(
      (x, w, b) => F.layerNorm(x, [4], w, b),
      [rnd([3, 4], 45), rnd([4], 46), rnd([4], 47)],
    );
    gradcheck(
      (x, w, b) => F.layerNorm(x, [2, 3], w, b, 1e-3),
      [rnd([2, 2, 3], 48), rnd([2, 3], 49), rnd([2, 3], 50)],
    );
    gradcheck((x) => F.layerNorm(x, [5]), [rnd([2, 5], 51)]);
  });

  test('F.layerNorm values: zero mean, unit (biased) variance per row', () => {
    const y = F.layerNorm(rnd([3, 6], 52, 2, false), [6], null, null, 1e-12);
    const rows = y.toArray() as number[][];
    for (const r of rows) {
      const m = r.reduce((a, b) => a + b, 0) / r.length;
      const v = r.reduce((a, b) => a + (b - m) ** 2, 0) / r.length;
      assertClose(m, 0, 1e-12);
      assertClose(v, 1, 1e-9);
    }
  });
});

// ---- Modules ----------------------------------------------------------------------------------

describe('loss modules', () => {
  test('forward equals the functional form with the same options', () => {
    const x = rnd([4, 3], 60, 2, false);
    const t = ints([0, 2, -100, 1]);
    const w = nb.tensor([1, 2, 3], { dtype: 'float64' });
    const ce = new nb.nn.CrossEntropyLoss({ weight: w, labelSmoothing: 0.1, reduction: 'sum' });
    assertClose(
      ce.forward(x, t),
      F.crossEntropy(x, t, { weight: w, labelSmoothing: 0.1, reduction: 'sum' }).item(),
      1e-14,
    );
    const logp = x.logSoftmax(1);
    const t2 = ints([0, 2, 1, 1]);
    assertClose(
      new nb.nn.NLLLoss({ ignoreIndex: 2 }).forward(logp, t2),
      F.nllLoss(logp, t2, { ignoreIndex: 2 }).item(),
      1e-14,
    );
    const y = rnd([4, 3], 61, 2, false);
    assertClose(new nb.nn.MSELoss().forward(x, y), F.mseLoss(x, y).item(), 1e-14);
    assertClose(
      new nb.nn.L1Loss({ reduction: 'sum' }).forward(x, y),
      F.l1Loss(x, y, { reduction: 'sum' }).item(),
      1e-14,
    );
  });

  test("a class weight is the buffer 'weight' (PyTorch's state-dict key), moved by to()", () => {
    assert.deepEqual(Object.keys(new nb.nn.CrossEntropyLoss().stateDict()), []);
    const ce = new nb.nn.CrossEntropyLoss({ weight: nb.tensor([1, 2, 3]) });
    assert.deepEqual(Object.keys(ce.stateDict()), ['weight']);
    assert.deepEqual(ce.parameters(), []);
    ce.loadStateDict({ weight: nb.tensor([3, 2, 1]) });
    assert.deepEqual(ce.getBuffer('weight').toArray(), [3, 2, 1]);
    ce.to('float64');
    assert.equal(ce.getBuffer('weight').dtype, 'float64');
    const x = rnd([2, 3], 62);
    gradcheck((x) => ce.forward(x, ints([0, 2])), [x]);
    const bce = new nb.nn.BCEWithLogitsLoss({ weight: nb.ones([3]), posWeight: nb.ones([3]) });
    assert.deepEqual(Object.keys(bce.stateDict()), ['weight', 'pos_weight']);
  });
});
