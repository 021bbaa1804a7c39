/**
 * Byte-level BPE: exact round trips for any string (property-based, well-formed and with lone
 * surrogates), the incremental trainer against a naive one that recounts every pair after each
 * merge (same merges, same order), GPT-2 pre-tokenization, save/load, special tokens, errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import * as nb from '../../src/index.js';

const FC = { seed: 20240613, numRuns: 200 };
const BPE = nb.data.ByteLevelBPETokenizer;

const CORPUS = [
  'The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!',
  "Héllo wörld — naïve café, déjà vu. Ça va? Ich heiße Jürgen. It's 12:30, isn't it?",
  'Emoji: 😀😀 👍🏽 🇫🇷 and a family 👨‍👩‍👧 — combining: e\u0301 a\u0308 n\u0303.',
  '日本語のテキストも少し。中文也可以。한국어도 조금.   Tabs\tand\nnewlines\r\n  spaces   ',
  '1234567890 3.14159 100,000 42 42 42 +-*/ == != <= >= {[()]}',
].join('\n');
const TEXT = CORPUS.repeat(3) + ' lower lowest newer newest wider widest '.repeat(5);

/** The textbook algorithm: recount all pairs before each merge; same tie-breaking. */
function naiveMerges(text: string, numMerges: number, minFrequency: number): [number, number][] {
  const re = new RegExp(nb.data.GPT2_PATTERN, 'gu');
  const freq = new Map<string, number>();
  for (const m of text.match(re) ?? []) freq.set(m, (freq.get(m) ?? 0) + 1);
  let words = [...freq].map(([w, n]) => ({ ids: [...nb.data.utf8Encode(w)], n }));
  const merges: [number, number][] = [];
  while (merges.length < numMerges) {
    const counts = new Map<string, number>();
    for (const { ids, n } of words)
      for (let i = 0; i + 1 < ids.length; i++) {
        const k = `${ids[i]},${ids[i + 1]}`;
        counts.set(k, (counts.get(k) ?? 0) + n);
      }
    let best: [number, number] | null = null;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (
        c > bestCount ||
        (c === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))
      ) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (!best || bestCount < minFrequency) break;
    const id = 256 + merges.length;
    merges.push(best);
    words = words.map(({ ids, n }) => {
      const out: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && ids[i] === best![0] && ids[i + 1] === best![1]) {
          out.push(id);
          i++;
        } else out.push(ids[i]!);
      }
      return { ids: out, n };
    });
  }
  return merges;
}

