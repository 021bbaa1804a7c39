/**
 * Byte-level byte-pair encoding (BPE).
 *
 * BPE for subwords: Sennrich, Haddow & Birch, "Neural Machine Translation of Rare Words with
 * Subword Units" (ACL 2016): start from single symbols and repeatedly merge the most frequent
 * adjacent pair into a new symbol. Byte-level: Radford et al., "Language Models are Unsupervised
 * Multitask Learners" (GPT-2, 2019): the symbols start as the 256 byte values of the UTF-8 text,
 * so every string is encodable and nothing is ever unknown; text is first split into chunks by
 * GPT-2's regular expression (letters, digits, punctuation runs, each with one leading space;
 * whitespace runs), and merges never cross a chunk boundary.
 *
 * Ids: special tokens first (0..k-1), then the 256 bytes (k..k+255), then one id per merge in the
 * order learned. Training counts pairs once per distinct chunk (weighted by its frequency) and
 * updates the counts incrementally after each merge, touching only the chunks that contain the
 * merged pair (as Hugging Face tokenizers' BpeTrainer does), with a lazily updated max-heap to
 * find the next pair. Ties between equally frequent pairs go to the smallest pair of ids
 * (first id, then second), so training is deterministic.
 *
 * Round trip: `decode(encode(s)) === s` for every JS string. Well-formed text is encoded as
 * standard UTF-8 bytes; a lone surrogate (which UTF-8 cannot represent) is encoded as WTF-8's
 * three bytes and decoded back to the same code unit (see utf8.ts).
 */
import { ValueError } from '../core/errors.js';
import {
  checkId,
  checkSpecialTokens,
  findSpecial,
  type DecodeOptions,
  type Tokenizer,
} from './tokenizer.js';
import { utf8Decode, utf8Encode } from './utf8.js';

/** GPT-2's pre-tokenizer pattern (used with the `gu` flags). */
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export interface BPEOptions {
  /** Special tokens (e.g. `['<pad>', '<bos>', '<eos>']`), ids 0..k-1. */
  specialTokens?: readonly string[];
  /**
   * The pre-tokenizer's regular expression source (compiled with the `gu` flags; text between
   * matches is kept as chunks of its own). Default: GPT-2's, `GPT2_PATTERN`.
   */
  pattern?: string;
}

export interface BPETrainOptions extends BPEOptions {
  /**
   * Stop early when the most frequent pair occurs fewer times than this (default 2: a pair seen
   * once is not worth a token). The vocabulary may then be smaller than asked for.
   */
  minFrequency?: number;
}

/** The JSON form of a ByteLevelBPETokenizer. */
export interface ByteLevelBPEJSON {
  type: 'byte-level-bpe';
  version: 1;
  pattern: string;
  specialTokens: string[];
  /** Merges in order, as pairs of ids without the special-token offset (bytes 0..255, merge i is 256 + i). */
  merges: [number, number][];
}

/** Pair (a, b) of ids below 2^21 packed into one number; smaller key = smaller (a, b). */
const SHIFT = 2097152;
const MAX_ID = SHIFT - 1;
const pairKey = (a: number, b: number): number => a * SHIFT + b;

function compilePattern(pattern: string, who: string): RegExp {
  if (typeof pattern !== 'string')
    throw new ValueError(`${who}: pattern must be a regular expression source string`);
  try {
    return new RegExp(pattern, 'gu');
  } catch (e) {
    throw new ValueError(
      `${who}: invalid pattern ${JSON.stringify(pattern)}: ${(e as Error).message}`,
    );
  }
}

/** Splits `text` into chunks: every match of `re`, and any text between matches. */
function preTokenize(text: string, re: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++; // a pattern that can match the empty string must still advance
      continue;
    }
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Merges every (a, b) of `word`, left to right, into `id`. */
function mergeWord(word: number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < word.length; i++) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
      out.push(id);
      i++;
    } else out.push(word[i]!);
  }
  return out;
}

/** A max-heap of (count, pair key): larger count first, then smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.keys.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.keys.length && this.above(l, best)) best = l;
        if (r < this.keys.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/**
 * A GPT-2-style byte-level BPE tokenizer.
 *
 * @example
 * const tok = nb.data.ByteLevelBPETokenizer.train(text, 512, { specialTokens: ['<pad>', '<bos>', '<eos>'] });
 * const ids = tok.encode('To be, or not to be 😀');
 * tok.decode(ids); // 'To be, or not to be 😀'
 * const again = nb.data.ByteLevelBPETokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
 */
export class ByteLevelBPETokenizer implements Tokenizer {
  readonly specialTokens: readonly string[];
  readonly pattern: string;
  /** The merges in order, as pairs of ids without the special-token offset. */
  readonly merges: readonly (readonly [number, number])[];
  private readonly re: RegExp;
  private readonly ranks = new Map<number, number>();
  /** The bytes of each non-special token (index = id without the offset). */
  private readonly tokenBytes: Uint8Array[] = [];
  private readonly cache = new Map<string, number[]>();

