/**
 * Gradients of slices, gathered into one tensor. `split(x)` (the q, k, v of a packed projection,
 * the gates of a recurrent cell) gives x one slice node per part; each slice's own backward would
 * return a zero-filled tensor of x's shape with its part written in, and the engine would add those
 * up: for three parts, three zero-filled buffers and two full-size additions. Outside `createGraph`
 * the engine instead collects the parts (their gradients and where they go) and writes them into a
 * single buffer when it reaches x: parts that tile x along one dimension need no zero fill and no
 * addition at all. The slice's own backward stays for createGraph (it is differentiable).
 */
import { contiguousStrides, type Shape } from '../core/shape.js';
import { add } from '../ops/elementwise.js';
import { empty, emptyForKernel, kernelsFor } from '../ops/util.js';
import type { Tensor } from '../tensor.js';

/** Where a slice's elements sit in its input: start, start + step, ... along dim. */
export interface SliceInfo {
  readonly dim: number;
  readonly start: number;
  readonly step: number;
}

/** A slice's gradient and its place in the input's gradient. */
export interface SlicePart extends SliceInfo {
  readonly grad: Tensor;
}

/** True when the parts cover `size` elements of one dim exactly once, in steps of 1. */
function tiles(parts: readonly SlicePart[], size: number): boolean {
  const dim = parts[0]!.dim;
  if (parts.some((p) => p.dim !== dim || p.step !== 1)) return false;
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  let next = 0;
  for (const p of sorted) {
    if (p.start !== next) return false;
    next += p.grad.shape[dim]!;
  }
  return next === size;
}

/**
 * The gradient of a tensor of `shape` that received `dense` (the sum of its other gradients, if
 * any) and the slice gradients `parts`. A fresh contiguous tensor; grad mode must be off.
 */
export function gatherSliceGrads(
  shape: Shape,
  dense: Tensor | undefined,
  parts: readonly SlicePart[],
): Tensor {
  const dtype = parts[0]!.grad.dtype;
  const disjoint = dense === undefined && tiles(parts, shape[parts[0]!.dim]!);
  // Every element is written by exactly one part: no zero fill, and copies instead of additions.
  const out = dense ? dense.clone() : disjoint ? emptyForKernel(shape, dtype) : empty(shape, dtype);
  const strides = contiguousStrides(shape);
  const kernels = kernelsFor(out);
  for (const p of parts) {
    const region = out._view(
      p.grad.shape,
      strides.map((s, i) => (i === p.dim ? s * p.step : s)),
      p.start * strides[p.dim]!,
    );
    if (disjoint) {
      kernels.copy(p.grad, region);
    } else {
      const sum = add(region, p.grad);
      kernels.copy(sum, region);
      sum.dispose();
    }
    region.dispose();
  }
  return out;
}
