/**
 * nb.data.corpusBleu against values computed by hand from the definition (Papineni et al.,
 * 2002, as sacreBLEU computes it): clipped n-gram counts summed over the corpus, the geometric
 * mean of the four precisions, the brevity penalty exp(1 − r/c) with the closest reference
 * length; sacreBLEU's 'exp' smoothing; and its 13a tokenizer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const { corpusBleu, tokenize13a, exactMatch } = nb.data;

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} vs ${expected}`);
}

test('identical hypothesis and reference score 100', () => {
  const s = corpusBleu(['the cat sat on the mat'], ['the cat sat on the mat']);
  close(s.score, 100, 'score');
  assert.deepEqual(s.counts, [6, 5, 4, 3]);
  assert.deepEqual(s.totals, [6, 5, 4, 3]);
  close(s.bp, 1, 'bp');
});

test("Papineni's 'the the the ...' example: clipping, zero precision and exp smoothing", () => {
  const hyp = ['the the the the the the the'];
  const refs = [['the cat is on the mat', 'there is a cat on the mat']];
  const plain = corpusBleu(hyp, refs, { tokenize: 'none' });
  // 'the' occurs at most twice in one reference: 2 of 7 unigrams count; no bigram matches.
  assert.deepEqual(plain.counts, [2, 0, 0, 0]);
  assert.deepEqual(plain.totals, [7, 6, 5, 4]);
  close(plain.precisions[0]!, (100 * 2) / 7, 'p1');
  assert.equal(plain.score, 0);
  // Closest reference length: 7 (the second reference), so no brevity penalty.
  assert.equal(plain.refLen, 7);
  close(plain.bp, 1, 'bp');
  // sacreBLEU's 'exp' smoothing: the k-th zero precision becomes 100 / (2^k · total).
  const smoothed = corpusBleu(hyp, refs, { tokenize: 'none', smooth: 'exp' });
  const p = [(100 * 2) / 7, 100 / (2 * 6), 100 / (4 * 5), 100 / (8 * 4)];
  close(smoothed.score, Math.exp(p.reduce((a, x) => a + Math.log(x), 0) / 4), 'smoothed score');
});

test('counts are summed over the corpus before the geometric mean', () => {
  const s = corpusBleu(['a b c d', 'a b x y'], ['a b c d', 'a b c d'], { tokenize: 'none' });
  // Sentence 1: 4/4, 3/3, 2/2, 1/1; sentence 2: 2/4, 1/3, 0/2, 0/1.
  assert.deepEqual(s.counts, [6, 4, 2, 1]);
  assert.deepEqual(s.totals, [8, 6, 4, 2]);
  close(s.score, 100 * Math.pow((6 / 8) * (4 / 6) * (2 / 4) * (1 / 2), 1 / 4), 'score');
  // Sentence 2 alone has no 3-gram match: 0.
  assert.equal(corpusBleu(['a b x y'], ['a b c d'], { tokenize: 'none' }).score, 0);
});

test('the brevity penalty exp(1 - r/c) for a short hypothesis', () => {
  const s = corpusBleu(['the cat'], ['the cat sat on the mat'], { tokenize: 'none', maxOrder: 2 });
  close(s.bp, Math.exp(1 - 6 / 2), 'bp');
  close(s.score, 100 * Math.exp(1 - 6 / 2), 'score');
  close(s.ratio, 2 / 6, 'ratio');
  // With 4-grams the 2-token hypothesis has no 3-grams at all: 0.
  assert.equal(corpusBleu(['the cat'], ['the cat sat on the mat']).score, 0);
});

test('the closest reference length sets r, the shorter one on a tie', () => {
  // Hypothesis of 5 tokens, references of 4 and 6 tokens: both 1 away, r = 4, c > r, BP = 1.
  const s = corpusBleu(['a b c d e'], [['a b c d', 'a b c d e f']], { tokenize: 'none' });
  assert.equal(s.refLen, 4);
  close(s.bp, 1, 'bp');
  // A 3-token hypothesis: r = 4 is closer than 6.
  const t = corpusBleu(['a b c'], [['a b c d', 'a b c d e f']], { tokenize: 'none', maxOrder: 3 });
  assert.equal(t.refLen, 4);
  close(t.bp, Math.exp(1 - 4 / 3), 'bp');
});

test("sacreBLEU's 13a tokenizer splits punctuation but not decimals or apostrophes", () => {
  assert.deepEqual(tokenize13a("Hello, world! It's 3.5-4 km."), [
    'Hello',
    ',',
    'world',
    '!',
    "It's",
    '3.5',
    '-',
    '4',
    'km',
    '.',
  ]);
  assert.deepEqual(tokenize13a('Va !'), ['Va', '!']);
  assert.deepEqual(tokenize13a('a &amp; b (c)'), ['a', '&', 'b', '(', 'c', ')']);
  // With 13a, "mat." matches "mat ." of a reference.
  close(corpusBleu(['the cat sat on the mat.'], ['the cat sat on the mat .']).score, 100, 'score');
});

test('lowercase option and input errors', () => {
  close(
    corpusBleu(['The Cat Sat Down'], ['the cat sat down'], { lowercase: true }).score,
    100,
    'lc',
  );
  assert.throws(() => corpusBleu(['a'], []), /1 hypotheses but 0 references/);
  assert.throws(() => corpusBleu(['a'], ['a'], { maxOrder: 0 }), /maxOrder/);
  assert.equal(corpusBleu([''], ['a b c d']).score, 0);
});

test('exactMatch', () => {
  assert.equal(exactMatch([[1, 2], [3], []], [[1, 2], [4], []]), 2 / 3);
  assert.equal(exactMatch(['abc'], ['abd']), 0);
  assert.equal(exactMatch([], []), 0);
  assert.throws(() => exactMatch([[1]], []), /1 predictions but 0 references/);
});
