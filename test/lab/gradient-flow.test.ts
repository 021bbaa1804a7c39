/**
 * THEORY.md §3, gradient flow through time (src/lab/gradient-flow.ts). With W_hh = ρ·Q, Q
 * orthogonal, each step back multiplies ‖∂l_T/∂v_t‖ by ρ·‖g·D_t‖/‖g‖ ∈ [ρ·min φ′, ρ·max φ′], and
 * the fitted rate (a non-negatively weighted average of the per-step log-factors) lies in the same
 * interval. What is asserted, all in float64:
 * - linear φ (leaky slope p = 1): every per-step factor and the fitted rate equal ρ to 1e-10
 *   relative (rounding only);
 * - leaky ReLU with slope p and mixed signs: every factor and the rate within [p·ρ, ρ], with both
 *   branches of φ exercised; with one-signed pre-activations (W = ρ·P, P a permutation, and
 *   inputs of one sign) exactly ρ (all positive) or p·ρ (all negative);
 * - ReLU within [0, ρ] and tanh within (0, ρ];
 * - truncated BPTT with window k: gradients exactly zero beyond the window, bit-identical to full
 *   BPTT inside it;
 * - clipGradNorm multiplies every parameter gradient — the sum of the per-step terms — by one
 *   factor c = maxNorm/(‖∂l/∂θ‖ + 1e-6), so every step's term and the profile's rate are scaled
 *   alike (the rate unchanged);
 * - the LSTM's rate at initialisation grows with its forget-gate bias;
 * - the gradient-flow report (quick) has its tables and plots, and the plots render.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { renderSvg } from '../../src/lab/node/render.js';

const small = { hiddenSize: 16, steps: 32, batch: 4 } as const;
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

function assertFactorsIn(r: nb.lab.ElmanFlowResult, lo: number, hi: number, eps = 1e-12): void {
  for (const f of [r.rate, ...r.stepFactors]) {
    assert.ok(
      f >= lo * (1 - eps) && f <= hi * (1 + eps),
      `${r.label}, ρ = ${r.rho}: factor ${f} outside [${lo}, ${hi}]`,
    );
  }
}

describe('lab.scaledOrthogonal', () => {
  test('W·Wᵀ = ρ²·I, for Haar Q and for permutations (non-negative)', () => {
    for (const permutation of [false, true]) {
      const W = nb.lab.scaledOrthogonal(12, 0.7, { generator: new nb.Generator(1), permutation });
      const WWt = Array.from(W.matmul(W.mT).dataSync());
      WWt.forEach((v, k) => {
        const want = k % 13 === 0 ? 0.49 : 0;
        assert.ok(Math.abs(v - want) < 1e-12, `entry ${k}: ${v}`);
      });
      if (permutation) assert.ok(Array.from(W.dataSync()).every((v) => v === 0 || v === 0.7));
    }
  });
});

describe('lab.elmanGradientFlow: rates against THEORY.md §3', () => {
  test('linear φ: every step back multiplies the gradient norm by exactly ρ', () => {
    for (const rho of [0.5, 0.9, 1, 1.1, 1.5]) {
      const r = nb.lab.elmanGradientFlow({ ...small, activation: 'linear', rho, seed: 3 });
      assert.equal(r.exact, rho);
      assert.ok(rel(r.rate, rho) < 1e-10, `ρ = ${rho}: rate ${r.rate}`);
      for (const f of r.stepFactors) assert.ok(rel(f, rho) < 1e-10, `ρ = ${rho}: factor ${f}`);
      if (rho !== 1) assert.equal(r.rate < 1, rho < 1); // vanishing below 1, exploding above
    }
  });

  test('leaky ReLU: within [p·ρ, ρ] with mixed signs; exactly ρ or p·ρ with one sign', () => {
    for (const p of [0.1, 0.5]) {
      for (const rho of [0.8, 1.2]) {
        const opts = { ...small, activation: 'leaky_relu', slope: p, rho, seed: 5 } as const;
        const mixed = nb.lab.elmanGradientFlow(opts);
        // Not vacuous: both branches of φ occur, so D_τ mixes 1 and p.
        assert.equal(mixed.derivative.min, p);
        assert.equal(mixed.derivative.max, 1);
        assertFactorsIn(mixed, p * rho, rho);
        assert.ok(mixed.rate > p * rho * 1.01 && mixed.rate < rho * 0.99);
        const pos = nb.lab.elmanGradientFlow({ ...opts, signs: 'positive' });
        assert.equal(pos.derivative.min, 1);
        assert.ok(rel(pos.rate, rho) < 1e-10, `all positive: ${pos.rate} vs ${rho}`);
        for (const f of pos.stepFactors) assert.ok(rel(f, rho) < 1e-10);
        const neg = nb.lab.elmanGradientFlow({ ...opts, signs: 'negative' });
        assert.equal(neg.derivative.max, p);
        assert.ok(rel(neg.rate, p * rho) < 1e-10, `all negative: ${neg.rate} vs ${p * rho}`);
        for (const f of neg.stepFactors) assert.ok(rel(f, p * rho) < 1e-10);
      }
    }
  });

  test('ReLU within [0, ρ], tanh within (0, ρ]; tanh saturation damps explosion', () => {
    for (const rho of [0.7, 1.3]) {
      const relu = nb.lab.elmanGradientFlow({ ...small, activation: 'relu', rho, seed: 2 });
      assertFactorsIn(relu, 0, rho);
      const tanh = nb.lab.elmanGradientFlow({ ...small, activation: 'tanh', rho, seed: 2 });
      assert.ok(tanh.derivative.min > 0 && tanh.derivative.max <= 1);
      assertFactorsIn(tanh, rho * tanh.derivative.min, rho * tanh.derivative.max);
    }
    const big = nb.lab.elmanGradientFlow({ ...small, activation: 'tanh', rho: 2, seed: 2 });
    assert.ok(big.rate < 2 * 0.8, `tanh at ρ = 2: rate ${big.rate}`);
  });

  test('truncated BPTT: exactly zero beyond the window, unchanged inside it', () => {
    for (const [T, k, window] of [
      [32, 8, 8],
      [30, 8, 6], // the loss sits in the last chunk: T mod k steps
    ] as const) {
      const r = nb.lab.elmanGradientFlow({
        ...small,
        steps: T,
        activation: 'tanh',
        rho: 1.1,
        truncate: k,
      });
      const tr = r.truncation!;
      assert.equal(tr.window, window);
      assert.equal(tr.nonZero, window);
      tr.norms.forEach((v, i) => {
        if (i < T - window) assert.equal(v, 0, `t = ${i + 1}`);
        else assert.equal(v, r.norms[i], `t = ${i + 1}`);
      });
      assert.ok(r.norms.every((v) => v > 0)); // full BPTT reaches every step
    }
  });

  test('clipping scales every step’s gradient by the same factor', () => {
    for (const [activation, rho, maxNorm] of [
      ['linear', 1.2, 1],
      ['leaky_relu', 0.9, 0.5],
      ['tanh', 1.5, 2],
    ] as const) {
      const r = nb.lab.elmanGradientFlow({ ...small, activation, rho, clip: maxNorm, seed: 9 });
      const c = r.clip!;
      assert.ok(c.totalNorm > maxNorm, 'the case must actually clip');
      assert.ok(rel(c.coefficient, maxNorm / (c.totalNorm + 1e-6)) < 1e-15);
      // ∂l/∂W_hh is exactly the sum of the steps' terms D_t (∂l/∂v_t)ᵀ v_{t−1}ᵀ ...
      assert.ok(c.decompositionError < 1e-12, `decomposition ${c.decompositionError}`);
      // ... and after clipping every parameter entry is c times its old value.
      assert.ok(c.maxScaleDeviation < 1e-14, `deviation ${c.maxScaleDeviation}`);
      c.norms.forEach((v, i) => assert.ok(rel(v, c.coefficient * r.norms[i]!) < 1e-15));
      assert.ok(rel(c.rate, r.rate) < 1e-12, 'clipping leaves the rate alone');
      assert.equal(c.stepTerms.length, small.steps);
      assert.equal(c.stepTerms[0], 0); // v_0 = 0
    }
    // Below the threshold nothing changes.
    const r = nb.lab.elmanGradientFlow({ ...small, activation: 'linear', rho: 0.5, clip: 1e9 });
    assert.equal(r.clip!.coefficient, 1);
    assert.deepEqual(r.clip!.norms, r.norms);
  });

  test('checks its options', () => {
    assert.throws(
      () => nb.lab.elmanGradientFlow({ activation: 'leaky_relu', slope: 2, rho: 1 }),
      nb.ValueError,
    );
    assert.throws(
      () => nb.lab.elmanGradientFlow({ activation: 'linear', rho: 1, steps: 1 }),
      nb.ValueError,
    );
    assert.throws(
      () => nb.lab.elmanGradientFlow({ activation: 'relu', rho: 1, signs: 'negative' }),
      nb.ValueError,
    );
    assert.throws(
      () => nb.lab.elmanGradientFlow({ activation: 'linear', rho: 1, truncate: 0 }),
      nb.ValueError,
    );
    assert.throws(() => nb.lab.scaledOrthogonal(4, -1), nb.ValueError);
  });
});

describe('lab.recallGradientFlow: gated cells', () => {
  test('the LSTM passes more gradient back per step the larger its forget-gate bias', () => {
    const rates = [0, 1, 3].map(
      (forgetBias) =>
        nb.lab.recallGradientFlow({ cell: { kind: 'lstm', forgetBias }, distance: 20, seed: 1 })
          .rate,
    );
    assert.ok(rates[0]! < rates[1]! && rates[1]! < rates[2]!, `${rates}`);
    const rnn = nb.lab.recallGradientFlow({ cell: { kind: 'rnn' }, distance: 20, seed: 1 });
    assert.ok(rnn.rate < rates[2]!);
    assert.equal(rnn.norms.length, 21);
    assert.equal(rnn.accuracy, null);
  });
});

describe('gradient-flow report', () => {
  test('quick run: tables, findings and plots that render', async () => {
    const report = nb.lab.runLabExperiment('gradient-flow', { quick: true });
    assert.equal(report.id, 'gradient-flow');
    assert.equal(report.tables.length, 3);
    assert.deepEqual(
      report.plots.map((p) => p.id),
      [
        'gradient-flow-profiles',
        'gradient-flow-rates',
        'gradient-flow-slope',
        'gradient-flow-clip-truncate',
        'gradient-flow-gated',
      ],
    );
    // Every run of the sweep is within its interval.
    const rates = report.tables[0]!;
    assert.ok(rates.rows.length >= 6 * 5);
    assert.ok(rates.rows.every((r) => r[r.length - 1] === '✓'));
    assert.deepEqual(JSON.parse(JSON.stringify(report.data)), report.data);
    const svg = await renderSvg(report.plots[1]!.spec);
    assert.match(svg, /^<svg/);
    assert.ok(svg.includes('p·ρ (bound, p = 0.5)'));
  });
});
