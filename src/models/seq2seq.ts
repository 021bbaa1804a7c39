/**
 * TransformerSeq2Seq: the encoder–decoder Transformer of "Attention Is All You Need" (Vaswani et
 * al., 2017) as a complete sequence-to-sequence model — source and target token embeddings
 * multiplied by √dModel (§3.4), the sinusoidal positional encoding (§3.5), `nb.nn.Transformer`
 * (batch first) and a linear projection to the target vocabulary, optionally tied to the target
 * embedding (§3.4; Press & Wolf, 2017). The layout follows PyTorch's "Language Translation with
 * nn.Transformer" tutorial (Seq2SeqTransformer, TokenEmbedding, PositionalEncoding); embeddings
 * are initialised N(0, dModel^-1/2) as fairseq's Transformer does, so that the scaled embeddings
 * have unit variance and a tied output layer starts with logits of order one.
 *
 * Decoding (greedy and beam search) runs through `nb.train.greedyDecode` / `nb.train.beamSearch`
 * with the decoder's key/value cache (`decoder.forwardIncremental`), see `asDecoder()`.
 *
 * Shape letters: N batch, S source length, T target length, E model width (dModel), V target
 * vocabulary size.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import { formatShape } from '../core/shape.js';
import { normal_ } from '../nn/init.js';
import { Embedding } from '../nn/embedding.js';
import { Linear } from '../nn/linear.js';
import { crossEntropy } from '../nn/losses.js';
import { Module } from '../nn/module.js';
import { SinusoidalPositionalEncoding } from '../nn/positional-encoding.js';
import { Transformer } from '../nn/transformer.js';
import type { DecoderCache } from '../nn/kv-cache.js';
import { Tensor } from '../tensor.js';
import {
  beamSearch,
  greedyDecode,
  transformerSeq2Seq,
  type BeamHypothesis,
  type Seq2SeqModel,
} from '../train/decode.js';

// ---- Configuration ----------------------------------------------------------------------------

/**
 * The shape of a TransformerSeq2Seq.
 *
 * @example
 * const config: nb.models.TransformerSeq2SeqConfig = {
 *   srcVocabSize: 15, tgtVocabSize: 15, dModel: 64, nHead: 4,
 *   numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 256,
 * };
 */
export interface TransformerSeq2SeqConfig {
  /** Source token ids (0..srcVocabSize-1). */
  srcVocabSize: number;
  /** Target token ids (V). */
  tgtVocabSize: number;
  /** Model width E; must be divisible by nHead. */
  dModel: number;
  /** Attention heads. */
  nHead: number;
  numEncoderLayers: number;
  numDecoderLayers: number;
  /** Hidden width of the feed-forward networks. */
  dimFeedforward: number;
  /** Dropout on embeddings, attention weights and sublayer outputs (default 0.1). */
  dropout?: number;
  /** Longest source or target sequence (positions of the sinusoidal table; default 512). */
  maxLen?: number;
  /** Share the output projection's weight with the target embedding (default true). */
  tieEmbeddings?: boolean;
  /** Pre-norm layers (LayerNorm before each sublayer) instead of the paper's post-norm (default false). */
  normFirst?: boolean;
  /** Feed-forward non-linearity (default 'relu'). */
  activation?: 'relu' | 'gelu';
  /** The padding id of both vocabularies: padded positions are masked and left out of the loss (default 0). */
  padId?: number;
}

/** A TransformerSeq2SeqConfig with the defaults filled in. */
export type ResolvedTransformerSeq2SeqConfig = Readonly<Required<TransformerSeq2SeqConfig>>;

