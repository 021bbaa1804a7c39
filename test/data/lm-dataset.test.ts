/**
 * Language-model windows: `split` cuts by position (code points for text, as Python), windows are
 * x = tokens[i..i+T) and y = tokens[i+1..i+T+1), batches are int32 (B, T) and fixed by the seed;
 * and nanoGPT's shakespeare_char preparation on the real corpus when ../shared/data is present.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import * as nb from '../../src/index.js';
import { readTextFile } from '../../src/io/node/text.js';

describe('split', () => {
  test('first fraction / rest, by position', () => {
    const { train, val } = nb.data.split(
      Array.from({ length: 10 }, (_, i) => i),
      0.9,
    );
    assert.deepEqual(train, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(val, [9]);
    const t = nb.data.split(Int32Array.of(1, 2, 3, 4), 0.5);
    assert.ok(t.train instanceof Int32Array);
    assert.deepEqual([...t.val], [3, 4]);
    assert.throws(() => nb.data.split([1], 1.5), nb.ValueError);
  });

  test('text is cut by code points, never inside a surrogate pair (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 50 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (s, f) => {
          const { train, val } = nb.data.split(s, f);
          assert.equal(train + val, s);
          const cps = [...s];
          assert.deepEqual([...train], cps.slice(0, Math.floor(cps.length * f)));
        },
      ),
      { seed: 3, numRuns: 300 },
    );
  });
});

describe('LanguageModelDataset', () => {
  const tokens = Array.from({ length: 50 }, (_, i) => (i * 7) % 13);

  test('windows are x = tokens[i..i+T), y shifted by one', () => {
    const ds = new nb.data.LanguageModelDataset(tokens, { blockSize: 8 });
    assert.equal(ds.length, 42);
    const { x, y } = ds.get(5);
    assert.deepEqual([...x], tokens.slice(5, 13));
    assert.deepEqual([...y], tokens.slice(6, 14));
    assert.throws(() => ds.get(42), nb.ValueError);
  });

  test('getBatch: int32 (B, T) at random starts, each row a correct shift, fixed by the seed', () => {
    const make = (seed: number) =>
      new nb.data.LanguageModelDataset(tokens, { blockSize: 8, generator: new nb.Generator(seed) });
    const ds = make(1337);
    const { x, y, starts } = ds.getBatch(16);
    assert.deepEqual(x.shape, [16, 8]);
    assert.deepEqual(y.shape, [16, 8]);
    assert.equal(x.dtype, 'int32');
    assert.equal(y.dtype, 'int32');
    const xs = x.toArray() as number[][];
    const ys = y.toArray() as number[][];
    starts.forEach((s, b) => {
      assert.ok(s >= 0 && s < 42);
      assert.deepEqual(xs[b], tokens.slice(s, s + 8));
      assert.deepEqual(ys[b], tokens.slice(s + 1, s + 9));
      assert.deepEqual(xs[b]!.slice(1), ys[b]!.slice(0, 7));
    });
    const again = make(1337).getBatch(16);
    assert.deepEqual(again.starts, starts);
    assert.deepEqual(again.x.toArray(), xs);
    assert.notDeepEqual(make(1338).getBatch(16).starts, starts);
    // Every start is reachable, including the last one.
    const seen = new Set<number>();
    const wide = make(0);
    for (let i = 0; i < 100; i++) for (const s of wide.getBatch(8).starts) seen.add(s);
    assert.equal(seen.size, 42);
  });

  test('works with DataLoader (its get() gives windows)', () => {
    const ds = new nb.data.LanguageModelDataset(tokens, { blockSize: 4 });
    const [batch] = new nb.data.DataLoader(ds, { batchSize: 3 });
    assert.deepEqual(batch!.x.shape, [3, 4]);
    assert.equal(batch!.y.dtype, 'int32');
    assert.deepEqual(batch!.y.toArray(), [
      tokens.slice(1, 5),
      tokens.slice(2, 6),
      tokens.slice(3, 7),
    ]);
  });

  test('too few tokens or a bad blockSize are ValueErrors', () => {
    assert.throws(
      () => new nb.data.LanguageModelDataset([1, 2, 3], { blockSize: 3 }),
      /3 tokens are too few for blockSize 3 \(need at least 4\)/,
    );
    assert.throws(() => new nb.data.LanguageModelDataset(tokens, { blockSize: 0 }), nb.ValueError);
  });
});

const SHAKESPEARE = new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url);

test(
  'tinyshakespeare as nanoGPT shakespeare_char: 65 characters, 1,003,854 / 111,540 split',
  {
    skip: existsSync(SHAKESPEARE)
      ? false
      : `skipped: ${SHAKESPEARE.pathname} not found (../shared/data is not in this checkout)`,
  },
  async () => {
    const text = await readTextFile(SHAKESPEARE);
    const tok = nb.data.CharTokenizer.fromText(text);
    assert.equal(tok.vocabSize, 65);
    const { train, val } = nb.data.split(tok.encode(text), 0.9);
    // The numbers nanoGPT's prepare.py prints.
    assert.equal(train.length, 1003854);
    assert.equal(val.length, 111540);
    const ds = new nb.data.LanguageModelDataset(train, {
      blockSize: 256,
      generator: new nb.Generator(1337),
    });
    const { x } = ds.getBatch(4);
    assert.deepEqual(x.shape, [4, 256]);
  },
);
