/**
 * Finite-difference gradient checks (float64) of the indexing ops (indexSelect, gather, scatterAdd,
 * indexAdd, embedding with repeated indices), tril/triu and dropout with a fixed generator.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose, gradcheck, idx, input, inputs } from './helpers.js';

describe('gradcheck: indexSelect', () => {
  const x = input([4, 3], { seed: 1 });

  test('along dim 0 and dim 1, with repeated indices', () => {
    gradcheck((x) => x.indexSelect(0, idx([2, 0, 2, 3])), [x]);
    gradcheck((x) => x.indexSelect(1, idx([1, 1, 0])).sin(), [x]);
    gradcheck((x) => nb.indexSelect(x, -1, idx([2])), [x]);
  });

  test('repeated indices accumulate: row 2 picked twice gets twice the gradient', () => {
    const y = input([4, 3], { seed: 2 });
    y.indexSelect(0, idx([2, 0, 2]))
      .sum()
      .backward();
    assert.deepEqual(y.grad!.toArray(), [
      [1, 1, 1],
      [0, 0, 0],
      [2, 2, 2],
      [0, 0, 0],
    ]);
  });

  test('of a transposed (strided) input', () => {
    gradcheck((x) => x.T.indexSelect(1, idx([3, 1, 1])).exp(), [x]);
  });
});

describe('gradcheck: gather and scatterAdd', () => {
  test('gather along dim 0 and 1 (index smaller than the input)', () => {
    const x = input([3, 4], { seed: 3 });
    gradcheck(
      (x) =>
        x.gather(
          1,
          idx([
            [0, 3, 3],
            [1, 1, 0],
            [2, 0, 1],
          ]),
        ),
      [x],
    );
    gradcheck(
      (x) =>
        nb
          .gather(
            x,
            0,
            idx([
              [2, 0, 1, 2],
              [0, 0, 2, 1],
            ]),
          )
          .square(),
      [x],
    );
  });

  test('gather on a 3-D input along the middle dim', () => {
    const x = input([2, 3, 2], { seed: 4 });
    gradcheck(
      (x) =>
        x
          .gather(
            1,
            idx([
              [
                [2, 0],
                [1, 1],
              ],
              [
                [0, 0],
                [2, 1],
              ],
            ]),
          )
          .sin(),
      [x],
    );
  });

  test('scatterAdd: gradients for base and source (repeated targets)', () => {
    const [base, src] = inputs(
      [
        [3, 4],
        [2, 4],
      ],
      { seed: 5 },
    );
    const index = idx([
      [0, 1, 2, 0],
      [0, 2, 2, 1],
    ]);
    gradcheck((b, s) => nb.scatterAdd(b, 0, index, s).sin(), [base!, src!]);
  });

  test('scatterAdd along dim 1 with a smaller index', () => {
    const [base, src] = inputs(
      [
        [2, 5],
        [2, 3],
      ],
      { seed: 6 },
    );
    const index = idx([
      [4, 0],
      [1, 1],
    ]);
    gradcheck((b, s) => nb.scatterAdd(b, 1, index, s).square(), [base!, src!]);
  });
});

describe('gradcheck: indexAdd', () => {
  test('along dim 0 with repeated indices; base and source', () => {
    const [base, src] = inputs(
      [
        [4, 3],
        [3, 3],
      ],
      { seed: 7 },
    );
    gradcheck((b, s) => nb.indexAdd(b, 0, idx([1, 3, 1]), s).sin(), [base!, src!]);
  });

  test('along dim 1', () => {
    const [base, src] = inputs(
      [
        [2, 4],
        [2, 2],
      ],
      { seed: 8 },
    );
    gradcheck((b, s) => nb.indexAdd(b, 1, idx([0, 2]), s).square(), [base!, src!]);
  });
});

describe('gradcheck: embedding', () => {
  test('weight gradient with repeated indices (2-D indices)', () => {
    const weight = input([5, 3], { seed: 9 });
    const indices = idx([
      [1, 4, 1],
      [0, 1, 4],
    ]);
    assert.deepEqual(nb.embedding(indices, weight).shape, [2, 3, 3]);
    gradcheck((w) => nb.F.embedding(indices, w).tanh(), [weight]);
  });

  test('the weight gradient is a scatter-add of the output gradient', () => {
    const weight = input([4, 2], { seed: 10 });
    const indices = idx([3, 1, 3, 3, 0]);
    const upstream = nb.tensor(
      [
        [1, 2],
        [3, 4],
        [5, 6],
        [7, 8],
        [9, 10],
      ],
      { dtype: 'float64' },
    );
    nb.embedding(indices, weight).backward(upstream);
    // Row 3 appears at positions 0, 2, 3; row 1 at 1; row 0 at 4; row 2 never.
    assertClose(weight.grad!, [
      [9, 10],
      [3, 4],
      [0, 0],
      [1 + 5 + 7, 2 + 6 + 8],
    ]);
  });
});

describe('gradcheck: tril and triu', () => {
  const x = input([3, 4], { seed: 11 });
  for (const diagonal of [0, 1, -1]) {
    test(`tril and triu, diagonal ${diagonal}`, () => {
      gradcheck((x) => x.tril(diagonal).sin(), [x]);
      gradcheck((x) => nb.triu(x, diagonal).sin(), [x]);
    });
  }
  test('on a batch of matrices', () => {
    const b = input([2, 3, 3], { seed: 12 });
    gradcheck((b) => b.tril().add(b.triu(1).mul(2)).square(), [b]);
  });
});

describe('gradcheck: dropout', () => {
  test('with a fixed generator: the kept elements get gradient 1/(1-p)', () => {
    const x = input([4, 5], { seed: 13 });
    gradcheck((x) => nb.dropout(x, 0.4, true, new nb.Generator(3)).sin(), [x]);
    const out = nb.dropout(x, 0.4, true, new nb.Generator(3));
    const kept = Array.from(out.dataSync()).map((v) => v !== 0);
    assert.ok(kept.some((k) => k) && kept.some((k) => !k), 'the mask drops some and keeps some');
    x.grad = null;
    out.sum().backward();
    Array.from(x.grad!.dataSync()).forEach((g, i) => {
      assert.ok(Math.abs(g - (kept[i] ? 1 / 0.6 : 0)) < 1e-12);
    });
  });

  test('in eval mode it is the identity, gradient included', () => {
    const x = input([3], { seed: 14 });
    gradcheck((x) => nb.F.dropout(x, 0.5, false).sin(), [x]);
  });
});
