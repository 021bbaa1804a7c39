/**
 * Shapes, strides and PyTorch's broadcasting rules.
 * https://pytorch.org/docs/stable/notes/broadcasting.html
 */
import { DimError, ShapeError, ValueError } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Validates a user-given shape: non-negative integers. */
export function checkShape(shape: readonly number[], op: string): number[] {
  if (!Array.isArray(shape)) throw new ShapeError(`${op}: shape must be an array of integers`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(
        `${op}: invalid shape ${formatShape(shape)}; sizes must be integers >= 0`,
      );
    }
  }
  return [...shape];
}

/** Normalises a possibly negative `dim` into [0, ndim); throws DimError otherwise. */
export function normalizeDim(dim: number, ndim: number, op: string): number {
  // A 0-d tensor accepts dim 0 and -1, as in PyTorch.
  const n = Math.max(ndim, 1);
  if (!Number.isInteger(dim) || dim < -n || dim >= n) {
    throw new DimError(
      `${op}: dimension ${dim} is out of range for a tensor of ${ndim} dimension(s); expected a value in [${-n}, ${n - 1}]`,
    );
  }
  return dim < 0 ? dim + n : dim;
}

/** Normalises a list of dims (or all dims when undefined); rejects repeats. Sorted ascending. */
export function normalizeDims(
  dims: number | readonly number[] | undefined,
  ndim: number,
  op: string,
): number[] {
  if (dims === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const out = list.map((d) => normalizeDim(d, ndim, op));
  if (ndim === 0) return [];
  const seen = new Set<number>();
  for (const d of out) {
    if (seen.has(d))
      throw new DimError(`${op}: dimension ${d} appears more than once in [${list.join(', ')}]`);
    seen.add(d);
  }
  return out.sort((a, b) => a - b);
}

/** The broadcast shape of several shapes, or a ShapeError naming them all. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const ndim = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(ndim).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = ndim - s.length + i;
      const d = s[i]!;
      if (d === out[j]) continue;
      if (out[j] === 1) out[j] = d;
      else if (d !== 1) {
        throw new ShapeError(
          `${op}: shapes ${shapes.map(formatShape).join(' and ')} cannot be broadcast together ` +
            `(size ${out[j]} vs ${d} at dimension ${j - ndim})`,
        );
      }
    }
  }
  return out;
}

/** Checks that an integer argument is a valid non-negative count. */
export function checkCount(value: number, what: string, op: string): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new ValueError(`${op}: ${what} must be a non-negative integer, got ${value}`);
  }
}
