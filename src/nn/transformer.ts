/**
 * The Transformer of "Attention Is All You Need" (Vaswani et al., 2017): encoder and decoder
 * layers (self-attention, cross-attention and a position-wise feed-forward network, each wrapped
 * in a residual connection with layer normalisation), stacks of them, and the encoder–decoder
 * model. Mirrors PyTorch's torch/nn/modules/transformer.py — TransformerEncoderLayer,
 * TransformerDecoderLayer, TransformerEncoder, TransformerDecoder and Transformer — with the same
 * constructor options (camelCase), submodule names and state-dict keys (`encoder.layers.0.
 * self_attn.in_proj_weight`, `decoder.norm.weight`, ...), forward arguments and mask conventions
 * (boolean true = NOT allowed / padding; float masks are added to the attention scores).
 *
 * Post-norm "Add & Norm" (x = norm(x + sublayer(x)), the paper's) by default; pre-norm
 * (x = x + sublayer(norm(x))) with `normFirst`.
 *
 * Beyond PyTorch: `forwardIncremental` on the decoder (layers) decodes step by step with a
 * key/value cache, and `isCausal` flags without a mask apply a causal mask (PyTorch raises).
 */
import { ShapeError, ValueError } from '../core/errors.js';
import type { DType } from '../core/dtype.js';
import { formatShape } from '../core/shape.js';
import { full } from '../ops/creation.js';
import { add } from '../ops/elementwise.js';
import { triu } from '../ops/triangular.js';
import type { Tensor } from '../tensor.js';
import { Dropout } from './dropout.js';
import { xavierUniform_ } from './init.js';
import { DecoderCache, type DecoderLayerCache } from './kv-cache.js';
import { LayerNorm } from './layer-norm.js';
import { Linear } from './linear.js';
import { Module, ModuleList } from './module.js';
import { MultiheadAttention } from './multihead-attention.js';

/** The feed-forward non-linearity: PyTorch's 'relu' / 'gelu' (exact), or any function. */
export type TransformerActivation = 'relu' | 'gelu' | ((x: Tensor) => Tensor);

export interface TransformerLayerOptions {
  /** Model width (embedding size). */
  dModel: number;
  /** Number of attention heads; dModel must be divisible by it. */
  nhead: number;
  /** Hidden width of the feed-forward network (default 2048). */
  dimFeedforward?: number;
  /** Dropout on attention weights, sublayer outputs and the feed-forward hidden layer (0.1). */
  dropout?: number;
  activation?: TransformerActivation;
  layerNormEps?: number;
  /** (N, T, E) inputs instead of (T, N, E). Default false. */
  batchFirst?: boolean;
  /** Pre-norm (LayerNorm before each sublayer) instead of the paper's post-norm. Default false. */
  normFirst?: boolean;
  /** Biases in the linear layers and the layer norms (default true). */
  bias?: boolean;
  dtype?: DType;
}

type LayerRest = Omit<TransformerLayerOptions, 'dModel' | 'nhead'>;

function layerOptions(
  a: number | TransformerLayerOptions,
  nhead: number | undefined,
  rest: LayerRest,
): Required<Omit<TransformerLayerOptions, 'dtype'>> & { dtype: DType } {
  const o: TransformerLayerOptions =
    typeof a === 'number' ? { ...rest, dModel: a, nhead: nhead as number } : a;
  const resolved = {
    dModel: o.dModel,
    nhead: o.nhead,
    dimFeedforward: o.dimFeedforward ?? 2048,
    dropout: o.dropout ?? 0.1,
    activation: o.activation ?? 'relu',
    layerNormEps: o.layerNormEps ?? 1e-5,
    batchFirst: o.batchFirst ?? false,
    normFirst: o.normFirst ?? false,
    bias: o.bias ?? true,
    dtype: o.dtype ?? 'float32',
  };
  if (!Number.isInteger(resolved.dimFeedforward) || resolved.dimFeedforward <= 0) {
    throw new ValueError(
      `Transformer layer: dimFeedforward must be a positive integer, got ${resolved.dimFeedforward}`,
    );
  }
  const act = resolved.activation;
  if (typeof act !== 'function' && act !== 'relu' && act !== 'gelu') {
    throw new ValueError(
      `Transformer layer: activation must be 'relu', 'gelu' or a function, got ${String(act)}`,
    );
  }
  return resolved;
}

