/**
 * Fused, memory-linear attention: softmax(q·kᵀ·scale + mask)·v through the backend's
 * `attentionForward` / `attentionBackward` kernels (FlashAttention-style tiles with an online
 * softmax), so that neither pass allocates the (..., L, S) scores or probabilities. The forward
 * saves only the output and the per-row log-sum-exp; the backward recomputes each tile.
 *
 * Same semantics as the composite `attention()` in ./attention.ts (its test oracle), including
 * zero outputs and gradients for fully masked rows. Masks reach the kernels as broadcast views
 * (stride 0), never expanded copies.
 */
import type { AttentionParams, View } from '../backend/backend.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import { broadcastShapes } from '../core/shape.js';
import {
  add,
  broadcastView,
  div,
  eq,
  exp,
  logicalAnd,
  mul,
  sub,
  where,
} from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { contiguous, sumToShape, unsqueeze } from '../ops/movement.js';
import { sum } from '../ops/reduce.js';
import { empty, kernelsFor } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { causalAllowed } from './attention.js';

/** Masks and options of {@link fusedAttention} (already validated by the caller). */
export interface FusedAttentionOptions {
  /** bool, broadcastable to (..., L, S): true where attending is allowed. */
  allowed: Tensor | null;
  /** float, broadcastable to (..., L, S), added to the scores; must not require grad. */
  bias: Tensor | null;
  /** null: no causal mask; else query i sees key j iff j <= i + causalOffset. */
  causalOffset: number | null;
  scale: number;
}

/**
 * The probabilities recomputed with differentiable ops, for a backward that is itself recorded
 * (`createGraph`): the one case where an (..., L, S) matrix is built. The saved lse is only the
 * (detached) shift; the normalisation makes the softmax exact and its derivative complete.
 */
function probabilities(
  q: Tensor,
  k: Tensor,
  lse: Tensor,
  o: FusedAttentionOptions,
  L: number,
  S: number,
): Tensor {
  let scores = matmul(mul(q, o.scale), k.mT); // (..., L, S)
  if (o.bias) scores = add(scores, o.bias.dtype === q.dtype ? o.bias : o.bias.to(q.dtype));
  let visible: Tensor | null = o.allowed;
  if (o.causalOffset !== null) {
    const c = causalAllowed(L, S, o.causalOffset); // (L, S): j <= i + offset
    visible = visible ? logicalAnd(visible, c) : c;
  }
  if (visible) scores = where(visible, scores, -Infinity);
  const l = unsqueeze(lse, -1); // (..., L, 1); -∞ for fully masked rows
  const e = exp(sub(scores, where(eq(l, -Infinity), 0, l))); // 0 where masked
  const z = sum(e, -1, true);
  return div(e, where(eq(z, 0), 1, z));
}

/** The kernels' five inputs as broadcast views (stride 0, no copy); each checks its tensor lives. */
function inputViews(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: FusedAttentionOptions,
  batch: readonly number[],
): [View, View, View, View | null, View | null] {
  const [L, E, S, Ev] = [q.shape.at(-2)!, q.shape.at(-1)!, k.shape.at(-2)!, v.shape.at(-1)!];
  return [
    broadcastView(q, [...batch, L, E]),
    broadcastView(k, [...batch, S, E]),
    broadcastView(v, [...batch, S, Ev]),
    o.allowed ? broadcastView(o.allowed, [...batch, L, S]) : null,
    o.bias ? broadcastView(o.bias, [...batch, L, S]) : null,
  ];
}

/**
 * softmax(q·kᵀ·scale + mask)·v for q (..., L, E), k (..., S, E), v (..., S, Ev) with broadcasting
 * batch dims, without materialising the scores. Differentiable in q, k and v.
 *
 * @internal Reached through `scaledDotProductAttention` and `MultiheadAttention`.
 */
export function fusedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: FusedAttentionOptions,
): Tensor {
  const nd = q.ndim;
  const L = q.shape[nd - 2]!;
  const E = q.shape[nd - 1]!;
  const S = k.shape[k.ndim - 2]!;
  const Ev = v.shape[v.ndim - 1]!;
  const batch = broadcastShapes(
    'scaledDotProductAttention',
    broadcastShapes('scaledDotProductAttention', q.shape.slice(0, -2), k.shape.slice(0, -2)),
    v.shape.slice(0, -2),
  );
  const params: AttentionParams = { scale: options.scale, causalOffset: options.causalOffset };
  const kernels = kernelsFor(q);
  const out = empty([...batch, L, Ev], q.dtype);
  const lse = empty([...batch, L], q.dtype);
  kernels.attentionForward(...inputViews(q, k, v, options, batch), params, out, lse);

  const saved = [q, k, v, out, lse];
  if (options.allowed) saved.push(options.allowed);
  if (options.bias) saved.push(options.bias);
  return record(
    out,
    'scaledDotProductAttention',
    [q, k, v],
    (g) => {
      if (isGradEnabled()) {
        // createGraph: a recorded (differentiable) backward through the composite formulas.
        const p = probabilities(q, k, lse, options, L, S); // (..., L, S)
        const dp = matmul(g, v.mT); // (..., L, S)
        const ds = mul(p, sub(dp, sum(mul(p, dp), -1, true)));
        return [
          q.requiresGrad ? sumToShape(mul(matmul(ds, k), options.scale), q.shape) : null,
          k.requiresGrad ? sumToShape(mul(matmul(ds.mT, q), options.scale), k.shape) : null,
          v.requiresGrad ? sumToShape(matmul(p.mT, g), v.shape) : null,
        ];
      }
      // A broadcast gradient (from sum(), say) is made dense once: kernels read rows of it.
      const gd = g.strides[g.ndim - 1] === 1 || Ev <= 1 ? g : contiguous(g);
      const dq = empty([...batch, L, E], q.dtype);
      const dk = empty([...batch, S, E], q.dtype);
      const dv = empty([...batch, S, Ev], q.dtype);
      // Views made afresh: each checks that its tensor is still alive.
      kernelsFor(q).attentionBackward(
        ...inputViews(q, k, v, options, batch),
        params,
        out,
        lse,
        broadcastView(gd, [...batch, L, Ev]),
        dq,
        dk,
        dv,
      );
      return [
        q.requiresGrad ? sumToShape(dq, q.shape) : null,
        k.requiresGrad ? sumToShape(dk, k.shape) : null,
        v.requiresGrad ? sumToShape(dv, v.shape) : null,
      ];
    },
    saved,
  );
}