describe('ByteLevelBPETokenizer training', () => {
  test('the incremental trainer learns exactly the merges of the naive recount', () => {
    for (const minFrequency of [1, 2, 3]) {
      const tok = BPE.train(TEXT, 256 + 120, { minFrequency });
      assert.deepEqual(
        tok.merges.map(([a, b]) => [a, b]),
        naiveMerges(TEXT, 120, minFrequency),
        `minFrequency ${minFrequency}`,
      );
    }
  });

  test('stops early when no pair is frequent enough; vocabSize counts specials and bytes', () => {
    const tok = BPE.train('abab cdcd', 1000, { minFrequency: 2, specialTokens: ['<pad>'] });
    assert.ok(tok.merges.length < 1000 - 257);
    assert.equal(tok.vocabSize, 1 + 256 + tok.merges.length);
    const small = BPE.train(TEXT, 300, { specialTokens: ['<pad>', '<bos>'] });
    assert.equal(small.vocabSize, 300);
    assert.equal(small.merges.length, 42);
  });

  test('training is deterministic and merges frequent words into single tokens', () => {
    const a = BPE.train(TEXT, 400);
    const b = BPE.train(TEXT, 400);
    assert.deepEqual(a.toJSON(), b.toJSON());
    const ids = a.encode(' lower');
    assert.equal(ids.length, 1, `' lower' should be one token, got ${ids.length}`);
  });

  test('merges never cross GPT-2 pre-tokenizer boundaries', () => {
    const tok = BPE.train('ab. ab. ab. ab.', 300, { minFrequency: 1 });
    for (let id = 256; id < tok.vocabSize; id++) {
      const piece = nb.data.utf8Decode(tok.bytesOf(id));
      const chunks = piece.match(new RegExp(nb.data.GPT2_PATTERN, 'gu')) ?? [];
      assert.equal(chunks.length, 1, `token ${JSON.stringify(piece)} spans chunks`);
    }
  });

  test('bad arguments are ValueErrors', () => {
    assert.throws(() => BPE.train('abc', 255), /vocabSize must be an integer in \[256/);
    assert.throws(() => BPE.train('abc', 257, { specialTokens: ['a', 'b'] }), /\[258,/);
    assert.throws(() => BPE.train('abc', 300, { minFrequency: 0 }), nb.ValueError);
    assert.throws(() => BPE.train('abc', 300, { pattern: '(' }), /invalid pattern/);
    assert.throws(() => new BPE([[256, 1]]), /merge 0 must be a pair of earlier ids/);
    assert.throws(
      () =>
        new BPE([
          [1, 2],
          [1, 2],
        ]),
      /repeats the pair/,
    );
  });
});

describe('ByteLevelBPETokenizer encode/decode', () => {
  const tok = BPE.train(TEXT, 256 + 200, {
    minFrequency: 1,
    specialTokens: ['<pad>', '<bos>', '<eos>'],
  });

  test('decode(encode(s)) === s for any well-formed string (property)', () => {
    for (const unit of ['grapheme', 'grapheme-composite', 'binary'] as const) {
      fc.assert(
        fc.property(fc.string({ unit, maxLength: 60 }), (s) => {
          assert.equal(tok.decode(tok.encode(s)), s);
        }),
        FC,
      );
    }
    // Strings built from the training text's pieces exercise many merges.
    const pieces = fc.constantFrom(...TEXT.split(/(?=\s)/));
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 20 }), (ps) => {
        const s = ps.join('');
        assert.equal(tok.decode(tok.encode(s)), s);
      }),
      FC,
    );
  });

  test('decode(encode(s)) === s with lone surrogates too (WTF-8 bytes)', () => {
    const units = fc.array(
      fc.oneof(
        fc.integer({ min: 0, max: 0x7f }),
        fc.integer({ min: 0xd800, max: 0xdfff }),
        fc.integer({ min: 0, max: 0xffff }),
      ),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(units, (codes) => {
        const s = String.fromCharCode(...codes);
        assert.equal(tok.decode(tok.encode(s)), s);
      }),
      FC,
    );
  });

  test('a known sentence: fewer tokens than bytes, every id in range, specials never produced', () => {
    const s = 'The quick brown fox — naïve café 😀!';
    const ids = tok.encode(s);
    assert.ok(ids.length < nb.data.utf8Encode(s).length);
    assert.ok(ids.every((id) => id >= 3 && id < tok.vocabSize));
    assert.equal(tok.decode(ids), s);
    assert.deepEqual(tok.encode(''), []);
    assert.ok(tok.encode('<eos>').every((id) => id >= 3));
  });

  test('special tokens decode to their text, or are skipped', () => {
    const eos = tok.specialTokenId('<eos>');
    const ids = [tok.specialTokenId('<bos>'), ...tok.encode('fox'), eos, 0];
    assert.equal(tok.decode(ids), '<bos>fox<eos><pad>');
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'fox');
    assert.throws(() => tok.decode([tok.vocabSize]), nb.IndexError);
  });

  test('a sequence cut inside a character decodes with U+FFFD', () => {
    const bytesOfEmoji = [...nb.data.utf8Encode('😀')].map((b) => b + 3); // byte ids (after 3 specials)
    assert.equal(tok.decode(bytesOfEmoji.slice(0, 2)), '\uFFFD');
    assert.equal(tok.decode(bytesOfEmoji), '😀');
  });

  test('save/load through JSON text gives identical encodings', () => {
    const again = BPE.fromJSON(JSON.parse(JSON.stringify(tok)));
    assert.equal(again.vocabSize, tok.vocabSize);
    assert.deepEqual(again.toJSON(), tok.toJSON());
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => {
        assert.deepEqual(again.encode(s), tok.encode(s));
      }),
      FC,
    );
    assert.deepEqual(again.encode(TEXT), tok.encode(TEXT));
    const viaAny = nb.data.tokenizerFromJSON(tok.toJSON());
    assert.ok(viaAny instanceof BPE);
    assert.throws(
      () => BPE.fromJSON({ type: 'byte-level-bpe', version: 2, merges: [] }),
      /unsupported version/,
    );
  });

  test('a custom pre-tokenizer pattern is saved with the tokenizer', () => {
    const words = BPE.train('aa bb aa bb', 260, { pattern: '\\S+|\\s+', minFrequency: 1 });
    const again = BPE.fromJSON(JSON.parse(JSON.stringify(words)));
    assert.equal(again.pattern, '\\S+|\\s+');
    assert.deepEqual(again.encode('aa bb'), words.encode('aa bb'));
  });
});

const SHAKESPEARE = new URL('../../../shared/data/tinyshakespeare.txt', import.meta.url);

describe('ByteLevelBPETokenizer on tinyshakespeare (1 MB)', () => {
  const present = existsSync(SHAKESPEARE);
  test(
    'trains to 512 ids in well under a minute and round-trips the corpus',
    {
      skip: present
        ? false
        : `skipped: ${SHAKESPEARE.pathname} not found (../shared/data is not in this checkout)`,
    },
    () => {
      const text = readFileSync(SHAKESPEARE, 'utf8');
      const t0 = performance.now();
      const tok = BPE.train(text, 512);
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(tok.vocabSize, 512);
      assert.ok(seconds < 20, `training took ${seconds.toFixed(1)} s`);
      const ids = tok.encode(text);
      assert.ok(
        ids.length < text.length / 1.8,
        `${ids.length} tokens for ${text.length} characters`,
      );
      assert.equal(tok.decode(ids), text);
    },
  );
});
