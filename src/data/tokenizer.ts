/**
 * What every tokenizer offers (`CharTokenizer`, `ByteLevelBPETokenizer`), and the special-token
 * conventions they share: special tokens (padding, begin/end of sequence, unknown) take the first
 * ids, 0..k-1, in the order given (as Hugging Face tokenizers' trainers place them), and are never
 * produced by `encode` from text: a literal "<eos>" in the text is encoded as ordinary characters.
 */
import { IndexError, ValueError } from '../core/errors.js';

export interface DecodeOptions {
  /** Leave special tokens (padding, BOS, EOS, ...) out of the text (default false). */
  skipSpecialTokens?: boolean;
}

/** A reversible map between text and token ids. */
export interface Tokenizer {
  /** The number of ids (special tokens included): valid ids are 0..vocabSize-1. */
  readonly vocabSize: number;
  /** The special tokens, whose ids are their positions in this list. */
  readonly specialTokens: readonly string[];
  /** The ids of `text`. */
  encode(text: string): number[];
  /** The text of `ids`. */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** The id of a special token; throws a ValueError naming the known ones when absent. */
  specialTokenId(token: string): number;
  /** A JSON-serialisable description that `fromJSON` turns back into an equal tokenizer. */
  toJSON(): object;
}

/** Checks a list of special tokens: non-empty distinct strings. */
export function checkSpecialTokens(tokens: readonly string[], who: string): string[] {
  if (!Array.isArray(tokens)) throw new ValueError(`${who}: specialTokens must be an array`);
  const seen = new Set<string>();
  for (const t of tokens) {
    if (typeof t !== 'string' || t.length === 0)
      throw new ValueError(
        `${who}: special tokens must be non-empty strings, got ${JSON.stringify(t)}`,
      );
    if (seen.has(t))
      throw new ValueError(`${who}: special token ${JSON.stringify(t)} appears twice`);
    seen.add(t);
  }
  return [...tokens];
}

/** The id of `token` in `specials`, or a ValueError listing them. */
export function findSpecial(specials: readonly string[], token: string, who: string): number {
  const i = specials.indexOf(token);
  if (i < 0) {
    throw new ValueError(
      `${who}: no special token ${JSON.stringify(token)}; this tokenizer has ${
        specials.length ? specials.map((s) => JSON.stringify(s)).join(', ') : 'none'
      } (pass specialTokens when building it)`,
    );
  }
  return i;
}

/** Throws IndexError unless `id` is an integer in [0, vocabSize). */
export function checkId(id: number, vocabSize: number, who: string): void {
  if (!(Number.isInteger(id) && id >= 0 && id < vocabSize))
    throw new IndexError(`${who}: token id ${id} is outside [0, ${vocabSize})`);
}
