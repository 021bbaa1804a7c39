/**
 * nb.lab BPTT instruments. The closed-form Elman gradient (explicit products of D_τ W) must equal
 * autograd through nb.nn.RNN (leaky φ, no bias) in float64 within 1e-9 relative, for slopes
 * p ∈ {1, 0.5, 0.1} and W = ρ·Q (Q orthogonal, so the spectral radius is exactly ρ) with
 * ρ ∈ {0.5, 1, 1.5}; the per-step norms read by gradientNormsThroughTime must equal the closed
 * form's ‖∂l_T/∂v_t‖; and the fitted growth rate must be ρ for the linear network and lie in
 * [p·ρ, ρ] for the leaky one, as THEORY.md §3 predicts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const n = 6;
const m = 3;
const T = 12;

/** max |a − b| / max |b|. */
function relErr(a: nb.Tensor | number[], b: nb.Tensor | number[]): number {
  const x = Array.from(a instanceof nb.Tensor ? a.dataSync() : a);
  const y = Array.from(b instanceof nb.Tensor ? b.dataSync() : b);
  assert.equal(x.length, y.length);
  const scale = Math.max(...y.map(Math.abs));
  return Math.max(...x.map((v, i) => Math.abs(v - y[i]!))) / scale;
}

/** An RNN run from a fixed initial state v_0. */
class WithState extends nb.nn.Module {
  constructor(
    readonly rnn: nb.nn.RNN,
    readonly h0: nb.Tensor,
  ) {
    super();
  }
  forward(x: nb.Tensor): [nb.Tensor, nb.Tensor] {
    return this.rnn.forward(x, this.h0);
  }
}

function setup(rho: number, p: number, seed: number) {
  const g = new nb.Generator(seed);
  const W = nb.nn.init.orthogonal_(nb.zeros([n, n], { dtype: 'float64' }), rho, g);
  const B = nb.randn([n, m], { dtype: 'float64', generator: g });
  const xs = nb.randn([T, m], { dtype: 'float64', generator: g });
  const v0 = nb.randn([n], { dtype: 'float64', generator: g, std: 0.5 });
  const c = nb.randn([n], { dtype: 'float64', generator: g });
  const rnn = new nb.nn.RNN(m, n, {
    nonlinearity: 'leaky_relu',
    negativeSlope: p,
    bias: false,
    dtype: 'float64',
  });
  rnn.loadStateDict({ weight_ih_l0: B, weight_hh_l0: W });
  // l_T = c·v_T + ½‖v_T‖², so ∂l_T/∂v_T = c + v_T.
  const loss = ([, hN]: [nb.Tensor, nb.Tensor]): nb.Tensor => {
    const vT = hN.reshape([n]);
    return vT.mul(c).sum().add(vT.square().sum().mul(0.5));
  };
  const x = xs.reshape([T, 1, m]);
  const h0 = v0.reshape([1, 1, n]);
  const model = new WithState(rnn, h0);
  return { W, B, xs, v0, c, rnn, loss, x, model };
}

describe('lab.elmanBptt: closed form against autograd', () => {
  for (const p of [1, 0.5, 0.1]) {
    for (const rho of [0.5, 1, 1.5]) {
      test(`p = ${p}, spectral radius ${rho}`, () => {
        const s = setup(rho, p, Math.round(100 * p + 10 * rho));
        // Autograd through the module.
        const [out, hN] = s.rnn.forward(s.x, s.v0.reshape([1, 1, n]));
        s.loss([out, hN]).backward();
        const vT = hN.reshape([n]);
        const cf = nb.lab.elmanBptt({
          W: s.W,
          B: s.B,
          xs: s.xs,
          v0: s.v0,
          p,
          gradLast: vT.add(s.c).detach(),
        });
        // The closed form's forward pass agrees with the module's.
        assert.ok(relErr(cf.v.select(0, T), vT) < 1e-12);
        assert.ok(
          relErr(cf.dW, s.rnn.weightHhL0.grad!) < 1e-9,
          `dW: ${relErr(cf.dW, s.rnn.weightHhL0.grad!)}`,
        );
        assert.ok(
          relErr(cf.dB, s.rnn.weightIhL0.grad!) < 1e-9,
          `dB: ${relErr(cf.dB, s.rnn.weightIhL0.grad!)}`,
        );
        // Not vacuous: for p ≠ 1 both branches of φ occur, so the D_τ mix 1 and p.
        const u = Array.from(cf.u.dataSync());
        assert.ok(u.some((v) => v < 0) && u.some((v) => v > 0));
      });
    }
  }

  test('accepts nested arrays and checks shapes', () => {
    const r = nb.lab.elmanBptt({ W: [[0.5]], B: [[1]], xs: [[1], [-1]], p: 0.5, gradLast: [1] });
    // u1 = 1, v1 = 1; u2 = 0.5 − 1 = −0.5, v2 = −0.25. ∂l/∂v1 = D2·W = 0.5·0.5 = 0.25.
    assert.deepEqual(r.gradNorms, [0.25, 1]);
    // dW = D2·1·v1 + D1·0.25·v0 = 0.5; dB = D2·x2 + D1·0.25·x1 = −0.5 + 0.25.
    assert.deepEqual(r.dW.toArray(), [[0.5]]);
    assert.deepEqual(r.dB.toArray(), [[-0.25]]);
    assert.throws(
      () => nb.lab.elmanBptt({ W: [[1, 0]], B: [[1]], xs: [[1]], p: 1, gradLast: [1] }),
      nb.ShapeError,
    );
  });
});

