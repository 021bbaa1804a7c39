/**
 * Scaled dot-product attention, softmax(Q·Kᵀ·scale + mask)·V, from "Attention Is All You Need"
 * (Vaswani et al., 2017), with the semantics of PyTorch's
 * torch.nn.functional.scaled_dot_product_attention: boolean masks say where a query MAY attend,
 * float masks are added to the scores, `isCausal` is a top-left aligned lower-triangular mask.
 *
 * Rows in which every key is masked out give a zero output (and zero attention weights) instead
 * of NaN, for both the output and the gradients; PyTorch's math kernel does the same for SDPA.
 *
 * Two implementations: the composite one below (matmul, masks, softmax, matmul: it builds the
 * (..., L, S) scores and keeps them for backward) and the fused one of ./fused-attention.ts
 * (tiles with an online softmax, memory linear in L and S), which `scaledDotProductAttention` and
 * `MultiheadAttention` use whenever the weights are not requested and dropout is off. The
 * composite stays reachable with `{ fused: false }` and is the fused kernels' test oracle.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import { isFloat } from '../core/dtype.js';
import type { Generator } from '../core/random.js';
import { broadcastShapes, formatShape, shapesEqual } from '../core/shape.js';
import { arange } from '../ops/creation.js';
import {
  add,
  div,
  eq,
  exp,
  isFinite,
  le,
  logicalAnd,
  mul,
  sub,
  where,
} from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { reshape } from '../ops/movement.js';
import { dropout } from '../ops/random.js';
import { max, sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor.js';
import { fusedKernelsEnabled } from '../ops/fused-switch.js';
import { fusedAttention } from './fused-attention.js';

export interface ScaledDotProductAttentionOptions {
  /**
   * A mask broadcastable to (..., L, S). Boolean: true where the query MAY attend (PyTorch's SDPA
   * convention, the opposite of nn.MultiheadAttention's). Float: added to the scores (use
   * -Infinity to forbid a position).
   */
  attnMask?: Tensor | null;
  /** Apply a causal mask: query i attends keys j <= i (top-left aligned, as PyTorch). */
  isCausal?: boolean;
  /** Dropout probability on the attention weights (applied whenever > 0, as in PyTorch). */
  dropoutP?: number;
  /** Factor applied to Q·Kᵀ; 1/√E by default. */
  scale?: number | null;
  /** Draw the dropout mask from this generator instead of the global one. */
  generator?: Generator;
  /**
   * Use the fused, memory-linear kernels when possible (default true): without dropout and without
   * a float mask that requires grad. `false` runs the composite ops, which build the (..., L, S)
   * scores.
   */
  fused?: boolean;
}

/** @internal The masks and options understood by {@link attention}. */
export interface AttentionCoreOptions {
  /** bool, broadcastable to the scores: true where attending is allowed. */
  allowed?: Tensor | null;
  /** float, broadcastable to the scores: added to them. */
  bias?: Tensor | null;
  /** Causal masking: query i sees key j iff j <= i + causalOffset. */
  causal?: boolean;
  /** 0 aligns the triangle top-left (PyTorch); S − L aligns it bottom-right (cached decoding). */
  causalOffset?: number;
  dropoutP?: number;
  scale?: number | null;
  generator?: Generator;
  /** Name used in error messages. */
  op?: string;
  /** For {@link attentionOutput}: false forces the composite path. */
  fused?: boolean;
}

/**
 * (L, S) bool mask, true where key j is visible from query i: j <= i + offset.
 *
 * @internal
 */
export function causalAllowed(L: number, S: number, offset = 0): Tensor {
  // Column index j against row index i + offset: j <= i + offset.
  const cols = reshape(arange(0, S), [1, S]); // (S) -> (1, S)
  const rows = reshape(arange(offset, L + offset), [L, 1]); // (L) -> (L, 1)
  return le(cols, rows);
}

/**
 * softmax over the last dim that gives all-zero rows where every score is -Infinity (instead of
 * 0/0 = NaN). Built from differentiable ops, so higher-order gradients stay correct.
 */
