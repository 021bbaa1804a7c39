/**
 * GPT: a decoder-only Transformer language model, GPT-2 (Radford et al., 2019, "Language Models
 * are Unsupervised Multitask Learners") as laid out in Karpathy's nanoGPT (model.py): the same
 * module tree and state-dict keys (`transformer.h.0.attn.c_attn.weight`, ...), pre-norm blocks,
 * exact GELU, an output head tied to the token embedding, and GPT-2's initialisation. On top of
 * nanoGPT it adds a key/value cache for incremental decoding, and top-p sampling (the sampling
 * functions are shared with other language models, in src/train/decode.ts).
 *
 * Shape letters: B batch, T sequence length (new tokens), S attended length (cached + new),
 * C embedding width (nEmbd), H heads, D head width (C / H), V vocabulary size.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { DTypeError, IndexError, ShapeError, ValueError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { formatShape } from '../core/shape.js';
import { keep, scope } from '../memory.js';
import { arange, tensor, zeros } from '../ops/creation.js';
import { where } from '../ops/elementwise.js';
import { cat } from '../ops/join.js';
import { Tensor } from '../tensor.js';
import { GELU } from '../nn/activation.js';
import { attentionOutput } from '../nn/attention.js';
import { Dropout } from '../nn/dropout.js';
import { Embedding } from '../nn/embedding.js';
import { normal_, zeros_ } from '../nn/init.js';
import { LayerNorm } from '../nn/layer-norm.js';
import { crossEntropy as nnCrossEntropy } from '../nn/losses.js';
import { Linear } from '../nn/linear.js';
import { Module, ModuleList } from '../nn/module.js';
import { resolveSampling, sampleRows } from '../train/decode.js';

// ---- Configuration ----------------------------------------------------------------------------

/**
 * The shape of a GPT (nanoGPT's GPTConfig).
 *
 * @example
 * const config: nb.models.GPTConfig = { vocabSize: 65, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 };
 */
export interface GPTConfig {
  /** Number of token ids (V). */
  vocabSize: number;
  /** Longest context the model reads: the number of learned positions. */
  blockSize: number;
  /** Number of Transformer blocks. */
  nLayer: number;
  /** Attention heads per block (H); must divide nEmbd. */
  nHead: number;
  /** Embedding width (C). */
  nEmbd: number;
  /** Dropout probability on embeddings, attention weights and residual branches (default 0). */
  dropout?: number;
  /** Biases in the Linear and LayerNorm layers, as GPT-2 (default true). */
  bias?: boolean;
}

/** A GPTConfig with the defaults filled in. */
export type ResolvedGPTConfig = Readonly<Required<GPTConfig>>;

/**
 * Ready-made configurations.
 *
 * - `tiny`: a 2-layer, 32-wide model over 16 tokens, for tests and experiments that run in seconds.
 * - `babyShakespeare`: nanoGPT's shakespeare_char "baby GPT" (65 characters, dropout 0.2, no
 *   biases) shrunk as in nanoGPT's CPU instructions: 4 layers, 4 heads, 128 wide, 64 positions.
 * - `gpt2`, `gpt2Medium`, `gpt2Large`, `gpt2Xl`: the OpenAI checkpoints' shapes (124M, 350M,
 *   774M, 1558M parameters) with GPT-2's 50257-token vocabulary and 1024 positions.
 *
 * @example
 * const model = new nb.models.GPT(nb.models.gptPresets.babyShakespeare);
 */
export const gptPresets = Object.freeze({
  tiny: Object.freeze({ vocabSize: 16, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 32 }),
  babyShakespeare: Object.freeze({
    vocabSize: 65,
    blockSize: 64,
    nLayer: 4,
    nHead: 4,
    nEmbd: 128,
    dropout: 0.2,
    bias: false,
  }),
  gpt2: Object.freeze({ vocabSize: 50257, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768 }),
  gpt2Medium: Object.freeze({
    vocabSize: 50257,
    blockSize: 1024,
    nLayer: 24,
    nHead: 16,
    nEmbd: 1024,
  }),
  gpt2Large: Object.freeze({
    vocabSize: 50257,
    blockSize: 1024,
    nLayer: 36,
    nHead: 20,
    nEmbd: 1280,
  }),
  gpt2Xl: Object.freeze({ vocabSize: 50257, blockSize: 1024, nLayer: 48, nHead: 25, nEmbd: 1600 }),
} satisfies Record<string, GPTConfig>);

