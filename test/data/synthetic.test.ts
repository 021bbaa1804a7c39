/**
 * Synthetic seq2seq tasks: the fixed vocabulary, correctness of every example (reversal, sorting,
 * addition checked by decoding), determinism for a seed, lengths in range, padded batches.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const vocab = nb.data.syntheticVocabulary();
const text = (ids: readonly number[]): string => vocab.decode(ids);

describe('synthetic tasks', () => {
  test('the vocabulary: <pad> 0, <bos> 1, <eos> 2, then + 0-9 =', () => {
    assert.equal(vocab.vocabSize, 15);
    assert.deepEqual(nb.data.SYNTHETIC_SPECIAL_IDS, { pad: 0, bos: 1, eos: 2 });
    assert.deepEqual(vocab.encode('12+3='), [5, 6, 3, 7, 14]);
    assert.equal(vocab.decode([1, 5, 6, 2]), '<bos>12<eos>');
  });

  test('reversal and sorting are correct, lengths in [minLength, maxLength]', () => {
    const rev = nb.data.reversalPairs(200, { seed: 0, minLength: 2, maxLength: 6 });
    const lengths = new Set<number>();
    for (const { src, tgt } of rev) {
      assert.equal(text(tgt), [...text(src)].reverse().join(''));
      assert.match(text(src), /^[0-9]{2,6}$/);
      lengths.add(src.length);
    }
    assert.deepEqual([...lengths].sort(), [2, 3, 4, 5, 6]);
    for (const { src, tgt } of nb.data.sortingPairs(200, { seed: 1 })) {
      assert.equal(text(tgt), [...text(src)].sort().join(''));
      assert.ok(src.length >= 1 && src.length <= 8);
    }
  });

  test('addition: "a+b=" → the sum, operands without leading zeros', () => {
    const digitCounts = new Set<number>();
    for (const { src, tgt } of nb.data.additionPairs(300, { seed: 2, maxDigits: 4 })) {
      const m = /^(\d+)\+(\d+)=$/.exec(text(src));
      assert.ok(m, text(src));
      const [a, b] = [m[1]!, m[2]!];
      assert.ok(!/^0\d/.test(a) && !/^0\d/.test(b));
      digitCounts.add(a.length);
      assert.equal(text(tgt), String(Number(a) + Number(b)));
    }
    assert.deepEqual([...digitCounts].sort(), [1, 2, 3, 4]);
  });

  test('the same seed gives the same data; another seed different data', () => {
    for (const task of ['reverse', 'sort', 'add'] as const) {
      const a = nb.data.syntheticPairs(task, 50, { seed: 9 });
      assert.deepEqual(nb.data.syntheticPairs(task, 50, { generator: new nb.Generator(9) }), a);
      assert.notDeepEqual(nb.data.syntheticPairs(task, 50, { seed: 10 }), a);
    }
  });

  test('syntheticBatch pads with BOS/EOS and masks; a shared generator advances', () => {
    const g = new nb.Generator(0);
    const b1 = nb.data.syntheticBatch('add', 8, { generator: g });
    const b2 = nb.data.syntheticBatch('add', 8, { generator: g });
    assert.notDeepEqual(b1.src.toArray(), b2.src.toArray());
    assert.equal(b1.src.shape[0], 8);
    const rows = b1.src.toArray() as number[][];
    const mask = b1.srcKeyPaddingMask.toArray() as boolean[][];
    rows.forEach((r, i) => {
      assert.equal(r[0], 1);
      r.forEach((v, j) => assert.equal(v === 0, mask[i]![j]));
      assert.match(vocab.decode(r, { skipSpecialTokens: true }), /^\d+\+\d+=$/);
    });
  });

  test('bad arguments are ValueErrors', () => {
    assert.throws(
      () => nb.data.reversalPairs(3, { minLength: 5, maxLength: 2 }),
      /minLength <= maxLength/,
    );
    assert.throws(() => nb.data.additionPairs(3, { maxDigits: 16 }), /maxDigits/);
    assert.throws(
      () => nb.data.syntheticPairs('copy' as nb.data.SyntheticTask, 3),
      /unknown task "copy"/,
    );
    assert.throws(() => nb.data.syntheticBatch('sort', 0), /batchSize/);
  });
});