function activationFn(a: TransformerActivation): (x: Tensor) => Tensor {
  if (a === 'relu') return (x) => x.relu();
  if (a === 'gelu') return (x) => x.gelu();
  return a;
}

function checkFeatures(op: string, what: string, x: Tensor, dModel: number): void {
  if ((x.ndim !== 3 && x.ndim !== 2) || x.shape[x.ndim - 1] !== dModel) {
    throw new ShapeError(
      `${op}: ${what} of shape ${formatShape(x.shape)} should be (T, N, ${dModel}), (N, T, ${dModel}) with batchFirst, or unbatched (T, ${dModel})`,
    );
  }
}

/** Options of {@link TransformerEncoderLayer.forward} (PyTorch's argument names). */
export interface EncoderLayerForwardOptions {
  /** (S, S) or (N·nhead, S, S) attention mask. */
  srcMask?: Tensor | null;
  /** (N, S): true marks padding. */
  srcKeyPaddingMask?: Tensor | null;
  /** Hint that srcMask is causal; without srcMask, applies a causal mask. */
  isCausal?: boolean;
}

/**
 * One encoder layer: self-attention then a feed-forward network, each with dropout, a residual
 * connection and LayerNorm (PyTorch's nn.TransformerEncoderLayer).
 *
 * @example
 * const layer = new nb.nn.TransformerEncoderLayer({ dModel: 16, nhead: 4, dimFeedforward: 32 });
 * const y = layer.forward(nb.randn([10, 2, 16])); // (S, N, E)
 */
export class TransformerEncoderLayer extends Module {
  selfAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly normFirst: boolean;
  readonly dModel: number;
  readonly options: ReturnType<typeof layerOptions>;
  private readonly act: (x: Tensor) => Tensor;

  constructor(options: TransformerLayerOptions);
  constructor(dModel: number, nhead: number, options?: LayerRest);
  constructor(a: number | TransformerLayerOptions, nhead?: number, rest: LayerRest = {}) {
    super();
    const o = layerOptions(a, nhead, rest);
    this.options = o;
    this.dModel = o.dModel;
    const { dtype, bias } = o;
    this.selfAttn = new MultiheadAttention({
      embedDim: o.dModel,
      numHeads: o.nhead,
      dropout: o.dropout,
      bias,
      batchFirst: o.batchFirst,
      dtype,
    });
    this.linear1 = new Linear(o.dModel, o.dimFeedforward, { bias, dtype });
    this.dropout = new Dropout(o.dropout);
    this.linear2 = new Linear(o.dimFeedforward, o.dModel, { bias, dtype });
    this.normFirst = o.normFirst;
    this.norm1 = new LayerNorm(o.dModel, { eps: o.layerNormEps, bias, dtype });
    this.norm2 = new LayerNorm(o.dModel, { eps: o.layerNormEps, bias, dtype });
    this.dropout1 = new Dropout(o.dropout);
    this.dropout2 = new Dropout(o.dropout);
    this.act = activationFn(o.activation);
  }

  /** A deep copy: same options, same parameter values, own parameters (PyTorch's deepcopy). */
  clone(): TransformerEncoderLayer {
    const c = new TransformerEncoderLayer({ ...this.options, dtype: this.linear1.weight.dtype });
    c.loadStateDict(this.stateDict());
    return c.train(this.training);
  }

