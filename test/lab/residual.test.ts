/**
 * THEORY.md §2 on residual networks (src/nn/residual.ts, src/lab/residual.ts, src/lab/stats.ts).
 *
 * What is asserted, and why the tolerances are what they are. Every statistical check is a
 * t-statistic over independent initialisations (mean / standard error, SE = sample std / √trials)
 * compared with 4: with the ≤ 40 statistics of one check, the chance that any exceeds 4 by
 * sampling alone is below 1%, so a failure means the claim is wrong, not bad luck.
 * - The exact one-step identity E[u_{l+1}²] = E[u_l²] + s(E[ReLU(u_l)²]) (s = σ²·n·p + β² for a
 *   one-layer branch; the file header of src/lab/residual.ts derives it for deeper branches)
 *   holds at any width: d_l = m_{l+1} − m_l − s(r_l) has expectation exactly 0, for every scheme
 *   and block.
 * - THEORY.md's closed form Var[u_{l+1}] = Var[u_l]·(1 + σ²·n/2) additionally uses
 *   E[ReLU(u)²] = Var[u]/2, exact for the Gaussian input at the first block: checked there for
 *   every scheme. Deeper, it holds up to an O(l/n) finite-width excess (reported by the
 *   experiment, not asserted to sampling precision).
 * - A zero last layer keeps Var[u_l] and the gradients exactly constant; depth-scaled branches keep
 *   Var[u_L] below e.
 * - E[F(u) | u] = 0 for zero-mean weights and biases, μ·Σ_j ReLU(u_j) for weight mean μ.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const { ResidualBlock, ResidualMLP, Sequential, ReLU, Linear } = nb.nn;
const Z = 4;

describe('ResidualBlock and ResidualMLP', () => {
  test('forward is u + F(u); names follow PyTorch', () => {
    const f = new Sequential(new ReLU(), new Linear(4, 4));
    const block = new ResidualBlock(f);
    const u = nb.randn([3, 4]);
    const want = u.add(f.forward(u)).dataSync();
    assert.deepEqual(block.forward(u).dataSync(), want);
    const net = new ResidualMLP({ width: 4, depth: 2, branchDepth: 2 });
    assert.deepEqual(Object.keys(net.stateDict()), [
      'blocks.0.branch.1.weight',
      'blocks.0.branch.1.bias',
      'blocks.0.branch.3.weight',
      'blocks.0.branch.3.bias',
      'blocks.1.branch.1.weight',
      'blocks.1.branch.1.bias',
      'blocks.1.branch.3.weight',
      'blocks.1.branch.3.bias',
    ]);
    assert.deepEqual(net.forward(u).shape, [3, 4]);
    assert.throws(() => new ResidualMLP({ width: 0, depth: 1 }), nb.ValueError);
  });

  test('initialisation schemes give the stated weight distributions', () => {
    const n = 128;
    const L = 5;
    const g = new nb.Generator(0);
    const net = new ResidualMLP({ width: n, depth: L, branchDepth: 2, dtype: 'float64' });
    const cases: [nb.nn.ResidualInit, number, number][] = [
      // scheme, inner-layer variance, last-layer variance
      [{ kind: 'gaussian', std: 1 }, 1, 1],
      [{ kind: 'xavier' }, 1 / n, 1 / n],
      [{ kind: 'kaiming' }, 2 / n, 2 / n],
      [{ kind: 'zeroLast' }, 2 / n, 0],
      [{ kind: 'depthScaled' }, 2 / n, 2 / (n * L)],
      [{ kind: 'pytorch' }, 1 / (3 * n), 1 / (3 * n)],
    ];
    for (const [scheme, inner, last] of cases) {
      nb.nn.initResidual_(net, scheme, { generator: g });
      const [l0, l1] = nb.nn.branchLinears(net.blocks.get(2).branch);
      for (const [lin, want] of [
        [l0!, inner],
        [l1!, last],
      ] as const) {
        const w = Array.from(lin.weight.dataSync());
        const N = w.length;
        const mean = w.reduce((a, b) => a + b, 0) / N;
        const v = w.reduce((a, b) => a + (b - mean) ** 2, 0) / (N - 1);
        if (want === 0) assert.ok(w.every((x) => x === 0));
        // Var of a sample variance of N Gaussians: 2σ⁴/(N − 1) (uniform: smaller).
        else assert.ok(Math.abs(v - want) < Z * want * Math.sqrt(2 / (N - 1)), scheme.kind);
        const b = Array.from(lin.bias!.dataSync());
        if (scheme.kind === 'pytorch') assert.ok(b.some((x) => x !== 0));
        else
          assert.ok(
            b.every((x) => x === 0),
            `${scheme.kind}: zero biases`,
          );
      }
    }
  });

  test('the closed-form prediction', () => {
    const pred = (scheme: nb.nn.ResidualInit, depth: number, branchDepth = 1): number[] =>
      nb.lab.residualVariancePrediction(scheme, { width: 64, depth, branchDepth });
    assert.deepEqual(pred({ kind: 'kaiming' }, 4), [1, 2, 4, 8, 16]);
    assert.deepEqual(pred({ kind: 'kaiming' }, 3, 2), [1, 2, 4, 8]);
    assert.deepEqual(pred({ kind: 'gaussian', std: 1 }, 2), [1, 33, 33 * 33]);
    assert.deepEqual(pred({ kind: 'zeroLast' }, 3, 2), [1, 1, 1, 1]);
    const xavier = pred({ kind: 'xavier' }, 3);
    xavier.forEach((v, l) => assert.ok(Math.abs(v - 1.5 ** l) < 1e-12));
    const L = 10;
    const ds = pred({ kind: 'depthScaled' }, L);
    assert.ok(Math.abs(ds[L]! - (1 + 1 / L) ** L) < 1e-12);
    assert.ok(ds[L]! < Math.E);
  });
});

describe('E[F(u) | u] over random initialisations', () => {
  const width = 16;
  const u = nb.randn([width], { dtype: 'float64', generator: new nb.Generator(1) });
  const branch = nb.nn.residualBranch(width, 1, { dtype: 'float64' });

  test('zero-mean schemes: 0 within sampling error in every coordinate', () => {
    for (const scheme of nb.lab.DEFAULT_RESIDUAL_SCHEMES) {
      const r = nb.lab.branchConditionalMean(branch, u, {
        scheme,
        trials: 400,
        depth: 8,
        generator: new nb.Generator(2),
      });
      assert.deepEqual(r.predicted, new Array(width).fill(0));
      assert.ok(r.maxAbsZ < Z, `${scheme.kind}: max |z| = ${r.maxAbsZ}`);
    }
  });

  test('weights of mean μ: E[F(u) | u] = μ·Σ_j ReLU(u_j), clearly non-zero', () => {
    const mu = 0.2;
    const r = nb.lab.branchConditionalMean(branch, u, {
      scheme: { kind: 'gaussian', std: 1, mean: mu },
      trials: 400,
      generator: new nb.Generator(3),
    });
    const relu = Array.from(u.dataSync()).reduce((s, v) => s + Math.max(v, 0), 0);
    assert.ok(Math.abs(r.predicted![0]! - mu * relu) < 1e-12);
    assert.ok(r.maxAbsZ < Z, `max |z| = ${r.maxAbsZ}`);
    // And 0 is rejected: every coordinate's mean is many standard errors away from it.
    r.mean.forEach((m, i) => {
      const z0 = Math.abs(m) / r.standardError[i]!;
      assert.ok(z0 > Z, `coordinate ${i}: |mean| / SE = ${z0}`);
    });
  });
});

describe('residualInitExperiment: Var[u_l] against l', () => {
  const L = 6;
  const width = 32;
  const trials = 60;
  const result = nb.lab.residualInitExperiment({ depths: [L], width, trials, batch: 8, seed: 0 });

  test('the exact one-step identity holds within sampling error, every scheme and block', () => {
    assert.equal(result.series.length, nb.lab.DEFAULT_RESIDUAL_SCHEMES.length);
    for (const s of result.series) {
      assert.equal(s.stepZ.length, L);
      for (const [l, z] of s.stepZ.entries()) {
        assert.ok(Math.abs(z) < Z, `${s.scheme}, block ${l}: z = ${z}`);
      }
    }
  });

  test('first block: the closed form (1 + σ²n/2) holds within sampling error', () => {
    for (const s of result.series) {
      const dev = Math.abs(s.measured[1]! - s.predicted[1]!);
      assert.ok(
        dev <= Z * s.standardError[1]!,
        `${s.scheme}: ${s.measured[1]} vs ${s.predicted[1]}`,
      );
    }
  });

  test('the schemes order as predicted; depth-scaled stays below e; zero last layer is exact', () => {
    const top = Object.fromEntries(result.series.map((s) => [s.init.kind, s.measured[L]!]));
    assert.ok(top.gaussian! > 1e4 * top.kaiming!, 'σ = 1 explodes');
    assert.ok(top.kaiming! > 4 * top.xavier!, 'He above Xavier');
    assert.ok(top.xavier! > 2 * top.depthScaled!, 'Xavier above depth-scaled');
    const ds = result.series.find((s) => s.init.kind === 'depthScaled')!;
    assert.ok(ds.measured[L]! / ds.measured[0]! < Math.E, 'depth-scaled below e');
    const zl = result.series.find((s) => s.init.kind === 'zeroLast')!;
    for (const l of zl.measured.keys()) {
      assert.equal(zl.measured[l], zl.measured[0]);
      assert.equal(zl.gradMeasured![l], zl.gradMeasured![0]);
    }
  });

  test('deeper branches: the identity still holds (halvings inside the branch are exact)', () => {
    const r = nb.lab.residualInitExperiment({
      depths: [4],
      width: 24,
      branchDepth: 2,
      trials: 50,
      batch: 8,
      gradients: false,
      schemes: [{ kind: 'kaiming' }, { kind: 'pytorch' }, { kind: 'depthScaled' }],
      seed: 1,
    });
    for (const s of r.series) {
      for (const z of s.stepZ) assert.ok(Math.abs(z) < Z, `${s.scheme}: z = ${z}`);
      assert.equal(s.gradMeasured, null);
    }
  });

  test('bad options are ValueErrors', () => {
    assert.throws(() => nb.lab.residualInitExperiment({ trials: 1 }), nb.ValueError);
    assert.throws(() => nb.lab.residualInitExperiment({ depths: [0] }), nb.ValueError);
    assert.throws(
      () => nb.lab.residualInitExperiment({ schemes: [{ kind: 'gaussian', std: 1, mean: 1 }] }),
      nb.ValueError,
    );
  });
});

describe('activationStats', () => {
  test('forward and gradient moments of every module, read by hooks', () => {
    const g = new nb.Generator(4);
    const fc1 = new Linear(5, 6, { dtype: 'float64' });
    const fc2 = new Linear(6, 3, { dtype: 'float64' });
    const net = new Sequential(fc1, new ReLU(), fc2);
    const x = nb.randn([7, 5], { dtype: 'float64', generator: g });
    const gOut = nb.randn([7, 3], { dtype: 'float64', generator: g });
    const s = nb.lab.activationStats(net, x, { backward: true, loss: (y) => y.mul(gOut).sum() });
    assert.deepEqual(
      s.layers.map((l) => [l.name, l.type]),
      [
        ['input', 'input'],
        ['0', 'Linear'],
        ['1', 'ReLU'],
        ['2', 'Linear'],
        ['', 'Sequential'],
      ],
    );
    // Recompute by hand: h = fc1(x), a = relu(h), y = fc2(a); dL/dy = gOut, dL/da = gOut·W2, ...
    const h = fc1.forward(x);
    const a = h.relu();
    const y = fc2.forward(a);
    const ga = gOut.matmul(fc2.weight);
    const gh = ga.mul(h.gt(0).double());
    const gx = gh.matmul(fc1.weight);
    const close = (p: number, q: number): boolean => Math.abs(p - q) < 1e-12 * (1 + Math.abs(q));
    for (const [i, t, gt] of [
      [0, x, gx],
      [1, h, gh],
      [2, a, ga],
      [3, y, gOut],
    ] as const) {
      const want = nb.lab.tensorStats(t);
      const got = s.layers[i]!;
      assert.ok(close(got.forward.mean, want.mean) && close(got.forward.variance, want.variance));
      assert.ok(close(got.forward.meanSquare, want.meanSquare));
      const wantG = nb.lab.tensorStats(gt);
      assert.ok(close(got.backward!.variance, wantG.variance), `layer ${i} gradient`);
      assert.ok(close(got.backward!.mean, wantG.mean));
    }
    // The hooks are gone: another forward records nothing new.
    net.forward(x);
    assert.equal(s.layers.length, 5);
  });

  test('tensorStats and errors', () => {
    const t = nb.tensor([1, 2, 3, 6]);
    assert.deepEqual(nb.lab.tensorStats(t), { mean: 3, variance: 3.5, meanSquare: 12.5, numel: 4 });
    // Integer token ids into a frozen embedding: nothing requires grad, backward is impossible.
    const frozen = new nb.nn.Embedding(4, 3);
    frozen.weight.requiresGrad_(false);
    const ids = nb.tensor([0, 2], { dtype: 'int32' });
    assert.throws(() => nb.lab.activationStats(frozen, ids, { backward: true }), nb.ValueError);
    assert.equal(nb.lab.activationStats(frozen, ids).layers.length, 2);
  });
});
