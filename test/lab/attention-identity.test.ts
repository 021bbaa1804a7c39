/**
 * THEORY.md §1, attention as a weighted average: row i of the attention output equals
 * Σ_j softmax_j(q_i·k_j/√D)·v_j = Σ_j exp(q_i·k_j/√D)·v_j / Σ_r exp(q_i·k_r/√D), computed by hand
 * in float64 loops (nb.lab.attentionByHand / multiheadAttentionByHand), against
 * scaledDotProductAttention and MultiheadAttention in float64, with no mask, a causal mask, key
 * padding, random boolean masks (fully masked rows give zeros) and both layouts of MHA. The
 * library computes the max-shifted softmax, the hand version the formula as written, so the two
 * agree to rounding (1e-12 here).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const TOL = 1e-12;
const dtype = 'float64' as const;

describe('attention identity', () => {
  test('attentionIdentityCheck: SDPA and MHA against the hand computation, every mask', () => {
    for (const seed of [0, 1, 2]) {
      const rows = nb.lab.attentionIdentityCheck({ seed, T: 5 + seed, pad: 1 + seed });
      assert.equal(rows.length, 8);
      for (const r of rows) assert.ok(r.maxAbsError < TOL, `${r.api} ${r.mask}: ${r.maxAbsError}`);
    }
  });

  test('scaledDotProductAttention with random boolean masks, D ≠ M, L ≠ S', () => {
    const g = new nb.Generator(3);
    for (const [B, L, S, D, M] of [
      [1, 4, 4, 3, 5],
      [3, 5, 7, 2, 4],
      [2, 6, 3, 8, 1],
    ] as const) {
      const q = nb.randn([B, L, D], { generator: g, dtype });
      const k = nb.randn([B, S, D], { generator: g, dtype });
      const v = nb.randn([B, S, M], { generator: g, dtype });
      // true = may attend; query 0 of entry 0 sees no key at all.
      const a = nb.rand([B, L, S], { generator: g }).lt(0.6).toArray() as boolean[][][];
      a[0]![0] = new Array<boolean>(S).fill(false);
      const allowed = nb.tensor(a, { dtype: 'bool' });
      const lib = nb.nn.scaledDotProductAttention(q, k, v, { attnMask: allowed });
      const hand = nb.lab.attentionByHand(q, k, v, { allowed: (b, i, j) => a[b]![i]![j]! });
      assert.deepEqual(lib.shape, hand.shape);
      assert.ok(nb.lab.maxAbsDiff(lib.dataSync(), hand.values) < TOL);
      // A query with no visible key gives a zero row in both.
      for (let b = 0; b < B; b++)
        for (let i = 0; i < L; i++) {
          if (a[b]![i]!.some((x) => x)) continue;
          for (let e = 0; e < M; e++) assert.equal(hand.values[(b * L + i) * M + e], 0);
        }
    }
  });

  test('the weights are a softmax: each visible row of weights sums to 1 and weights ≥ 0', () => {
    const g = new nb.Generator(4);
    const q = nb.randn([2, 5, 3], { generator: g, dtype });
    const [, w] = nb.nn.scaledDotProductAttentionWithWeights(q, q, q, { isCausal: true });
    const rows = w.sum(-1).dataSync();
    for (const s of rows) assert.ok(Math.abs(s - 1) < TOL);
    for (const x of w.dataSync()) assert.ok(x >= 0);
  });

  test('MultiheadAttention (seq-first layout, biases) with causal and padding masks', () => {
    const g = new nb.Generator(5);
    const [T, N, E, H] = [6, 3, 12, 3];
    const mha = new nb.nn.MultiheadAttention({ embedDim: E, numHeads: H, dtype });
    nb.noGrad(() => {
      nb.nn.init.normal_(mha.inProjBias!, 0, 0.3, g);
      nb.nn.init.normal_(mha.outProj.bias!, 0, 0.3, g);
    });
    const x = nb.randn([T, N, E], { generator: g, dtype }); // (T, N, E)
    const pad = [
      [false, false, false, false, false, false],
      [false, false, false, false, true, true],
      [false, true, false, true, false, true],
    ];
    for (const causal of [false, true]) {
      for (const usePad of [false, true]) {
        const [y] = mha.forward(x, x, x, {
          isCausal: causal,
          keyPaddingMask: usePad ? nb.tensor(pad, { dtype: 'bool' }) : null,
          needWeights: false,
        });
        const hand = nb.lab.multiheadAttentionByHand(mha, x, {
          causal,
          keyPaddingMask: usePad ? pad : undefined,
        });
        assert.deepEqual(y.shape, hand.shape);
        const err = nb.lab.maxAbsDiff(y.dataSync(), hand.values);
        assert.ok(err < TOL, `causal ${causal}, padding ${usePad}: ${err}`);
      }
    }
  });

  test('errors are typed', () => {
    const q = nb.randn([2, 3]);
    assert.throws(() => nb.lab.attentionByHand(q, nb.randn([2, 4]), q), nb.ShapeError);
    assert.throws(() => nb.lab.maxAbsDiff([1], [1, 2]), nb.ShapeError);
    assert.throws(() => nb.lab.attentionIdentityCheck({ T: 3, pad: 3 }), nb.ValueError);
  });
});