  forward(src: Tensor, options: EncoderLayerForwardOptions = {}): Tensor {
    checkFeatures('TransformerEncoderLayer', 'src', src, this.dModel);
    const sa = (x: Tensor): Tensor =>
      this.dropout1.forward(
        this.selfAttn.forward(x, x, x, {
          attnMask: options.srcMask,
          keyPaddingMask: options.srcKeyPaddingMask,
          isCausal: options.isCausal,
          needWeights: false,
        })[0],
      );
    let x = src;
    if (this.normFirst) {
      x = add(x, sa(this.norm1.forward(x)));
      x = add(x, this.ffBlock(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(add(x, sa(x)));
      x = this.norm2.forward(add(x, this.ffBlock(x)));
    }
    return x;
  }

  private ffBlock(x: Tensor): Tensor {
    // (.., .., E) -> (.., .., F) -> (.., .., E)
    const h = this.dropout.forward(this.act(this.linear1.forward(x)));
    return this.dropout2.forward(this.linear2.forward(h));
  }
}

/** Options of {@link TransformerDecoderLayer.forward} (PyTorch's argument names). */
export interface DecoderLayerForwardOptions {
  /** (T, T) or (N·nhead, T, T) self-attention mask, e.g. Transformer.generateSquareSubsequentMask(T). */
  tgtMask?: Tensor | null;
  /** (T, S) or (N·nhead, T, S) cross-attention mask. */
  memoryMask?: Tensor | null;
  /** (N, T): true marks target padding. */
  tgtKeyPaddingMask?: Tensor | null;
  /** (N, S): true marks memory padding. */
  memoryKeyPaddingMask?: Tensor | null;
  /** Hint that tgtMask is causal; without tgtMask, applies a causal mask. */
  tgtIsCausal?: boolean;
  /** Hint that memoryMask is causal; without memoryMask, applies a causal mask. */
  memoryIsCausal?: boolean;
}

/** Options of the incremental decoder: masks over the cached positions. */
export interface DecoderIncrementalOptions {
  /** (N, T_total): target padding over all positions decoded so far, these steps included. */
  tgtKeyPaddingMask?: Tensor | null;
  /** (N, S): memory padding. */
  memoryKeyPaddingMask?: Tensor | null;
  /** (t, S) or (N·nhead, t, S): cross-attention mask rows of the t new positions. */
  memoryMask?: Tensor | null;
}

/**
 * One decoder layer: masked self-attention, cross-attention over the encoder memory and a
 * feed-forward network, each with dropout, a residual connection and LayerNorm (PyTorch's
 * nn.TransformerDecoderLayer).
 *
 * @example
 * const layer = new nb.nn.TransformerDecoderLayer({ dModel: 16, nhead: 4, batchFirst: true });
 * const y = layer.forward(nb.randn([2, 7, 16]), memory, {
 *   tgtMask: nb.nn.Transformer.generateSquareSubsequentMask(7),
 * });
 */
export class TransformerDecoderLayer extends Module {
  selfAttn: MultiheadAttention;
  multiheadAttn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;
  readonly normFirst: boolean;
  readonly dModel: number;
  readonly options: ReturnType<typeof layerOptions>;
  private readonly act: (x: Tensor) => Tensor;

  constructor(options: TransformerLayerOptions);
  constructor(dModel: number, nhead: number, options?: LayerRest);
  constructor(a: number | TransformerLayerOptions, nhead?: number, rest: LayerRest = {}) {
    super();
    const o = layerOptions(a, nhead, rest);
    this.options = o;
    this.dModel = o.dModel;
    const { dtype, bias } = o;
    const mha = (): MultiheadAttention =>
      new MultiheadAttention({
        embedDim: o.dModel,
        numHeads: o.nhead,
        dropout: o.dropout,
        bias,
        batchFirst: o.batchFirst,
        dtype,
      });
    this.selfAttn = mha();
    this.multiheadAttn = mha();
    this.linear1 = new Linear(o.dModel, o.dimFeedforward, { bias, dtype });
    this.dropout = new Dropout(o.dropout);
    this.linear2 = new Linear(o.dimFeedforward, o.dModel, { bias, dtype });
    this.normFirst = o.normFirst;
    this.norm1 = new LayerNorm(o.dModel, { eps: o.layerNormEps, bias, dtype });
    this.norm2 = new LayerNorm(o.dModel, { eps: o.layerNormEps, bias, dtype });
    this.norm3 = new LayerNorm(o.dModel, { eps: o.layerNormEps, bias, dtype });
    this.dropout1 = new Dropout(o.dropout);
    this.dropout2 = new Dropout(o.dropout);
    this.dropout3 = new Dropout(o.dropout);
    this.act = activationFn(o.activation);
  }

  /** A deep copy: same options, same parameter values, own parameters (PyTorch's deepcopy). */
  clone(): TransformerDecoderLayer {
    const c = new TransformerDecoderLayer({ ...this.options, dtype: this.linear1.weight.dtype });
    c.loadStateDict(this.stateDict());
    return c.train(this.training);
  }

  forward(tgt: Tensor, memory: Tensor, options: DecoderLayerForwardOptions = {}): Tensor {
    checkFeatures('TransformerDecoderLayer', 'tgt', tgt, this.dModel);
    checkFeatures('TransformerDecoderLayer', 'memory', memory, this.dModel);
    return this.run(
      tgt,
      (x) =>
        this.selfAttn.forward(x, x, x, {
          attnMask: options.tgtMask,
          keyPaddingMask: options.tgtKeyPaddingMask,
          isCausal: options.tgtIsCausal,
          needWeights: false,
        })[0],
      (x) =>
        this.multiheadAttn.forward(x, memory, memory, {
          attnMask: options.memoryMask,
          keyPaddingMask: options.memoryKeyPaddingMask,
          isCausal: options.memoryIsCausal,
          needWeights: false,
        })[0],
    );
  }

  /**
   * Decodes the t new target positions `tgt` ((t, N, E), (N, t, E) with batchFirst) given the
   * layer's cache: self-attention over every position so far (causal), cross-attention over
   * `memory`, whose keys/values are projected on the first call only (`memory` may be null once
   * the cache holds them). Equals the matching rows of `forward` with a causal tgtMask.
   */
  forwardIncremental(
    tgt: Tensor,
    memory: Tensor | null,
    cache: DecoderLayerCache,
    options: DecoderIncrementalOptions = {},
  ): Tensor {
    checkFeatures('TransformerDecoderLayer.forwardIncremental', 'tgt', tgt, this.dModel);
    if (memory)
      checkFeatures('TransformerDecoderLayer.forwardIncremental', 'memory', memory, this.dModel);
    return this.run(
      tgt,
      (x) =>
        this.selfAttn.forwardCached(x, x, x, cache.selfAttn, {
          keyPaddingMask: options.tgtKeyPaddingMask,
        })[0],
      (x) =>
        this.multiheadAttn.forwardCached(x, memory, memory, cache.crossAttn, {
          attnMask: options.memoryMask,
          keyPaddingMask: options.memoryKeyPaddingMask,
        })[0],
    );
  }

  private run(tgt: Tensor, sa: (x: Tensor) => Tensor, ca: (x: Tensor) => Tensor): Tensor {
    let x = tgt;
    if (this.normFirst) {
      x = add(x, this.dropout1.forward(sa(this.norm1.forward(x))));
      x = add(x, this.dropout2.forward(ca(this.norm2.forward(x))));
      x = add(x, this.ffBlock(this.norm3.forward(x)));
    } else {
      x = this.norm1.forward(add(x, this.dropout1.forward(sa(x))));
      x = this.norm2.forward(add(x, this.dropout2.forward(ca(x))));
      x = this.norm3.forward(add(x, this.ffBlock(x)));
    }
    return x;
  }

  private ffBlock(x: Tensor): Tensor {
    // (.., .., E) -> (.., .., F) -> (.., .., E)
    const h = this.dropout.forward(this.act(this.linear1.forward(x)));
    return this.dropout3.forward(this.linear2.forward(h));
  }
}

function checkNumLayers(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new ValueError(`${op}: numLayers must be a non-negative integer, got ${n}`);
  }
}

/** Options of {@link TransformerEncoder.forward}. */
export interface EncoderForwardOptions {
  /** (S, S) or (N·nhead, S, S) attention mask (PyTorch's `mask`). */
  mask?: Tensor | null;
  /** Alias of `mask`. */
  srcMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

/**
 * A stack of `numLayers` copies of `encoderLayer` and an optional final norm (PyTorch's
 * nn.TransformerEncoder). Like PyTorch, the layer is deep-copied: every copy starts with the same
 * parameter values but owns its parameters; the layer passed in is not used itself.
 *
 * @example
 * const layer = new nb.nn.TransformerEncoderLayer({ dModel: 16, nhead: 4 });
 * const enc = new nb.nn.TransformerEncoder(layer, 3, new nb.nn.LayerNorm(16));
 * const memory = enc.forward(src, { srcKeyPaddingMask: padMask });
 */
export class TransformerEncoder extends Module {
  layers: ModuleList<TransformerEncoderLayer>;
  norm: LayerNorm | null;
  readonly numLayers: number;

