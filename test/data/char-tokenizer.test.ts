/**
 * CharTokenizer (nanoGPT shakespeare_char ids, round trips over its alphabet, unknown characters,
 * special tokens, JSON) and the UTF-8/WTF-8 codec the byte-level tokenizer uses (compared with
 * Node's WHATWG TextEncoder/TextDecoder).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as nb from '../../src/index.js';

const FC = { seed: 20240613, numRuns: 300 };

describe('CharTokenizer', () => {
  test("ids are positions in the sorted characters, as nanoGPT's shakespeare_char", () => {
    const text = 'First Citizen:\nBefore we proceed any further, hear me speak.';
    const tok = nb.data.CharTokenizer.fromText(text);
    // Python: chars = sorted(list(set(data))); stoi = {ch: i for i, ch in enumerate(chars)}
    const chars = [...new Set(text)].sort();
    assert.deepEqual(tok.chars, chars);
    assert.equal(tok.vocabSize, chars.length);
    assert.deepEqual(
      tok.encode('hear me'),
      [...'hear me'].map((c) => chars.indexOf(c)),
    );
    assert.equal(tok.decode(tok.encode(text)), text);
  });

  test('characters are code points sorted by code point (not UTF-16 units)', () => {
    const tok = nb.data.CharTokenizer.fromText('😀\uFFFDa😀');
    assert.deepEqual(tok.chars, ['a', '\uFFFD', '😀']); // U+FFFD < U+1F600
    assert.deepEqual(tok.encode('😀a'), [2, 0]);
  });

  test('decode(encode(s)) === s for strings over its alphabet (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.nat(), (s, seed) => {
        const alphabet = nb.data.CharTokenizer.fromText(s);
        assert.equal(alphabet.decode(alphabet.encode(s)), s);
        // Any rearrangement of its characters round-trips too.
        const shuffled = nb.data.shuffle([...s], new nb.Generator(seed)).join('');
        assert.equal(alphabet.decode(alphabet.encode(shuffled)), shuffled);
      }),
      FC,
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const tok = nb.data.CharTokenizer.fromText(s, { specialTokens: ['<pad>'] });
        assert.equal(tok.decode(tok.encode(s)), s);
      }),
      FC,
    );
  });

  test('lone surrogates are characters of their own', () => {
    const s = 'a\uD800b\uDC00';
    const tok = nb.data.CharTokenizer.fromText(s);
    assert.equal(tok.vocabSize, 4);
    assert.equal(tok.decode(tok.encode(s)), s);
  });

  test('an unknown character is a ValueError naming it, or the unk token when given', () => {
    const tok = nb.data.CharTokenizer.fromText('abc');
    assert.throws(
      () => tok.encode('abé'),
      (e: unknown) =>
        e instanceof nb.ValueError &&
        e.message.includes('"é" (U+00E9) at position 2') &&
        e.message.includes("unk: '<unk>'"),
    );
    const withUnk = nb.data.CharTokenizer.fromText('abc', { unk: '<unk>' });
    assert.deepEqual(withUnk.specialTokens, ['<unk>']);
    assert.deepEqual(withUnk.encode('abé'), [1, 2, 0]);
    assert.equal(withUnk.decode(withUnk.encode('xa')), '<unk>a');
  });

  test('special tokens take ids 0..k-1; decode can skip them', () => {
    const tok = nb.data.CharTokenizer.fromText('ba', {
      specialTokens: ['<pad>', '<bos>', '<eos>'],
    });
    assert.equal(tok.vocabSize, 5);
    assert.deepEqual(tok.encode('ab'), [3, 4]);
    assert.equal(tok.specialTokenId('<eos>'), 2);
    assert.equal(tok.decode([1, 3, 4, 2, 0]), '<bos>ab<eos><pad>');
    assert.equal(tok.decode([1, 3, 4, 2, 0], { skipSpecialTokens: true }), 'ab');
    // A literal "<eos>" in the text is not the special token.
    assert.throws(() => tok.encode('<eos>'), nb.ValueError);
    assert.throws(
      () => tok.specialTokenId('<unk>'),
      /no special token "<unk>"; this tokenizer has "<pad>", "<bos>", "<eos>"/,
    );
    assert.throws(() => tok.decode([5]), nb.IndexError);
  });

  test('toJSON/fromJSON through JSON text gives the same tokenizer', () => {
    const text = 'Héllo, wörld! 😀 \uD800';
    const tok = nb.data.CharTokenizer.fromText(text, { specialTokens: ['<pad>'], unk: '<unk>' });
    const again = nb.data.tokenizerFromJSON(JSON.parse(JSON.stringify(tok)));
    assert.ok(again instanceof nb.data.CharTokenizer);
    assert.deepEqual(again.toJSON(), tok.toJSON());
    assert.deepEqual(again.encode(text + '?'), tok.encode(text + '?'));
    assert.throws(() => nb.data.CharTokenizer.fromJSON({ type: 'bpe' }), nb.ValueError);
    assert.throws(() => new nb.data.CharTokenizer(['a', 'a']), /appears twice/);
    assert.throws(() => new nb.data.CharTokenizer(['ab']), /one character/);
    assert.throws(() => nb.data.tokenizerFromJSON({ type: 'x' }), /unknown tokenizer type "x"/);
  });
});

describe('UTF-8 codec', () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  test('encodes well-formed strings exactly as TextEncoder (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        assert.deepEqual(nb.data.utf8Encode(s), enc.encode(s));
        assert.equal(nb.data.utf8Decode(nb.data.utf8Encode(s)), s);
      }),
      FC,
    );
  });

  test('round-trips any JS string, lone surrogates included (WTF-8)', () => {
    const units = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 30 });
    fc.assert(
      fc.property(units, (codes) => {
        const s = String.fromCharCode(...codes);
        assert.equal(nb.data.utf8Decode(nb.data.utf8Encode(s)), s);
      }),
      FC,
    );
    assert.deepEqual([...nb.data.utf8Encode('\uD800')], [0xed, 0xa0, 0x80]);
  });

  test('decodes invalid bytes with U+FFFD as the WHATWG decoder (surrogate bytes aside)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        for (let i = 0; i + 1 < bytes.length; i++)
          fc.pre(!(bytes[i] === 0xed && bytes[i + 1]! >= 0xa0 && bytes[i + 1]! <= 0xbf));
        assert.equal(nb.data.utf8Decode(bytes), dec.decode(bytes));
      }),
      { ...FC, numRuns: 1000 },
    );
    assert.equal(nb.data.utf8Decode([0xf0, 0x9f, 0x98]), '\uFFFD'); // a truncated emoji
    assert.equal(nb.data.utf8Decode([0x61, 0xc3, 0x62]), 'a\uFFFDb');
  });
});
