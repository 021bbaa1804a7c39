/**
 * Multi-head attention from "Attention Is All You Need" (Vaswani et al., 2017), §3.2.2:
 * MultiHead(Q, K, V) = Concat(head_1, ..., head_h)·W^O with head_i = Attention(Q·W_i^Q, K·W_i^K,
 * V·W_i^V). Mirrors PyTorch's torch.nn.MultiheadAttention (torch/nn/modules/activation.py and
 * F.multi_head_attention_forward): the same parameters and state-dict keys (`in_proj_weight`,
 * `in_proj_bias`, `out_proj.weight`, ... or `q_proj_weight`, `k_proj_weight`, `v_proj_weight` when
 * kdim/vdim differ from embedDim), the same initialisation, and the same mask convention: in
 * `attnMask` and `keyPaddingMask` a boolean true means NOT allowed / padding, float masks are added
 * to the attention scores.
 *
 * Heads are split with views: (L, N, E) → (L, N, H, D) → (N, H, L, D), and each attention is one
 * batched product for Q·Kᵀ and one for A·V.
 */
import { ShapeError, ValueError, DTypeError } from '../core/errors.js';
import { isFloat, type DType } from '../core/dtype.js';
import type { Generator } from '../core/random.js';
import { formatShape, shapesEqual } from '../core/shape.js';
import { add, logicalNot, logicalOr } from '../ops/elementwise.js';
import { empty } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { attention, attentionOutput } from './attention.js';
import { linear } from './functional.js';
import { constant_, xavierUniform_ } from './init.js';
import type { KVCache } from './kv-cache.js';
import { Linear } from './linear.js';
import { Module, Parameter } from './module.js';

export interface MultiheadAttentionOptions {
  /** Model width E (query features and output features). */
  embedDim: number;
  /** Number of heads H; E must be divisible by H. */
  numHeads: number;
  /** Dropout probability on the attention weights (training mode only). Default 0. */
  dropout?: number;
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
  /** Key features (default embedDim). */
  kdim?: number;
  /** Value features (default embedDim). */
  vdim?: number;
  /** Inputs and outputs are (N, L, E) instead of (L, N, E). Default false, as PyTorch. */
  batchFirst?: boolean;
  /** Not supported (PyTorch's add_bias_kv); must be false. */
  addBiasKv?: false;
  /** Not supported (PyTorch's add_zero_attn); must be false. */
  addZeroAttn?: false;
  dtype?: DType;
  /** Draw attention-dropout masks from this generator instead of the global one. */
  generator?: Generator;
}

export interface MultiheadAttentionForwardOptions {
  /**
   * (N, S), or (S) for unbatched inputs. Boolean: true marks a padding key that is ignored.
   * Float: added to the scores of that key.
   */
  keyPaddingMask?: Tensor | null;
  /**
   * (L, S) or (N·numHeads, L, S) ((numHeads, L, S) unbatched). Boolean: true means the query may
   * NOT attend to that key. Float: added to the attention scores.
   */
  attnMask?: Tensor | null;
  /** Also return the attention weights (default true, as PyTorch). */
  needWeights?: boolean;
  /** Average the returned weights over heads: (N, L, S) instead of (N, H, L, S). Default true. */
  averageAttnWeights?: boolean;
  /**
   * With `attnMask`: a hint that it is causal (ignored, the mask is applied as given, as PyTorch).
   * Without `attnMask`: apply a causal mask (PyTorch raises here instead).
   */
  isCausal?: boolean;
}

export interface MultiheadAttentionCachedOptions {
  /** (N, S_total): padding over all cached keys (true = padding, or float added). */
  keyPaddingMask?: Tensor | null;
  /** (t, S_total) or (N·numHeads, t, S_total) mask for the t new queries (PyTorch convention). */
  attnMask?: Tensor | null;
  /**
   * For a growing cache: new query i (absolute position S_total − t + i) sees keys 0..its own
   * position. Default true for a growing cache, ignored for a static one.
   */
  causal?: boolean;
  /** Also return the attention weights (default false here, unlike `forward`). */
  needWeights?: boolean;
  /** Average the returned weights over heads (default true). */
  averageAttnWeights?: boolean;
}