  constructor(
    encoderLayer: TransformerEncoderLayer,
    numLayers: number,
    norm: LayerNorm | null = null,
  ) {
    super();
    checkNumLayers('TransformerEncoder', numLayers);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => encoderLayer.clone()));
    this.norm = norm;
    this.numLayers = numLayers;
  }

  forward(src: Tensor, options: EncoderForwardOptions = {}): Tensor {
    const layerOpts: EncoderLayerForwardOptions = {
      srcMask: options.mask ?? options.srcMask,
      srcKeyPaddingMask: options.srcKeyPaddingMask,
      isCausal: options.isCausal,
    };
    let x = src;
    for (const layer of this.layers) x = layer.forward(x, layerOpts);
    return this.norm ? this.norm.forward(x) : x;
  }
}

/**
 * A stack of `numLayers` copies of `decoderLayer` and an optional final norm (PyTorch's
 * nn.TransformerDecoder), with cached step-by-step decoding.
 *
 * @example
 * const dec = new nb.nn.TransformerDecoder(new nb.nn.TransformerDecoderLayer(16, 4), 2);
 * const y = dec.forward(tgt, memory, { tgtMask: nb.nn.Transformer.generateSquareSubsequentMask(7) });
 * // Cached greedy decoding: one position per step.
 * const cache = dec.createCache();
 * const step = dec.forwardIncremental(tgtEmb0, memory, cache); // then tgtEmb1, ...
 */