function resolveConfig(config: GPTConfig): ResolvedGPTConfig {
  if (config === null || typeof config !== 'object')
    throw new ValueError(`GPT: expected a GPTConfig object, got ${String(config)}`);
  const positive = ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const;
  for (const key of positive) {
    const v = config[key];
    if (!Number.isInteger(v) || v <= 0)
      throw new ValueError(`GPT: config.${key} must be a positive integer, got ${String(v)}`);
  }
  if (config.nEmbd % config.nHead !== 0) {
    throw new ValueError(
      `GPT: nEmbd (${config.nEmbd}) must be divisible by nHead (${config.nHead}): each head gets nEmbd / nHead channels`,
    );
  }
  const dropout = config.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))
    throw new ValueError(`GPT: config.dropout must be in [0, 1), got ${String(dropout)}`);
  return Object.freeze({
    vocabSize: config.vocabSize,
    blockSize: config.blockSize,
    nLayer: config.nLayer,
    nHead: config.nHead,
    nEmbd: config.nEmbd,
    dropout,
    bias: config.bias ?? true,
  });
}

/** Construction options that are not part of the architecture. */
export interface GPTOptions {
  /**
   * Draw the initial weights and the dropout masks from this generator instead of the global one
   * (the initialisation is then reproducible on its own).
   */
  generator?: Generator;
}

// ---- Key/value cache --------------------------------------------------------------------------

/**
 * Keys and values of the positions a GPT has already read, per layer, so that decoding a new token
 * attends to them instead of re-running the whole prefix. Create one with `model.createCache()`,
 * feed it to `model.forwardCached`; it holds up to `capacity` (= blockSize) positions.
 *
 * @example
 * const cache = model.createCache();
 * let logits = model.forwardCached(prompt, cache); // (B, T, V)
 * logits = model.forwardCached(nextToken, cache); // (B, 1, V), attends to T + 1 positions
 */
export class KVCache {
  /** Per layer: keys (B, H, capacity, D), allocated on first use, filled up to `length`. */
  private readonly keys: (Tensor | null)[];
  /** Per layer: values (B, H, capacity, D). */
  private readonly values: (Tensor | null)[];
  private len = 0;

  constructor(
    /** Number of layers (one key/value store each). */
    readonly nLayer: number,
    /** Most positions the cache can hold (the model's blockSize). */
    readonly capacity: number,
  ) {
    this.keys = new Array<Tensor | null>(nLayer).fill(null);
    this.values = new Array<Tensor | null>(nLayer).fill(null);
  }

  /** Positions cached so far (the position index of the next token). */
  get length(): number {
    return this.len;
  }

  /** Batch size the cache was filled with, or null while it is empty. */
  get batchSize(): number | null {
    return this.keys[0]?.shape[0] ?? null;
  }

  /** Empties the cache (keeping its memory for reuse). */
  reset(): void {
    this.len = 0;
  }

  /** Frees the cached tensors and empties the cache. */
  dispose(): void {
    for (const list of [this.keys, this.values]) {
      for (let i = 0; i < list.length; i++) {
        list[i]?.dispose();
        list[i] = null;
      }
    }
    this.len = 0;
  }

  /**
   * @internal Writes the new keys and values `k`, `v` (B, H, T, D) of `layer` at positions
   * [length, length + T) and returns all keys and values so far, (B, H, length + T, D) each.
   */
  _append(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const [B, H, T, D] = k.shape as [number, number, number, number];
    const past = this.len;
    const old = [this.keys[layer] ?? null, this.values[layer] ?? null] as const;
    const fits = old.every(
      (t) =>
        t !== null &&
        t.dtype === k.dtype &&
        t.shape[0] === B &&
        t.shape[1] === H &&
        t.shape[3] === D,
    );
    if (!fits) {
      old.forEach((t) => t?.dispose());
      this.keys[layer] = keep(zeros([B, H, this.capacity, D], { dtype: k.dtype })); // (B, H, capacity, D)
      this.values[layer] = keep(zeros([B, H, this.capacity, D], { dtype: v.dtype })); // (B, H, capacity, D)
    }
    const kStore = this.keys[layer]!;
    const vStore = this.values[layer]!;
    noGrad(() => {
      kStore.narrow(2, past, T).copy_(k); // (B, H, T, D) into positions past..past+T
      vStore.narrow(2, past, T).copy_(v);
    });
    return [kStore.narrow(2, 0, past + T), vStore.narrow(2, 0, past + T)]; // (B, H, S, D) each
  }