/** One attention call in head layout, after projections. */
interface HeadsCall {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  attnMask: Tensor | null | undefined;
  keyPaddingMask: Tensor | null | undefined;
  causal: boolean;
  causalOffset: number;
  batched: boolean;
  seqFirst: boolean;
  needWeights: boolean;
  averageAttnWeights: boolean;
}

/**
 * Multi-head attention (PyTorch's nn.MultiheadAttention).
 *
 * `forward(query, key, value, options)` takes (L, N, E) query, (S, N, kdim) key and (S, N, vdim)
 * value ((N, L, E) ... with `batchFirst`; (L, E) ... unbatched) and returns
 * `[output (L, N, E), weights (N, L, S) | (N, H, L, S) | null]`.
 *
 * Fully masked query rows give zero attention (output = out_proj bias, weights 0) instead of the
 * NaN PyTorch returns when `needWeights` is true.
 *
 * @example
 * const mha = new nb.nn.MultiheadAttention({ embedDim: 8, numHeads: 2, batchFirst: true });
 * const x = nb.randn([2, 5, 8]); // (N, L, E)
 * const [y, w] = mha.forward(x, x, x, { attnMask: nb.nn.Transformer.generateSquareSubsequentMask(5) });
 * y.shape; // [2, 5, 8]
 * w!.shape; // [2, 5, 5]
 */
export class MultiheadAttention extends Module {
  // Parameters in PyTorch's registration order.
  inProjWeight: Parameter | null = null;
  qProjWeight: Parameter | null = null;
  kProjWeight: Parameter | null = null;
  vProjWeight: Parameter | null = null;
  inProjBias: Parameter | null = null;
  outProj: Linear;

  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  readonly generator: Generator | undefined;

  constructor(options: MultiheadAttentionOptions);
  constructor(
    embedDim: number,
    numHeads: number,
    options?: Omit<MultiheadAttentionOptions, 'embedDim' | 'numHeads'>,
  );
  constructor(
    a: number | MultiheadAttentionOptions,
    numHeads?: number,
    rest: Omit<MultiheadAttentionOptions, 'embedDim' | 'numHeads'> = {},
  ) {
    super();
    const o: MultiheadAttentionOptions =
      typeof a === 'number' ? { ...rest, embedDim: a, numHeads: numHeads as number } : a;
    const E = o.embedDim;
    const H = o.numHeads;
    for (const [n, val] of [
      ['embedDim', E],
      ['numHeads', H],
      ['kdim', o.kdim ?? E],
      ['vdim', o.vdim ?? E],
    ] as const) {
      if (!Number.isInteger(val) || val <= 0) {
        throw new ValueError(`MultiheadAttention: ${n} must be a positive integer, got ${val}`);
      }
    }
    if (E % H !== 0) {
      throw new ShapeError(
        `MultiheadAttention: embedDim ${E} must be divisible by numHeads ${H} (each head gets embedDim / numHeads features)`,
      );
    }
    const p = o.dropout ?? 0;
    if (!(p >= 0 && p <= 1)) {
      throw new ValueError(`MultiheadAttention: dropout must be in [0, 1], got ${p}`);
    }
    if (o.addBiasKv || o.addZeroAttn) {
      throw new ValueError('MultiheadAttention: addBiasKv and addZeroAttn are not supported');
    }
    this.embedDim = E;
    this.numHeads = H;
    this.headDim = E / H;
    this.kdim = o.kdim ?? E;
    this.vdim = o.vdim ?? E;
    this.dropout = p;
    this.batchFirst = o.batchFirst ?? false;
    this.generator = o.generator;
    const dtype = o.dtype ?? 'float32';
    const bias = o.bias ?? true;
    if (this.kdim === E && this.vdim === E) {
      this.inProjWeight = new Parameter(empty([3 * E, E], dtype));
    } else {
      this.qProjWeight = new Parameter(empty([E, E], dtype));
      this.kProjWeight = new Parameter(empty([E, this.kdim], dtype));
      this.vProjWeight = new Parameter(empty([E, this.vdim], dtype));
    }
    if (bias) this.inProjBias = new Parameter(empty([3 * E], dtype));
    this.outProj = new Linear(E, E, { bias, dtype });
    this.resetParameters();
  }

  /** True when the projections are packed in `in_proj_weight` (kdim = vdim = embedDim). */
  get qkvSameEmbedDim(): boolean {
    return this.inProjWeight !== null;
  }