export class TransformerDecoder extends Module {
  layers: ModuleList<TransformerDecoderLayer>;
  norm: LayerNorm | null;
  readonly numLayers: number;

  constructor(
    decoderLayer: TransformerDecoderLayer,
    numLayers: number,
    norm: LayerNorm | null = null,
  ) {
    super();
    checkNumLayers('TransformerDecoder', numLayers);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => decoderLayer.clone()));
    this.norm = norm;
    this.numLayers = numLayers;
  }

  forward(tgt: Tensor, memory: Tensor, options: DecoderLayerForwardOptions = {}): Tensor {
    let x = tgt;
    for (const layer of this.layers) x = layer.forward(x, memory, options);
    return this.norm ? this.norm.forward(x) : x;
  }

  /** An empty cache for {@link forwardIncremental}: one self- and one cross-attention cache per layer. */
  createCache(): DecoderCache {
    return new DecoderCache(this.numLayers);
  }

  /**
   * Decodes the next t target positions (usually t = 1) with the key/value cache: each layer
   * attends over all positions decoded so far plus the new ones (causally), and over `memory`,
   * whose projections are computed on the first call only. Returns (t, N, E) ((N, t, E) with
   * batchFirst), equal in eval mode to the last t rows of `forward` with a causal tgtMask. Add
   * positional encodings with offset `cache.length` before calling.
   */
  forwardIncremental(
    tgt: Tensor,
    memory: Tensor | null,
    cache: DecoderCache,
    options: DecoderIncrementalOptions = {},
  ): Tensor {
    if (cache.layers.length !== this.numLayers) {
      throw new ValueError(
        `TransformerDecoder.forwardIncremental: the cache has ${cache.layers.length} layers, the decoder ${this.numLayers}; use decoder.createCache()`,
      );
    }
    let x = tgt;
    let i = 0;
    for (const layer of this.layers) {
      x = layer.forwardIncremental(x, memory, cache.layers[i++]!, options);
    }
    return this.norm ? this.norm.forward(x) : x;
  }
}

export interface TransformerOptions extends Partial<TransformerLayerOptions> {
  /** Encoder layers (default 6). */
  numEncoderLayers?: number;
  /** Decoder layers (default 6). */
  numDecoderLayers?: number;
  /** Use this encoder instead of building one. */
  customEncoder?: TransformerEncoder;
  /** Use this decoder instead of building one. */
  customDecoder?: TransformerDecoder;
}

/** Options of {@link Transformer.forward} (PyTorch's argument names). */
export interface TransformerForwardOptions extends DecoderLayerForwardOptions {
  srcMask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  srcIsCausal?: boolean;
}

/**
 * The encoder–decoder Transformer (PyTorch's nn.Transformer): `encoder` (numEncoderLayers layers
 * plus a final LayerNorm) and `decoder` (numDecoderLayers layers plus a final LayerNorm). Every
 * parameter with more than one dimension is re-initialised with xavier_uniform_, as PyTorch does.
 * Defaults are the paper's base model: dModel 512, nhead 8, 6 + 6 layers, dimFeedforward 2048,
 * dropout 0.1. Embeddings, positional encodings and the output projection are up to the user.
 *
 * @example
 * const model = new nb.nn.Transformer({ dModel: 32, nhead: 4, numEncoderLayers: 2, numDecoderLayers: 2, batchFirst: true });
 * const tgtMask = nb.nn.Transformer.generateSquareSubsequentMask(7);
 * const y = model.forward(srcEmb, tgtEmb, { tgtMask, srcKeyPaddingMask }); // (N, 7, 32)
 */
