/**
 * Finite-difference gradient checks (float64) of the reductions: sum, mean, max, min over all, one
 * and several dims with and without keepdim; var and std with both corrections; logsumexp, softmax
 * and logSoftmax.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { gradcheck, input } from './helpers.js';

type Reduce = (x: nb.Tensor, dim?: number | number[], keepdim?: boolean) => nb.Tensor;

const DIMS: (number | number[] | undefined)[] = [undefined, 0, 1, -1, [0, 2], [2, 0], [0, 1, 2]];

function checkReduction(name: string, op: Reduce, seed: number): void {
  describe(`gradcheck: ${name}`, () => {
    const x = input([2, 3, 4], { seed });
    for (const dim of DIMS) {
      for (const keepdim of [false, true]) {
        test(`dim ${JSON.stringify(dim)}, keepdim ${keepdim}`, () => {
          const out = op(x, dim, keepdim);
          if (keepdim) assert.equal(out.ndim, 3);
          gradcheck((x) => op(x, dim, keepdim), [x]);
        });
      }
    }
  });
}

checkReduction('sum', (x, d, k) => x.sum(d, k), 1);
checkReduction('mean', (x, d, k) => x.mean(d, k), 2);
checkReduction('max', (x, d, k) => x.max(d, k), 3);
checkReduction('min', (x, d, k) => nb.min(x, d, k), 4);

describe('gradcheck: max/min route the gradient to the extreme element only', () => {
  test('max over dim 1 gives one non-zero per row', () => {
    const x = input([3, 5], { seed: 5 });
    x.max(1).sum().backward();
    const g = x.grad!.toArray() as number[][];
    const v = x.toArray() as number[][];
    g.forEach((row, i) => {
      const j = v[i]!.indexOf(Math.max(...v[i]!));
      assert.deepEqual(
        row,
        row.map((_, k) => (k === j ? 1 : 0)),
      );
    });
  });

  test('ties split the gradient evenly', () => {
    const x = nb.tensor([1, 3, 3, 2], { dtype: 'float64', requiresGrad: true });
    x.max().backward();
    assert.deepEqual(x.grad!.toArray(), [0, 0.5, 0.5, 0]);
  });
});

describe('gradcheck: var and std', () => {
  const x = input([3, 4], { seed: 10 });
  for (const correction of [0, 1]) {
    test(`var, correction ${correction}: all, dim 1, dims [0, 1] keepdim`, () => {
      gradcheck((x) => x.var(undefined, { correction }), [x]);
      gradcheck((x) => x.var(1, { correction }), [x]);
      gradcheck((x) => nb.variance(x, [0, 1], { correction, keepdim: true }), [x]);
      gradcheck((x) => x.var(0, { correction, keepdim: true }), [x]);
    });
    test(`std, correction ${correction}: all, dim 0, dim -1 keepdim`, () => {
      gradcheck((x) => x.std(undefined, { correction }), [x]);
      gradcheck((x) => x.std(0, { correction }), [x]);
      gradcheck((x) => nb.std(x, -1, { correction, keepdim: true }), [x]);
    });
  }
  test('unbiased: false is correction 0', () => {
    gradcheck((x) => x.var(1, { unbiased: false }), [x]);
  });
});

describe('gradcheck: logsumexp, softmax, logSoftmax', () => {
  const x = input([2, 3, 4], { seed: 20 });

  test('logsumexp over one dim, several dims, keepdim', () => {
    gradcheck((x) => x.logsumexp(-1), [x]);
    gradcheck((x) => x.logsumexp(0, true), [x]);
    gradcheck((x) => nb.logsumexp(x, [0, 2]), [x]);
  });

  test('logsumexp stays accurate for large inputs (shifted by the max)', () => {
    const big = input([3, 4], { seed: 21 }).detach().mul(50).add(300);
    big.requiresGrad = true;
    gradcheck((x) => x.logsumexp(1), [big], { eps: 1e-5 });
  });

  test('softmax over each dim', () => {
    for (const d of [0, 1, 2, -1]) gradcheck((x) => x.softmax(d), [x]);
  });

  test('logSoftmax over each dim', () => {
    for (const d of [0, 1, -1]) gradcheck((x) => nb.logSoftmax(x, d), [x]);
  });

  test('softmax of a 1-D tensor and of a row used twice', () => {
    const v = input([5], { seed: 22 });
    gradcheck((v) => v.softmax(0).mul(v), [v]);
  });
});
