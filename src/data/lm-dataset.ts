/**
 * Language-model data over one token stream, as nanoGPT's `get_batch` (Karpathy, train.py): a
 * batch is B random windows of T + 1 consecutive tokens; x is the first T, y the last T (each
 * target is the next token). `split` cuts a text or token stream by position: the first 90% for
 * training, the last 10% for validation, as nanoGPT's shakespeare_char prepare.py.
 */
import { defaultGenerator, Generator } from '../core/random.js';
import { ValueError } from '../core/errors.js';
import { tensor } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';

/**
 * Splits a text (by characters, i.e. code points, as Python does) or an array by position: the
 * first `fraction` (rounded down) and the rest.
 *
 * @example
 * const { train, val } = nb.data.split(text, 0.9); // first 90% / last 10%
 */
export function split<T extends string | readonly unknown[] | Int32Array | Float32Array>(
  data: T,
  fraction = 0.9,
): { train: T; val: T } {
  if (!(fraction >= 0 && fraction <= 1))
    throw new ValueError(`split: fraction must be in [0, 1], got ${fraction}`);
  if (typeof data === 'string') {
    // Count code points, so a surrogate pair is never cut and the cut matches Python's.
    let count = 0;
    for (let i = 0; i < data.length; i++) if (!isLowAfterHigh(data, i)) count++;
    const target = Math.floor(count * fraction);
    let seen = 0;
    let cut = 0;
    while (seen < target) {
      cut += isHighBeforeLow(data, cut) ? 2 : 1;
      seen++;
    }
    return { train: data.slice(0, cut) as T, val: data.slice(cut) as T };
  }
  if (!Array.isArray(data) && !ArrayBuffer.isView(data))
    throw new ValueError('split: expected a string, an array or a typed array');
  const n = Math.floor(data.length * fraction);
  const d = data as unknown as { slice(a: number, b?: number): T };
  return { train: d.slice(0, n), val: d.slice(n) };
}

function isHighBeforeLow(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  const d = s.charCodeAt(i + 1);
  return c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff;
}

function isLowAfterHigh(s: string, i: number): boolean {
  return i > 0 && isHighBeforeLow(s, i - 1);
}

export interface LanguageModelDatasetOptions {
  /** The context length T (tokens per input window). */
  blockSize: number;
  /** The generator for random windows (default: the global one). */
  generator?: Generator;
}

/** One window: x = tokens[i .. i+T), y = tokens[i+1 .. i+T+1). */
export interface LMExample {
  x: Int32Array;
  y: Int32Array;
}

/** A batch: x and y int32 of shape (B, T). */
export interface LMBatch {
  x: Tensor;
  y: Tensor;
}

/**
 * Windows of a token stream for next-token prediction. Also a `Dataset` (window `i` starts at
 * token `i`) for use with `DataLoader`.
 *
 * @example
 * const tok = nb.data.CharTokenizer.fromText(text);
 * const { train } = nb.data.split(tok.encode(text), 0.9);
 * const ds = new nb.data.LanguageModelDataset(train, { blockSize: 64, generator: new nb.Generator(1337) });
 * const { x, y } = ds.getBatch(12); // int32 (12, 64) each; y is x shifted left by one
 */
export class LanguageModelDataset {
  readonly tokens: Int32Array;
  readonly blockSize: number;
  generator: Generator;

  constructor(tokens: ArrayLike<number>, options: LanguageModelDatasetOptions) {
    const { blockSize } = options;
    if (!(Number.isInteger(blockSize) && blockSize >= 1))
      throw new ValueError(
        `LanguageModelDataset: blockSize must be an integer >= 1, got ${blockSize}`,
      );
    if (tokens.length <= blockSize)
      throw new ValueError(
        `LanguageModelDataset: ${tokens.length} tokens are too few for blockSize ${blockSize} (need at least ${blockSize + 1})`,
      );
    this.tokens = tokens instanceof Int32Array ? tokens : Int32Array.from(tokens);
    this.blockSize = blockSize;
    this.generator = options.generator ?? defaultGenerator();
  }

  /** The number of distinct windows: tokens - blockSize. */
  get length(): number {
    return this.tokens.length - this.blockSize;
  }

  /** The window starting at token `index`. */
  get(index: number): LMExample {
    if (!(Number.isInteger(index) && index >= 0 && index < this.length))
      throw new ValueError(
        `LanguageModelDataset.get: index ${index} is outside [0, ${this.length})`,
      );
    return {
      x: this.tokens.slice(index, index + this.blockSize),
      y: this.tokens.slice(index + 1, index + 1 + this.blockSize),
    };
  }

  /**
   * `batchSize` windows at uniformly random starts in [0, tokens - blockSize), as int32 tensors
   * (B, T). Returns the starts too, for inspection.
   */
  getBatch(batchSize: number): LMBatch & { starts: number[] } {
    if (!(Number.isInteger(batchSize) && batchSize >= 1))
      throw new ValueError(
        `LanguageModelDataset.getBatch: batchSize must be an integer >= 1, got ${batchSize}`,
      );
    const T = this.blockSize;
    const x = new Int32Array(batchSize * T);
    const y = new Int32Array(batchSize * T);
    const starts: number[] = [];
    for (let b = 0; b < batchSize; b++) {
      const i = this.generator.nextInt(0, this.length);
      starts.push(i);
      x.set(this.tokens.subarray(i, i + T), b * T);
      y.set(this.tokens.subarray(i + 1, i + 1 + T), b * T);
    }
    return {
      x: tensor(x, { shape: [batchSize, T] }), // (B, T)
      y: tensor(y, { shape: [batchSize, T] }), // (B, T)
      starts,
    };
  }
}
