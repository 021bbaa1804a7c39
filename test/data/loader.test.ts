/**
 * Seeded shuffling and batching: `shuffle`/`randperm` are permutations fixed by the seed,
 * `DataLoader` covers every sample once per epoch (in order, or shuffled by its generator), honours
 * batchSize and dropLast, and `defaultCollate` stacks numbers, arrays, typed arrays, tensors,
 * strings, tuples and objects as PyTorch's default_collate.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as nb from '../../src/index.js';

describe('shuffle and randperm', () => {
  test('a permutation, the same for the same seed, different for another seed', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 50 }), fc.nat(), (a, seed) => {
        const copy = [...a];
        const s1 = nb.data.shuffle(a, new nb.Generator(seed));
        const s2 = nb.data.shuffle(a, new nb.Generator(seed));
        assert.deepEqual(s1, s2);
        assert.deepEqual(a, copy, 'the input is not modified');
        assert.deepEqual(
          [...s1].sort((x, y) => x - y),
          [...a].sort((x, y) => x - y),
        );
      }),
      { seed: 1, numRuns: 200 },
    );
    const p = nb.data.randperm(20, new nb.Generator(0));
    assert.deepEqual(
      [...p].sort((x, y) => x - y),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.notDeepEqual(nb.data.randperm(20, new nb.Generator(1)), p);
    assert.deepEqual(nb.data.randperm(0), []);
    assert.throws(() => nb.data.randperm(-1), nb.ValueError);
  });

  test('every position is equally likely (chi-square on 3 elements)', () => {
    const g = new nb.Generator(123);
    const counts = new Map<string, number>();
    const N = 6000;
    for (let i = 0; i < N; i++) {
      const k = nb.data.shuffle(['a', 'b', 'c'], g).join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    assert.equal(counts.size, 6);
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - N / 6) ** 2 / (N / 6), 0);
    assert.ok(chi2 < 20.5, `chi-square ${chi2} (5 dof, p = 0.001 at 20.5)`);
  });
});

describe('DataLoader', () => {
  const data = Array.from({ length: 10 }, (_, i) => i);

  test('in order: batches of batchSize, the last one smaller unless dropLast', () => {
    const batches = [...new nb.data.DataLoader(data, { batchSize: 4 })].map((t) => t.toArray());
    assert.deepEqual(batches, [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    const dropped = new nb.data.DataLoader(data, { batchSize: 4, dropLast: true });
    assert.equal(dropped.length, 2);
    assert.deepEqual(
      [...dropped].map((t) => t.toArray()),
      [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
      ],
    );
    assert.equal(new nb.data.DataLoader(data, { batchSize: 4 }).length, 3);
  });

  test('shuffled: each epoch a new order covering every sample once, fixed by the seed', () => {
    const epochs = (seed: number): number[][] => {
      const loader = new nb.data.DataLoader(data, {
        batchSize: 3,
        shuffle: true,
        seed,
        collate: (s: number[]) => s,
      });
      return [0, 1, 2].map(() => [...loader].flat());
    };
    const a = epochs(7);
    assert.deepEqual(a, epochs(7));
    assert.notDeepEqual(a, epochs(8));
    for (const e of a)
      assert.deepEqual(
        [...e].sort((x, y) => x - y),
        data,
      );
    assert.notDeepEqual(a[0], a[1]);
    // A shared generator gives the same stream as a seed.
    const g = new nb.Generator(7);
    const viaGen = new nb.data.DataLoader(data, {
      batchSize: 3,
      shuffle: true,
      generator: g,
      collate: (s: number[]) => s,
    });
    assert.deepEqual([...viaGen].flat(), a[0]);
  });

  test('a Dataset object (length + get) works like an array', () => {
    const ds: nb.data.Dataset<{ x: number[]; y: number }> = {
      length: 5,
      get: (i) => ({ x: [i, i * 2], y: i % 2 }),
    };
    const [first] = new nb.data.DataLoader(ds, { batchSize: 2 });
    assert.deepEqual(first!.x.toArray(), [
      [0, 0],
      [1, 2],
    ]);
    assert.equal(first!.x.dtype, 'int32');
    assert.deepEqual(first!.y.toArray(), [0, 1]);
    assert.throws(
      () => new nb.data.DataLoader(ds, { batchSize: 0 }),
      /batchSize must be an integer >= 1/,
    );
  });
});

describe('defaultCollate', () => {
  test('numbers: int32 when all integers, else float32; booleans: bool', () => {
    const ints = nb.data.defaultCollate([1, 2, 3]);
    assert.equal(ints.dtype, 'int32');
    const floats = nb.data.defaultCollate([1, 2.5]);
    assert.equal(floats.dtype, 'float32');
    assert.deepEqual(floats.toArray(), [1, 2.5]);
    assert.equal(nb.data.defaultCollate([true, false]).dtype, 'bool');
  });

  test('typed arrays keep their dtype; tensors are stacked', () => {
    const t = nb.data.defaultCollate([Int32Array.of(1, 2), Int32Array.of(3, 4)]);
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(t.shape, [2, 2]);
    const f = nb.data.defaultCollate([Float64Array.of(0.5), Float64Array.of(1.5)]);
    assert.equal(f.dtype, 'float64');
    const s = nb.data.defaultCollate([nb.ones([2, 3]), nb.zeros([2, 3])]);
    assert.deepEqual(s.shape, [2, 2, 3]);
  });

  test('tuples, objects and strings', () => {
    const [x, label] = nb.data.defaultCollate([
      [nb.ones([2]), 'a'],
      [nb.zeros([2]), 'b'],
    ] as [nb.Tensor, string][]);
    assert.deepEqual(x.shape, [2, 2]);
    assert.deepEqual(label, ['a', 'b']);
    const o = nb.data.defaultCollate([
      { a: [[1], [2]], name: 'p' },
      { a: [[3], [4]], name: 'q' },
    ]);
    assert.deepEqual(o.a.shape, [2, 2, 1]);
    assert.deepEqual(o.name, ['p', 'q']);
  });

  test('mismatched samples are ValueErrors naming the field', () => {
    assert.throws(
      () => nb.data.defaultCollate([{ a: 1 }, { b: 2 }] as { a?: number; b?: number }[]),
      /defaultCollate: sample 1 has no field "a"/,
    );
    assert.throws(
      () => nb.data.defaultCollate([1, 'x'] as unknown[]),
      /every sample must be a number/,
    );
    assert.throws(() => nb.data.defaultCollate([]), /empty batch/);
  });
});
