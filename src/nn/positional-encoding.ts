/**
 * Positional encodings for attention models. The sinusoidal table is that of "Attention Is All
 * You Need" (Vaswani et al., 2017), §3.5: PE[pos, 2i] = sin(pos / 10000^(2i/d)),
 * PE[pos, 2i+1] = cos(pos / 10000^(2i/d)); the module form follows PyTorch's Transformer tutorial
 * (`PositionalEncoding`: add, then dropout). The learned variant is a table of position
 * embeddings (as in BERT / GPT-2) whose state-dict key is `weight`.
 *
 * Both modules take a position `offset` so that incremental decoding can encode step t alone.
 */
import { ShapeError, ValueError } from '../core/errors.js';
import type { DType } from '../core/dtype.js';
import type { Generator } from '../core/random.js';
import { formatShape } from '../core/shape.js';
import { tensor } from '../ops/creation.js';
import { add } from '../ops/elementwise.js';
import { empty } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { dropout } from './functional.js';
import { normal_ } from './init.js';
import { Module, Parameter } from './module.js';

function checkSizes(op: string, maxLen: number, dModel: number): void {
  for (const [n, v] of [
    ['maxLen', maxLen],
    ['dModel', dModel],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ValueError(`${op}: ${n} must be a positive integer, got ${v}`);
    }
  }
}

/**
 * The (maxLen, dModel) sinusoidal table: PE[pos, 2i] = sin(pos / 10000^(2i/dModel)),
 * PE[pos, 2i+1] = cos(pos / 10000^(2i/dModel)). Computed in float64, returned in `dtype`
 * (float32 by default). An odd dModel ends with a sine column.
 *
 * @example
 * const pe = nb.nn.sinusoidalPositionalEncoding(50, 16); // [50, 16]
 * pe.select(0, 0).toArray(); // [0, 1, 0, 1, ...]
 */
export function sinusoidalPositionalEncoding(
  maxLen: number,
  dModel: number,
  dtype: DType = 'float32',
): Tensor {
  checkSizes('sinusoidalPositionalEncoding', maxLen, dModel);
  const values = new Float64Array(maxLen * dModel);
  for (let i = 0; 2 * i < dModel; i++) {
    const freq = Math.pow(10000, -(2 * i) / dModel); // 1 / 10000^(2i/d)
    for (let pos = 0; pos < maxLen; pos++) {
      const angle = pos * freq;
      values[pos * dModel + 2 * i] = Math.sin(angle);
      if (2 * i + 1 < dModel) values[pos * dModel + 2 * i + 1] = Math.cos(angle);
    }
  }
  return tensor(values, { shape: [maxLen, dModel] }).to(dtype);
}

export interface PositionalEncodingOptions {
  /** Longest sequence (offset + length) supported. Default 5000 (sinusoidal), required (learned). */
  maxLen?: number;
  /** Dropout applied after adding the encoding (training mode only). */
  dropout?: number;
  /** Inputs are (B, T, d) instead of (T, B, d). Default false, like nn.Transformer. */
  batchFirst?: boolean;
  dtype?: DType;
  generator?: Generator;
}