function safeSoftmax(scores: Tensor, mayBeFullyMasked: boolean): Tensor {
  // Detached row maximum, 0 where it is -Infinity (fully masked row), so x − m stays finite or -inf.
  const m = noGrad(() => {
    const mx = max(scores, -1, true);
    return where(isFinite(mx), mx, 0);
  });
  const e = exp(sub(scores, m)); // (..., L, S); 0 at masked positions
  const z = sum(e, -1, true); // (..., L, 1); >= 1 unless the row is fully masked
  if (!mayBeFullyMasked) return div(e, z);
  return div(e, where(eq(z, 0), 1, z));
}

/**
 * The shared attention kernel: q (..., L, E), k (..., S, E), v (..., S, Ev), batch dims
 * broadcasting. Returns [output (..., L, Ev), weights (..., L, S)], weights after dropout.
 *
 * @internal
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionCoreOptions = {},
): [Tensor, Tensor] {
  const { L, S, scale, p } = validate(q, k, v, options);

  // Scaling q (..., L, E) is cheaper than scaling the (..., L, S) scores, and gives a contiguous
  // operand for the batched product.
  const qs = scale === 1 ? q : mul(q, scale);
  let scores = matmul(qs, k.mT); // (..., L, E) @ (..., E, S) -> (..., L, S)

  let allowed = options.allowed ?? null;
  if (options.causal) {
    const c = causalAllowed(L, S, options.causalOffset ?? 0); // (L, S)
    allowed = allowed ? logicalAnd(allowed, c) : c;
  }
  if (options.bias) {
    const bias = options.bias.dtype === q.dtype ? options.bias : options.bias.to(q.dtype);
    scores = add(scores, bias); // broadcasts (..., L, S)
  }
  if (allowed) scores = where(allowed, scores, -Infinity);
  // A user mask (bool, or float holding -Infinity) can empty a row; the causal triangle alone
  // cannot while causalOffset >= 0 (key 0 is always visible).
  const mayEmpty =
    !!options.allowed || !!options.bias || (!!options.causal && (options.causalOffset ?? 0) < 0);
  let weights = safeSoftmax(scores, mayEmpty); // (..., L, S)
  if (p > 0) weights = dropout(weights, p, true, options.generator);
  const out = matmul(weights, v); // (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
  return [out, weights];
}

/** Checks the operands, masks and options before any work; returns the sizes. */
function validate(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionCoreOptions,
): { L: number; S: number; scale: number; p: number } {
  const op = options.op ?? 'scaledDotProductAttention';
  checkQKV(q, k, v, op);
  const L = q.shape[q.ndim - 2]!;
  const E = q.shape[q.ndim - 1]!;
  const S = k.shape[k.ndim - 2]!;
  const scale = options.scale ?? 1 / Math.sqrt(E);
  if (!Number.isFinite(scale)) throw new ValueError(`${op}: scale must be finite, got ${scale}`);
  const p = options.dropoutP ?? 0;
  if (!(p >= 0 && p <= 1)) throw new ValueError(`${op}: dropoutP must be in [0, 1], got ${p}`);
  // Masks are checked against the scores' shape.
  const batch = broadcastShapes(op, q.shape.slice(0, -2), k.shape.slice(0, -2));
  const scoreShape = [...batch, L, S];
  if (options.allowed) checkMask(options.allowed, scoreShape, op, 'bool');
  if (options.bias) checkMask(options.bias, scoreShape, op, 'float');
  return { L, S, scale, p };
}

/**
 * The output of {@link attention} alone: through the fused kernels (./fused-attention.ts) unless
 * `options.fused` or `F.setFusedKernels(false)` turns them off, dropout is on, a float mask requires
 * grad, or the dtypes differ (the composite then reports the error).
 *
 * @internal
 */
export function attentionOutput(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionCoreOptions = {},
): Tensor {
  const { scale, p } = validate(q, k, v, options);
  const fusable =
    options.fused !== false &&
    fusedKernelsEnabled() &&
    p === 0 &&
    !options.bias?.requiresGrad &&
    q.dtype === k.dtype &&
    q.dtype === v.dtype;
  if (!fusable) return attention(q, k, v, options)[0];
  return fusedAttention(q, k, v, {
    allowed: options.allowed ?? null,
    bias: options.bias ?? null,
    causalOffset: options.causal ? (options.causalOffset ?? 0) : null,
    scale,
  });
}

