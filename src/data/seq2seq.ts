/**
 * Sequence-to-sequence batches (translation, synthetic tasks) for encoder–decoder models such as
 * `nn.Transformer` (Vaswani et al., 2017): each side is wrapped as BOS · tokens · EOS, padded to
 * the longest sequence of the batch, with key-padding masks in PyTorch's convention (bool, True
 * where the position is padding and must be ignored by attention).
 *
 * Sentence pairs come from tab-separated lines "source<TAB>target[<TAB>attribution]" (the Tatoeba /
 * manythings.org format, e.g. English–French); splitting is a seeded shuffle then 90% / 10%.
 */
import { Generator } from '../core/random.js';
import { ValueError } from '../core/errors.js';
import { tensor } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { ByteLevelBPETokenizer } from './bpe.js';
import { CharTokenizer } from './char-tokenizer.js';
import { DataLoader, shuffle, type DataLoaderOptions } from './loader.js';
import type { Tokenizer } from './tokenizer.js';

/** One example: source and target token ids, without BOS/EOS. */
export interface Seq2SeqExample {
  src: readonly number[];
  tgt: readonly number[];
}

/** The ids of the padding, begin- and end-of-sequence tokens. */
export interface Seq2SeqSpecialIds {
  pad: number;
  bos: number;
  eos: number;
}

/**
 * A padded batch. `src` (B, S) and `tgt` (B, T) are int32 ids, each row BOS · tokens · EOS · PAD…;
 * the masks are bool with True at padding. Feed `tgt[:, :-1]` to the decoder and predict
 * `tgt[:, 1:]` (ignoring PAD in the loss).
 */
export interface Seq2SeqBatch {
  src: Tensor;
  tgt: Tensor;
  srcKeyPaddingMask: Tensor;
  tgtKeyPaddingMask: Tensor;
}

function pad(rows: readonly (readonly number[])[], ids: Seq2SeqSpecialIds): [Tensor, Tensor] {
  const B = rows.length;
  const L = Math.max(...rows.map((r) => r.length)) + 2; // + BOS, EOS
  const data = new Int32Array(B * L).fill(ids.pad);
  const mask = new Uint8Array(B * L).fill(1);
  rows.forEach((r, b) => {
    const o = b * L;
    data[o] = ids.bos;
    for (let i = 0; i < r.length; i++) data[o + 1 + i] = r[i]!;
    data[o + 1 + r.length] = ids.eos;
    mask.fill(0, o, o + r.length + 2);
  });
  return [tensor(data, { shape: [B, L] }), tensor(mask, { shape: [B, L] })];
}

/**
 * Pads a list of examples into a batch (BOS/EOS added on both sides; `tgtIds` when the target
 * side's special ids differ from the source side's).
 *
 * @example
 * const batch = nb.data.collateSeq2Seq([{ src: [5, 6, 7], tgt: [8] }, { src: [5], tgt: [9, 9] }], { pad: 0, bos: 1, eos: 2 });
 * // batch.src: [[1, 5, 6, 7, 2], [1, 5, 2, 0, 0]]; batch.srcKeyPaddingMask: [[F, F, F, F, F], [F, F, F, T, T]]
 */
export function collateSeq2Seq(
  examples: readonly Seq2SeqExample[],
  ids: Seq2SeqSpecialIds,
  tgtIds: Seq2SeqSpecialIds = ids,
): Seq2SeqBatch {
  if (examples.length === 0) throw new ValueError('collateSeq2Seq: cannot collate an empty batch');
  const [src, srcKeyPaddingMask] = pad(
    examples.map((e) => e.src),
    ids,
  );
  const [tgt, tgtKeyPaddingMask] = pad(
    examples.map((e) => e.tgt),
    tgtIds,
  );
  return { src, tgt, srcKeyPaddingMask, tgtKeyPaddingMask };
}

