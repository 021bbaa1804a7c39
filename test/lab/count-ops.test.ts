/**
 * nb.lab.countOps: exact per-kernel formulas (matmul (Bt, M, K)·(Bt, K, N) = Bt·M·N·K
 * multiplications and Bt·M·N·(K − 1) additions; elementwise per element; reductions r − 1 per
 * output), attribution to ops forward and backward, labels, nesting and restoring the kernels; and
 * THEORY.md §1's exact counts for self-attention: Q·Kᵀ takes B·T²·D multiplications, softmax·V
 * takes B·T²·M, the projections B·T·d·(2D + M), over a grid of (T, D, M, d, B), and the same for
 * MultiheadAttention (H heads of size E/H: B·T²·E per product).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const { countOps, labelOps } = nb.lab;

describe('countOps: per-kernel formulas', () => {
  test('matmul: 2-D, batched, broadcast batch, 1-D operands', () => {
    const cases: [number[], number[], number, number][] = [
      // [a shape, b shape, mul, add]
      [[3, 4], [4, 5], 3 * 5 * 4, 3 * 5 * 3],
      [[2, 3, 4], [2, 4, 5], 2 * 3 * 5 * 4, 2 * 3 * 5 * 3],
      [[2, 3, 4], [4, 5], 2 * 3 * 5 * 4, 2 * 3 * 5 * 3], // folded into one (6, 4)·(4, 5)
      [[2, 1, 3, 4], [5, 4, 2], 2 * 5 * 3 * 2 * 4, 2 * 5 * 3 * 2 * 3], // broadcast batch
      [[7], [7], 7, 6], // dot product
      [[3, 7], [7], 21, 18],
      [[4, 1], [1, 6], 24, 0], // K = 1: no additions
    ];
    for (const [sa, sb, mul, add] of cases) {
      const a = nb.randn(sa);
      const b = nb.randn(sb);
      const r = countOps(() => a.matmul(b));
      assert.deepEqual(r.forward.matmul, { mul, add, other: 0, calls: 1 }, `${sa} @ ${sb}`);
      assert.deepEqual(Object.keys(r.backward), []);
    }
  });

  test('elementwise ops count per output element, after broadcasting', () => {
    const x = nb.randn([3, 4]);
    const row = nb.randn([4]);
    const r = countOps(() => x.add(row).mul(2).exp().sub(x).square().div(x).relu());
    assert.deepEqual(r.forward.add, { mul: 0, add: 12, other: 0, calls: 1 });
    assert.deepEqual(r.forward.mul, { mul: 12, add: 0, other: 0, calls: 1 });
    assert.deepEqual(r.forward.exp, { mul: 0, add: 0, other: 12, calls: 1 });
    assert.deepEqual(r.forward.sub, { mul: 0, add: 12, other: 0, calls: 1 });
    assert.deepEqual(r.forward.square, { mul: 12, add: 0, other: 0, calls: 1 });
    assert.deepEqual(r.forward.div, { mul: 0, add: 0, other: 12, calls: 1 });
    assert.deepEqual(r.forward.relu, { mul: 0, add: 0, other: 12, calls: 1 });
  });

  test('reductions: r − 1 operations per output', () => {
    const x = nb.randn([3, 4, 5]);
    const r = countOps(() => [x.sum(), x.sum(1), x.max(-1), x.mean([0, 2]), x.argmax(0)]);
    const sums = r.events.filter((e) => e.kernel === 'reduce:sum').map((e) => e.add);
    // sum(): 1 output of 60; sum(1): 15 outputs of 4; mean([0, 2]): 4 outputs of 15.
    assert.deepEqual(sums, [59, 15 * 3, 4 * 14]);
    assert.equal(r.events.find((e) => e.kernel === 'reduce:max')!.other, 12 * 4);
    assert.equal(r.events.find((e) => e.kernel === 'argReduce:argmax')!.other, 20 * 2);
    // mean = sum, then one division per output.
    assert.ok(r.events.some((e) => e.kernel === 'binary:div' && e.other === 4));
  });

  test('copies are renamed after the op that records them; data movement costs nothing', () => {
    const a = nb.randn([2, 3]);
    const b = nb.randn([4, 3]);
    const r = countOps(() => [nb.cat([a, b], 0), a.T.contiguous(), a.clone()]);
    assert.deepEqual(r.forward.cat, { mul: 0, add: 0, other: 0, calls: 2 });
    assert.equal(r.totals.forward.mul + r.totals.forward.add + r.totals.forward.other, 0);
    assert.equal(r.forward.copy, undefined);
  });

  test('totals are the sums of the tables', () => {
    const w = nb.randn([5, 3], { requiresGrad: true });
    const x = nb.randn([4, 5]);
    const r = countOps(() => x.matmul(w).tanh().square().mean().backward());
    for (const phase of ['forward', 'backward'] as const) {
      const table = Object.values(r[phase]);
      for (const k of ['mul', 'add', 'other', 'calls'] as const) {
        assert.equal(
          table.reduce((s, c) => s + c[k], 0),
          r.totals[phase][k],
        );
      }
    }
    assert.equal(r.totals.all.mul, r.totals.forward.mul + r.totals.backward.mul);
    assert.equal(r.events.length, r.totals.all.calls);
  });
});

describe('countOps: attribution', () => {
  test('backward kernels are counted under the op whose gradient they compute', () => {
    const x = nb.randn([4, 3], { requiresGrad: true });
    const w = nb.randn([3, 5], { requiresGrad: true });
    const r = countOps(() => x.matmul(w).sum().backward());
    assert.deepEqual(r.forward.matmul, { mul: 60, add: 40, other: 0, calls: 1 });
    // g·wᵀ (4, 5)·(5, 3) and xᵀ·g (3, 4)·(4, 5).
    assert.deepEqual(r.backward.matmul, {
      mul: 60 + 60,
      add: 4 * 3 * 4 + 3 * 5 * 3,
      other: 0,
      calls: 2,
    });
    assert.ok(r.backward.accumulate!.calls > 0); // seeding and .grad accumulation
    assert.equal(r.backward.sum, undefined); // sum's backward is a broadcast view: no kernel
  });

  test('labelOps prefixes forward and backward ops, and nests', () => {
    const x = nb.randn([2, 3]);
    const w = nb.randn([3, 3], { requiresGrad: true });
    const r = countOps(() => {
      const h = labelOps('outer', () => labelOps('inner', () => x.matmul(w)));
      labelOps('loss', () => h.square().sum()).backward();
    });
    assert.equal(r.forward['outer/inner/matmul']!.mul, 18);
    assert.equal(r.backward['outer/inner/matmul']!.mul, 18); // only w needs a gradient
    assert.ok(r.forward['loss/square']);
    assert.ok(r.backward['loss/square']);
    assert.equal(
      labelOps('x', () => 42),
      42,
    ); // without a count it only runs fn
  });

  test('nested counts: the inner sees its calls, the outer all; kernels are restored', () => {
    const table = nb.getBackend().kernels;
    const original = table.matmul;
    const a = nb.randn([2, 2]);
    let inner: nb.lab.OpCountReport<nb.Tensor> | null = null;
    const outer = countOps(() => {
      a.matmul(a);
      inner = countOps(() => a.matmul(a));
      assert.notEqual(table.matmul, original);
    });
    assert.equal(inner!.forward.matmul!.calls, 1);
    assert.equal(outer.forward.matmul!.calls, 2);
    assert.equal(table.matmul, original);
    assert.throws(
      () =>
        countOps(() => {
          throw new nb.ValueError('boom');
        }),
      nb.ValueError,
    );
    assert.equal(table.matmul, original);
    assert.throws(() => countOps(() => Promise.resolve(1)), nb.ValueError);
  });
});

describe('countOps: THEORY.md §1 attention costs', () => {
  test('Q·Kᵀ = B·T²·D, softmax·V = B·T²·M, projections = B·T·d·(2D + M), exactly', () => {
    let n = 0;
    for (const T of [1, 2, 3, 5, 8, 13])
      for (const D of [1, 2, 7])
        for (const M of [1, 3, 4])
          for (const d of [1, 5])
            for (const batch of [1, 2]) {
              for (const causal of T === 5 ? [false, true] : [false]) {
                const c = nb.lab.selfAttentionCost({ T, D, M, d, batch, causal, seed: n });
                const where = JSON.stringify({ T, D, M, d, batch, causal });
                assert.equal(c.qk.mul, batch * T * T * D, where);
                assert.equal(c.qk.add, batch * T * T * (D - 1), where);
                assert.equal(c.av.mul, batch * T * T * M, where);
                assert.equal(c.av.add, batch * T * M * (T - 1), where);
                assert.equal(c.projections.mul, batch * T * d * (2 * D + M), where);
                assert.equal(c.projections.add, batch * T * (2 * D + M) * (d - 1), where);
                n++;
              }
            }
    assert.equal(n, 6 * 3 * 3 * 2 * 2 + 3 * 3 * 2 * 2);
  });

  test('MultiheadAttention: in-projection, then B·T²·E for each attention product, then out-projection', () => {
    for (const [N, T, E, H] of [
      [1, 4, 8, 2],
      [2, 5, 12, 3],
      [3, 7, 8, 8],
    ] as const) {
      const mha = new nb.nn.MultiheadAttention({ embedDim: E, numHeads: H, batchFirst: true });
      const x = nb.randn([N, T, E]);
      // With weights: the composite attention, two batched products.
      const r = countOps(() => mha.forward(x, x, x, { needWeights: true }));
      const muls = r.events.filter((e) => e.kernel === 'matmul').map((e) => e.mul);
      const D = E / H;
      assert.deepEqual(muls, [
        N * T * E * 3 * E,
        N * H * T * T * D,
        N * H * T * T * D,
        N * T * E * E,
      ]);
      assert.equal(N * H * T * T * D, N * T * T * E);
      // Without weights: one fused kernel doing both products' multiplications.
      const f = countOps(() => mha.forward(x, x, x, { needWeights: false }));
      const fused = f.events.filter((e) => e.kernel !== 'matmul' && e.mul > 0);
      assert.deepEqual(
        fused.map((e) => [e.kernel, e.mul]),
        [['attentionForward', 2 * N * H * T * T * D]],
      );
    }
  });

  test('the backward of attention costs two products per forward product', () => {
    const c = nb.lab.selfAttentionCost({ T: 6, d: 5, D: 3, M: 4, backward: true });
    // Q·Kᵀ: dQ = G·K (T·T·D), dK = Gᵀ·Q (T·T·D); A·V: dA = G·Vᵀ (T·M·T), dV = Aᵀ·G (T·T·M).
    assert.equal(c.backward['attention/matmul']!.mul, 2 * 36 * 3 + 2 * 36 * 4);
    // Projections: dW = Xᵀ·G per weight (x needs no gradient).
    assert.equal(c.backward['projections/matmul']!.mul, 6 * 5 * (3 + 3 + 4));
  });
});