  /** @internal Marks `t` more positions as filled (after every layer appended them). */
  _advance(t: number): void {
    this.len += t;
  }
}

// ---- Building blocks ----------------------------------------------------------------------------

/**
 * Multi-head causal self-attention as nanoGPT writes it: one Linear (`c_attn`) produces queries,
 * keys and values for all heads; softmax(q·kᵀ / √D) with a causal mask; then `c_proj`.
 *
 * @example
 * const attn = new nb.models.CausalSelfAttention(nb.models.gptPresets.tiny);
 * attn.forward(nb.randn([2, 5, 32])).shape; // [2, 5, 32]
 */
export class CausalSelfAttention extends Module {
  /** C → 3C: queries, keys and values of every head. */
  cAttn: Linear;
  /** C → C output projection. */
  cProj: Linear;
  attnDropout: Dropout;
  residDropout: Dropout;
  readonly nHead: number;
  readonly nEmbd: number;

  constructor(config: GPTConfig, options: GPTOptions = {}) {
    super();
    const c = resolveConfig(config);
    this.cAttn = new Linear(c.nEmbd, 3 * c.nEmbd, { bias: c.bias });
    this.cProj = new Linear(c.nEmbd, c.nEmbd, { bias: c.bias });
    this.attnDropout = new Dropout(c.dropout, options.generator);
    this.residDropout = new Dropout(c.dropout, options.generator);
    this.nHead = c.nHead;
    this.nEmbd = c.nEmbd;
  }

  /**
   * x (B, T, C) → (B, T, C). With `cache`, the new keys and values are stored in layer `layer` of
   * the cache and the T new positions attend to every cached position too.
   */
  forward(x: Tensor, cache?: KVCache, layer = 0): Tensor {
    if (x.ndim !== 3 || x.shape[2] !== this.nEmbd) {
      throw new ShapeError(
        `CausalSelfAttention: expected input (B, T, ${this.nEmbd}), got ${formatShape(x.shape)}`,
      );
    }
    const [B, T, C] = x.shape as [number, number, number];
    const H = this.nHead;
    const D = C / H;
    const [q0, k0, v0] = this.cAttn.forward(x).split(C, 2) as [Tensor, Tensor, Tensor]; // (B, T, C) each
    const q = q0.view(B, T, H, D).transpose(1, 2); // (B, T, C) → (B, T, H, D) → (B, H, T, D)
    let k = k0.view(B, T, H, D).transpose(1, 2); // (B, T, C) → (B, T, H, D) → (B, H, T, D)
    let v = v0.view(B, T, H, D).transpose(1, 2); // (B, T, C) → (B, T, H, D) → (B, H, T, D)
    const past = cache?.length ?? 0;
    if (cache) [k, v] = cache._append(layer, k, v); // (B, H, S, D) each, S = past + T
    // softmax(q·kᵀ/√D + causal mask)·v in the fused kernels (memory linear in T) unless dropout
    // is on; new position i (absolute past + i) sees keys j <= past + i. One new token sees all.
    const y = attentionOutput(q, k, v, {
      causal: T > 1,
      causalOffset: past,
      dropoutP: this.training ? this.attnDropout.p : 0,
      generator: this.attnDropout.generator,
      op: 'CausalSelfAttention',
    }); // (B, H, T, D)
    const merged = y.transpose(1, 2).contiguous().view(B, T, C); // (B, H, T, D) → (B, T, H, D) → (B, T, C)
    return this.residDropout.forward(this.cProj.forward(merged)); // (B, T, C)
  }
}

/**
 * The position-wise feed-forward network: C → 4C, exact GELU, 4C → C, dropout.
 *
 * @example
 * const mlp = new nb.models.MLP(nb.models.gptPresets.tiny);
 * mlp.forward(nb.randn([2, 5, 32])).shape; // [2, 5, 32]
 */
export class MLP extends Module {
  cFc: Linear;
  gelu: GELU;
  cProj: Linear;
  dropout: Dropout;

