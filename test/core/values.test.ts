/**
 * Forward values on small hand-computable examples: creation ops, dtypes, broadcasting, every
 * elementwise op, reductions, matmul, movement, indexing, random determinism, views sharing memory,
 * reading data back, and numerical stability of softmax/logsumexp.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose, idx } from './helpers.js';

const f64 = { dtype: 'float64' } as const;

describe('creation', () => {
  test('tensor from nested arrays: shape, float32 default, values', () => {
    const t = nb.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.equal(t.ndim, 2);
    assert.equal(t.size, 6);
    assert.deepEqual(t.toArray(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  test('float32 rounds, float64 keeps full precision', () => {
    assert.equal(nb.tensor([0.1]).dataSync()[0], Math.fround(0.1));
    assert.notEqual(Math.fround(0.1), 0.1);
    assert.equal(nb.tensor([0.1], f64).dataSync()[0], 0.1);
  });

  test('a number gives a 0-d tensor; nb.scalar too', () => {
    const s = nb.tensor(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 2.5);
    assert.equal(s.toArray(), 2.5);
    assert.deepEqual(nb.scalar(3, { dtype: 'int32' }).toArray(), 3);
  });

  test('booleans give a bool tensor; int32 truncates', () => {
    const b = nb.tensor([true, false, true]);
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toArray(), [true, false, true]);
    const i = nb.tensor([1.7, -2.7, 3], { dtype: 'int32' });
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(i.toArray(), [1, -2, 3]);
  });

  test('numbers mixed with booleans give float32, not a lossy bool tensor', () => {
    const m = nb.tensor([true, 2.5, false] as never);
    assert.equal(m.dtype, 'float32');
    assert.deepEqual(m.toArray(), [1, 2.5, 0]);
  });

  test('typed arrays pick their dtype; shape option', () => {
    assert.equal(nb.tensor(new Float32Array([1, 2])).dtype, 'float32');
    assert.equal(nb.tensor(new Float64Array([1, 2])).dtype, 'float64');
    assert.equal(nb.tensor(new Int32Array([1, 2])).dtype, 'int32');
    assert.equal(nb.tensor(new Uint8Array([1, 0])).dtype, 'bool');
    const t = nb.tensor(new Float64Array([1, 2, 3, 4, 5, 6]), { shape: [3, 2] });
    assert.deepEqual(t.toArray(), [
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    // The tensor owns a copy: changing the source array later does not change it.
    const src = new Float32Array([1, 2]);
    const c = nb.tensor(src);
    src[0] = 9;
    assert.deepEqual(c.toArray(), [1, 2]);
  });

  test('empty nested array and empty dims', () => {
    const e = nb.tensor([]);
    assert.deepEqual(e.shape, [0]);
    assert.equal(e.size, 0);
    assert.deepEqual(nb.zeros([2, 0]).toArray(), [[], []]);
  });

  test('zeros, ones, full, zerosLike, onesLike, fullLike', () => {
    assert.deepEqual(nb.zeros([2, 2]).toArray(), [
      [0, 0],
      [0, 0],
    ]);
    assert.deepEqual(nb.ones([3]).toArray(), [1, 1, 1]);
    assert.deepEqual(nb.full([2], 7, { dtype: 'int32' }).toArray(), [7, 7]);
    const x = nb.tensor([1, 2, 3], { dtype: 'int32' });
    const z = nb.zerosLike(x);
    assert.equal(z.dtype, 'int32');
    assert.deepEqual(z.toArray(), [0, 0, 0]);
    assert.deepEqual(nb.onesLike(x, f64).toArray(), [1, 1, 1]);
    assert.equal(nb.onesLike(x, f64).dtype, 'float64');
    assert.deepEqual(nb.fullLike(x, -4).toArray(), [-4, -4, -4]);
    assert.equal(nb.ones([2], { requiresGrad: true }).requiresGrad, true);
  });

  test('arange: int32 for integers, float32 otherwise, negative steps', () => {
    const a = nb.arange(5);
    assert.equal(a.dtype, 'int32');
    assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(nb.arange(2, 8, 2).toArray(), [2, 4, 6]);
    assert.deepEqual(nb.arange(5, 0, -2).toArray(), [5, 3, 1]);
    const f = nb.arange(0, 1, 0.25);
    assert.equal(f.dtype, 'float32');
    assert.deepEqual(f.toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(nb.arange(0, 3, 1, f64).dtype, 'float64');
    assert.deepEqual(nb.arange(3, 3).shape, [0]);
  });

  test('linspace includes both ends', () => {
    assert.deepEqual(nb.linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
    const l = nb.linspace(-1, 0.3, 7, f64).toArray() as number[];
    assert.equal(l[0], -1);
    assert.equal(l[6], 0.3);
    assertClose(
      l,
      [-1, -0.7833333333, -0.5666666667, -0.35, -0.1333333333, 0.0833333333, 0.3],
      1e-9,
    );
    assert.deepEqual(nb.linspace(2, 3, 1).toArray(), [2]);
    assert.deepEqual(nb.linspace(2, 3, 0).toArray(), []);
  });

  test('eye, square and rectangular', () => {
    assert.deepEqual(nb.eye(3).toArray(), [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    assert.deepEqual(nb.eye(2, 3).toArray(), [
      [1, 0, 0],
      [0, 1, 0],
    ]);
    assert.equal(nb.eye(2, 2, f64).dtype, 'float64');
  });
});

describe('random', () => {
  test('manualSeed: same seed gives the same numbers, another seed different ones', () => {
    nb.manualSeed(123);
    const a = nb.rand([8]).toArray();
    const an = nb.randn([8]).toArray();
    const ai = nb.randint(0, 100, [8]).toArray();
    nb.manualSeed(123);
    assert.deepEqual(nb.rand([8]).toArray(), a);
    assert.deepEqual(nb.randn([8]).toArray(), an);
    assert.deepEqual(nb.randint(0, 100, [8]).toArray(), ai);
    nb.manualSeed(124);
    assert.notDeepEqual(nb.rand([8]).toArray(), a);
  });

  test('an explicit Generator is independent of the global one', () => {
    const g1 = new nb.Generator(42);
    const g2 = new nb.Generator(42);
    const a = nb.randn([2, 3], { generator: g1 });
    nb.manualSeed(5);
    nb.rand([10]); // advancing the global generator must not matter
    const b = nb.randn([2, 3], { generator: g2 });
    assert.deepEqual(a.toArray(), b.toArray());
    // The generator advances: the next draw differs.
    assert.notDeepEqual(nb.randn([2, 3], { generator: g1 }).toArray(), a.toArray());
    assert.deepEqual(
      nb.randint(-3, 3, [5], { generator: new nb.Generator(1) }).toArray(),
      nb.randint(-3, 3, [5], { generator: new nb.Generator(1) }).toArray(),
    );
  });

  test('Generator state round-trips', () => {
    const g = new nb.Generator(9);
    g.nextNormal();
    const state = g.getState();
    const a = [g.nextDouble(), g.nextNormal(), g.nextUint32()];
    g.setState(state);
    assert.deepEqual([g.nextDouble(), g.nextNormal(), g.nextUint32()], a);
  });

  test('rand is in [0, 1) (or [low, high)), randint in [low, high) as int32', () => {
    const g = new nb.Generator(7);
    const u = Array.from(nb.rand([1000], { generator: g }).dataSync());
    assert.ok(u.every((v) => v >= 0 && v < 1));
    const v = Array.from(nb.rand([1000], { generator: g, low: -2, high: 3 }).dataSync());
    assert.ok(v.every((x) => x >= -2 && x < 3));
    assert.ok(Math.min(...v) < -1.9 && Math.max(...v) > 2.9);
    const r = nb.randint(-2, 3, [1000], { generator: g });
    assert.equal(r.dtype, 'int32');
    const seen = new Set(Array.from(r.dataSync()));
    assert.deepEqual([...seen].sort(), [-1, -2, 0, 1, 2].sort());
  });

  test('randn: mean ≈ 0 and std ≈ 1 over 10k samples; mean/std options', () => {
    const x = nb.randn([10000], { generator: new nb.Generator(2024), dtype: 'float64' });
    assert.ok(Math.abs(x.mean().item()) < 0.04, `mean ${x.mean().item()}`);
    assert.ok(Math.abs(x.std().item() - 1) < 0.04, `std ${x.std().item()}`);
    const y = nb.randn([10000], { generator: new nb.Generator(1), mean: 5, std: 0.5 });
    assert.ok(Math.abs(y.mean().item() - 5) < 0.03);
    assert.ok(Math.abs(y.std().item() - 0.5) < 0.03);
  });

  test('dropout: eval and p = 0 are the identity, p = 1 zeroes, kept values are scaled', () => {
    const x = nb.ones([1000]);
    assert.equal(nb.dropout(x, 0.5, false), x);
    assert.equal(nb.dropout(x, 0), x);
    assert.deepEqual(nb.dropout(nb.ones([3]), 1).toArray(), [0, 0, 0]);
    const y = Array.from(nb.dropout(x, 0.25, true, new nb.Generator(0)).dataSync());
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    const dropped = y.filter((v) => v === 0).length;
    assert.ok(dropped > 200 && dropped < 300, `dropped ${dropped} of 1000 at p = 0.25`);
  });
});

describe('elementwise arithmetic and broadcasting', () => {
  const a = nb.tensor([1, 2, 3]);
  const b = nb.tensor([4, 5, 6]);

  test('add, sub, mul, div, with alpha and scalars', () => {
    assert.deepEqual(a.add(b).toArray(), [5, 7, 9]);
    assert.deepEqual(a.add(b, 2).toArray(), [9, 12, 15]);
    assert.deepEqual(a.sub(b).toArray(), [-3, -3, -3]);
    assert.deepEqual(b.sub(a, 3).toArray(), [1, -1, -3]);
    assert.deepEqual(a.mul(b).toArray(), [4, 10, 18]);
    assert.deepEqual(b.div(a).toArray(), [4, 2.5, 2]);
    assert.deepEqual(a.add(1).toArray(), [2, 3, 4]);
    assert.deepEqual(nb.sub(10, a).toArray(), [9, 8, 7]);
    assert.deepEqual(nb.div(6, a).toArray(), [6, 3, 2]);
    assert.deepEqual(a.mul(-2).toArray(), [-2, -4, -6]);
  });

  test('broadcasting [3,1] with [1,4] and [2,3] with [3]', () => {
    const col = nb.tensor([[0], [10], [20]]);
    const row = nb.tensor([[1, 2, 3, 4]]);
    assert.deepEqual(col.add(row).toArray(), [
      [1, 2, 3, 4],
      [11, 12, 13, 14],
      [21, 22, 23, 24],
    ]);
    const m = nb.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(m.mul(nb.tensor([1, 0, -1])).toArray(), [
      [1, 0, -3],
      [4, 0, -6],
    ]);
    assert.deepEqual(nb.broadcastShapes('test', [3, 1, 4], [2, 4]), [3, 2, 4]);
    assert.deepEqual(nb.zeros([3, 1, 4]).add(nb.zeros([2, 4])).shape, [3, 2, 4]);
  });

  test('pow with tensor and scalar exponents, scalar base', () => {
    assert.deepEqual(a.pow(2).toArray(), [1, 4, 9]);
    assert.deepEqual(a.pow(b).toArray(), [1, 32, 729]);
    assert.deepEqual(nb.pow(2, a).toArray(), [2, 4, 8]);
    assertClose(nb.tensor([4, 9], f64).pow(0.5), [2, 3], 1e-12);
  });

  test('maximum, minimum (NaN propagates)', () => {
    const x = nb.tensor([1, 5, NaN]);
    const y = nb.tensor([3, 2, 0]);
    assertClose(x.maximum(y), [3, 5, NaN]);
    assertClose(x.minimum(y), [1, 2, NaN]);
    assert.deepEqual(nb.tensor([-1, 2]).maximum(0).toArray(), [0, 2]);
  });

  test('int32 arithmetic stays int32; fractional scalars and division give float32', () => {
    const i = nb.tensor([1, 2, 3], { dtype: 'int32' });
    const s = i.add(i);
    assert.equal(s.dtype, 'int32');
    assert.deepEqual(s.toArray(), [2, 4, 6]);
    assert.equal(i.mul(2).dtype, 'int32');
    const h = i.mul(0.5);
    assert.equal(h.dtype, 'float32');
    assert.deepEqual(h.toArray(), [0.5, 1, 1.5]);
    const d = i.div(2);
    assert.equal(d.dtype, 'float32');
    assert.deepEqual(d.toArray(), [0.5, 1, 1.5]);
    assert.equal(i.exp().dtype, 'float32');
  });

  test('float64 stays float64 with scalars', () => {
    const x = nb.tensor([1, 2], f64);
    assert.equal(x.mul(0.1).dtype, 'float64');
    assert.equal(x.mul(0.1).dataSync()[0], 0.1);
  });
});

describe('unary ops and activations', () => {
  const x = nb.tensor([-2, -0.5, 0, 0.5, 2], f64);

  test('neg, abs, sign, square, floor, reciprocal', () => {
    assert.deepEqual(x.neg().toArray(), [2, 0.5, -0, -0.5, -2]);
    assert.deepEqual(x.abs().toArray(), [2, 0.5, 0, 0.5, 2]);
    assert.deepEqual(x.sign().toArray(), [-1, -1, 0, 1, 1]);
    assert.deepEqual(x.square().toArray(), [4, 0.25, 0, 0.25, 4]);
    assert.deepEqual(nb.tensor([-1.5, 0.5, 2.7]).floor().toArray(), [-2, 0, 2]);
    assert.deepEqual(nb.tensor([2, -4, 0]).reciprocal().toArray(), [0.5, -0.25, Infinity]);
    const i = nb.tensor([-3, 4], { dtype: 'int32' });
    assert.equal(i.abs().dtype, 'int32');
    assert.deepEqual(i.abs().toArray(), [3, 4]);
  });

  test('exp, log, sqrt, rsqrt', () => {
    assertClose(nb.tensor([0, 1], f64).exp(), [1, Math.E], 1e-15);
    assertClose(nb.tensor([1, Math.E, 0], f64).log(), [0, 1, -Infinity], 1e-15);
    assertClose(nb.tensor([4, 0.25], f64).sqrt(), [2, 0.5], 1e-15);
    assertClose(nb.tensor([4, 0.25], f64).rsqrt(), [0.5, 2], 1e-15);
    assertClose(nb.tensor([-1], f64).log(), [NaN]);
  });

  test('sin, cos, tanh, sigmoid', () => {
    assertClose(nb.tensor([0, Math.PI / 2], f64).sin(), [0, 1], 1e-15);
    assertClose(nb.tensor([0, Math.PI], f64).cos(), [1, -1], 1e-15);
    assertClose(x.tanh(), [-2, -0.5, 0, 0.5, 2].map(Math.tanh), 1e-15);
    assertClose(
      x.sigmoid(),
      [-2, -0.5, 0, 0.5, 2].map((v) => 1 / (1 + Math.exp(-v))),
      1e-15,
    );
    // Saturates without overflow.
    assertClose(nb.tensor([-1000, 1000], f64).sigmoid(), [0, 1]);
  });

  test('erf at known points (to 1e-12)', () => {
    const e = nb.tensor([0, 0.5, 1, -1, 2, 3, -4, 10], f64).erf();
    assertClose(
      e,
      [
        0, 0.5204998778130465, 0.8427007929497149, -0.8427007929497149, 0.9953222650189527,
        0.9999779095030014, -0.9999999845827421, 1,
      ],
      1e-12,
    );
  });

  test('relu, leakyRelu, gelu (exact and tanh)', () => {
    assert.deepEqual(x.relu().toArray(), [0, 0, 0, 0.5, 2]);
    assertClose(x.leakyRelu(), [-0.02, -0.005, 0, 0.5, 2], 1e-15);
    assertClose(x.leakyRelu(0.5), [-1, -0.25, 0, 0.5, 2], 1e-15);
    const g = nb.tensor([-1, 0, 1, 2], f64);
    assertClose(g.gelu(), [-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416], 1e-12);
    assertClose(
      g.gelu('tanh'),
      [-0.15880800939172324, 0, 0.8411919906082768, 1.954597694087775],
      1e-12,
    );
    assertClose(nb.tensor([NaN]).relu(), [NaN]);
  });

  test('clamp with both bounds, one bound; int32 clamp', () => {
    assert.deepEqual(x.clamp(-1, 1).toArray(), [-1, -0.5, 0, 0.5, 1]);
    assert.deepEqual(x.clamp(0).toArray(), [0, 0, 0, 0.5, 2]);
    assert.deepEqual(x.clamp(null, 0).toArray(), [-2, -0.5, 0, 0, 0]);
    const i = nb.tensor([-5, 0, 5], { dtype: 'int32' }).clamp(-2, 2);
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(i.toArray(), [-2, 0, 2]);
  });

  test('isFinite', () => {
    assert.deepEqual(nb.tensor([1, Infinity, -Infinity, NaN]).isFinite().toArray(), [
      true,
      false,
      false,
      false,
    ]);
  });
});

describe('comparison, logic, where, maskedFill', () => {
  const a = nb.tensor([1, 2, 3]);
  const b = nb.tensor([3, 2, 1]);

  test('comparisons give bool', () => {
    const r = a.lt(b);
    assert.equal(r.dtype, 'bool');
    assert.deepEqual(r.toArray(), [true, false, false]);
    assert.deepEqual(a.le(b).toArray(), [true, true, false]);
    assert.deepEqual(a.gt(b).toArray(), [false, false, true]);
    assert.deepEqual(a.ge(b).toArray(), [false, true, true]);
    assert.deepEqual(a.eq(b).toArray(), [false, true, false]);
    assert.deepEqual(a.ne(b).toArray(), [true, false, true]);
    assert.deepEqual(a.gt(1.5).toArray(), [false, true, true]);
    assert.deepEqual(nb.tensor([1, 2], { dtype: 'int32' }).eq(2).toArray(), [false, true]);
    assert.deepEqual(
      nb
        .tensor([[1], [3]])
        .lt(nb.tensor([2, 4]))
        .toArray(),
      [
        [true, true],
        [false, true],
      ],
    );
  });

  test('logicalAnd, logicalOr, logicalNot on bool (and non-zero numbers)', () => {
    const p = nb.tensor([true, true, false, false]);
    const q = nb.tensor([true, false, true, false]);
    assert.deepEqual(p.logicalAnd(q).toArray(), [true, false, false, false]);
    assert.deepEqual(p.logicalOr(q).toArray(), [true, true, true, false]);
    assert.deepEqual(p.logicalNot().toArray(), [false, false, true, true]);
    assert.equal(p.logicalAnd(q).dtype, 'bool');
    assert.deepEqual(nb.tensor([0, 2, -1]).logicalNot().toArray(), [true, false, false]);
  });

  test('where with broadcasting and scalars', () => {
    const cond = nb.tensor([true, false, true]);
    assert.deepEqual(nb.where(cond, a, b).toArray(), [1, 2, 3]);
    assert.deepEqual(nb.where(cond, a, -1).toArray(), [1, -1, 3]);
    assert.deepEqual(nb.where(nb.tensor([[true], [false]]), a, 0).toArray(), [
      [1, 2, 3],
      [0, 0, 0],
    ]);
  });

  test('maskedFill with a broadcast mask', () => {
    const m = nb.tensor([
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(m.maskedFill(nb.tensor([false, true]), -Infinity).toArray(), [
      [1, -Infinity],
      [3, -Infinity],
    ]);
  });
});

describe('reductions', () => {
  const x = nb.tensor(
    [
      [1, 5, 3],
      [4, 2, 6],
    ],
    f64,
  );

  test('sum and mean over all, one dim, several dims, keepdim', () => {
    assert.equal(x.sum().item(), 21);
    assert.deepEqual(x.sum().shape, []);
    assert.deepEqual(x.sum(0).toArray(), [5, 7, 9]);
    assert.deepEqual(x.sum(1).toArray(), [9, 12]);
    assert.deepEqual(x.sum(-1, true).toArray(), [[9], [12]]);
    assert.deepEqual(x.sum([0, 1]).toArray(), 21);
    assert.deepEqual(x.sum([0, 1], true).shape, [1, 1]);
    assert.deepEqual(x.mean(0).toArray(), [2.5, 3.5, 4.5]);
    assert.equal(x.mean().item(), 3.5);
    const t = nb.arange(24, undefined, 1, f64).reshape(2, 3, 4);
    assert.deepEqual(t.sum([0, 2]).toArray(), [
      0 + 1 + 2 + 3 + 12 + 13 + 14 + 15,
      4 + 5 + 6 + 7 + 16 + 17 + 18 + 19,
      8 + 9 + 10 + 11 + 20 + 21 + 22 + 23,
    ]);
  });

  test('sum of int32 and bool tensors', () => {
    const s = nb.tensor([1, 2, 3], { dtype: 'int32' }).sum();
    assert.equal(s.dtype, 'int32');
    assert.equal(s.item(), 6);
    const c = nb.tensor([true, false, true, true]).sum();
    assert.equal(c.dtype, 'int32');
    assert.equal(c.item(), 3);
  });

  test('max and min (amax/amin semantics)', () => {
    assert.equal(x.max().item(), 6);
    assert.equal(x.min().item(), 1);
    assert.deepEqual(x.max(0).toArray(), [4, 5, 6]);
    assert.deepEqual(x.min(1).toArray(), [1, 2]);
    assert.deepEqual(x.max(1, true).toArray(), [[5], [6]]);
    assert.deepEqual(nb.tensor([-Infinity, -3]).max().item(), -3);
  });

  test('argmax and argmin give int32 and the first occurrence', () => {
    const a = x.argmax();
    assert.equal(a.dtype, 'int32');
    assert.equal(a.item(), 5);
    assert.deepEqual(x.argmax(1).toArray(), [1, 2]);
    assert.deepEqual(x.argmin(0).toArray(), [0, 1, 0]);
    assert.deepEqual(x.argmax(1, true).shape, [2, 1]);
    assert.equal(nb.tensor([3, 7, 7, 1]).argmax().item(), 1);
    assert.equal(nb.tensor([3, 1, 7, 1]).argmin().item(), 1);
  });

  test('var and std with corrections', () => {
    const v = nb.tensor([1, 2, 3, 4], f64);
    assertClose(v.var(), 5 / 3, 1e-15);
    assertClose(v.var(undefined, { correction: 0 }), 1.25, 1e-15);
    assertClose(v.var(undefined, { unbiased: false }), 1.25, 1e-15);
    assertClose(v.std(), Math.sqrt(5 / 3), 1e-15);
    assertClose(v.std(undefined, { correction: 0 }), Math.sqrt(1.25), 1e-15);
    assertClose(x.var(1), [4, 4], 1e-15);
    assertClose(x.var(0, { keepdim: true }), [[4.5, 4.5, 4.5]], 1e-15);
  });

  test('logsumexp, softmax, logSoftmax on small inputs', () => {
    const v = nb.tensor([[0, Math.log(3)]], f64);
    assertClose(v.logsumexp(1), [Math.log(4)], 1e-15);
    assertClose(v.logsumexp(1, true), [[Math.log(4)]], 1e-15);
    assertClose(v.softmax(1), [[0.25, 0.75]], 1e-15);
    assertClose(v.logSoftmax(1), [[Math.log(0.25), Math.log(0.75)]], 1e-15);
    assertClose(v.softmax(0), [[1, 1]], 1e-15);
    const r = nb.randn([3, 5], { generator: new nb.Generator(0) });
    assertClose(r.softmax(-1).sum(-1), [1, 1, 1], 1e-6);
  });

  test('softmax, logSoftmax and logsumexp are stable for huge inputs (1e4)', () => {
    const big = nb.tensor([
      [1e4, 1e4 + 1, 1e4 - 1],
      [-1e4, -1e4, -1e4],
    ]);
    const s = big.softmax(1);
    assert.ok(Array.from(s.dataSync()).every(Number.isFinite), 'no NaN or Infinity');
    const e = [Math.exp(0), Math.exp(1), Math.exp(-1)];
    const z = e[0]! + e[1]! + e[2]!;
    assertClose(s, [e.map((v) => v / z), [1 / 3, 1 / 3, 1 / 3]], 1e-6);
    assertClose(
      big.logSoftmax(1),
      [e.map((v) => Math.log(v / z)), Array(3).fill(-Math.log(3))],
      1e-5,
    );
    assertClose(big.logsumexp(1), [1e4 + Math.log(z), -1e4 + Math.log(3)], 1e-2);
  });

  test('logsumexp of a row of -Infinity is -Infinity, not NaN', () => {
    const t = nb.tensor([
      [-Infinity, -Infinity],
      [0, -Infinity],
    ]);
    assertClose(t.logsumexp(1), [-Infinity, 0]);
    assertClose(t.logSoftmax(1).select(0, 1), [0, -Infinity]);
    assertClose(t.softmax(1).select(0, 1), [1, 0]);
  });
});

describe('matmul', () => {
  const A = nb.tensor([
    [1, 2],
    [3, 4],
  ]);
  const B = nb.tensor([
    [5, 6],
    [7, 8],
  ]);

  test('2-D, 1-D combinations', () => {
    assert.deepEqual(A.matmul(B).toArray(), [
      [19, 22],
      [43, 50],
    ]);
    assert.equal(
      nb
        .tensor([1, 2, 3])
        .matmul(nb.tensor([4, 5, 6]))
        .item(),
      32,
    );
    assert.deepEqual(nb.tensor([1, 1]).matmul(A).toArray(), [4, 6]);
    assert.deepEqual(A.matmul(nb.tensor([1, -1])).toArray(), [-1, -1]);
    assert.deepEqual(A.T.matmul(B).toArray(), [
      [26, 30],
      [38, 44],
    ]);
  });

  test('batched with a broadcast batch dim', () => {
    const a = nb.stack([A, B]); // [2, 2, 2]
    const out = a.matmul(nb.eye(2).unsqueeze(0)); // [1, 2, 2] broadcasts
    assert.deepEqual(out.toArray(), a.toArray());
    const s = nb.ones([2, 1, 3, 4]).matmul(nb.ones([5, 4, 2]));
    assert.deepEqual(s.shape, [2, 5, 3, 2]);
    assert.ok(Array.from(s.dataSync()).every((v) => v === 4));
  });

  test('empty inner dimension gives zeros', () => {
    assert.deepEqual(
      nb
        .ones([2, 0])
        .matmul(nb.ones([0, 3]))
        .toArray(),
      [
        [0, 0, 0],
        [0, 0, 0],
      ],
    );
  });
});

describe('movement', () => {
  const x = nb.arange(6).reshape(2, 3);

  test('reshape, view, flatten, unflatten, squeeze, unsqueeze', () => {
    assert.deepEqual(x.toArray(), [
      [0, 1, 2],
      [3, 4, 5],
    ]);
    assert.deepEqual(x.reshape(3, -1).toArray(), [
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    assert.deepEqual(x.view([6]).toArray(), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(x.flatten().shape, [6]);
    assert.deepEqual(nb.zeros([2, 3, 4]).flatten(1).shape, [2, 12]);
    assert.deepEqual(nb.zeros([2, 12]).unflatten(1, [3, -1]).shape, [2, 3, 4]);
    assert.deepEqual(nb.zeros([1, 2, 1]).squeeze().shape, [2]);
    assert.deepEqual(nb.zeros([1, 2, 1]).squeeze(-1).shape, [1, 2]);
    assert.deepEqual(x.unsqueeze(0).shape, [1, 2, 3]);
    assert.deepEqual(x.unsqueeze(-1).shape, [2, 3, 1]);
  });

  test('permute, transpose, T, mT', () => {
    assert.deepEqual(x.T.toArray(), [
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    assert.deepEqual(x.transpose(0, 1).toArray(), x.T.toArray());
    const t = nb.arange(24).reshape(2, 3, 4);
    const p = t.permute(2, 0, 1);
    assert.deepEqual(p.shape, [4, 2, 3]);
    assert.equal((p.toArray() as number[][][])[3]![1]![2], 23);
    assert.equal((p.toArray() as number[][][])[1]![0]![2], 9);
    assert.deepEqual(t.mT.shape, [2, 4, 3]);
    assert.equal(t.mT.isContiguous(), false);
  });

  test('reshape of a transposed tensor copies in logical order', () => {
    assert.deepEqual(x.T.reshape(6).toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(x.T.contiguous().isContiguous(), true);
  });

  test('expand and broadcastTo', () => {
    const c = nb.tensor([[1], [2]]);
    assert.deepEqual(c.expand(2, 3).toArray(), [
      [1, 1, 1],
      [2, 2, 2],
    ]);
    assert.deepEqual(c.expand(2, -1, 2).toArray(), [
      [
        [1, 1],
        [2, 2],
      ],
      [
        [1, 1],
        [2, 2],
      ],
    ]);
    assert.deepEqual(nb.tensor([1, 2]).broadcastTo(2, 2).toArray(), [
      [1, 2],
      [1, 2],
    ]);
  });

  test('narrow, slice with step and negative bounds, select', () => {
    const r = nb.arange(10);
    assert.deepEqual(r.narrow(0, 2, 3).toArray(), [2, 3, 4]);
    assert.deepEqual(r.slice(0, 1, 8, 3).toArray(), [1, 4, 7]);
    assert.deepEqual(r.slice(0, -3).toArray(), [7, 8, 9]);
    assert.deepEqual(r.slice(0, undefined, undefined, 4).toArray(), [0, 4, 8]);
    assert.deepEqual(r.slice(0, 5, 2).toArray(), []);
    assert.deepEqual(r.slice(0, 8, 100).toArray(), [8, 9]);
    assert.deepEqual(x.select(1, 2).toArray(), [2, 5]);
    assert.deepEqual(x.select(0, -1).toArray(), [3, 4, 5]);
    assert.deepEqual(x.select(0, 0).select(0, 1).toArray(), 1);
  });

  test('split and chunk', () => {
    const r = nb.arange(7);
    assert.deepEqual(
      r.split(3).map((p) => p.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    assert.deepEqual(
      r.split([2, 5]).map((p) => p.toArray()),
      [
        [0, 1],
        [2, 3, 4, 5, 6],
      ],
    );
    assert.deepEqual(
      r.chunk(3).map((p) => p.toArray()),
      [[0, 1, 2], [3, 4, 5], [6]],
    );
    assert.deepEqual(
      x.chunk(3, 1).map((p) => p.toArray()),
      [
        [[0], [3]],
        [[1], [4]],
        [[2], [5]],
      ],
    );
  });

  test('cat and stack', () => {
    assert.deepEqual(nb.cat([x, nb.tensor([[9, 9, 9]], { dtype: 'int32' })]).toArray(), [
      [0, 1, 2],
      [3, 4, 5],
      [9, 9, 9],
    ]);
    assert.deepEqual(nb.cat([x, x.slice(1, 0, 1)], 1).toArray(), [
      [0, 1, 2, 0],
      [3, 4, 5, 3],
    ]);
    assert.deepEqual(nb.stack([nb.tensor([1, 2]), nb.tensor([3, 4])]).toArray(), [
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(nb.stack([nb.tensor([1, 2]), nb.tensor([3, 4])], 1).toArray(), [
      [1, 3],
      [2, 4],
    ]);
  });

  test('to(): casts between dtypes', () => {
    const f = nb.tensor([1.7, -1.7, 0]);
    assert.deepEqual(f.to('int32').toArray(), [1, -1, 0]);
    assert.deepEqual(f.bool().toArray(), [true, true, false]);
    assert.equal(f.double().dtype, 'float64');
    assert.equal(f.to('float32'), f);
    assert.deepEqual(nb.tensor([true, false]).float().toArray(), [1, 0]);
  });

  test('tril and triu (float and bool, diagonal offsets, batches)', () => {
    const m = nb.ones([3, 3]);
    assert.deepEqual(m.tril().toArray(), [
      [1, 0, 0],
      [1, 1, 0],
      [1, 1, 1],
    ]);
    assert.deepEqual(m.triu(1).toArray(), [
      [0, 1, 1],
      [0, 0, 1],
      [0, 0, 0],
    ]);
    assert.deepEqual(nb.ones([2, 3]).tril(-1).toArray(), [
      [0, 0, 0],
      [1, 0, 0],
    ]);
    const causal = nb.ones([2, 2], { dtype: 'bool' }).tril();
    assert.equal(causal.dtype, 'bool');
    assert.deepEqual(causal.toArray(), [
      [true, false],
      [true, true],
    ]);
    assert.deepEqual(nb.ones([2, 2, 2]).triu().sum().item(), 6);
  });
});

describe('indexing', () => {
  const x = nb.tensor([
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
  ]);

  test('indexSelect along both dims with repeats', () => {
    assert.deepEqual(x.indexSelect(0, idx([2, 0, 2])).toArray(), [
      [7, 8, 9],
      [1, 2, 3],
      [7, 8, 9],
    ]);
    assert.deepEqual(x.indexSelect(1, idx([1])).toArray(), [[2], [5], [8]]);
    assert.deepEqual(x.T.indexSelect(0, idx([0])).toArray(), [[1, 4, 7]]);
  });

  test('gather', () => {
    assert.deepEqual(
      x
        .gather(
          1,
          idx([
            [2, 0],
            [1, 1],
            [0, 2],
          ]),
        )
        .toArray(),
      [
        [3, 1],
        [5, 5],
        [7, 9],
      ],
    );
    assert.deepEqual(x.gather(0, idx([[2, 1, 0]])).toArray(), [[7, 5, 3]]);
  });

  test('scatterAdd and indexAdd accumulate repeated indices', () => {
    const base = nb.zeros([2, 3]);
    const src = nb.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(
      nb
        .scatterAdd(
          base,
          1,
          idx([
            [0, 0, 2],
            [1, 1, 1],
          ]),
          src,
        )
        .toArray(),
      [
        [3, 0, 3],
        [0, 15, 0],
      ],
    );
    assert.deepEqual(nb.indexAdd(nb.ones([3, 2]), 0, idx([2, 2]), nb.ones([2, 2])).toArray(), [
      [1, 1],
      [1, 1],
      [3, 3],
    ]);
    // Inputs are not modified.
    assert.deepEqual(base.toArray(), [
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });

  test('embedding looks up rows for any index shape', () => {
    const w = nb.tensor([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    const out = nb.embedding(
      idx([
        [2, 0],
        [1, 2],
      ]),
      w,
    );
    assert.deepEqual(out.shape, [2, 2, 2]);
    assert.deepEqual(out.toArray(), [
      [
        [2, 2],
        [0, 0],
      ],
      [
        [1, 1],
        [2, 2],
      ],
    ]);
  });
});

describe('views share memory', () => {
  test('a write through a view is seen by the base, and the reverse', () => {
    const base = nb.zeros([2, 3]);
    const row = base.select(0, 1);
    nb.noGrad(() => row.copy_(nb.tensor([1, 2, 3])));
    assert.deepEqual(base.toArray(), [
      [0, 0, 0],
      [1, 2, 3],
    ]);
    const t = base.T;
    nb.noGrad(() => base.fill_(7));
    assert.deepEqual(t.toArray(), [
      [7, 7],
      [7, 7],
      [7, 7],
    ]);
  });

  test('reshape/view/slice/narrow/permute/expand/detach share; clone and contiguous copies do not', () => {
    const base = nb.arange(6, undefined, 1, f64).reshape(2, 3);
    const views = [
      base.reshape(6),
      base.view(3, 2),
      base.slice(1, 0, 3, 2),
      base.narrow(0, 1, 1),
      base.permute(1, 0),
      base.unsqueeze(0).expand(2, 2, 3),
      base.detach(),
    ];
    const copies = [base.clone(), base.T.contiguous()];
    nb.noGrad(() => base.mul_(10));
    assert.deepEqual(views[0]!.toArray(), [0, 10, 20, 30, 40, 50]);
    assert.deepEqual(views[2]!.toArray(), [
      [0, 20],
      [30, 50],
    ]);
    assert.deepEqual(views[3]!.toArray(), [[30, 40, 50]]);
    for (const v of views) assert.equal(v.max().item(), 50);
    for (const c of copies) assert.equal(c.max().item(), 5);
  });

  test('copy_ of a view broadcasts and casts; in-place ops on a strided view touch only it', () => {
    const m = nb.zeros([3, 3]);
    nb.noGrad(() => m.slice(1, 0, 3, 2).copy_(nb.tensor([[1.9], [2], [3]])));
    assert.deepEqual(m.toArray(), [
      [1.899999976158142, 0, 1.899999976158142],
      [2, 0, 2],
      [3, 0, 3],
    ]);
    const i = nb.zeros([2], { dtype: 'int32' });
    i.copy_(nb.tensor([1.9, -1.9]));
    assert.deepEqual(i.toArray(), [1, -1]);
    const d = nb.ones([2, 2]);
    d.T.select(0, 1).add_(5); // column 1
    assert.deepEqual(d.toArray(), [
      [1, 6],
      [1, 6],
    ]);
  });
});

describe('reading data back', () => {
  const t = nb.tensor(
    [
      [1, 2],
      [3, 4],
    ],
    f64,
  );

  test('toArray, item, dataSync of views (logical order, right length)', () => {
    assert.deepEqual(t.T.toArray(), [
      [1, 3],
      [2, 4],
    ]);
    const d = t.T.dataSync();
    assert.ok(d instanceof Float64Array);
    assert.deepEqual(Array.from(d), [1, 3, 2, 4]);
    assert.deepEqual(Array.from(t.select(0, 1).dataSync()), [3, 4]);
    assert.equal(t.select(1, 1).select(0, 0).item(), 2);
    assert.ok(nb.tensor([1], { dtype: 'int32' }).dataSync() instanceof Int32Array);
    assert.ok(nb.tensor([true]).dataSync() instanceof Uint8Array);
  });

  test('dataSync returns a copy, also for a tensor spanning its whole buffer', () => {
    const d = t.dataSync();
    d[0] = 100;
    assert.equal((t.toArray() as number[][])[0]![0], 1);
  });

  test('await data() gives the same values', async () => {
    const d = await t.slice(1, 1).data();
    assert.deepEqual(Array.from(d), [2, 4]);
  });

  test('toString prints values and the dtype', () => {
    const s = t.toString();
    assert.match(s, /1\.0000/);
    assert.match(s, /dtype=float64/);
  });
});