function resolveConfig(config: TransformerSeq2SeqConfig): ResolvedTransformerSeq2SeqConfig {
  if (config === null || typeof config !== 'object')
    throw new ValueError(`TransformerSeq2Seq: expected a config object, got ${String(config)}`);
  const c = {
    dropout: 0.1,
    maxLen: 512,
    tieEmbeddings: true,
    normFirst: false,
    activation: 'relu' as const,
    padId: 0,
    ...config,
  };
  const positive = [
    'srcVocabSize',
    'tgtVocabSize',
    'dModel',
    'nHead',
    'dimFeedforward',
    'maxLen',
  ] as const;
  for (const key of positive) {
    const v = c[key];
    if (!Number.isInteger(v) || v <= 0)
      throw new ValueError(
        `TransformerSeq2Seq: config.${key} must be a positive integer, got ${String(v)}`,
      );
  }
  for (const key of ['numEncoderLayers', 'numDecoderLayers'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v < 1)
      throw new ValueError(
        `TransformerSeq2Seq: config.${key} must be an integer >= 1, got ${String(v)}`,
      );
  }
  if (c.dModel % c.nHead !== 0)
    throw new ValueError(
      `TransformerSeq2Seq: dModel (${c.dModel}) must be divisible by nHead (${c.nHead})`,
    );
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout < 1))
    throw new ValueError(`TransformerSeq2Seq: config.dropout must be in [0, 1), got ${c.dropout}`);
  if (!Number.isInteger(c.padId) || c.padId < 0)
    throw new ValueError(`TransformerSeq2Seq: config.padId must be a token id, got ${c.padId}`);
  if (c.activation !== 'relu' && c.activation !== 'gelu')
    throw new ValueError(
      `TransformerSeq2Seq: config.activation must be 'relu' or 'gelu', got ${String(c.activation)}`,
    );
  return Object.freeze(c);
}

// ---- Forward and decoding types ---------------------------------------------------------------

/** Masks of `TransformerSeq2Seq.forward` (bool, true = padding / not allowed). */
export interface Seq2SeqMasks {
  /** (N, S): true at source padding (also used as the memory padding mask). */
  srcKeyPaddingMask?: Tensor | null;
  /** (N, T): true at target padding. */
  tgtKeyPaddingMask?: Tensor | null;
  /** (T, T) self-attention mask of the decoder; default causal. */
  tgtMask?: Tensor | null;
}

/** A teacher-forcing batch: `src` (N, S) and `tgt` (N, T) int32, each row BOS · tokens · EOS · PAD…. */
export interface Seq2SeqTrainingBatch {
  src: Tensor;
  tgt: Tensor;
  srcKeyPaddingMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
}

/** What the encoder hands the decoder: the memory and which of its positions are padding. */
export interface Seq2SeqMemory {
  /** (N, S, E). */
  memory: Tensor;
  /** (N, S) bool, true at padding; null when no row is padded. */
  padding: Tensor | null;
}

/** Options of `TransformerSeq2Seq.decode`. */
export interface Seq2SeqDecodeOptions {
  /** Token that starts every output. */
  bos: number;
  /** Token that ends an output (kept out of the returned tokens). */
  eos: number;
  /** Most tokens generated per row (EOS included). */
  maxLen: number;
  /** Beam width; 1 (default) decodes greedily, in one batch. */
  beamSize?: number;
  /** Length normalisation exponent α of beam search (default 1). */
  lengthPenalty?: number;
}

// ---- The model ----------------------------------------------------------------------------------

/**
 * An encoder–decoder Transformer over token ids: `forward(src, tgt, masks)` gives next-token
 * logits with teacher forcing, `loss(batch)` the padded cross-entropy, `decode(src, ...)` greedy
 * or beam-search outputs. State-dict keys: `src_embed.weight`, `tgt_embed.weight`,
 * `transformer.encoder.layers.0.self_attn.in_proj_weight` (PyTorch's nn.Transformer names), ...,
 * `generator.weight` / `generator.bias` (the output projection, as PyTorch's tutorial calls it).
 *
 * @example
 * nb.manualSeed(0);
 * const model = new nb.models.TransformerSeq2Seq({
 *   srcVocabSize: 15, tgtVocabSize: 15, dModel: 32, nHead: 4,
 *   numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 64, dropout: 0,
 * });
 * const batch = nb.data.syntheticBatch('reverse', 8, { seed: 0 });
 * model.loss(batch).backward();
 * model.eval();
 * const outputs = model.decode(batch.src, { bos: 1, eos: 2, maxLen: 10 }); // number[][]
 */
export class TransformerSeq2Seq extends Module {
  readonly config: ResolvedTransformerSeq2SeqConfig;
  /** Source embedding (srcVocabSize, E). */
  srcEmbed: Embedding;
  /** Target embedding (V, E); its weight is the output projection's when tied. */
  tgtEmbed: Embedding;
  /** Sinusoidal positions plus dropout (a non-persistent buffer: no state-dict key). */
  positional: SinusoidalPositionalEncoding;
  transformer: Transformer;
  /** E → V output projection ("generator"). */
  outProj: Linear;

