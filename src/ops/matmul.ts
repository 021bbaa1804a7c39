/**
 * Matrix products with PyTorch's rules (torch.matmul): 1-D·1-D is a dot product, a 1-D operand is
 * promoted to a matrix and the added dim removed afterwards, and batch dims broadcast.
 */
import type { View } from '../backend/backend.js';
import { record } from '../autograd/node.js';
import { DTypeError, ShapeError } from '../core/errors.js';
import { broadcastShapes, formatShape, sizeOf } from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { reshape, sumToShape, transpose, unsqueeze, squeeze } from './movement.js';
import { contiguous } from './movement.js';
import { empty, emptyForKernel, kernelsFor } from './util.js';

/**
 * The matrix product of `a` and `b`.
 *
 * @example
 * const y = nb.matmul(nb.randn([8, 3, 4]), nb.randn([4, 5])); // shape [8, 3, 5]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  a._check('matmul');
  b._check('matmul');
  if (a.dtype !== b.dtype) {
    throw new DTypeError(
      `matmul: dtype mismatch between ${a.dtype} ${formatShape(a.shape)} and ${b.dtype} ${formatShape(b.shape)}`,
    );
  }
  if (a.dtype !== 'float32' && a.dtype !== 'float64') {
    throw new DTypeError(`matmul: expects float32 or float64 tensors, got ${a.dtype}`);
  }
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError(
      `matmul: both arguments need at least 1 dimension, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`,
    );
  }
  // Checked here too so that the message shows the shapes as given, before 1-D promotion.
  const K = a.shape[a.ndim - 1]!;
  const K2 = b.shape[b.ndim === 1 ? 0 : b.ndim - 2]!;
  if (K !== K2) {
    throw new ShapeError(
      `matmul: inner dimensions differ: ${formatShape(a.shape)} @ ${formatShape(b.shape)} (${K} vs ${K2}); ` +
        'expected (..., M, K) @ (..., K, N), or a 1-D operand of size K',
    );
  }
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a; // (K) -> (1, K)
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b; // (K) -> (K, 1)
  let out = batchedMatmul(a2, b2);
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return out;
}

/**
 * x (..., K) @ weightᵀ (+ bias) for weight (N, K) and bias (N): a linear layer as one op, one kernel
 * call and one buffer (the kernel adds the bias to each row). x has ndim >= 2; all of one float
 * dtype (F.linear checks before choosing it). The weight's gradient is made in its own (N, K)
 * layout, gᵀ·x: one fresh contiguous buffer that the parameter keeps as its `.grad`, where the
 * transpose of a (K, N) product cost a strided copy per weight per step.
 */
export function linearOp(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  x._check('linear');
  weight._check('linear');
  bias?._check('linear');
  const [N, K] = weight.shape as [number, number];
  // weightᵀ as a plain view (no op recorded: the gradient goes to `weight` through this op).
  const weightT = weight._view([K, N], [weight.strides[1]!, weight.strides[0]!], weight.offset);
  const out = product(x, weightT, bias);
  const rows = (t: Tensor, n: number): Tensor => reshape(t, [-1, n]);
  return record(
    out,
    'matmul', // what it computes (the lab's counts and labels are by op name)
    bias ? [x, weight, bias] : [x, weight],
    (g) => [
      x.requiresGrad ? matmul(g, weight) : null, // (..., N) @ (N, K)
      weight.requiresGrad ? matmul(transpose(rows(g, N), 0, 1), rows(x, K)) : null, // (N, R) @ (R, K)
      bias?.requiresGrad ? sumToShape(g, bias.shape) : null,
    ],
    [x, weight],
  );
}

/**
 * (..., M, K) @ (..., K, N) -> (broadcast(...), M, N), plus `bias` (N) on every row when given.
 * Both operands have ndim >= 2.
 */
function batchedMatmul(a: Tensor, b: Tensor): Tensor {
  const K = a.shape[a.ndim - 1]!;
  const N = b.shape[b.ndim - 1]!;
  return record(
    product(a, b, null),
    'matmul',
    [a, b],
    (g) => {
      const ga = a.requiresGrad
        ? sumToShape(batchedMatmul(g, transpose(b, -1, -2)), a.shape)
        : null;
      let gb: Tensor | null = null;
      if (b.requiresGrad) {
        gb =
          b.ndim === 2 && a.ndim > 2
            ? batchedMatmul(transpose(reshape(a, [-1, K]), 0, 1), reshape(g, [-1, N])) // (K, B·T) @ (B·T, N)
            : sumToShape(batchedMatmul(transpose(a, -1, -2), g), b.shape);
      }
      return [ga, gb];
    },
    [a, b],
  );
}

