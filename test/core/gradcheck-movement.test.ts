/**
 * Finite-difference gradient checks (float64) of the movement ops (views and copies) and of
 * cat/stack. Each view is followed by a non-linear op so that a gradient put back in the wrong
 * place (wrong stride, offset or permutation) changes the result.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { gradcheck, input, inputs } from './helpers.js';

/** A position-dependent weighting: makes the check sensitive to where each gradient lands. */
function weigh(t: nb.Tensor): nb.Tensor {
  const w = nb
    .arange(1, t.size + 1, 1, { dtype: 'float64' })
    .reshape(t.shape as number[])
    .mul(0.1);
  return t.mul(w).sin();
}

describe('gradcheck: views', () => {
  const x = input([2, 3, 4], { seed: 1, gap: 0.01 });

  test('reshape (to a new shape and with -1) and view', () => {
    gradcheck((x) => weigh(x.reshape(4, 6)), [x]);
    gradcheck((x) => weigh(x.reshape([-1, 2])), [x]);
    gradcheck((x) => weigh(x.view(6, 4)), [x]);
    gradcheck((x) => weigh(nb.view(x, [24])), [x]);
  });

  test('reshape of a non-contiguous tensor (copies)', () => {
    gradcheck((x) => weigh(x.transpose(0, 2).reshape(4, 6)), [x]);
  });

  test('permute and transpose', () => {
    gradcheck((x) => weigh(x.permute(2, 0, 1)), [x]);
    gradcheck((x) => weigh(x.permute([1, 2, 0])), [x]);
    gradcheck((x) => weigh(x.transpose(0, 2)), [x]);
    gradcheck((x) => weigh(x.transpose(-1, -2)), [x]);
  });

  test('expand, expandAs and broadcastTo (gradient sums over the broadcast dims)', () => {
    const y = input([3, 1], { seed: 2 });
    gradcheck((y) => weigh(y.expand(2, 3, 4)), [y]);
    gradcheck((y) => weigh(y.expand(-1, 5)), [y]);
    gradcheck((y) => weigh(y.expandAs(x)), [y]);
    gradcheck((y) => weigh(y.broadcastTo([3, 2])), [y]);
  });

  test('squeeze and unsqueeze', () => {
    const y = input([1, 3, 1, 2], { seed: 3 });
    gradcheck((y) => weigh(y.squeeze()), [y]);
    gradcheck((y) => weigh(y.squeeze(0)), [y]);
    gradcheck((y) => weigh(y.squeeze([0, 2])), [y]);
    gradcheck((x) => weigh(x.unsqueeze(1)), [x]);
    gradcheck((x) => weigh(x.unsqueeze(-1)), [x]);
  });

  test('narrow', () => {
    gradcheck((x) => weigh(x.narrow(2, 1, 2)), [x]);
    gradcheck((x) => weigh(x.narrow(1, -2, 2)), [x]);
  });

  test('slice with steps, negative bounds and defaults', () => {
    gradcheck((x) => weigh(x.slice(2, 0, 4, 2)), [x]);
    gradcheck((x) => weigh(x.slice(2, 1, undefined, 2)), [x]);
    gradcheck((x) => weigh(x.slice(1, -2)), [x]);
    gradcheck((x) => weigh(x.slice(-1, 0, 4, 3)), [x]);
    gradcheck((x) => weigh(x.slice(1, 0, 3, 2).slice(2, 1, 4, 2)), [x]);
  });

  test('select, including a negative index', () => {
    gradcheck((x) => weigh(x.select(1, 2)), [x]);
    gradcheck((x) => weigh(x.select(0, -1)), [x]);
    gradcheck((x) => weigh(x.select(2, 0).select(0, 1)), [x]);
  });

  test('flatten and unflatten', () => {
    gradcheck((x) => weigh(x.flatten()), [x]);
    gradcheck((x) => weigh(x.flatten(1)), [x]);
    gradcheck((x) => weigh(x.flatten(0, 1)), [x]);
    gradcheck((x) => weigh(x.unflatten(2, [2, 2])), [x]);
    gradcheck((x) => weigh(x.unflatten(1, [-1, 1])), [x]);
  });

  test('contiguous and clone (of strided views)', () => {
    gradcheck((x) => weigh(x.transpose(0, 1).contiguous()), [x]);
    gradcheck((x) => weigh(x.contiguous()), [x]);
    gradcheck((x) => weigh(x.clone()), [x]);
    gradcheck((x) => weigh(x.slice(2, 0, 4, 2).clone()), [x]);
  });

  test('split and chunk (every piece used)', () => {
    const join = (parts: nb.Tensor[]): nb.Tensor =>
      parts
        .map((p, i) =>
          weigh(p)
            .mul(i + 1)
            .sum(),
        )
        .reduce((a, b) => a.add(b));
    gradcheck((x) => join(x.split(2, 2)), [x]);
    gradcheck((x) => join(x.split([1, 2], 1)), [x]);
    gradcheck((x) => join(x.chunk(3, 1)), [x]);
    gradcheck((x) => join(nb.chunk(x, 2, -1)), [x]);
    assert.deepEqual(
      x.split(3, 2).map((p) => p.shape),
      [
        [2, 3, 3],
        [2, 3, 1],
      ],
    );
  });

  test('only part of a split used: the rest gets zero gradient', () => {
    const y = input([4, 2], { seed: 4 });
    gradcheck((y) => weigh(y.split(2, 0)[1]!), [y]);
    assert.deepEqual((y.grad!.toArray() as number[][]).slice(0, 2), [
      [0, 0],
      [0, 0],
    ]);
  });

  test('chains of views on the same input', () => {
    gradcheck(
      (x) =>
        weigh(x.permute(1, 0, 2).reshape(3, 8).T.slice(0, 1, 7, 3)) // [2, 3]
          .add(weigh(x.select(0, 1)).T.slice(0, 0, 4, 2)), // [2, 3]
      [x],
    );
  });
});

describe('gradcheck: cat and stack', () => {
  test('cat along each dim, with different sizes', () => {
    const [a, b, c] = inputs(
      [
        [2, 3],
        [2, 1],
        [2, 2],
      ],
      { seed: 10 },
    );
    gradcheck((a, b, c) => weigh(nb.cat([a, b, c], 1)), [a!, b!, c!]);
    gradcheck((a, b, c) => weigh(nb.cat([a, b, c], -1)), [a!, b!, c!]);
    const [d, e] = inputs(
      [
        [1, 3],
        [2, 3],
      ],
      { seed: 11 },
    );
    gradcheck((d, e) => weigh(nb.cat([d, e])), [d!, e!]);
  });

  test('cat of strided views and of one tensor twice', () => {
    const [a] = inputs([[3, 4]], { seed: 12 });
    gradcheck((a) => weigh(nb.cat([a.T, a.T.slice(1, 0, 3, 2)], 1)), [a!]);
    gradcheck((a) => weigh(nb.cat([a, a], 0)), [a!]);
  });

  test('stack along a new first, middle and last dim', () => {
    const [a, b] = inputs(
      [
        [2, 3],
        [2, 3],
      ],
      { seed: 13 },
    );
    for (const d of [0, 1, 2, -1]) {
      assert.equal(nb.stack([a!, b!], d).ndim, 3);
      gradcheck((a, b) => weigh(nb.stack([a, b], d)), [a!, b!]);
    }
  });
});