  constructor(config: TransformerSeq2SeqConfig) {
    super();
    const c = resolveConfig(config);
    this.config = c;
    this.srcEmbed = new Embedding(c.srcVocabSize, c.dModel);
    this.tgtEmbed = new Embedding(c.tgtVocabSize, c.dModel);
    this.positional = new SinusoidalPositionalEncoding(c.dModel, {
      maxLen: c.maxLen,
      dropout: c.dropout,
      batchFirst: true,
    });
    this.transformer = new Transformer({
      dModel: c.dModel,
      nhead: c.nHead,
      numEncoderLayers: c.numEncoderLayers,
      numDecoderLayers: c.numDecoderLayers,
      dimFeedforward: c.dimFeedforward,
      dropout: c.dropout,
      activation: c.activation,
      normFirst: c.normFirst,
      batchFirst: true,
    });
    this.outProj = new Linear(c.dModel, c.tgtVocabSize, { bias: !c.tieEmbeddings });
    // fairseq's Embedding init: std dModel^-1/2, so x·√dModel has unit variance.
    const std = 1 / Math.sqrt(c.dModel);
    normal_(this.srcEmbed.weight, 0, std);
    normal_(this.tgtEmbed.weight, 0, std);
    if (c.tieEmbeddings) this.outProj.weight = this.tgtEmbed.weight;
    this.renameField('srcEmbed', 'src_embed');
    this.renameField('tgtEmbed', 'tgt_embed');
    this.renameField('outProj', 'generator');
  }

