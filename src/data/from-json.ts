/** Rebuilding a tokenizer of either kind from its JSON form. */
import { ValueError } from '../core/errors.js';
import { ByteLevelBPETokenizer } from './bpe.js';
import { CharTokenizer } from './char-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * A tokenizer from its JSON form (`tok.toJSON()`, or `JSON.parse` of a saved file), whichever kind
 * it is.
 *
 * @example
 * const saved = JSON.stringify(tok);
 * const again = nb.data.tokenizerFromJSON(JSON.parse(saved));
 */
export function tokenizerFromJSON(json: unknown): Tokenizer {
  const type = (json as { type?: unknown } | null)?.type;
  if (type === 'char') return CharTokenizer.fromJSON(json);
  if (type === 'byte-level-bpe') return ByteLevelBPETokenizer.fromJSON(json);
  throw new ValueError(
    `tokenizerFromJSON: unknown tokenizer type ${JSON.stringify(type)}; expected 'char' or 'byte-level-bpe'`,
  );
}