  constructor(config: GPTConfig, options: GPTOptions = {}) {
    super();
    const c = resolveConfig(config);
    this.cFc = new Linear(c.nEmbd, 4 * c.nEmbd, { bias: c.bias });
    this.gelu = new GELU('none');
    this.cProj = new Linear(4 * c.nEmbd, c.nEmbd, { bias: c.bias });
    this.dropout = new Dropout(c.dropout, options.generator);
  }

  /** x (B, T, C) → (B, T, C). */
  forward(x: Tensor): Tensor {
    const h = this.gelu.forward(this.cFc.forward(x)); // (B, T, 4C)
    return this.dropout.forward(this.cProj.forward(h)); // (B, T, C)
  }
}

/**
 * A pre-norm Transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
 *
 * @example
 * const block = new nb.models.Block(nb.models.gptPresets.tiny);
 * block.forward(nb.randn([2, 5, 32])).shape; // [2, 5, 32]
 */
export class Block extends Module {
  ln1: LayerNorm;
  attn: CausalSelfAttention;
  ln2: LayerNorm;
  mlp: MLP;

  constructor(config: GPTConfig, options: GPTOptions = {}) {
    super();
    const c = resolveConfig(config);
    this.ln1 = new LayerNorm(c.nEmbd, { bias: c.bias });
    this.attn = new CausalSelfAttention(c, options);
    this.ln2 = new LayerNorm(c.nEmbd, { bias: c.bias });
    this.mlp = new MLP(c, options);
    this.renameField('ln1', 'ln_1');
    this.renameField('ln2', 'ln_2');
  }

  /** x (B, T, C) → (B, T, C); `cache` and `layer` as in CausalSelfAttention.forward. */
  forward(x: Tensor, cache?: KVCache, layer = 0): Tensor {
    x = x.add(this.attn.forward(this.ln1.forward(x), cache, layer)); // (B, T, C)
    return x.add(this.mlp.forward(this.ln2.forward(x))); // (B, T, C)
  }
}

/**
 * The trunk of a GPT (nanoGPT's `transformer` ModuleDict): token and position embeddings, the
 * blocks, and the final LayerNorm. `GPT` runs it; it has no forward of its own.
 *
 * @example
 * const trunk = new nb.models.GPTTransformer(nb.models.gptPresets.tiny);
 * trunk.h.length; // 2 blocks
 */
export class GPTTransformer extends Module {
  /** Token embedding (V, C); its weight is the output head's weight. */
  wte: Embedding;
  /** Learned position embedding (blockSize, C). */
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList<Block>;
  lnF: LayerNorm;

  constructor(config: GPTConfig, options: GPTOptions = {}) {
    super();
    const c = resolveConfig(config);
    this.wte = new Embedding(c.vocabSize, c.nEmbd);
    this.wpe = new Embedding(c.blockSize, c.nEmbd);
    this.drop = new Dropout(c.dropout, options.generator);
    this.h = new ModuleList(Array.from({ length: c.nLayer }, () => new Block(c, options)));
    this.lnF = new LayerNorm(c.nEmbd, { bias: c.bias });
  }
}

// ---- The model ----------------------------------------------------------------------------------

/** What `GPT.forward` returns. */
export interface GPTOutput {
  /** Next-token logits at every position, (B, T, V). */
  logits: Tensor;
  /** Mean cross-entropy over the non-ignored targets, when targets were given (0-d). */
  loss?: Tensor;
}

/** Sampling options of `GPT.generate`. */
export interface GenerateOptions {
  /** Softmax temperature (default 1); 0 picks the most likely token (greedy decoding). */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Nucleus sampling: only among the most likely tokens whose probabilities add up to topP. */
  topP?: number;
  /** The random stream to sample from (default: the global generator). */
  generator?: Generator;
  /**
   * Decode incrementally with a key/value cache (default true): each new token costs one
   * position's worth of attention. The prompt plus the new tokens must then fit in blockSize.
   * Without the cache every step re-runs the (last blockSize tokens of the) sequence, as nanoGPT.
   */
  useCache?: boolean;
}

/** Targets equal to this are left out of the loss (nanoGPT's ignore_index). */
export const IGNORE_INDEX = -1;