/** The product (plus `bias` on every row when given) into a fresh tensor; nothing recorded. */
function product(a: Tensor, b: Tensor, bias: Tensor | null): Tensor {
  const M = a.shape[a.ndim - 2]!;
  const K = a.shape[a.ndim - 1]!;
  const K2 = b.shape[b.ndim - 2]!;
  const N = b.shape[b.ndim - 1]!;
  if (K !== K2) {
    throw new ShapeError(
      `matmul: inner dimensions differ: ${formatShape(a.shape)} @ ${formatShape(b.shape)} (${K} vs ${K2}); ` +
        'expected (..., M, K) @ (..., K, N)',
    );
  }
  const batch = broadcastShapes('matmul (batch dims)', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const bt = sizeOf(batch);
  // Every kernel's GEMM overwrites the output when K > 0; K = 0 needs the zeros.
  const out = (K > 0 ? emptyForKernel : empty)([...batch, M, N], a.dtype);
  const k = kernelsFor(a);
  if (b.ndim === 2 && a.ndim > 2 && canFold(a)) {
    // (B, T, K) @ (K, N): one (B·T, K) @ (K, N) product instead of B small ones.
    k.matmul(
      foldRows(a),
      asBatch3(b, [], 1),
      {
        storage: out.storage,
        dtype: out.dtype,
        shape: [1, bt * M, N],
        strides: [0, N, 1],
        offset: 0,
      },
      bias,
    );
  } else {
    k.matmul(
      asBatch3(a, batch, bt),
      asBatch3(b, batch, bt),
      {
        storage: out.storage,
        dtype: out.dtype,
        shape: [bt, M, N],
        strides: [M * N, N, 1],
        offset: 0,
      },
      bias,
    );
  }
  return out;
}

/** Whether a's leading dims and rows merge into one strided row dim. */
function canFold(a: Tensor): boolean {
  const rowStride = a.strides[a.ndim - 2]!;
  let expected = rowStride * a.shape[a.ndim - 2]!;
  for (let d = a.ndim - 3; d >= 0; d--) {
    if (a.shape[d] !== 1 && a.strides[d] !== expected) return false;
    expected *= a.shape[d]!;
  }
  return true;
}

function foldRows(a: Tensor): View {
  const rows = sizeOf(a.shape.slice(0, -1));
  return {
    storage: a.storage,
    dtype: a.dtype,
    shape: [1, rows, a.shape[a.ndim - 1]!],
    strides: [0, a.strides[a.ndim - 2]!, a.strides[a.ndim - 1]!],
    offset: a.offset,
  };
}

/**
 * A (bt, R, C) kernel view of `t` broadcast over `batch`. Broadcast batch dims get stride 0; when
 * the batch dims cannot be merged into one stride, a contiguous copy of the broadcast is used.
 */
function asBatch3(t: Tensor, batch: readonly number[], bt: number): View {
  const R = t.shape[t.ndim - 2]!;
  const C = t.shape[t.ndim - 1]!;
  const lead = batch.length - (t.ndim - 2);
  const bStrides = batch.map((s, i) =>
    i < lead || t.shape[i - lead] !== s ? 0 : t.strides[i - lead]!,
  );
  // Merge the batch dims into one stride if their layout allows it.
  let merged: number | null = 0;
  let expected: number | null = null;
  for (let d = batch.length - 1; d >= 0; d--) {
    if (batch[d] === 1) continue;
    const s = bStrides[d]!;
    if (expected === null) {
      merged = s;
      expected = s * batch[d]!;
    } else if (s === expected) {
      expected = s * batch[d]!;
    } else {
      merged = null;
      break;
    }
  }
  if (merged !== null) {
    return {
      storage: t.storage,
      dtype: t.dtype,
      shape: [bt, R, C],
      strides: [merged, t.strides[t.ndim - 2]!, t.strides[t.ndim - 1]!],
      offset: t.offset,
    };
  }
  const full = contiguous(t.expand([...batch, R, C]));
  return {
    storage: full.storage,
    dtype: full.dtype,
    shape: [bt, R, C],
    strides: [R * C, C, 1],
    offset: full.offset,
  };
}
