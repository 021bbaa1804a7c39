/**
 * Sentence pairs: TSV parsing, seeded 90/10 split, padded batches with BOS/EOS and key-padding
 * masks (True = padding, PyTorch's convention), char and BPE tokenizers, the Node text-file
 * adapter's errors, and the real English–French file when ../shared/data is present.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nb from '../../src/index.js';
import { readTextFile } from '../../src/io/node/text.js';

const TSV = [
  'Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)',
  'Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)',
  '',
  'I see.\tJe comprends.\tCC-BY 2.0 (France) Attribution: tatoeba.org #1',
  "It's me.\tC'est moi.",
].join('\r\n');

describe('parseSentencePairs and splitShuffled', () => {
  test('source, target and attribution per line; blank lines skipped; CRLF and BOM accepted', () => {
    const pairs = nb.data.parseSentencePairs('\uFEFF' + TSV + '\n');
    assert.equal(pairs.length, 4);
    assert.deepEqual(pairs[0], {
      source: 'Go.',
      target: 'Va !',
      attribution:
        'CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)',
    });
    assert.deepEqual(pairs[3], { source: "It's me.", target: "C'est moi." });
    assert.throws(
      () => nb.data.parseSentencePairs('a\tb\nno tab here\n'),
      (e: unknown) => e instanceof nb.ValueError && /line 2 has no tab/.test(e.message),
    );
  });

  test('a seeded shuffle then 90% / 10%', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = nb.data.splitShuffled(items, 0.9, 0);
    assert.equal(a.train.length, 18);
    assert.equal(a.val.length, 2);
    assert.deepEqual(
      [...a.train, ...a.val].sort((x, y) => x - y),
      items,
    );
    assert.deepEqual(nb.data.splitShuffled(items, 0.9, 0), a);
    assert.notDeepEqual(nb.data.splitShuffled(items, 0.9, 1), a);
  });
});

describe('collateSeq2Seq', () => {
  test('BOS · tokens · EOS, padded to the longest; masks True at padding', () => {
    const batch = nb.data.collateSeq2Seq(
      [
        { src: [5, 6, 7], tgt: [8] },
        { src: [5], tgt: [9, 9, 9, 9] },
      ],
      { pad: 0, bos: 1, eos: 2 },
    );
    assert.deepEqual(batch.src.toArray(), [
      [1, 5, 6, 7, 2],
      [1, 5, 2, 0, 0],
    ]);
    assert.deepEqual(batch.tgt.toArray(), [
      [1, 8, 2, 0, 0, 0],
      [1, 9, 9, 9, 9, 2],
    ]);
    assert.equal(batch.src.dtype, 'int32');
    assert.equal(batch.srcKeyPaddingMask.dtype, 'bool');
    assert.deepEqual(batch.srcKeyPaddingMask.toArray(), [
      [false, false, false, false, false],
      [false, false, false, true, true],
    ]);
    assert.deepEqual(batch.tgtKeyPaddingMask.toArray(), [
      [false, false, false, true, true, true],
      [false, false, false, false, false, false],
    ]);
    // The mask marks exactly the PAD positions.
    assert.deepEqual(batch.tgt.eq(0).toArray(), batch.tgtKeyPaddingMask.toArray());
  });

  test('separate target special ids, and empty sequences', () => {
    const b = nb.data.collateSeq2Seq(
      [{ src: [], tgt: [] }],
      { pad: 0, bos: 1, eos: 2 },
      { pad: 9, bos: 7, eos: 8 },
    );
    assert.deepEqual(b.src.toArray(), [[1, 2]]);
    assert.deepEqual(b.tgt.toArray(), [[7, 8]]);
    assert.throws(() => nb.data.collateSeq2Seq([], { pad: 0, bos: 1, eos: 2 }), /empty batch/);
  });
});

describe('SentencePairDataset', () => {
  const pairs = nb.data.parseSentencePairs(TSV);

  for (const kind of ['char', 'bpe'] as const) {
    test(`${kind} tokenizers: batches decode back to the sentences`, () => {
      const { src, tgt } = nb.data.sentencePairTokenizers(pairs, {
        kind,
        vocabSize: 280,
        minFrequency: 1,
      });
      assert.deepEqual(src.specialTokens.slice(0, 3), ['<pad>', '<bos>', '<eos>']);
      const ds = new nb.data.SentencePairDataset(pairs, { srcTokenizer: src, tgtTokenizer: tgt });
      assert.equal(ds.length, 4);
      const batches = [...ds.loader({ batchSize: 3 })];
      assert.equal(batches.length, 2);
      const b = batches[0]!;
      const rows = b.tgt.toArray() as number[][];
      const masks = b.tgtKeyPaddingMask.toArray() as boolean[][];
      rows.forEach((row, i) => {
        assert.equal(row[0], 1);
        const len = masks[i]!.indexOf(true) < 0 ? row.length : masks[i]!.indexOf(true);
        assert.equal(row[len - 1], 2);
        assert.equal(tgt.decode(row.slice(1, len - 1)), pairs[i]!.target);
        assert.equal(tgt.decode(row, { skipSpecialTokens: true }), pairs[i]!.target);
      });
      assert.equal(
        src.decode((b.src.toArray() as number[][])[1]!, { skipSpecialTokens: true }),
        pairs[1]!.source,
      );
    });
  }

  test('shuffled loading is fixed by the seed', () => {
    const { src, tgt } = nb.data.sentencePairTokenizers(pairs);
    const ds = new nb.data.SentencePairDataset(pairs, { srcTokenizer: src, tgtTokenizer: tgt });
    const order = (seed: number) =>
      [...ds.loader({ batchSize: 4, shuffle: true, seed })][0]!.src.toArray();
    assert.deepEqual(order(3), order(3));
  });

  test('characters unseen by a char tokenizer become <unk>; missing specials are clear errors', () => {
    const { src, tgt } = nb.data.sentencePairTokenizers(pairs);
    const ds = new nb.data.SentencePairDataset([{ source: 'Zut', target: 'Zut' }], {
      srcTokenizer: src,
      tgtTokenizer: tgt,
    });
    assert.equal(ds.get(0).src[0], src.specialTokenId('<unk>'));
    const plain = nb.data.CharTokenizer.fromText('abc');
    assert.throws(
      () => new nb.data.SentencePairDataset(pairs, { srcTokenizer: plain, tgtTokenizer: plain }),
      /no special token "<pad>"; this tokenizer has none/,
    );
  });
});

describe('readTextFile (Node adapter)', () => {
  test('missing, empty and directory paths are ValueErrors naming the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nabla-text-'));
    try {
      await assert.rejects(
        readTextFile(join(dir, 'nope.tsv')),
        /readTextFile: cannot read '.*nope\.tsv': no such file/,
      );
      writeFileSync(join(dir, 'empty.txt'), '');
      await assert.rejects(readTextFile(join(dir, 'empty.txt')), /empty\.txt' is empty/);
      await assert.rejects(readTextFile(dir), /it is a directory/);
      writeFileSync(join(dir, 'bom.txt'), '\uFEFFhé');
      assert.equal(await readTextFile(join(dir, 'bom.txt')), 'hé');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const ENG_FRA = new URL('../../../shared/data/eng-fra-5k.tsv', import.meta.url);

test(
  'eng-fra-5k.tsv: 5,000 pairs, 4,500 / 500 split, padded batches',
  {
    skip: existsSync(ENG_FRA)
      ? false
      : `skipped: ${ENG_FRA.pathname} not found (../shared/data is not in this checkout)`,
  },
  async () => {
    const pairs = nb.data.parseSentencePairs(await readTextFile(ENG_FRA));
    assert.equal(pairs.length, 5000);
    assert.ok(
      pairs.every(
        (p) => p.source.length > 0 && p.target.length > 0 && p.attribution?.startsWith('CC-BY'),
      ),
    );
    const { train, val } = nb.data.splitShuffled(pairs, 0.9, 0);
    assert.equal(train.length, 4500);
    assert.equal(val.length, 500);
    const { src, tgt } = nb.data.sentencePairTokenizers(train);
    const ds = new nb.data.SentencePairDataset(val, { srcTokenizer: src, tgtTokenizer: tgt });
    const [batch] = ds.loader({ batchSize: 32, shuffle: true, seed: 0 });
    const [B, S] = batch!.src.shape;
    assert.equal(B, 32);
    assert.deepEqual(batch!.srcKeyPaddingMask.shape, [B, S]);
    // At least one row fills the width (the longest), none is all padding.
    const m = batch!.srcKeyPaddingMask.toArray() as boolean[][];
    assert.ok(m.some((r) => r.every((v) => !v)));
    assert.ok(m.every((r) => !r[0]));
  },
);