/**
 * A GPT language model with nanoGPT's structure and state-dict names, so that nanoGPT and GPT-2
 * checkpoints (converted to safetensors) load with `loadStateDict`. `lm_head.weight` is the same
 * Parameter as `transformer.wte.weight`: both keys appear in `stateDict()`, the parameter once in
 * `parameters()`, and its gradient collects both uses.
 *
 * @example
 * nb.manualSeed(0);
 * const model = new nb.models.GPT(nb.models.gptPresets.tiny);
 * const idx = nb.tensor([[1, 2, 3, 4]], { dtype: 'int32' });
 * const { logits, loss } = model.forward(idx, nb.tensor([[2, 3, 4, 5]], { dtype: 'int32' }));
 * logits.shape; // [1, 4, 16]
 * loss!.backward();
 * const out = model.generate(idx, 4, { temperature: 0.8, topK: 5 }); // (1, 8) int32
 */
export class GPT extends Module {
  readonly config: ResolvedGPTConfig;
  transformer: GPTTransformer;
  /** C → V output head, without bias; its weight is tied to `transformer.wte.weight`. */
  lmHead: Linear;

  constructor(config: GPTConfig, options: GPTOptions = {}) {
    super();
    this.config = resolveConfig(config);
    const c = this.config;
    this.transformer = new GPTTransformer(c, options);
    this.lmHead = new Linear(c.nEmbd, c.vocabSize, { bias: false });
    // Weight tying (Press & Wolf, 2017), as GPT-2: one (V, C) matrix embeds and un-embeds tokens.
    this.transformer.wte.weight = this.lmHead.weight;
    this.initWeights(options.generator);
  }

