/**
 * The engine gathers the gradients of several slices of one tensor into a single buffer
 * (src/autograd/slice-grads.ts) instead of adding zero-filled full-size gradients. Checked by
 * finite differences (float64) on the cases it distinguishes (parts that tile one dim, overlapping
 * parts, strided parts, slices along two dims, slices plus other uses), against the slices' own
 * differentiable backward (taken under createGraph), and with hooks and retained graphs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose, gradcheck, input } from './helpers.js';

/** Position-dependent weights: a part written to the wrong place changes the gradient. */
function weigh(t: nb.Tensor, seed: number): nb.Tensor {
  const w = nb
    .arange(1, t.size + 1, 1, { dtype: 'float64' })
    .reshape(t.shape as number[])
    .mul(0.1 * seed);
  return t.mul(w).sin().sum();
}

const cases: [string, (x: nb.Tensor) => nb.Tensor][] = [
  ['parts tiling one dim (split)', (x) => nb.stack(x.split([1, 2, 1], 1).map(weigh)).sum()],
  [
    'parts tiling in another order',
    (x) => weigh(x.narrow(1, 2, 2), 1).add(weigh(x.narrow(1, 0, 2), 2)),
  ],
  ['overlapping parts', (x) => weigh(x.narrow(1, 0, 3), 1).add(weigh(x.narrow(1, 1, 3), 2))],
  ['parts leaving a gap', (x) => weigh(x.narrow(1, 0, 1), 1).add(weigh(x.narrow(1, 3, 1), 2))],
  ['strided parts', (x) => weigh(x.slice(2, 0, 5, 2), 1).add(weigh(x.slice(2, 1, 5, 2), 2))],
  ['slices along two dims', (x) => weigh(x.narrow(0, 0, 1), 1).add(weigh(x.narrow(2, 1, 3), 2))],
  [
    'slices plus a dense use',
    (x) =>
      weigh(x, 3)
        .add(weigh(x.narrow(1, 0, 2), 1))
        .add(weigh(x.narrow(1, 2, 2), 2)),
  ],
  [
    'a slice of a slice',
    (x) => weigh(x.narrow(1, 1, 3).narrow(2, 1, 2), 1).add(weigh(x.narrow(1, 0, 1), 2)),
  ],
  ['select (slice + squeeze)', (x) => weigh(x.select(0, 1), 1).add(weigh(x.select(0, 0), 2))],
];

describe('gathered slice gradients', () => {
  for (const [name, f] of cases) {
    test(`${name}: finite differences and the slices' own backward agree`, () => {
      const x = input([2, 4, 5], { seed: 7 });
      gradcheck(f, [x]);
      x.grad = null;
      f(x).backward();
      const gathered = x.grad!;
      x.grad = null;
      // Under createGraph every slice runs its own (differentiable) backward: the oracle.
      f(x).backward(undefined, { createGraph: true });
      assertClose(gathered, x.grad!.detach(), 1e-12, 1e-12);
    });
  }

  test('a hook on the sliced tensor sees the whole gathered gradient', () => {
    const x = input([3, 6], { seed: 1 });
    const h = x.mul(2);
    let seen: number[][] | null = null;
    h.registerHook((g) => {
      seen = g.toArray() as number[][];
    });
    const [a, b, c] = h.split(2, 1) as [nb.Tensor, nb.Tensor, nb.Tensor];
    a.sum().add(b.mul(3).sum()).add(c.mul(5).sum()).backward();
    assert.deepEqual(seen, [
      [1, 1, 3, 3, 5, 5],
      [1, 1, 3, 3, 5, 5],
      [1, 1, 3, 3, 5, 5],
    ]);
    assertClose(x.grad!, nb.tensor(seen!).mul(2));
  });

  test('a leaf split twice accumulates across backward passes, also with a retained graph', () => {
    const x = nb.zeros([2, 4], { dtype: 'float64', requiresGrad: true });
    const [l, r] = x.split(2, 1) as [nb.Tensor, nb.Tensor];
    const y = l.sum().add(r.mul(2).sum());
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assert.deepEqual(x.grad!.toArray(), [
      [2, 2, 4, 4],
      [2, 2, 4, 4],
    ]);
  });

  test('float32 parts of a packed projection (the q, k, v of attention)', () => {
    const g = new nb.Generator(3);
    const x = nb.randn([4, 9], { generator: g }).requiresGrad_();
    const w = nb.randn([9, 9], { generator: g });
    const loss = (): nb.Tensor => {
      const [q, k, v] = x.matmul(w).chunk(3, 1) as [nb.Tensor, nb.Tensor, nb.Tensor];
      return q.mul(k).add(v).sum();
    };
    loss().backward();
    const gathered = x.grad!;
    x.grad = null;
    loss().backward(undefined, { createGraph: true });
    assert.equal(gathered.dtype, 'float32');
    assertClose(gathered, x.grad!.detach(), 1e-5, 1e-5);
  });
});