describe('lab.gradientNormsThroughTime', () => {
  for (const [p, rho] of [
    [1, 0.5],
    [0.5, 1],
    [0.1, 1.5],
  ] as const) {
    test(`Elman p = ${p}, ρ = ${rho}: hook-read norms equal the closed form`, () => {
      const s = setup(rho, p, 7);
      const norms = nb.lab.gradientNormsThroughTime(s.model, s.x, s.loss, { module: s.rnn });
      assert.equal(norms.length, T);
      const [, hN] = s.model.forward(s.x);
      const cf = nb.lab.elmanBptt({
        W: s.W,
        B: s.B,
        xs: s.xs,
        v0: s.v0,
        p,
        gradLast: hN.reshape([n]).add(s.c).detach(),
      });
      assert.ok(relErr(norms, cf.gradNorms) < 1e-9, `${norms} vs ${cf.gradNorms}`);
      // No side effect on the parameters' gradients.
      assert.equal(s.rnn.weightHhL0.grad, null);
    });
  }

  test('fitted growth rate: exactly ρ for the linear network, within [pρ, ρ] for the leaky one', () => {
    for (const rho of [0.5, 1, 1.5]) {
      const lin = setup(rho, 1, 11);
      const normsLin = nb.lab.gradientNormsThroughTime(lin.model, lin.x, lin.loss, {
        module: lin.rnn,
      });
      assert.ok(Math.abs(nb.lab.fitGrowthRate(normsLin) - rho) < 1e-9 * rho);
      const p = 0.3;
      const leaky = setup(rho, p, 12);
      const r = nb.lab.fitGrowthRate(
        nb.lab.gradientNormsThroughTime(leaky.model, leaky.x, leaky.loss, { module: leaky.rnn }),
      );
      assert.ok(r >= p * rho - 1e-12 && r <= rho + 1e-12, `rate ${r} outside [${p * rho}, ${rho}]`);
    }
    assert.ok(Math.abs(nb.lab.fitGrowthRate([8, 4, 2, 1]) - 2) < 1e-12);
  });

  test('LSTM inside a user model: the last step carries the loss gradient; grads restored', () => {
    nb.manualSeed(3);
    class Model extends nb.nn.Module {
      lstm = new nb.nn.LSTM(2, 5, { numLayers: 2, batchFirst: true });
      head = new nb.nn.Linear(5, 1);
      forward(x: nb.Tensor): nb.Tensor {
        const [out] = this.lstm.forward(x);
        return this.head.forward(out.select(1, -1)); // (B, 1) from the last step
      }
    }
    const model = new Model();
    const x = nb.randn([3, 8, 2]);
    const norms = nb.lab.gradientNormsThroughTime(model, x, (y) => y.sum());
    assert.equal(norms.length, 8);
    // ∂l/∂h_T = head.weight for each of the 3 sequences: norm √3·‖w‖.
    const w = model.head.weight.square().sum().sqrt().item();
    assert.ok(Math.abs(norms[7]! - Math.sqrt(3) * w) < 1e-5);
    assert.ok(norms.every((v) => v > 0 && Number.isFinite(v)));
    assert.ok(model.parameters().every((p) => p.grad === null));
    // keepGrads leaves the backward's gradients in place.
    nb.lab.gradientNormsThroughTime(model, x, (y) => y.sum(), { keepGrads: true, layer: 0 });
    assert.ok(model.parameters().every((p) => p.grad !== null));
  });

  test('GRU, reverse direction: the first position is the reverse direction’s last step', () => {
    nb.manualSeed(4);
    const gru = new nb.nn.GRU(2, 4, { bidirectional: true });
    const x = nb.randn([6, 2, 2]);
    // Loss on the reverse direction's output at t = 0 (its final step).
    const norms = nb.lab.gradientNormsThroughTime(
      gru,
      x,
      ([out]) => out.select(0, 0).narrow(-1, 4, 4).sum(),
      { direction: 1 },
    );
    assert.ok(Math.abs(norms[0]! - Math.sqrt(8)) < 1e-6); // ∂l/∂h = ones (2, 4)
    assert.ok(norms.slice(1).every((v) => v > 0));
    assert.throws(
      () => nb.lab.gradientNormsThroughTime(new nb.nn.Linear(2, 2), x, (y) => y.sum()),
      nb.ValueError,
    );
  });
});