  /** Checks a (N, L) int32 tensor of ids below `vocab`; returns [N, L]. */
  private checkIds(x: Tensor, vocab: number, op: string, what: string): [number, number] {
    if (!(x instanceof Tensor)) throw new DTypeError(`${op}: ${what} must be a Tensor`);
    if (x.dtype !== 'int32')
      throw new DTypeError(`${op}: ${what} must hold int32 token ids, got ${x.dtype}`);
    if (x.ndim !== 2 || x.shape[0] === 0 || x.shape[1] === 0)
      throw new ShapeError(
        `${op}: ${what} must be a non-empty (N, L) batch, got ${formatShape(x.shape)}`,
      );
    const L = x.shape[1]!;
    if (L > this.config.maxLen)
      throw new ValueError(
        `${op}: ${what} has ${L} positions, beyond maxLen ${this.config.maxLen}; shorten the sequences or build the model with a larger maxLen`,
      );
    const ids = x.dataSync();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= vocab)
        throw new ValueError(
          `${op}: token id ${id} at ${what}[${Math.floor(i / L)}, ${i % L}] is outside the vocabulary of ${vocab}`,
        );
    }
    return [x.shape[0]!, L];
  }

  /** Source ids (N, S) → embeddings with positions (N, S, E). */
  embedSource(src: Tensor): Tensor {
    const scale = Math.sqrt(this.config.dModel);
    return this.positional.forward(this.srcEmbed.forward(src).mul(scale)); // (N, S, E)
  }

  /** Target ids (N, t) at positions offset..offset+t → embeddings (N, t, E). */
  embedTarget(tokens: Tensor, offset = 0): Tensor {
    const scale = Math.sqrt(this.config.dModel);
    return this.positional.forward(this.tgtEmbed.forward(tokens).mul(scale), offset); // (N, t, E)
  }

  /**
   * Next-token logits (N, T, V) for every target position, teacher-forced: `tgt` (N, T) is the
   * decoder input (BOS first), `src` (N, S) the source. The decoder is causal unless `tgtMask`
   * says otherwise; the source padding mask also masks the memory in cross-attention.
   */
  forward(src: Tensor, tgt: Tensor, masks: Seq2SeqMasks = {}): Tensor {
    const op = 'TransformerSeq2Seq.forward';
    const [N] = this.checkIds(src, this.config.srcVocabSize, op, 'src');
    const [N2, T] = this.checkIds(tgt, this.config.tgtVocabSize, op, 'tgt');
    if (N !== N2)
      throw new ShapeError(
        `${op}: src ${formatShape(src.shape)} and tgt ${formatShape(tgt.shape)} have different batch sizes`,
      );
    const h = this.transformer.forward(this.embedSource(src), this.embedTarget(tgt), {
      srcKeyPaddingMask: masks.srcKeyPaddingMask ?? null,
      memoryKeyPaddingMask: masks.srcKeyPaddingMask ?? null,
      tgtKeyPaddingMask: masks.tgtKeyPaddingMask ?? null,
      tgtMask: masks.tgtMask ?? Transformer.generateSquareSubsequentMask(T), // (T, T) causal
    }); // (N, T, E)
    return this.outProj.forward(h); // (N, T, V)
  }

  /**
   * Teacher-forced mean cross-entropy of a padded batch (as `nb.data.collateSeq2Seq` makes):
   * the decoder reads tgt[:, :-1] and predicts tgt[:, 1:]; padded targets are left out.
   *
   * @example
   * const loss = model.loss(nb.data.syntheticBatch('reverse', 32)); // 0-d
   */
  loss(batch: Seq2SeqTrainingBatch, options: { labelSmoothing?: number } = {}): Tensor {
    const { src, tgt } = batch;
    if (!(tgt instanceof Tensor) || tgt.ndim !== 2 || tgt.shape[1]! < 2)
      throw new ShapeError(
        `TransformerSeq2Seq.loss: tgt must be (N, T) with T >= 2 (BOS · ... · EOS), got ${tgt instanceof Tensor ? formatShape(tgt.shape) : typeof tgt}`,
      );
    const [N, T] = tgt.shape as [number, number];
    const input = tgt.narrow(1, 0, T - 1); // (N, T-1): BOS · tokens
    const target = tgt.narrow(1, 1, T - 1).contiguous(); // (N, T-1): tokens · EOS
    const tgtPad = batch.tgtKeyPaddingMask ? batch.tgtKeyPaddingMask.narrow(1, 0, T - 1) : null;
    const logits = this.forward(src, input, {
      srcKeyPaddingMask: batch.srcKeyPaddingMask ?? null,
      tgtKeyPaddingMask: tgtPad,
    }); // (N, T-1, V)
    const V = this.config.tgtVocabSize;
    return crossEntropy(logits.reshape(N * (T - 1), V), target.reshape(N * (T - 1)), {
      ignoreIndex: this.config.padId,
      labelSmoothing: options.labelSmoothing ?? 0,
    }); // (N·(T-1), V) → ()
  }

  /**
   * The encoder: memory (N, S, E) of `src` (N, S) int32, with padding (positions equal to padId)
   * masked.
   */
  encode(src: Tensor): Seq2SeqMemory {
    this.checkIds(src, this.config.srcVocabSize, 'TransformerSeq2Seq.encode', 'src');
    const padded = src.dataSync().includes(this.config.padId);
    const padding = padded ? src.eq(this.config.padId) : null; // (N, S) bool
    const memory = this.transformer.encode(this.embedSource(src), {
      srcKeyPaddingMask: padding,
    }); // (N, S, E)
    return { memory, padding };
  }

  /** An empty key/value cache of the decoder for `decodeStep` (one per decoding run). */
  createCache(): DecoderCache {
    return this.transformer.decoder.createCache();
  }

  /**
   * Next-token logits (N, V) given every target token so far, `tokens` (N, t) int32 (BOS first),
   * and the encoder's output. With `cache`, only the newest token is embedded and run through
   * the decoder (`forwardIncremental`), attending to the cached keys and values of the earlier
   * ones; without it, the whole prefix is re-run with a causal mask. Both give the same logits.
   *
   * @example
   * const memory = model.encode(src); // src (N, S)
   * const cache = model.createCache();
   * let logits = model.decodeStep(nb.tensor([[1]], { dtype: 'int32' }), memory, cache); // (1, V)
   */
  decodeStep(tokens: Tensor, memory: Seq2SeqMemory, cache: DecoderCache | null = null): Tensor {
    const t = tokens.shape[1]!;
    const memoryKeyPaddingMask = memory.padding;
    if (cache) {
      const x = this.embedTarget(tokens.narrow(1, t - 1, 1), t - 1); // (N, 1, E): the newest token
      const h = this.transformer.decoder.forwardIncremental(x, memory.memory, cache, {
        memoryKeyPaddingMask,
      }); // (N, 1, E)
      return this.outProj.forward(h).select(1, 0); // (N, 1, V) → (N, V)
    }
    const h = this.transformer.decoder.forward(this.embedTarget(tokens), memory.memory, {
      tgtMask: Transformer.generateSquareSubsequentMask(t), // (t, t) causal
      memoryKeyPaddingMask,
    }); // (N, t, E)
    return this.outProj.forward(h).select(1, t - 1); // (N, t, V) → (N, V)
  }

  /**
   * This model as the `Seq2SeqModel` interface of `nb.train.greedyDecode` and `nb.train.
   * beamSearch`: `encode` (source padding masked), `decodeStep` with the decoder's key/value
   * cache, and the cache reordering of `nb.train.transformerSeq2Seq` to follow the beams. Put
   * the model in eval mode first.
   *
   * @example
   * model.eval();
   * const [best] = nb.train.beamSearch(model.asDecoder(), src1, { bos: 1, eos: 2, maxLen: 20, beamSize: 4 });
   */
  asDecoder(): Seq2SeqModel<Seq2SeqMemory, DecoderCache> {
    const base = transformerSeq2Seq({
      transformer: this.transformer,
      srcEmbed: (s) => this.embedSource(s),
      tgtEmbed: (t, offset) => this.embedTarget(t, offset),
      project: (h) => this.outProj.forward(h),
    });
    return {
      encode: (src) => this.encode(src),
      expandMemory: (m, n) => {
        const [, S, E] = m.memory.shape as [number, number, number];
        return {
          memory: m.memory.expand(n, S, E), // (1, S, E) → (n, S, E), no copy
          padding: m.padding && m.padding.expand(n, S),
        };
      },
      decodeStep: (tokens, m, cache) => this.decodeStep(tokens, m, cache),
      createCache: () => this.createCache(),
      reorderCache: base.reorderCache,
      releaseCache: base.releaseCache,
    };
  }

  /**
   * Decodes every row of `src` (N, S) int32 (padded with padId): greedily in one batch, or with
   * beam search (one row at a time, its padding cut off) when `beamSize` > 1. Returns the output
   * tokens per row, BOS and EOS left out. Runs in eval mode without autograd; the modules' modes
   * are restored afterwards.
   *
   * @example
   * const out = model.decode(batch.src, { bos: 1, eos: 2, maxLen: 12, beamSize: 4 });
   */
  decode(src: Tensor, options: Seq2SeqDecodeOptions): number[][] {
    const op = 'TransformerSeq2Seq.decode';
    this.checkIds(src, this.config.srcVocabSize, op, 'src');
    const beamSize = options.beamSize ?? 1;
    if (!Number.isInteger(beamSize) || beamSize < 1)
      throw new ValueError(`${op}: beamSize must be a positive integer, got ${beamSize}`);
    const { bos, eos } = options;
    const maxLen = Math.min(options.maxLen, this.config.maxLen);
    const strip = (row: number[]): number[] => (row.at(-1) === eos ? row.slice(0, -1) : row);
    const modes = [...this.modules()].map((m) => [m, m.training] as const);
    this.eval();
    try {
      return noGrad(() => {
        const decoder = this.asDecoder();
        if (beamSize === 1) return greedyDecode(decoder, src, { bos, eos, maxLen }).map(strip);
        const [N, S] = src.shape as [number, number];
        const ids = src.dataSync();
        const out: number[][] = [];
        for (let n = 0; n < N; n++) {
          let len = S;
          while (len > 1 && ids[n * S + len - 1] === this.config.padId) len--;
          const row = src.narrow(0, n, 1).narrow(1, 0, len); // (1, len)
          const hyps: BeamHypothesis[] = beamSearch(decoder, row, {
            bos,
            eos,
            maxLen,
            beamSize,
            lengthPenalty: options.lengthPenalty ?? 1,
            numReturn: 1,
          });
          out.push(strip(hyps[0]?.tokens ?? []));
        }
        return out;
      });
    } finally {
      for (const [m, training] of modes) m.training = training;
    }
  }
}