export class Transformer extends Module {
  encoder: TransformerEncoder;
  decoder: TransformerDecoder;
  readonly dModel: number;
  readonly nhead: number;
  readonly batchFirst: boolean;

  constructor(options: TransformerOptions = {}) {
    super();
    const base: TransformerLayerOptions = {
      ...options,
      dModel: options.dModel ?? 512,
      nhead: options.nhead ?? 8,
    };
    const lo = layerOptions(base, undefined, {});
    const norm = (): LayerNorm =>
      new LayerNorm(lo.dModel, { eps: lo.layerNormEps, bias: lo.bias, dtype: lo.dtype });
    this.encoder =
      options.customEncoder ??
      new TransformerEncoder(
        new TransformerEncoderLayer(base),
        options.numEncoderLayers ?? 6,
        norm(),
      );
    this.decoder =
      options.customDecoder ??
      new TransformerDecoder(
        new TransformerDecoderLayer(base),
        options.numDecoderLayers ?? 6,
        norm(),
      );
    this.dModel = lo.dModel;
    this.nhead = lo.nhead;
    this.batchFirst = lo.batchFirst;
    this.resetParameters();
  }

  /** PyTorch's _reset_parameters: xavier_uniform_ on every parameter with more than one dim. */
  resetParameters(): void {
    for (const p of this.parameters()) if (p.ndim > 1) xavierUniform_(p);
  }

  /**
   * src (S, N, E) and tgt (T, N, E) ((N, S, E), (N, T, E) with batchFirst)
   * → (T, N, E). Masks follow MultiheadAttention: srcMask (S, S), tgtMask (T, T), memoryMask
   * (T, S), key padding masks (N, S) / (N, T) with true = padding.
   */
  forward(src: Tensor, tgt: Tensor, options: TransformerForwardOptions = {}): Tensor {
    const batched = src.ndim === 3;
    if (batched && tgt.ndim === 3) {
      const bd = this.batchFirst ? 0 : 1;
      if (src.shape[bd] !== tgt.shape[bd]) {
        throw new ShapeError(
          `Transformer: the batch sizes of src ${formatShape(src.shape)} and tgt ${formatShape(tgt.shape)} must be equal (batch dim ${bd})`,
        );
      }
    }
    if (src.shape[src.ndim - 1] !== this.dModel || tgt.shape[tgt.ndim - 1] !== this.dModel) {
      throw new ShapeError(
        `Transformer: the feature size of src ${formatShape(src.shape)} and tgt ${formatShape(tgt.shape)} must equal dModel ${this.dModel}`,
      );
    }
    const memory = this.encode(src, options);
    return this.decoder.forward(tgt, memory, options);
  }

  /** The encoder alone: memory for {@link forward} or incremental decoding. */
  encode(
    src: Tensor,
    options: Pick<TransformerForwardOptions, 'srcMask' | 'srcKeyPaddingMask' | 'srcIsCausal'> = {},
  ): Tensor {
    return this.encoder.forward(src, {
      mask: options.srcMask,
      srcKeyPaddingMask: options.srcKeyPaddingMask,
      isCausal: options.srcIsCausal,
    });
  }

  /**
   * A (sz, sz) float mask with -Infinity above the diagonal and 0 elsewhere (PyTorch's
   * generate_square_subsequent_mask): position i may attend positions 0..i.
   *
   * @example
   * nb.nn.Transformer.generateSquareSubsequentMask(3).toArray();
   * // [[0, -Infinity, -Infinity], [0, 0, -Infinity], [0, 0, 0]]
   */
  static generateSquareSubsequentMask(sz: number, dtype: DType = 'float32'): Tensor {
    if (!Number.isInteger(sz) || sz < 0) {
      throw new ValueError(
        `generateSquareSubsequentMask: size must be a non-negative integer, got ${sz}`,
      );
    }
    return triu(full([sz, sz], -Infinity, { dtype }), 1);
  }
}