  /** A tokenizer from learned merges (see `train` and `fromJSON`). */
  constructor(merges: readonly (readonly [number, number])[], options: BPEOptions = {}) {
    this.specialTokens = checkSpecialTokens(options.specialTokens ?? [], 'ByteLevelBPETokenizer');
    this.pattern = options.pattern ?? GPT2_PATTERN;
    this.re = compilePattern(this.pattern, 'ByteLevelBPETokenizer');
    for (let b = 0; b < 256; b++) this.tokenBytes.push(Uint8Array.of(b));
    merges.forEach((pair, i) => {
      const id = 256 + i;
      const ok =
        Array.isArray(pair) &&
        pair.length === 2 &&
        pair.every((x) => Number.isInteger(x) && x >= 0 && x < id);
      if (!ok || id > MAX_ID)
        throw new ValueError(
          `ByteLevelBPETokenizer: merge ${i} must be a pair of earlier ids (< ${id}), got ${JSON.stringify(pair)}`,
        );
      const [a, b] = pair;
      const key = pairKey(a, b);
      if (this.ranks.has(key))
        throw new ValueError(`ByteLevelBPETokenizer: merge ${i} repeats the pair [${a}, ${b}]`);
      this.ranks.set(key, i);
      const ba = this.tokenBytes[a]!;
      const bb = this.tokenBytes[b]!;
      const bytes = new Uint8Array(ba.length + bb.length);
      bytes.set(ba);
      bytes.set(bb, ba.length);
      this.tokenBytes.push(bytes);
    });
    this.merges = merges.map(([a, b]) => [a, b] as const);
  }