  /**
   * GPT-2's initialisation, as nanoGPT: every Linear weight and embedding N(0, 0.02²), biases 0,
   * and the projections into the residual stream (`c_proj.weight`) N(0, (0.02 / √(2·nLayer))²),
   * so that the residual's variance does not grow with depth.
   */
  private initWeights(generator?: Generator): void {
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        normal_(m.weight, 0, 0.02, generator);
        if (m.bias) zeros_(m.bias);
      } else if (m instanceof Embedding) {
        normal_(m.weight, 0, 0.02, generator);
      }
    }
    const std = 0.02 / Math.sqrt(2 * this.config.nLayer);
    for (const [name, p] of this.namedParameters())
      if (name.endsWith('c_proj.weight')) normal_(p, 0, std, generator);
  }

  /** Checks that idx is a (B, T) int32 tensor of token ids; returns [B, T]. */
  private checkTokens(idx: Tensor, op: string, what = 'idx'): [number, number] {
    if (!(idx instanceof Tensor)) throw new DTypeError(`${op}: ${what} must be a Tensor`);
    if (idx.dtype !== 'int32') {
      throw new DTypeError(
        `${op}: ${what} must hold int32 token ids, got ${idx.dtype}; create it with { dtype: 'int32' } or call .int()`,
      );
    }
    if (idx.ndim !== 2)
      throw new ShapeError(`${op}: ${what} must be (B, T), got shape ${formatShape(idx.shape)}`);
    const [B, T] = idx.shape as [number, number];
    if (B === 0 || T === 0)
      throw new ShapeError(`${op}: ${what} is empty (shape ${formatShape(idx.shape)})`);
    const V = this.config.vocabSize;
    const ids = idx.dataSync();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= V) {
        throw new IndexError(
          `${op}: token id ${id} at ${what}[${Math.floor(i / T)}, ${i % T}] is out of range for vocabSize ${V} (valid: 0..${V - 1})`,
        );
      }
    }
    return [B, T];
  }

  /** Embeddings → blocks → ln_f → head, for tokens at positions past..past+T. */
  private logitsOf(idx: Tensor, past: number, cache?: KVCache): Tensor {
    const T = idx.shape[1]!;
    const { wte, wpe, drop, h, lnF } = this.transformer;
    const tok = wte.forward(idx); // (B, T, C)
    const pos = wpe.forward(arange(past, past + T)); // (T, C)
    let x = drop.forward(tok.add(pos)); // (B, T, C)
    let layer = 0;
    for (const block of h) x = block.forward(x, cache, layer++); // (B, T, C)
    return this.lmHead.forward(lnF.forward(x)); // (B, T, C) → (B, T, V)
  }

  /**
   * Next-token logits for every position of `idx` (B, T) int32, T <= blockSize; with `targets`
   * (B, T) int32 also the mean cross-entropy loss (targets equal to -1 are ignored, as nanoGPT's
   * ignore_index). Unlike nanoGPT, which computes only the last position when there are no
   * targets, the logits always cover all T positions.
   */
  forward(idx: Tensor, targets?: Tensor): GPTOutput {
    const [B, T] = this.checkTokens(idx, 'GPT.forward');
    const { blockSize, vocabSize: V } = this.config;
    if (T > blockSize) {
      throw new ValueError(
        `GPT.forward: cannot read a sequence of length ${T}, blockSize is only ${blockSize}; crop the input to its last ${blockSize} tokens`,
      );
    }
    const logits = this.logitsOf(idx, 0); // (B, T, V)
    if (targets === undefined) return { logits };
    return {
      logits,
      loss: crossEntropy(logits.reshape(B * T, V), ...this.checkTargets(targets, B, T)),
    }; // (B, T, V) → (B·T, V)
  }

  /** Targets (B, T) int32 in [0, V) or -1 → (B·T) flat, and how many are not ignored. */
  private checkTargets(targets: Tensor, B: number, T: number): [Tensor, number] {
    if (!(targets instanceof Tensor)) throw new DTypeError('GPT.forward: targets must be a Tensor');
    if (targets.dtype !== 'int32') {
      throw new DTypeError(
        `GPT.forward: targets must hold int32 token ids, got ${targets.dtype}; create them with { dtype: 'int32' }`,
      );
    }
    if (targets.ndim !== 2 || targets.shape[0] !== B || targets.shape[1] !== T) {
      throw new ShapeError(
        `GPT.forward: targets must have idx's shape [${B}, ${T}], got ${formatShape(targets.shape)}`,
      );
    }
    const V = this.config.vocabSize;
    const ids = targets.dataSync();
    let count = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id !== IGNORE_INDEX) count++;
      if (id !== IGNORE_INDEX && (id < 0 || id >= V)) {
        throw new IndexError(
          `GPT.forward: target ${id} at targets[${Math.floor(i / T)}, ${i % T}] is out of range for vocabSize ${V} (valid: 0..${V - 1}, or ${IGNORE_INDEX} to ignore)`,
        );
      }
    }
    return [targets.reshape(B * T), count]; // (B, T) → (B·T)
  }

  /** A key/value cache for `forwardCached`, holding up to blockSize positions. */
  createCache(): KVCache {
    return new KVCache(this.config.nLayer, this.config.blockSize);
  }

  /**
   * Incremental forward: reads `idx` (B, Tnew) int32 as the positions following those already in
   * `cache`, appends their keys and values to it, and returns their logits (B, Tnew, V). The new
   * positions attend to every cached one, so feeding a sequence in pieces gives the logits of one
   * full forward. For inference: it runs without autograd (call `eval()` first to turn dropout
   * off; `generate` does).
   *
   * @example
   * model.eval();
   * const cache = model.createCache();
   * const first = model.forwardCached(nb.tensor([[1, 2, 3]], { dtype: 'int32' }), cache); // (1, 3, V)
   * const next = model.forwardCached(nb.tensor([[4]], { dtype: 'int32' }), cache); // (1, 1, V)
   */
  forwardCached(idx: Tensor, cache: KVCache): Tensor {
    if (!(cache instanceof KVCache))
      throw new ValueError('GPT.forwardCached: cache must be a KVCache from model.createCache()');
    const { nLayer, blockSize } = this.config;
    if (cache.nLayer !== nLayer || cache.capacity !== blockSize) {
      throw new ValueError(
        `GPT.forwardCached: the cache was made for ${cache.nLayer} layers and ${cache.capacity} positions, this model has ${nLayer} and ${blockSize}`,
      );
    }
    const [B, T] = this.checkTokens(idx, 'GPT.forwardCached');
    const past = cache.length;
    if (past > 0 && cache.batchSize !== B) {
      throw new ShapeError(
        `GPT.forwardCached: the cache holds a batch of ${cache.batchSize}, idx has ${B} rows`,
      );
    }
    if (past + T > blockSize) {
      throw new ValueError(
        `GPT.forwardCached: the cache holds ${past} positions and ${T} more would make ${past + T}, beyond blockSize ${blockSize}; ` +
          'start a new cache (createCache()) with the last tokens, or decode without the cache',
      );
    }
    const logits = noGrad(() => this.logitsOf(idx, past, cache)); // (B, T, V)
    cache._advance(T);
    return logits;
  }

  /**
   * Extends each row of `idx` (B, T) int32 by `maxNewTokens` sampled tokens, feeding each back in
   * (nanoGPT's generate): returns (B, T + maxNewTokens) int32. Runs in eval mode (dropout off; the
   * modules' modes are restored afterwards) and without autograd. Sampling draws from
   * `generator`, so a seeded generator gives the same tokens on every run.
   *
   * @example
   * const prompt = nb.tensor([[0]], { dtype: 'int32' });
   * const greedy = model.generate(prompt, 20, { temperature: 0 });
   * const sampled = model.generate(prompt, 20, { topK: 10, generator: new nb.Generator(1) });
   */
  generate(idx: Tensor, maxNewTokens: number, options: GenerateOptions = {}): Tensor {
    const { blockSize, vocabSize: V } = this.config;
    const sampling = resolveSampling(options, V, 'GPT.generate');
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
      throw new ValueError(
        `GPT.generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`,
      );
    }
    const [B, T] = this.checkTokens(idx, 'GPT.generate');
    const useCache = options.useCache ?? true;
    if (useCache && maxNewTokens > 0 && T + maxNewTokens - 1 > blockSize) {
      throw new ValueError(
        `GPT.generate: ${T} prompt tokens + ${maxNewTokens} new tokens need ${T + maxNewTokens - 1} cached positions, ` +
          `beyond blockSize ${blockSize}; shorten the prompt or maxNewTokens, or pass useCache: false ` +
          `to re-run the last ${blockSize} tokens at every step`,
      );
    }
    if (maxNewTokens === 0) return idx.clone();
    const generator = options.generator ?? defaultGenerator();
    const newTokens = new Int32Array(B * maxNewTokens); // (B, N), row-major
    const modes = [...this.modules()].map((m) => [m, m.training] as const);
    this.eval();
    try {
      noGrad(() => {
        const cache = useCache ? this.createCache() : null;
        let seq = idx; // without the cache: the sequence so far, (B, T + step)
        let input = idx; // with the cache: what the next step feeds, (B, T) then (B, 1)
        try {
          for (let step = 0; step < maxNewTokens; step++) {
            const next = scope(() => {
              let last: Tensor; // (B, V)
              if (cache) {
                last = this.forwardCached(input, cache).select(1, -1); // (B, T, V) → (B, V)
              } else {
                const L = seq.shape[1]!;
                const context = L <= blockSize ? seq : seq.narrow(1, L - blockSize, blockSize); // (B, ≤ blockSize)
                last = this.logitsOf(context, 0).select(1, -1); // (B, L, V) → (B, V)
              }
              return sampleRows(last.dataSync(), B, V, sampling, generator);
            });
            for (let b = 0; b < B; b++) newTokens[b * maxNewTokens + step] = next[b]!;
            const column = tensor(next, { shape: [B, 1] }); // (B, 1)
            if (cache) input = column;
            else seq = cat([seq, column], 1); // (B, L) → (B, L + 1)
          }
        } finally {
          cache?.dispose();
        }
      });
    } finally {
      for (const [m, training] of modes) m.training = training;
    }
    return cat([idx, tensor(newTokens, { shape: [B, maxNewTokens] })], 1); // (B, T + N)
  }
}

// ---- Loss ---------------------------------------------------------------------------------------

/**
 * Mean cross-entropy of `logits` (N, V) against class ids `targets` (N) int32, leaving out targets
 * equal to IGNORE_INDEX: −mean(log_softmax(logits)[n, targets[n]]) (PyTorch's F.cross_entropy).
 * `count` is the number of targets not ignored (checkTargets has read them already).
 */
function crossEntropy(logits: Tensor, targets: Tensor, count: number): Tensor {
  // Some targets counted: F.crossEntropy (a fused kernel where the backend has one).
  if (count > 0) return nnCrossEntropy(logits, targets, { ignoreIndex: IGNORE_INDEX });
  const N = targets.shape[0]!;
  const tgt = targets.reshape(N, 1); // (N) → (N, 1)
  const valid = tgt.ne(IGNORE_INDEX); // (N, 1) bool
  const logp = logits.logSoftmax(-1); // (N, V)
  // Ignored rows gather class 0 and are then zeroed; an all-ignored batch gives NaN, as PyTorch.
  const picked = logp.gather(1, where(valid, tgt, 0)); // (N, 1)
  return picked.mul(valid.to(logits.dtype)).sum().div(count).neg(); // ()
}
