/**
 * Built-in synthetic sequence-to-sequence tasks that need no files: reversing a digit string,
 * sorting it, and adding two numbers ("123+45=" → "168"). Classic probes of what a sequence model
 * can learn (reversal and sorting: Sutskever et al., 2014 and Vinyals et al., "Order Matters",
 * 2016; addition: Zaremba & Sutskever, "Learning to Execute", 2014). Every task draws from a
 * seeded generator and uses one fixed 15-token vocabulary: `<pad>` 0, `<bos>` 1, `<eos>` 2, then
 * the characters `+ 0 1 2 3 4 5 6 7 8 9 =` (ids 3..14).
 */
import { defaultGenerator, Generator } from '../core/random.js';
import { ValueError } from '../core/errors.js';
import { CharTokenizer } from './char-tokenizer.js';
import {
  collateSeq2Seq,
  type Seq2SeqBatch,
  type Seq2SeqExample,
  type Seq2SeqSpecialIds,
} from './seq2seq.js';

/** The synthetic tasks. */
export type SyntheticTask = 'reverse' | 'sort' | 'add';

/** PAD, BOS and EOS ids of the synthetic vocabulary. */
export const SYNTHETIC_SPECIAL_IDS: Readonly<Seq2SeqSpecialIds> = Object.freeze({
  pad: 0,
  bos: 1,
  eos: 2,
});

/**
 * The fixed vocabulary of the synthetic tasks, as a tokenizer (15 ids).
 *
 * @example
 * const vocab = nb.data.syntheticVocabulary();
 * vocab.encode('12+3='); // [5, 6, 3, 7, 14]
 * vocab.decode([1, 5, 6, 2]); // '<bos>12<eos>'
 */
export function syntheticVocabulary(): CharTokenizer {
  return new CharTokenizer('+0123456789=', { specialTokens: ['<pad>', '<bos>', '<eos>'] });
}

export interface SyntheticOptions {
  /** The random source (default: `new Generator(seed)` if `seed` is given, else the global one). */
  generator?: Generator;
  seed?: number;
  /** reverse/sort: the shortest sequence (default 1). */
  minLength?: number;
  /** reverse/sort: the longest sequence (default 8). */
  maxLength?: number;
  /** add: the most digits of each operand (default 3, at most 15). */
  maxDigits?: number;
}

const DIGIT0 = 4; // id of '0'
const PLUS = 3;
const EQUALS = 14;

function generatorOf(o: SyntheticOptions): Generator {
  return o.generator ?? (o.seed !== undefined ? new Generator(o.seed) : defaultGenerator());
}

function checkCount(count: number, who: string): void {
  if (!(Number.isInteger(count) && count >= 0))
    throw new ValueError(`${who}: count must be an integer >= 0, got ${count}`);
}

function lengths(o: SyntheticOptions, who: string): [number, number] {
  const min = o.minLength ?? 1;
  const max = o.maxLength ?? 8;
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 1 && max >= min))
    throw new ValueError(
      `${who}: need integers 1 <= minLength <= maxLength, got ${min} and ${max}`,
    );
  return [min, max];
}

function digitSequences(
  count: number,
  o: SyntheticOptions,
  who: string,
  target: (digits: number[]) => number[],
): Seq2SeqExample[] {
  checkCount(count, who);
  const [min, max] = lengths(o, who);
  const g = generatorOf(o);
  const out: Seq2SeqExample[] = [];
  for (let n = 0; n < count; n++) {
    const len = g.nextInt(min, max + 1);
    const src = Array.from({ length: len }, () => DIGIT0 + g.nextInt(0, 10));
    out.push({ src, tgt: target(src) });
  }
  return out;
}

/**
 * Random digit strings and their reverses.
 *
 * @example
 * const pairs = nb.data.reversalPairs(100, { seed: 0, maxLength: 10 });
 */
export function reversalPairs(count: number, options: SyntheticOptions = {}): Seq2SeqExample[] {
  return digitSequences(count, options, 'reversalPairs', (s) => [...s].reverse());
}

/**
 * Random digit strings and the same digits in ascending order.
 *
 * @example
 * const pairs = nb.data.sortingPairs(100, { seed: 0 });
 */
export function sortingPairs(count: number, options: SyntheticOptions = {}): Seq2SeqExample[] {
  return digitSequences(count, options, 'sortingPairs', (s) => [...s].sort((a, b) => a - b));
}

/**
 * Additions: source "a+b=", target the decimal sum. Each operand first draws its number of
 * digits uniformly in [1, maxDigits], then a value with exactly that many digits (no leading
 * zeros), so short and long operands are equally common.
 *
 * @example
 * const pairs = nb.data.additionPairs(100, { seed: 0, maxDigits: 3 });
 * nb.data.syntheticVocabulary().decode(pairs[0].src); // e.g. '123+45='
 */
export function additionPairs(count: number, options: SyntheticOptions = {}): Seq2SeqExample[] {
  checkCount(count, 'additionPairs');
  const maxDigits = options.maxDigits ?? 3;
  if (!(Number.isInteger(maxDigits) && maxDigits >= 1 && maxDigits <= 15))
    throw new ValueError(
      `additionPairs: maxDigits must be an integer in [1, 15], got ${maxDigits}`,
    );
  const g = generatorOf(options);
  const operand = (): number => {
    const d = g.nextInt(1, maxDigits + 1);
    return d === 1 ? g.nextInt(0, 10) : g.nextInt(10 ** (d - 1), 10 ** d);
  };
  const ids = (n: number): number[] => [...String(n)].map((c) => DIGIT0 + c.charCodeAt(0) - 48);
  const out: Seq2SeqExample[] = [];
  for (let n = 0; n < count; n++) {
    const a = operand();
    const b = operand();
    out.push({ src: [...ids(a), PLUS, ...ids(b), EQUALS], tgt: ids(a + b) });
  }
  return out;
}

/**
 * `count` examples of a task by name.
 *
 * @example
 * const pairs = nb.data.syntheticPairs('sort', 1000, { seed: 1 });
 */
export function syntheticPairs(
  task: SyntheticTask,
  count: number,
  options: SyntheticOptions = {},
): Seq2SeqExample[] {
  switch (task) {
    case 'reverse':
      return reversalPairs(count, options);
    case 'sort':
      return sortingPairs(count, options);
    case 'add':
      return additionPairs(count, options);
    default:
      throw new ValueError(
        `syntheticPairs: unknown task ${JSON.stringify(task)}; expected 'reverse', 'sort' or 'add'`,
      );
  }
}

/**
 * A fresh padded batch of a task (BOS/EOS on both sides, PAD 0, masks True at padding).
 *
 * @example
 * const g = new nb.Generator(0);
 * const { src, tgt, srcKeyPaddingMask, tgtKeyPaddingMask } = nb.data.syntheticBatch('add', 32, { generator: g });
 */
export function syntheticBatch(
  task: SyntheticTask,
  batchSize: number,
  options: SyntheticOptions = {},
): Seq2SeqBatch {
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new ValueError(`syntheticBatch: batchSize must be an integer >= 1, got ${batchSize}`);
  return collateSeq2Seq(syntheticPairs(task, batchSize, options), SYNTHETIC_SPECIAL_IDS);
}