  /** PyTorch's init: xavier_uniform_ on the input projections, zero biases (out_proj's too). */
  resetParameters(): void {
    if (this.inProjWeight) xavierUniform_(this.inProjWeight);
    else {
      xavierUniform_(this.qProjWeight!);
      xavierUniform_(this.kProjWeight!);
      xavierUniform_(this.vProjWeight!);
    }
    if (this.inProjBias) {
      constant_(this.inProjBias, 0);
      if (this.outProj.bias) constant_(this.outProj.bias, 0);
    }
  }

  /**
   * Attention of `query` over `key`/`value`. Returns `[output, weights]`; weights are null when
   * `needWeights` is false. See the class documentation for shapes and mask conventions.
   */
  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    options: MultiheadAttentionForwardOptions = {},
  ): [Tensor, Tensor | null] {
    const { q, k, v, batched, seqFirst } = this.prepare(query, key, value);
    const [qp, kp, vp] = this.projectAll(q, k, v);
    return this.attend({
      q: this.toHeads(qp, seqFirst),
      k: this.toHeads(kp, seqFirst),
      v: this.toHeads(vp, seqFirst),
      attnMask: options.attnMask,
      keyPaddingMask: options.keyPaddingMask,
      causal: !options.attnMask && (options.isCausal ?? false),
      causalOffset: 0,
      batched,
      seqFirst,
      needWeights: options.needWeights ?? true,
      averageAttnWeights: options.averageAttnWeights ?? true,
    });
  }

  /**
   * Incremental attention with a {@link KVCache}. With a growing cache (self-attention), the
   * keys/values of the t new positions in `key`/`value` are projected and appended, and the new
   * queries attend over every cached position (causally by default). With a static cache
   * (cross-attention), `key`/`value` are projected on the first call only (pass null afterwards).
   * In eval mode the result equals the corresponding rows of a full `forward` with a causal mask.
   *
   * @example
   * const cache = new nb.nn.KVCache();
   * for (const x of steps) y.push(mha.forwardCached(x, x, x, cache)[0]); // x: (1, N, E)
   */
  forwardCached(
    query: Tensor,
    key: Tensor | null,
    value: Tensor | null,
    cache: KVCache,
    options: MultiheadAttentionCachedOptions = {},
  ): [Tensor, Tensor | null] {
    const useCached = cache.isStatic && cache.isFilled;
    if (!useCached && (key === null || value === null)) {
      throw new ValueError(
        'MultiheadAttention.forwardCached: key and value are needed unless a static cache is already filled',
      );
    }
    const prep = this.prepare(
      query,
      useCached ? query : key!,
      useCached ? query : value!,
      !useCached,
    );
    const { batched, seqFirst } = prep;
    let qh: Tensor;
    if (useCached) {
      qh = this.toHeads(this.projectQuery(prep.q), seqFirst);
    } else {
      const [qp, kp, vp] = this.projectAll(prep.q, prep.k, prep.v);
      qh = this.toHeads(qp, seqFirst);
      cache.append(this.toHeads(kp, seqFirst), this.toHeads(vp, seqFirst));
    }
    const k = cache.key!;
    const v = cache.value!;
    if (k.shape[0] !== qh.shape[0]) {
      throw new ShapeError(
        `MultiheadAttention.forwardCached: the cache holds a batch of ${k.shape[0]}, the query has ${qh.shape[0]}`,
      );
    }
    const L = qh.shape[2]!;
    const S = k.shape[2]!;
    return this.attend({
      q: qh,
      k,
      v,
      attnMask: options.attnMask,
      keyPaddingMask: options.keyPaddingMask,
      causal: !cache.isStatic && (options.causal ?? true),
      causalOffset: S - L,
      batched,
      seqFirst,
      needWeights: options.needWeights ?? false,
      averageAttnWeights: options.averageAttnWeights ?? true,
    });
  }

  // ---- Internals ------------------------------------------------------------------------------

  /**
   * Validates shapes and brings unbatched inputs to a batch-first batch of one, keeping the
   * identity query === key === value (which selects the packed projection).
   */
  private prepare(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    checkKV = true,
  ): { q: Tensor; k: Tensor; v: Tensor; batched: boolean; seqFirst: boolean } {
    const op = 'MultiheadAttention';
    const batched = query.ndim === 3;
    const want = batched ? 3 : 2;
    if (
      (query.ndim !== 3 && query.ndim !== 2) ||
      (checkKV && (key.ndim !== want || value.ndim !== want))
    ) {
      throw new ShapeError(
        `${op}: expected 3-D (batched) or 2-D (unbatched) query, key and value, got ${formatShape(query.shape)}, ` +
          `${formatShape(key.shape)}, ${formatShape(value.shape)}`,
      );
    }
    for (const t of [query, key, value]) {
      if (!isFloat(t.dtype)) throw new DTypeError(`${op}: inputs must be float, got ${t.dtype}`);
    }
    let q = query;
    let k = key;
    let v = value;
    if (!batched) {
      // (L, E) -> (1, L, E), handled as batch-first.
      q = query.unsqueeze(0);
      k = key === query ? q : key.unsqueeze(0);
      v = value === query ? q : value === key ? k : value.unsqueeze(0);
    }
    const seqFirst = batched && !this.batchFirst;
    const sd = seqFirst ? 0 : 1; // sequence dim
    const bd = seqFirst ? 1 : 0; // batch dim
    const layout = batched ? (seqFirst ? '(L, N, E)' : '(N, L, E)') : '(L, E)';
    if (q.shape[2] !== this.embedDim) {
      throw new ShapeError(
        `${op}: query of shape ${formatShape(query.shape)} should be ${layout} with E = embedDim = ${this.embedDim}`,
      );
    }
    if (checkKV) {
      if (k.shape[2] !== this.kdim || v.shape[2] !== this.vdim) {
        throw new ShapeError(
          `${op}: key ${formatShape(key.shape)} and value ${formatShape(value.shape)} should have ${this.kdim} (kdim) and ${this.vdim} (vdim) features`,
        );
      }
      if (k.shape[bd] !== q.shape[bd] || v.shape[bd] !== q.shape[bd]) {
        throw new ShapeError(
          `${op}: batch sizes differ: query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)} (layout ${layout})`,
        );
      }
      if (k.shape[sd] !== v.shape[sd]) {
        throw new ShapeError(
          `${op}: key ${formatShape(key.shape)} and value ${formatShape(value.shape)} must have the same sequence length`,
        );
      }
    }
    return { q, k, v, batched, seqFirst };
  }

  /** (E, in) weight rows [i·E, (i+1)·E) of the packed or separate input projection. */
  private projWeight(i: 0 | 1 | 2): Tensor {
    const E = this.embedDim;
    if (this.inProjWeight) return this.inProjWeight.narrow(0, i * E, E);
    return [this.qProjWeight!, this.kProjWeight!, this.vProjWeight!][i]!;
  }

  private projBias(i: number, n = 1): Tensor | null {
    return this.inProjBias ? this.inProjBias.narrow(0, i * this.embedDim, n * this.embedDim) : null;
  }

  private projectQuery(q: Tensor): Tensor {
    return linear(q, this.projWeight(0), this.projBias(0)); // (.., .., E) -> (.., .., E)
  }

  /** The three input projections; one matmul for self-attention, two when key === value. */
  private projectAll(q: Tensor, k: Tensor, v: Tensor): [Tensor, Tensor, Tensor] {
    const E = this.embedDim;
    const w = this.inProjWeight;
    if (w && q === k && k === v) {
      const qkv = linear(q, w, this.inProjBias); // (.., .., E) -> (.., .., 3E)
      return qkv.split(E, -1) as [Tensor, Tensor, Tensor]; // 3 × (.., .., E) views
    }
    const qp = this.projectQuery(q);
    if (w && k === v) {
      const kv = linear(k, w.narrow(0, E, 2 * E), this.projBias(1, 2)); // (.., .., E) -> (.., .., 2E)
      const [kp, vp] = kv.split(E, -1) as [Tensor, Tensor];
      return [qp, kp, vp];
    }
    const kp = linear(k, this.projWeight(1), this.projBias(1)); // (.., .., kdim) -> (.., .., E)
    const vp = linear(v, this.projWeight(2), this.projBias(2)); // (.., .., vdim) -> (.., .., E)
    return [qp, kp, vp];
  }

  /** Splits the features into heads: (T, N, E) or (N, T, E) -> (N, H, T, D), as views. */
  private toHeads(x: Tensor, seqFirst: boolean): Tensor {
    const H = this.numHeads;
    const D = this.headDim;
    if (seqFirst) {
      const [T, N] = x.shape as [number, number];
      // (T, N, E) -> (T, N, H, D) -> (N, H, T, D)
      return x.reshape([T, N, H, D]).permute([1, 2, 0, 3]);
    }
    const [N, T] = x.shape as [number, number];
    // (N, T, E) -> (N, T, H, D) -> (N, H, T, D)
    return x.reshape([N, T, H, D]).transpose(1, 2);
  }

  /** Merges the heads back: (N, H, T, D) -> (T, N, E) or (N, T, E). */
  private fromHeads(o: Tensor, seqFirst: boolean): Tensor {
    const [N, H, T, D] = o.shape as [number, number, number, number];
    if (seqFirst) {
      // (N, H, T, D) -> (T, N, H, D) -> (T, N, E)
      return o.permute([2, 0, 1, 3]).reshape([T, N, H * D]);
    }
    // (N, H, T, D) -> (N, T, H, D) -> (N, T, E)
    return o.transpose(1, 2).reshape([N, T, H * D]);
  }

  /** Masks in PyTorch's MHA convention -> `allowed` (bool) and additive `bias`, shaped for (N, H, L, S). */
  private masks(call: HeadsCall, dtype: DType): { allowed: Tensor | null; bias: Tensor | null } {
    const op = 'MultiheadAttention';
    const [N, H, L] = call.q.shape as [number, number, number];
    const S = call.k.shape[2]!;
    let disallowed: Tensor | null = null;
    let bias: Tensor | null = null;
    const addMask = (m: Tensor, what: string): void => {
      if (m.dtype === 'bool') disallowed = disallowed ? logicalOr(disallowed, m) : m;
      else if (isFloat(m.dtype)) {
        const f = m.dtype === dtype ? m : m.to(dtype);
        bias = bias ? add(bias, f) : f;
      } else throw new DTypeError(`${op}: ${what} must be bool or float, got ${m.dtype}`);
    };
    const am = call.attnMask;
    if (am) {
      const heads = call.batched ? [N * H, L, S] : [H, L, S];
      if (am.ndim === 2 && shapesEqual(am.shape, [L, S])) {
        addMask(am, 'attnMask'); // (L, S) broadcasts over (N, H, L, S)
      } else if (am.ndim === 3 && shapesEqual(am.shape, heads)) {
        addMask(am.reshape([N, H, L, S]), 'attnMask'); // (N·H, L, S) -> (N, H, L, S)
      } else {
        throw new ShapeError(
          `${op}: attnMask of shape ${formatShape(am.shape)} should be ${formatShape([L, S])} or ${formatShape(heads)} (L = target length, S = source length)`,
        );
      }
    }
    const kpm = call.keyPaddingMask;
    if (kpm) {
      const want = call.batched ? [N, S] : [S];
      if (!shapesEqual(kpm.shape, want)) {
        throw new ShapeError(
          `${op}: keyPaddingMask of shape ${formatShape(kpm.shape)} should be ${formatShape(want)} (${call.batched ? 'N, S' : 'S'})`,
        );
      }
      addMask(kpm.reshape([N, 1, 1, S]), 'keyPaddingMask'); // (N, S) -> (N, 1, 1, S)
    }
    const allowed = disallowed ? logicalNot(disallowed) : null;
    return { allowed, bias };
  }

  private attend(call: HeadsCall): [Tensor, Tensor | null] {
    const { allowed, bias } = this.masks(call, call.q.dtype);
    const options = {
      allowed,
      bias,
      causal: call.causal,
      causalOffset: call.causalOffset,
      dropoutP: this.training ? this.dropout : 0,
      generator: this.generator,
      op: 'MultiheadAttention',
    };
    // Without weights, the fused (memory-linear) kernels when dropout is off.
    const [o, w] = call.needWeights
      ? attention(call.q, call.k, call.v, options)
      : [attentionOutput(call.q, call.k, call.v, options), null]; // o: (N, H, L, D), w: (N, H, L, S)
    let out = this.outProj.forward(this.fromHeads(o, call.seqFirst));
    let weights: Tensor | null = null;
    if (w) weights = call.averageAttnWeights ? w.mean(1) : w; // (N, L, S) | (N, H, L, S)
    if (!call.batched) {
      out = out.squeeze(0); // (1, L, E) -> (L, E)
      weights = weights ? weights.squeeze(0) : null;
    }
    return [out, weights];
  }
}