/** One line of a sentence-pair file. */
export interface SentencePair {
  source: string;
  target: string;
  /** The third column (licence attribution), when present. */
  attribution?: string;
}

/**
 * Parses tab-separated sentence pairs, one per line: source, target and optionally an attribution.
 * Blank lines are skipped; a line with fewer than two fields is a ValueError naming its number.
 *
 * @example
 * nb.data.parseSentencePairs('Go.\tVa !\tCC-BY 2.0 (France) ...\n');
 * // [{ source: 'Go.', target: 'Va !', attribution: 'CC-BY 2.0 (France) ...' }]
 */
export function parseSentencePairs(tsv: string): SentencePair[] {
  if (typeof tsv !== 'string')
    throw new ValueError('parseSentencePairs: expected the text of a TSV file');
  const out: SentencePair[] = [];
  const lines = tsv.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const fields = line.split('\t');
    if (fields.length < 2)
      throw new ValueError(
        `parseSentencePairs: line ${i + 1} has no tab; expected "source<TAB>target[<TAB>attribution]", got ${JSON.stringify(line.slice(0, 80))}`,
      );
    const pair: SentencePair = { source: fields[0]!, target: fields[1]! };
    if (fields.length > 2) pair.attribution = fields.slice(2).join('\t');
    out.push(pair);
  });
  return out;
}

/**
 * A seeded shuffle followed by a cut: the first `trainFraction` (rounded down) of the shuffled
 * items train, the rest validate.
 *
 * @example
 * const { train, val } = nb.data.splitShuffled(pairs, 0.9, 0);
 */
export function splitShuffled<T>(
  items: readonly T[],
  trainFraction = 0.9,
  seed = 0,
): { train: T[]; val: T[] } {
  if (!(trainFraction >= 0 && trainFraction <= 1))
    throw new ValueError(`splitShuffled: trainFraction must be in [0, 1], got ${trainFraction}`);
  const shuffled = shuffle(items, new Generator(seed));
  const n = Math.floor(shuffled.length * trainFraction);
  return { train: shuffled.slice(0, n), val: shuffled.slice(n) };
}

/** The special tokens sentence-pair tokenizers carry: PAD = 0, BOS = 1, EOS = 2 (and UNK = 3 for characters). */
export const SEQ2SEQ_SPECIAL_TOKENS = ['<pad>', '<bos>', '<eos>'] as const;

export interface SentencePairTokenizerOptions {
  /** 'char' (default) or 'bpe' (byte-level BPE). */
  kind?: 'char' | 'bpe';
  /** For 'bpe': the vocabulary size of each side (default 512). */
  vocabSize?: number;
  /** For 'bpe': the minimum pair frequency (default 2). */
  minFrequency?: number;
}

/**
 * A source and a target tokenizer learned from sentence pairs (use the training pairs only), each
 * with the special tokens `<pad>`, `<bos>`, `<eos>` (ids 0, 1, 2). Character tokenizers also get
 * `<unk>` (id 3) for characters that occur only in validation text; BPE never needs one.
 *
 * @example
 * const { src, tgt } = nb.data.sentencePairTokenizers(train, { kind: 'bpe', vocabSize: 1000 });
 */
export function sentencePairTokenizers(
  pairs: readonly SentencePair[],
  options: SentencePairTokenizerOptions = {},
): { src: Tokenizer; tgt: Tokenizer } {
  const kind = options.kind ?? 'char';
  const sourceText = pairs.map((p) => p.source).join('\n');
  const targetText = pairs.map((p) => p.target).join('\n');
  const specialTokens = [...SEQ2SEQ_SPECIAL_TOKENS];
  if (kind === 'char') {
    return {
      src: CharTokenizer.fromText(sourceText, { specialTokens, unk: '<unk>' }),
      tgt: CharTokenizer.fromText(targetText, { specialTokens, unk: '<unk>' }),
    };
  }
  if (kind === 'bpe') {
    const vocabSize = options.vocabSize ?? 512;
    const o = { specialTokens, minFrequency: options.minFrequency ?? 2 };
    return {
      src: ByteLevelBPETokenizer.train(sourceText, vocabSize, o),
      tgt: ByteLevelBPETokenizer.train(targetText, vocabSize, o),
    };
  }
  throw new ValueError(`sentencePairTokenizers: kind must be 'char' or 'bpe', got ${String(kind)}`);
}

