/**
 * nb.nn.utils.clipGradNorm / clipGradValue against PyTorch's clip_grad_norm_ / clip_grad_value_
 * (fixtures from scripts/fixtures/gen_rnn.py, float32): norm types 2, 1, 3 and Infinity, with and
 * without clipping. Returned norms and clipped gradients must agree to 1e-6 relative (float32
 * rounding); the clip coefficient is rounded as PyTorch rounds it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as nb from '../../src/index.js';
import { assertClose } from '../core/helpers.js';

interface Encoded {
  shape: number[];
  data: number[];
}
interface ClipCase {
  name: string;
  fn: 'clipGradNorm' | 'clipGradValue';
  maxNorm?: number;
  clipValue?: number;
  normType?: number | 'inf';
  grads: Encoded[];
  total?: number;
  clipped: Encoded[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/rnn.json', import.meta.url), 'utf8'),
) as { clip: ClipCase[] };

function paramsWithGrads(grads: Encoded[]): nb.nn.Parameter[] {
  return grads.map((g) => {
    const p = new nb.nn.Parameter(nb.zeros(g.shape));
    p.grad = nb.tensor(Float32Array.from(g.data), { shape: g.shape });
    return p;
  });
}

describe('gradient clipping matches PyTorch', () => {
  test('the fixture covers norm types 2, 1 and Infinity, clipping and not', () => {
    const types = new Set(fixture.clip.map((c) => c.normType));
    for (const t of [2, 1, 'inf'] as const) assert.ok(types.has(t));
    assert.ok(fixture.clip.some((c) => c.fn === 'clipGradValue'));
  });

  for (const c of fixture.clip) {
    test(c.name, () => {
      const params = paramsWithGrads(c.grads);
      if (c.fn === 'clipGradNorm') {
        const normType = c.normType === 'inf' ? Infinity : c.normType!;
        const total = nb.nn.utils.clipGradNorm(params, c.maxNorm!, normType);
        assert.ok(
          Math.abs(total - c.total!) <= 1e-6 * Math.abs(c.total!),
          `total norm ${total}, PyTorch ${c.total}`,
        );
      } else {
        nb.nn.utils.clipGradValue(params, c.clipValue!);
      }
      params.forEach((p, i) => {
        const e = c.clipped[i]!;
        assertClose(p.grad!, nb.tensor(e.data, { shape: e.shape }), 1e-7, 1e-6);
      });
    });
  }
});

describe('gradient clipping: semantics', () => {
  test("normType 'inf' is Infinity, and a lone tensor is accepted", () => {
    const [a] = paramsWithGrads([{ shape: [3], data: [1, -4, 2] }]);
    const [b] = paramsWithGrads([{ shape: [3], data: [1, -4, 2] }]);
    assert.equal(nb.nn.utils.clipGradNorm(a!, 2, 'inf'), 4);
    assert.equal(nb.nn.utils.clipGradNorm([b!], 2, Infinity), 4);
    assertClose(a!.grad!, b!.grad!, 0);
    assertClose(a!.grad!, [0.5, -2, 1], 1e-6);
  });

  test('parameters without gradients are skipped; none at all gives 0', () => {
    const p = new nb.nn.Parameter(nb.zeros([2]));
    assert.equal(nb.nn.utils.clipGradNorm([p], 1), 0);
    const [q] = paramsWithGrads([{ shape: [2], data: [3, 4] }]);
    assert.ok(Math.abs(nb.nn.utils.clipGradNorm([p, q!], 1) - 5) < 1e-6);
    assert.equal(p.grad, null);
    assertClose(q!.grad!, [0.6, 0.8], 1e-6);
  });

  test('a non-finite total norm throws with errorIfNonfinite, and scales to NaN/0 otherwise', () => {
    const [a] = paramsWithGrads([{ shape: [3], data: [1, Infinity, 2] }]);
    assert.throws(
      () => nb.nn.utils.clipGradNorm([a!], 1, 2, { errorIfNonfinite: true }),
      (e: unknown) => e instanceof nb.ValueError && /Infinity/.test((e as Error).message),
    );
    // PyTorch: clip_coef = 1 / (inf + 1e-6) = 0, so finite entries become 0 and inf·0 is NaN.
    const total = nb.nn.utils.clipGradNorm([a!], 1);
    assert.equal(total, Infinity);
    const g = Array.from(a!.grad!.dataSync());
    assert.deepEqual([g[0], g[2]], [0, 0]);
    assert.ok(Number.isNaN(g[1]));
    const [b] = paramsWithGrads([{ shape: [2], data: [NaN, 1] }]);
    assert.throws(
      () => nb.nn.utils.clipGradNorm([b!], 1, 2, { errorIfNonfinite: true }),
      nb.ValueError,
    );
  });

  test('gradients below the threshold are unchanged (coefficient clamped to 1)', () => {
    const [a] = paramsWithGrads([{ shape: [2], data: [0.3, -0.4] }]);
    const total = nb.nn.utils.clipGradNorm([a!], 10);
    assert.ok(Math.abs(total - 0.5) < 1e-7);
    assertClose(a!.grad!, nb.tensor([0.3, -0.4]), 0);
  });

  test('float64 gradients are clipped in float64', () => {
    const p = new nb.nn.Parameter(nb.zeros([2], { dtype: 'float64' }));
    p.grad = nb.tensor([3, 4], { dtype: 'float64' });
    assert.equal(nb.nn.utils.clipGradNorm([p], 1), 5);
    assertClose(p.grad, [3 / (5 + 1e-6), 4 / (5 + 1e-6)], 1e-15);
  });

  test('invalid arguments are rejected', () => {
    const [a] = paramsWithGrads([{ shape: [1], data: [1] }]);
    assert.throws(() => nb.nn.utils.clipGradNorm([a!], 1, 0), nb.ValueError);
    assert.throws(() => nb.nn.utils.clipGradNorm([a!], NaN), nb.ValueError);
    assert.throws(() => nb.nn.utils.clipGradValue([a!], NaN), nb.ValueError);
  });
});