/** The (T, 1, d) or (1, T, d) slice of `table` for positions offset..offset+T−1 of x. */
function positionsFor(
  op: string,
  table: Tensor,
  x: Tensor,
  offset: number,
  batchFirst: boolean,
): Tensor {
  const [maxLen, d] = table.shape as [number, number];
  if (x.ndim !== 3 && x.ndim !== 2) {
    throw new ShapeError(
      `${op}: expected a ${batchFirst ? '(B, T, d)' : '(T, B, d)'} or (T, d) input, got ${formatShape(x.shape)}`,
    );
  }
  if (x.shape[x.ndim - 1] !== d) {
    throw new ShapeError(
      `${op}: input of shape ${formatShape(x.shape)} should have ${d} (dModel) features in its last dimension`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new ValueError(`${op}: offset must be a non-negative integer, got ${offset}`);
  }
  const seqDim = x.ndim === 2 ? 0 : batchFirst ? 1 : 0;
  const T = x.shape[seqDim]!;
  if (offset + T > maxLen) {
    throw new ShapeError(
      `${op}: positions ${offset}..${offset + T - 1} (sequence length ${T}${offset ? `, offset ${offset}` : ''}) exceed maxLen ${maxLen}; ` +
        'construct the encoding with a larger maxLen',
    );
  }
  const rows = table.narrow(0, offset, T); // (maxLen, d) -> (T, d)
  if (x.ndim === 2) return rows;
  return batchFirst ? rows.unsqueeze(0) : rows.unsqueeze(1); // (T, d) -> (1, T, d) | (T, 1, d)
}

/**
 * Adds the fixed sinusoidal encoding to (T, B, d) inputs ((B, T, d) with `batchFirst`, or
 * unbatched (T, d)), then applies dropout (default 0.1, as the paper and PyTorch's tutorial).
 * The table is a non-persistent buffer `pe`: it is not in `stateDict()`.
 *
 * @example
 * const pos = new nb.nn.SinusoidalPositionalEncoding(16, { maxLen: 100, batchFirst: true });
 * const y = pos.forward(nb.randn([2, 10, 16])); // x + PE[0..9]
 * const step = pos.forward(nb.randn([2, 1, 16]), 10); // the encoding of position 10
 */
export class SinusoidalPositionalEncoding extends Module {
  readonly maxLen: number;
  readonly dropoutP: number;
  readonly batchFirst: boolean;
  readonly generator: Generator | undefined;

  constructor(
    readonly dModel: number,
    options: PositionalEncodingOptions = {},
  ) {
    super();
    this.maxLen = options.maxLen ?? 5000;
    this.dropoutP = options.dropout ?? 0.1;
    this.batchFirst = options.batchFirst ?? false;
    this.generator = options.generator;
    if (!(this.dropoutP >= 0 && this.dropoutP <= 1)) {
      throw new ValueError(
        `SinusoidalPositionalEncoding: dropout must be in [0, 1], got ${this.dropoutP}`,
      );
    }
    this.registerBuffer(
      'pe',
      sinusoidalPositionalEncoding(this.maxLen, dModel, options.dtype ?? 'float32'),
      false,
    );
  }

  /** x + PE[offset .. offset + T − 1], then dropout. */
  forward(x: Tensor, offset = 0): Tensor {
    const pe = this.getBuffer('pe');
    const pos = positionsFor('SinusoidalPositionalEncoding', pe, x, offset, this.batchFirst);
    return dropout(
      add(x, pos.dtype === x.dtype ? pos : pos.to(x.dtype)),
      this.dropoutP,
      this.training,
      this.generator,
    );
  }
}

/**
 * Learned absolute position embeddings: a (maxLen, dModel) parameter `weight` (initialised
 * N(0, 1) like nn.Embedding) whose row t is added to the input at position t (plus `offset`).
 * Inputs are (T, B, d) by default, (B, T, d) with `batchFirst`, or unbatched (T, d).
 *
 * @example
 * const pos = new nb.nn.LearnedPositionalEncoding(512, 64, { batchFirst: true });
 * const y = pos.forward(tokEmb); // (B, T, 64)
 * pos.stateDict(); // { weight: [512, 64] }
 */
export class LearnedPositionalEncoding extends Module {
  weight: Parameter;
  readonly dropoutP: number;
  readonly batchFirst: boolean;
  readonly generator: Generator | undefined;

  constructor(
    readonly maxLen: number,
    readonly dModel: number,
    options: Omit<PositionalEncodingOptions, 'maxLen'> = {},
  ) {
    super();
    checkSizes('LearnedPositionalEncoding', maxLen, dModel);
    this.dropoutP = options.dropout ?? 0;
    this.batchFirst = options.batchFirst ?? false;
    this.generator = options.generator;
    if (!(this.dropoutP >= 0 && this.dropoutP <= 1)) {
      throw new ValueError(
        `LearnedPositionalEncoding: dropout must be in [0, 1], got ${this.dropoutP}`,
      );
    }
    this.weight = new Parameter(empty([maxLen, dModel], options.dtype ?? 'float32'));
    this.resetParameters();
  }

  resetParameters(): void {
    normal_(this.weight);
  }

  /** x + weight[offset .. offset + T − 1], then dropout. Only the used rows get gradients. */
  forward(x: Tensor, offset = 0): Tensor {
    const pos = positionsFor('LearnedPositionalEncoding', this.weight, x, offset, this.batchFirst);
    return dropout(add(x, pos), this.dropoutP, this.training, this.generator);
  }
}