export interface SentencePairDatasetOptions {
  srcTokenizer: Tokenizer;
  tgtTokenizer: Tokenizer;
  /** Special-token names looked up in both tokenizers (defaults '<pad>', '<bos>', '<eos>'). */
  padToken?: string;
  bosToken?: string;
  eosToken?: string;
}

/**
 * Tokenized sentence pairs that batch into padded `Seq2SeqBatch`es.
 *
 * @example
 * const pairs = nb.data.parseSentencePairs(await readTextFile('eng-fra.tsv'));
 * const { train, val } = nb.data.splitShuffled(pairs, 0.9, 0);
 * const { src, tgt } = nb.data.sentencePairTokenizers(train);
 * const ds = new nb.data.SentencePairDataset(train, { srcTokenizer: src, tgtTokenizer: tgt });
 * for (const batch of ds.loader({ batchSize: 32, shuffle: true, seed: 0 })) {
 *   // batch.src (B, S), batch.tgt (B, T), batch.srcKeyPaddingMask, batch.tgtKeyPaddingMask
 * }
 */
export class SentencePairDataset {
  readonly pairs: readonly SentencePair[];
  readonly examples: readonly Seq2SeqExample[];
  readonly srcTokenizer: Tokenizer;
  readonly tgtTokenizer: Tokenizer;
  readonly srcIds: Seq2SeqSpecialIds;
  readonly tgtIds: Seq2SeqSpecialIds;

  constructor(pairs: readonly SentencePair[], options: SentencePairDatasetOptions) {
    const { srcTokenizer, tgtTokenizer } = options;
    if (!srcTokenizer || !tgtTokenizer)
      throw new ValueError('SentencePairDataset: srcTokenizer and tgtTokenizer are required');
    const names = [
      options.padToken ?? '<pad>',
      options.bosToken ?? '<bos>',
      options.eosToken ?? '<eos>',
    ];
    const idsOf = (t: Tokenizer): Seq2SeqSpecialIds => {
      const [pad, bos, eos] = names.map((n) => t.specialTokenId(n)) as [number, number, number];
      return { pad, bos, eos };
    };
    this.srcIds = idsOf(srcTokenizer);
    this.tgtIds = idsOf(tgtTokenizer);
    this.pairs = [...pairs];
    this.srcTokenizer = srcTokenizer;
    this.tgtTokenizer = tgtTokenizer;
    this.examples = this.pairs.map((p) => ({
      src: srcTokenizer.encode(p.source),
      tgt: tgtTokenizer.encode(p.target),
    }));
  }

  get length(): number {
    return this.examples.length;
  }

  get(index: number): Seq2SeqExample {
    const e = this.examples[index];
    if (e === undefined)
      throw new ValueError(
        `SentencePairDataset.get: index ${index} is outside [0, ${this.length})`,
      );
    return e;
  }

  /** Pads examples into a batch. */
  collate(examples: readonly Seq2SeqExample[]): Seq2SeqBatch {
    return collateSeq2Seq(examples, this.srcIds, this.tgtIds);
  }

  /** A DataLoader over this dataset that yields padded batches. */
  loader(
    options: Omit<DataLoaderOptions<Seq2SeqExample, Seq2SeqBatch>, 'collate'> = {},
  ): DataLoader<Seq2SeqExample, Seq2SeqBatch> {
    return new DataLoader<Seq2SeqExample, Seq2SeqBatch>(this, {
      ...options,
      collate: (s) => this.collate(s),
    });
  }
}