function checkQKV(q: Tensor, k: Tensor, v: Tensor, op: string): void {
  for (const [name, t] of [
    ['query', q],
    ['key', k],
    ['value', v],
  ] as const) {
    if (t.ndim < 2) {
      throw new ShapeError(
        `${op}: ${name} must have at least 2 dimensions (..., seq, features), got ${formatShape(t.shape)}`,
      );
    }
    if (!isFloat(t.dtype)) {
      throw new DTypeError(`${op}: ${name} must be float32 or float64, got ${t.dtype}`);
    }
  }
  const E = q.shape[q.ndim - 1];
  if (k.shape[k.ndim - 1] !== E) {
    throw new ShapeError(
      `${op}: query ${formatShape(q.shape)} and key ${formatShape(k.shape)} must have the same last dimension (E)`,
    );
  }
  if (k.shape[k.ndim - 2] !== v.shape[v.ndim - 2]) {
    throw new ShapeError(
      `${op}: key ${formatShape(k.shape)} and value ${formatShape(v.shape)} must have the same sequence length (S, dim -2)`,
    );
  }
}

function checkMask(mask: Tensor, scoreShape: readonly number[], op: string, kind: string): void {
  if (kind === 'bool' ? mask.dtype !== 'bool' : !isFloat(mask.dtype)) {
    throw new DTypeError(`${op}: ${kind} mask expected, got dtype ${mask.dtype}`);
  }
  let ok = mask.ndim <= scoreShape.length;
  if (ok) {
    try {
      ok = shapesEqual(broadcastShapes(op, scoreShape, mask.shape), scoreShape);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new ShapeError(
      `${op}: attention mask of shape ${formatShape(mask.shape)} does not broadcast to the attention scores ${formatShape(scoreShape)} (..., L, S)`,
    );
  }
}

function splitMask(
  attnMask: Tensor | null | undefined,
  op: string,
): { allowed: Tensor | null; bias: Tensor | null } {
  if (!attnMask) return { allowed: null, bias: null };
  if (attnMask.dtype === 'bool') return { allowed: attnMask, bias: null };
  if (isFloat(attnMask.dtype)) return { allowed: null, bias: attnMask };
  throw new DTypeError(`${op}: attnMask must be bool or float, got ${attnMask.dtype}`);
}

function coreOptions(options: ScaledDotProductAttentionOptions, op: string): AttentionCoreOptions {
  if (options.isCausal && options.attnMask) {
    throw new ValueError(
      `${op}: pass either attnMask or isCausal, not both (as PyTorch); fold the causal mask into attnMask`,
    );
  }
  return {
    ...splitMask(options.attnMask, op),
    causal: options.isCausal ?? false,
    dropoutP: options.dropoutP ?? 0,
    scale: options.scale ?? null,
    generator: options.generator,
    op,
    fused: options.fused ?? true,
  };
}

/**
 * softmax(q·kᵀ·scale + mask)·v for q (..., L, E), k (..., S, E), v (..., S, Ev) → (..., L, Ev);
 * batch dims broadcast. PyTorch's `F.scaled_dot_product_attention`.
 *
 * A query row whose keys are all masked out yields zeros (not NaN), with zero gradients.
 *
 * Without dropout it runs the fused kernels, whose memory is linear in L and S (no (L, S) matrix
 * in forward or backward); `{ fused: false }` runs the composite ops instead.
 *
 * @example
 * const q = nb.randn([2, 4, 5, 8]); // (B, H, L, E)
 * const k = nb.randn([2, 4, 7, 8]); // (B, H, S, E)
 * const v = nb.randn([2, 4, 7, 8]);
 * const y = nb.nn.F.scaledDotProductAttention(q, k, v, { isCausal: true }); // [2, 4, 5, 8]
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: ScaledDotProductAttentionOptions = {},
): Tensor {
  const op = 'scaledDotProductAttention';
  return attentionOutput(q, k, v, coreOptions(options, op));
}

/**
 * {@link scaledDotProductAttention} that also returns the attention weights (..., L, S) — after
 * dropout, as PyTorch's MultiheadAttention returns them. Fully masked rows have zero weights.
 *
 * @example
 * const [y, w] = nb.nn.scaledDotProductAttentionWithWeights(q, k, v);
 * w.sum(-1); // ones
 */
export function scaledDotProductAttentionWithWeights(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: ScaledDotProductAttentionOptions = {},
): [Tensor, Tensor] {
  const op = 'scaledDotProductAttentionWithWeights';
  return attention(q, k, v, coreOptions(options, op));
}