  /**
   * Learns merges from `text` until the vocabulary (special tokens + 256 bytes + merges) has
   * `vocabSize` ids, or no pair occurs `minFrequency` times.
   *
   * @example
   * const tok = nb.data.ByteLevelBPETokenizer.train('low lower lowest newer wider', 262);
   * tok.merges.length; // 4 ('er', 'lo', 'low', ' low'): no other pair occurs twice
   */
  static train(
    text: string,
    vocabSize: number,
    options: BPETrainOptions = {},
  ): ByteLevelBPETokenizer {
    const who = 'ByteLevelBPETokenizer.train';
    if (typeof text !== 'string') throw new ValueError(`${who}: text must be a string`);
    const specials = checkSpecialTokens(options.specialTokens ?? [], who);
    const base = 256 + specials.length;
    if (!Number.isInteger(vocabSize) || vocabSize < base || vocabSize > MAX_ID)
      throw new ValueError(
        `${who}: vocabSize must be an integer in [${base}, ${MAX_ID}] (256 bytes + ${specials.length} special tokens at least), got ${vocabSize}`,
      );
    const minFrequency = options.minFrequency ?? 2;
    if (!(Number.isInteger(minFrequency) && minFrequency >= 1))
      throw new ValueError(`${who}: minFrequency must be an integer >= 1, got ${minFrequency}`);
    const pattern = options.pattern ?? GPT2_PATTERN;
    const re = compilePattern(pattern, who);

    // Distinct chunks with their frequencies.
    const freq = new Map<string, number>();
    for (const chunk of preTokenize(text, re)) freq.set(chunk, (freq.get(chunk) ?? 0) + 1);
    const words: number[][] = [];
    const weights: number[] = [];
    for (const [chunk, n] of freq) {
      const bytes = utf8Encode(chunk);
      if (bytes.length < 2) continue; // a single byte has no pairs
      words.push(Array.from(bytes));
      weights.push(n);
    }

    // Pair counts and, per pair, the chunks that may contain it (entries may go stale).
    const counts = new Map<number, number>();
    const where = new Map<number, Set<number>>();
    words.forEach((w, wi) => {
      for (let i = 0; i + 1 < w.length; i++) {
        const k = pairKey(w[i]!, w[i + 1]!);
        counts.set(k, (counts.get(k) ?? 0) + weights[wi]!);
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(wi);
      }
    });
    // Invariant: every pair with a positive count has a heap entry >= its count.
    const heap = new PairHeap();
    for (const [k, c] of counts) heap.push(c, k);

    const merges: [number, number][] = [];
    const numMerges = vocabSize - base;
    while (merges.length < numMerges && heap.size > 0) {
      const [c, key] = heap.pop();
      const current = counts.get(key) ?? 0;
      if (c !== current) {
        if (current > 0) heap.push(current, key); // stale entry: requeue with the true count
        continue;
      }
      if (current < minFrequency) break;
      const a = Math.floor(key / SHIFT);
      const b = key - a * SHIFT;
      const id = 256 + merges.length;
      merges.push([a, b]);
      const touched = new Set<number>();
      for (const wi of where.get(key) ?? []) {
        const w = words[wi]!;
        const weight = weights[wi]!;
        let has = false;
        for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) has = true;
        if (!has) continue;
        for (let i = 0; i + 1 < w.length; i++) {
          const k = pairKey(w[i]!, w[i + 1]!);
          counts.set(k, counts.get(k)! - weight);
          touched.add(k);
        }
        const merged = mergeWord(w, a, b, id);
        words[wi] = merged;
        for (let i = 0; i + 1 < merged.length; i++) {
          const k = pairKey(merged[i]!, merged[i + 1]!);
          counts.set(k, (counts.get(k) ?? 0) + weight);
          touched.add(k);
          let s = where.get(k);
          if (!s) where.set(k, (s = new Set()));
          s.add(wi);
        }
      }
      where.delete(key);
      for (const k of touched) {
        const n = counts.get(k)!;
        if (n > 0) heap.push(n, k);
        else {
          counts.delete(k);
          where.delete(k);
        }
      }
    }
    return new ByteLevelBPETokenizer(merges, { specialTokens: specials, pattern });
  }

  static fromJSON(json: ByteLevelBPEJSON | unknown): ByteLevelBPETokenizer {
    const j = json as ByteLevelBPEJSON;
    if (
      typeof j !== 'object' ||
      j === null ||
      j.type !== 'byte-level-bpe' ||
      !Array.isArray(j.merges)
    )
      throw new ValueError(
        "ByteLevelBPETokenizer.fromJSON: expected { type: 'byte-level-bpe', merges: [...], ... }",
      );
    if (j.version !== 1)
      throw new ValueError(
        `ByteLevelBPETokenizer.fromJSON: unsupported version ${String(j.version)}`,
      );
    return new ByteLevelBPETokenizer(j.merges, {
      specialTokens: j.specialTokens ?? [],
      pattern: j.pattern,
    });
  }

  get vocabSize(): number {
    return this.specialTokens.length + 256 + this.merges.length;
  }

  /** The ids of `text` (special-token strings in the text are encoded as ordinary text). */
  encode(text: string): number[] {
    const out: number[] = [];
    const k = this.specialTokens.length;
    for (const chunk of preTokenize(text, this.re)) {
      for (const id of this.encodeChunk(chunk)) out.push(id + k);
    }
    return out;
  }

  /** The merges applied to one chunk, lowest rank first, as training applied them. */
  private encodeChunk(chunk: string): number[] {
    const hit = this.cache.get(chunk);
    if (hit) return hit;
    let ids = Array.from(utf8Encode(chunk));
    while (ids.length >= 2) {
      let best = Infinity;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.ranks.get(pairKey(ids[i]!, ids[i + 1]!));
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) break;
      const [a, b] = this.merges[best]!;
      ids = mergeWord(ids, a, b, 256 + best);
    }
    if (this.cache.size >= 65536) this.cache.clear();
    this.cache.set(chunk, ids);
    return ids;
  }

  /**
   * The text of `ids`. A sequence that ends inside a multi-byte character (or any invalid byte
   * sequence) decodes with U+FFFD in its place.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const k = this.specialTokens.length;
    let out = '';
    let pending: Uint8Array[] = [];
    const flush = (): void => {
      if (pending.length === 0) return;
      let n = 0;
      for (const p of pending) n += p.length;
      const bytes = new Uint8Array(n);
      n = 0;
      for (const p of pending) {
        bytes.set(p, n);
        n += p.length;
      }
      out += utf8Decode(bytes);
      pending = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      checkId(id, this.vocabSize, 'ByteLevelBPETokenizer.decode');
      if (id < k) {
        flush();
        if (!options.skipSpecialTokens) out += this.specialTokens[id]!;
      } else pending.push(this.tokenBytes[id - k]!);
    }
    flush();
    return out;
  }

  /** The bytes a (non-special) token stands for. */
  bytesOf(id: number): Uint8Array {
    checkId(id, this.vocabSize, 'ByteLevelBPETokenizer.bytesOf');
    const k = this.specialTokens.length;
    if (id < k) return utf8Encode(this.specialTokens[id]!);
    return this.tokenBytes[id - k]!.slice();
  }

  specialTokenId(token: string): number {
    return findSpecial(this.specialTokens, token, 'ByteLevelBPETokenizer');
  }

  toJSON(): ByteLevelBPEJSON {
    return {
      type: 'byte-level-bpe',
      version: 1,
      pattern: this.pattern,
      specialTokens: [...this.specialTokens],
      merges: this.merges.map(([a, b]) => [a, b]),
    };
  }
}
