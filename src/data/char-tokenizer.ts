/**
 * Character-level tokenizer, as nanoGPT's shakespeare_char (Karpathy, data/shakespeare_char/
 * prepare.py): the vocabulary is the sorted set of characters of a text, and a character's id is
 * its position in that list. "Character" means Unicode code point (what Python's `str` iterates
 * over), sorted by code point, so the ids match nanoGPT's for the same text; a lone UTF-16
 * surrogate counts as one character. Optional special tokens take ids 0..k-1 and shift the
 * characters after them.
 */
import { ValueError } from '../core/errors.js';
import {
  checkId,
  checkSpecialTokens,
  findSpecial,
  type DecodeOptions,
  type Tokenizer,
} from './tokenizer.js';

export interface CharTokenizerOptions {
  /** Special tokens (e.g. `['<pad>', '<bos>', '<eos>']`), ids 0..k-1. */
  specialTokens?: readonly string[];
  /**
   * A token for characters outside the alphabet (added to the special tokens if not among them).
   * Without it, encoding an unknown character throws a ValueError.
   */
  unk?: string;
}

/** The JSON form of a CharTokenizer. */
export interface CharTokenizerJSON {
  type: 'char';
  chars: string[];
  specialTokens: string[];
  unk: string | null;
}

function isOneCodePoint(s: string): boolean {
  if (s.length === 1) return true;
  if (s.length !== 2) return false;
  const hi = s.charCodeAt(0);
  const lo = s.charCodeAt(1);
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff;
}

/**
 * Maps each character of a fixed alphabet to an id.
 *
 * @example
 * const tok = nb.data.CharTokenizer.fromText('hello world');
 * tok.vocabSize; // 8: ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w'
 * tok.encode('hold'); // [3, 5, 4, 1]
 * tok.decode([3, 5, 4, 1]); // 'hold'
 */
export class CharTokenizer implements Tokenizer {
  readonly chars: readonly string[];
  readonly specialTokens: readonly string[];
  readonly unk: string | null;
  private readonly toId = new Map<number, number>();
  private readonly unkId: number;

  /** A tokenizer over `chars` (distinct single characters) in the given order. */
  constructor(chars: Iterable<string>, options: CharTokenizerOptions = {}) {
    const specials = checkSpecialTokens(options.specialTokens ?? [], 'CharTokenizer');
    const unk = options.unk ?? null;
    if (unk !== null && !specials.includes(unk))
      specials.push(...checkSpecialTokens([unk], 'CharTokenizer'));
    this.specialTokens = specials;
    this.unk = unk;
    this.unkId = unk === null ? -1 : specials.indexOf(unk);
    const list = [...chars];
    list.forEach((c, i) => {
      if (typeof c !== 'string' || !isOneCodePoint(c))
        throw new ValueError(
          `CharTokenizer: each alphabet entry must be one character (code point), got ${JSON.stringify(c)}`,
        );
      const cp = c.codePointAt(0)!;
      if (this.toId.has(cp))
        throw new ValueError(`CharTokenizer: character ${JSON.stringify(c)} appears twice`);
      this.toId.set(cp, specials.length + i);
    });
    this.chars = list;
  }

  /**
   * The tokenizer whose alphabet is the distinct characters of `text`, sorted by code point.
   *
   * @example
   * const tok = nb.data.CharTokenizer.fromText(text, { specialTokens: ['<pad>', '<bos>', '<eos>'] });
   */
  static fromText(text: string, options: CharTokenizerOptions = {}): CharTokenizer {
    const cps = new Set<number>();
    for (const c of text) cps.add(c.codePointAt(0)!);
    const sorted = [...cps].sort((a, b) => a - b).map((cp) => String.fromCodePoint(cp));
    return new CharTokenizer(sorted, options);
  }

  static fromJSON(json: CharTokenizerJSON | unknown): CharTokenizer {
    const j = json as CharTokenizerJSON;
    if (typeof j !== 'object' || j === null || j.type !== 'char' || !Array.isArray(j.chars))
      throw new ValueError("CharTokenizer.fromJSON: expected { type: 'char', chars: [...], ... }");
    return new CharTokenizer(j.chars, {
      specialTokens: j.specialTokens ?? [],
      ...(j.unk != null ? { unk: j.unk } : {}),
    });
  }

  get vocabSize(): number {
    return this.specialTokens.length + this.chars.length;
  }

  /** The ids of the characters of `text`. */
  encode(text: string): number[] {
    const out: number[] = [];
    let pos = 0;
    for (const c of text) {
      const id = this.toId.get(c.codePointAt(0)!);
      if (id !== undefined) out.push(id);
      else if (this.unkId >= 0) out.push(this.unkId);
      else {
        const cp = c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
        throw new ValueError(
          `CharTokenizer.encode: character ${JSON.stringify(c)} (U+${cp}) at position ${pos} is not in the vocabulary of ${this.chars.length} characters; build the tokenizer from text that contains it, or pass { unk: '<unk>' }`,
        );
      }
      pos += c.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const k = this.specialTokens.length;
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      checkId(id, this.vocabSize, 'CharTokenizer.decode');
      if (id < k) {
        if (!options.skipSpecialTokens) out += this.specialTokens[id]!;
      } else out += this.chars[id - k]!;
    }
    return out;
  }

  specialTokenId(token: string): number {
    return findSpecial(this.specialTokens, token, 'CharTokenizer');
  }

  toJSON(): CharTokenizerJSON {
    return {
      type: 'char',
      chars: [...this.chars],
      specialTokens: [...this.specialTokens],
      unk: this.unk,
    };
  }
}
