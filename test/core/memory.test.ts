/**
 * Memory management: dispose(), nb.scope (what it frees and what it keeps: returned tensors, their
 * autograd graph, kept tensors, gradients), nested scopes, errors inside scopes, and a long loop.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const f64 = { dtype: 'float64', requiresGrad: true } as const;

describe('dispose', () => {
  test('a disposed tensor reports it and refuses use; dispose twice is harmless', () => {
    const t = nb.ones([2]);
    t.dispose();
    t.dispose();
    assert.equal(t.isDisposed, true);
    assert.throws(() => t.toArray(), nb.DisposedError);
    assert.match(t.toString(), /disposed/);
  });

  test('Symbol.dispose disposes', () => {
    const t = nb.ones([2]);
    t[Symbol.dispose]();
    assert.equal(t.isDisposed, true);
  });

  test('a view keeps working after its base is disposed (shared, reference-counted buffer)', () => {
    const base = nb.arange(4);
    const v = base.reshape(2, 2);
    base.dispose();
    assert.deepEqual(v.toArray(), [
      [0, 1],
      [2, 3],
    ]);
  });
});

describe('scope', () => {
  test('disposes intermediates and keeps the returned tensor', () => {
    const x = nb.tensor([1, 2, 3]);
    const held: nb.Tensor[] = [];
    const y = nb.scope(() => {
      const a = x.mul(2);
      const b = a.add(1);
      held.push(a, b);
      return b.square();
    });
    assert.deepEqual(y.toArray(), [9, 25, 49]);
    assert.equal(y.isDisposed, false);
    assert.ok(held.every((t) => t.isDisposed));
    assert.equal(x.isDisposed, false, 'tensors created outside the scope are not touched');
  });

  test('keeps tensors returned inside arrays, plain objects and maps', () => {
    const held: nb.Tensor[] = [];
    const out = nb.scope(() => {
      const tmp = nb.ones([2]).mul(5);
      held.push(tmp);
      return {
        list: [tmp.add(1), tmp.add(2)],
        nested: { deep: { t: tmp.add(3) } },
        map: new Map([['k', tmp.add(4)]]),
        label: 'not a tensor',
      };
    });
    assert.deepEqual(out.list[0]!.toArray(), [6, 6]);
    assert.deepEqual(out.list[1]!.toArray(), [7, 7]);
    assert.deepEqual(out.nested.deep.t.toArray(), [8, 8]);
    assert.deepEqual(out.map.get('k')!.toArray(), [9, 9]);
    assert.equal(held[0]!.isDisposed, true);
  });

  test('a returned view of an intermediate stays readable (the buffer is shared)', () => {
    let base: nb.Tensor | undefined;
    const v = nb.scope(() => {
      base = nb.arange(6).mul(2);
      return base.reshape(2, 3).T.slice(0, 1);
    });
    assert.equal(base!.isDisposed, true);
    assert.deepEqual(v.toArray(), [
      [2, 8],
      [4, 10],
    ]);
  });

  test('keeps what the returned tensor needs for backward, which then works', () => {
    const w = nb.tensor([0.5, -1, 2], f64);
    const held: nb.Tensor[] = [];
    const loss = nb.scope(() => {
      const h = w.mul(3).exp(); // exp saves its output
      const unrelated = w.add(100); // not part of the returned graph
      held.push(h, unrelated);
      return h.mul(w).sum();
    });
    assert.equal(held[0]!.isDisposed, false, 'a saved intermediate survives');
    assert.equal(held[1]!.isDisposed, true, 'a tensor outside the graph is disposed');
    loss.backward();
    // d/dw Σ exp(3w)·w = exp(3w)(3w + 1)
    const expected = [0.5, -1, 2].map((v) => Math.exp(3 * v) * (3 * v + 1));
    Array.from(w.grad!.dataSync()).forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-9));
  });

  test('backward inside a scope keeps the leaf gradients', () => {
    const w = nb.tensor([1, 2], f64);
    nb.scope(() => {
      w.square().sum().backward();
    });
    assert.equal(w.grad!.isDisposed, false);
    assert.deepEqual(w.grad!.toArray(), [2, 4]);
    // A second step accumulates into the surviving gradient.
    nb.scope(() => {
      w.mul(3).sum().backward();
    });
    assert.deepEqual(w.grad!.toArray(), [5, 7]);
  });

  test('backward inside a scope keeps retained gradients of returned intermediates', () => {
    const w = nb.tensor([1, 2], f64);
    const h = nb.scope(() => {
      const h = w.mul(2).retainGrad();
      h.sum().backward();
      return h;
    });
    assert.deepEqual(h.grad!.toArray(), [1, 1]);
  });

  test('keep() saves a tensor from the scope', () => {
    let kept: nb.Tensor | undefined;
    let dropped: nb.Tensor | undefined;
    nb.scope(() => {
      kept = nb.keep(nb.ones([2]).mul(3));
      dropped = nb.ones([2]).mul(4);
    });
    assert.equal(kept!.isDisposed, false);
    assert.deepEqual(kept!.toArray(), [3, 3]);
    assert.equal(dropped!.isDisposed, true);
  });

  test('nested scopes: a tensor returned from the inner scope belongs to the outer one', () => {
    const held: Record<string, nb.Tensor> = {};
    const result = nb.scope(() => {
      const fromInner = nb.scope(() => {
        held.innerTmp = nb.ones([2]).mul(2);
        return held.innerTmp.add(1);
      });
      held.fromInner = fromInner;
      assert.equal(
        held.innerTmp!.isDisposed,
        true,
        'inner temporaries go when the inner scope ends',
      );
      assert.equal(fromInner.isDisposed, false);
      return fromInner.mul(2);
    });
    assert.equal(held.fromInner!.isDisposed, true, 'the outer scope disposes it');
    assert.deepEqual(result.toArray(), [6, 6]);
  });

  test('nested scopes: keep() inside the inner scope survives both', () => {
    let kept: nb.Tensor | undefined;
    nb.scope(() => {
      nb.scope(() => {
        kept = nb.keep(nb.ones([1]).mul(7));
      });
    });
    assert.equal(kept!.isDisposed, false);
    assert.equal(kept!.item(), 7);
  });

  test('an exception inside a scope disposes its tensors and propagates', () => {
    let tmp: nb.Tensor | undefined;
    assert.throws(
      () =>
        nb.scope(() => {
          tmp = nb.ones([2]).mul(2);
          tmp.add(nb.ones([3]));
        }),
      nb.ShapeError,
    );
    assert.equal(tmp!.isDisposed, true);
    // The scope stack is intact: a tensor created now belongs to no scope.
    const after = nb.ones([1]);
    nb.scope(() => undefined);
    assert.equal(after.isDisposed, false);
  });

  test('an async function is rejected', () => {
    assert.throws(() => nb.scope(async () => nb.ones([1])), TypeError);
  });

  test('using a tensor disposed by its scope throws DisposedError', () => {
    let tmp: nb.Tensor | undefined;
    nb.scope(() => {
      tmp = nb.ones([2]).mul(2);
    });
    assert.throws(() => tmp!.add(1), nb.DisposedError);
  });

  test('a 2000-iteration training loop in a scope leaves no undisposed intermediates', () => {
    const w = nb.tensor([0.1, 0.2, 0.3], { dtype: 'float64', requiresGrad: true });
    const x = nb.tensor([1, 2, 3], { dtype: 'float64' });
    const created: nb.Tensor[] = [];
    const track = <T extends nb.Tensor>(t: T): T => (created.push(t), t);
    let first = 0;
    let last = 0;
    for (let i = 0; i < 2000; i++) {
      const value = nb.scope(() => {
        const a = track(w.mul(x));
        const b = track(a.tanh());
        const loss = track(track(b.sub(0.5)).square().mean());
        loss.backward();
        nb.noGrad(() => w.sub_(track(w.grad!.mul(0.5))));
        w.grad = null;
        return loss.item();
      });
      if (i === 0) first = value;
      last = value;
    }
    assert.equal(created.length, 2000 * 5);
    const alive = created.filter((t) => !t.isDisposed).length;
    assert.equal(alive, 0, `${alive} intermediates were not disposed`);
    assert.equal(w.isDisposed, false);
    assert.equal(x.isDisposed, false);
    assert.ok(last < first, `the loop trained (loss ${first} -> ${last})`);
  });

  test('a loop whose scope returns the loss: the graph survives, the rest is disposed', () => {
    const w = nb.tensor([0.1, 0.2], { dtype: 'float64', requiresGrad: true });
    const offGraph: nb.Tensor[] = [];
    for (let i = 0; i < 500; i++) {
      const loss = nb.scope(() => {
        const h = w.exp();
        offGraph.push(
          nb.noGrad(() => h.add(1)),
          h.detach().mul(2),
        );
        return h.sum();
      });
      loss.backward();
    }
    assert.ok(offGraph.every((t) => t.isDisposed));
    const expected = [0.1, 0.2].map((v) => 500 * Math.exp(v));
    Array.from(w.grad!.dataSync()).forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-9));
  });
});
