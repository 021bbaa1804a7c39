/**
 * Key/value caches for incremental (token-by-token) decoding with attention, as in the
 * autoregressive decoder of "Attention Is All You Need" (Vaswani et al., 2017): the keys and values
 * of past positions are kept, so step t projects only the new token and attends over t cached
 * positions instead of re-running the whole prefix. PyTorch's nn.Transformer has no cache; this
 * plays the role of fairseq's `incremental_state` or Hugging Face's `past_key_values`. Appending
 * copies the cached (N, H, S, D) tensors, O(S·E) per step like the attention itself.
 */
import { isGradEnabled } from '../autograd/grad-mode.js';
import { ValueError } from '../core/errors.js';
import { keep } from '../memory.js';
import { cat } from '../ops/join.js';
import type { Tensor } from '../tensor.js';

/**
 * The projected keys and values of one attention module, in head layout (N, H, S, D).
 *
 * A growing cache (self-attention) appends the new positions at each step; a static cache
 * (cross-attention on an encoder memory) is filled once and reused. The tensors are kept out of
 * `nb.scope` so that a cache survives per-step scopes; `clear()` releases them.
 *
 * @example
 * const cache = new nb.nn.KVCache();
 * const [y1] = mha.forwardCached(x1, x1, x1, cache); // x1: the first token(s)
 * const [y2] = mha.forwardCached(x2, x2, x2, cache); // attends over x1 and x2
 * cache.length; // number of cached positions
 */
export class KVCache {
  /** Keys (N, H, S, D), or null before the first step. */
  key: Tensor | null = null;
  /** Values (N, H, S, Dv), or null before the first step. */
  value: Tensor | null = null;

  /** `isStatic`: filled once (cross-attention on a fixed memory) rather than appended to. */
  constructor(readonly isStatic = false) {}

  /** Number of cached positions (S). */
  get length(): number {
    return this.key === null ? 0 : this.key.shape[2]!;
  }

  /** True once keys and values are present. */
  get isFilled(): boolean {
    return this.key !== null;
  }

  /** Appends (N, H, t, D) keys and (N, H, t, Dv) values along the sequence dim (dim 2). */
  append(key: Tensor, value: Tensor): void {
    if (this.isStatic && this.key !== null) {
      throw new ValueError('KVCache: a static cache is filled once; clear() it to refill');
    }
    const oldK = this.key;
    const oldV = this.value;
    // (N, H, S, D) ++ (N, H, t, D) -> (N, H, S + t, D)
    this.key = keep(oldK === null ? key : cat([oldK, key], 2));
    this.value = keep(oldV === null ? value : cat([oldV, value], 2));
    // Outside autograd nothing else refers to the old tensors: free them now.
    release(oldK);
    release(oldV);
  }

  /** Forgets the cached positions (and frees them outside autograd). */
  clear(): void {
    release(this.key);
    release(this.value);
    this.key = null;
    this.value = null;
  }
}

/** Disposes a replaced cache tensor unless an autograd graph may still read it. */
function release(t: Tensor | null): void {
  if (t !== null && !isGradEnabled() && !t.requiresGrad) t.dispose();
}

/**
 * The caches of one Transformer decoder layer: growing self-attention, static cross-attention.
 *
 * @example
 * const c = new nb.nn.DecoderLayerCache();
 * const y = decoderLayer.forwardIncremental(tgtStep, memory, c);
 */
export class DecoderLayerCache {
  readonly selfAttn = new KVCache(false);
  readonly crossAttn = new KVCache(true);

  clear(): void {
    this.selfAttn.clear();
    this.crossAttn.clear();
  }
}

/**
 * The caches of a whole Transformer decoder (one {@link DecoderLayerCache} per layer), created by
 * `TransformerDecoder.createCache()` and passed to `forwardIncremental`.
 *
 * @example
 * const cache = model.decoder.createCache();
 * for (let t = 0; t < n; t++) {
 *   const y = model.decoder.forwardIncremental(embed(tokens[t], cache.length), memory, cache);
 * }
 */
export class DecoderCache {
  readonly layers: DecoderLayerCache[];

  constructor(numLayers: number) {
    if (!Number.isInteger(numLayers) || numLayers < 0) {
      throw new ValueError(
        `DecoderCache: numLayers must be a non-negative integer, got ${numLayers}`,
      );
    }
    this.layers = Array.from({ length: numLayers }, () => new DecoderLayerCache());
  }

  /** Number of target positions decoded so far (the position offset of the next step). */
  get length(): number {
    return this.layers[0]?.selfAttn.length ?? 0;
  }

  /** Forgets everything, including the cross-attention projections of the memory. */
  clear(): void {
    for (const l of this.layers) l.clear();
  }
}
