/**
 * THEORY.md §1, positional encoding, on nabla's own float64 table: for every offset k there is one
 * block-diagonal rotation R_k (a 2×2 rotation by k·ω_i per (sin, cos) pair) with
 * PE[pos + k] = R_k·PE[pos] for every pos (max residual < 1e-9; it is ~1e-14, the rounding of
 * sin/cos), and PE[pos]·PE[pos + k] depends only on k: its spread over pos is < 1e-9 and its
 * value is Σ_i cos(k·ω_i).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

describe('positional encoding instruments', () => {
  test('peTable is nn.sinusoidalPositionalEncoding in float64', () => {
    const t = nb.lab.peTable(12, 6);
    const ref = nb.nn.sinusoidalPositionalEncoding(12, 6, 'float64').toArray() as number[][];
    assert.deepEqual(t.rows, ref);
    assert.deepEqual(t.rows[0], [0, 1, 0, 1, 0, 1]);
  });

  test('PE[pos + k] = R_k·PE[pos] for every k and pos, R_k orthogonal (max residual < 1e-9)', () => {
    for (const [maxLen, d] of [
      [200, 64],
      [100, 2],
      [128, 128],
      [60, 10],
    ] as const) {
      const r = nb.lab.peRotationCheck(maxLen, d);
      assert.equal(r.perOffset.length, maxLen - 1); // every k = 1 … maxLen − 1
      assert.ok(r.maxResidual < 1e-9, `maxLen ${maxLen}, d ${d}: ${r.maxResidual}`);
      assert.ok(r.maxOrthogonalityError < 1e-12);
    }
    assert.equal(nb.lab.peRotationCheck(10, 4, [0]).maxResidual, 0); // R_0 = I
  });

  test('R_k is block-diagonal: a rotation by k·ω_i in each (sin, cos) pair', () => {
    const d = 8;
    const k = 3;
    const R = nb.lab.peRotation(d, k);
    const w = nb.lab.peFrequencies(d);
    for (let r = 0; r < d; r++) {
      for (let c = 0; c < d; c++) {
        const i = r >> 1;
        if (c >> 1 !== i) {
          assert.equal(R[r]![c], 0);
          continue;
        }
        const a = k * w[i]!;
        const want = [
          [Math.cos(a), Math.sin(a)],
          [-Math.sin(a), Math.cos(a)],
        ][r % 2]![c % 2]!;
        assert.equal(R[r]![c], want);
      }
    }
  });

  test('a wrong rotation is detected (the check is not vacuous)', () => {
    // Offsets k with R_{k+1} in place of R_k: PE[pos + k] ≠ R_{k+1}·PE[pos].
    const { rows } = nb.lab.peTable(20, 8);
    const R = nb.lab.peRotation(8, 4);
    const y = R.map((row) => row.reduce((s, v, j) => s + v * rows[5]![j]!, 0));
    const err = Math.max(...y.map((v, j) => Math.abs(v - rows[8]![j]!)));
    assert.ok(err > 0.1);
  });

  test('PE[pos]·PE[pos + k] depends only on k and equals Σ_i cos(k·ω_i)', () => {
    for (const [maxLen, d] of [
      [256, 64],
      [64, 16],
    ] as const) {
      const rows = nb.lab.peSimilarity(maxLen, d, maxLen - 1);
      assert.equal(rows.length, maxLen);
      assert.equal(rows[0]!.mean, d / 2);
      for (const r of rows) {
        assert.ok(r.spread < 1e-9, `k = ${r.k}: spread over pos ${r.spread}`);
        assert.ok(Math.abs(r.mean - r.predicted) < 1e-9, `k = ${r.k}`);
      }
      // Similarity is largest at k = 0.
      assert.ok(rows.slice(1).every((r) => r.mean < rows[0]!.mean));
    }
  });

  test('errors are typed', () => {
    assert.throws(() => nb.lab.peSimilarity(10, 5, 3), nb.ValueError); // odd d: no pairs
    assert.throws(() => nb.lab.peSimilarity(10, 4, 10), nb.ValueError);
    assert.throws(() => nb.lab.peRotationCheck(10, 4, [10]), nb.ValueError);
    assert.throws(() => nb.lab.peRotation(7, 1), nb.ValueError);
    assert.throws(() => nb.lab.peTable(0, 4), nb.ValueError);
  });
});
