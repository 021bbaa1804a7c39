/**
 * The attention-cost experiment's time and memory against T: the naive attention's peak memory
 * grows like T² (its score matrices), the fused attention's like T, and both appear in the plots.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

describe('attentionScaling', () => {
  const Ts = [64, 128, 256];
  const s = nb.lab.attentionScaling({ Ts, d: 16, D: 16, M: 8, repeats: 1 });

  test('measures the fused attention beside the naive one at the same lengths', () => {
    assert.ok(s.fused !== null);
    assert.deepEqual(
      s.fused.rows.map((r) => r.T),
      Ts,
    );
    for (const r of s.fused.rows) assert.ok(r.timeMs > 0 && r.peakBytes > 0);
  });

  test('naive memory grows like T², fused memory like T', () => {
    const naive = s.rows.map((r) => r.peakBytes);
    const fused = s.fused!.rows.map((r) => r.peakBytes);
    // Doubling T: about ×4 for the naive attention (its T×T matrices dominate), ×2 for the fused.
    assert.ok(naive[2]! / naive[1]! > 3, `naive ${naive}`);
    assert.ok(fused[2]! / fused[1]! < 2.2, `fused ${fused}`);
    for (let i = 0; i < Ts.length; i++) {
      // The fused attention never holds one T×T float32 matrix.
      assert.ok(fused[i]! < s.rows[i]!.scoreMatrixBytes, `T = ${Ts[i]}: ${fused[i]} B`);
    }
    // The naive fit's T² coefficient is 4 bytes per float32 score matrix; the fused one has none.
    assert.ok(s.memoryFit.a >= 4);
    assert.ok(Math.abs(s.fused!.memoryFit.a) < 0.01, `fused a = ${s.fused!.memoryFit.a}`);
  });

  test('fused: false measures only the naive attention', () => {
    const n = nb.lab.attentionScaling({
      Ts: [16, 32, 48],
      d: 8,
      D: 8,
      M: 8,
      repeats: 1,
      fused: false,
    });
    assert.equal(n.fused, null);
  });

  test('the time and memory plots show both attentions', () => {
    for (const spec of [nb.lab.attentionTimeSpec(s), nb.lab.attentionMemorySpec(s)]) {
      const text = JSON.stringify(spec);
      assert.ok(text.includes('naive attention'));
      assert.ok(text.includes('fused attention'));
    }
  });
});
