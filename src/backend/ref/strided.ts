/**
 * Strided iteration for the reference kernels. Dimensions that are laid out contiguously in every
 * operand are merged first ("coalesced"), so a contiguous tensor is walked as one flat row and the
 * per-row callback runs a tight loop.
 */
import type { View } from '../backend.js';

/** Whether `v`'s elements are laid out row-major without gaps from its offset (size-1 dims aside). */
export function isContiguousView(v: View): boolean {
  let expected = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== expected) return false;
    expected *= v.shape[d]!;
  }
  return true;
}

export interface Coalesced {
  shape: number[];
  /** strides[k][d]: stride of operand k along merged dimension d. */
  strides: number[][];
}

/** Drops size-1 dims and merges dims that are adjacent in memory for every operand. */
export function coalesce(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): Coalesced {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * n)) {
      outShape[last]! *= n;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
      continue;
    }
    outShape.push(n);
    strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
  }
  if (outShape.length === 0) {
    outShape.push(1);
    outStrides.forEach((s) => s.push(1));
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Calls `row(offsets, n, innerStrides)` once per innermost row of the (coalesced) iteration space
 * of `views`, with each operand's starting offset for that row.
 */
export function forEachRow(
  views: readonly View[],
  row: (offsets: Int32Array | number[], n: number, inner: readonly number[]) => void,
): void {
  const shape = views[0]!.shape;
  for (const d of shape) if (d === 0) return;
  const { shape: cs, strides } = coalesce(
    shape,
    views.map((v) => v.strides),
  );
  const nd = cs.length;
  const k = views.length;
  const inner = strides.map((s) => s[nd - 1]!);
  const n = cs[nd - 1]!;
  const offsets = views.map((v) => v.offset);
  if (nd === 1) {
    row(offsets, n, inner);
    return;
  }
  const idx = new Array<number>(nd - 1).fill(0);
  const base = [...offsets];
  for (;;) {
    row(offsets, n, inner);
    // Odometer over the outer dims.
    let d = nd - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      if (idx[d]! < cs[d]!) break;
      idx[d] = 0;
    }
    if (d < 0) return;
    for (let j = 0; j < k; j++) {
      let off = base[j]!;
      const s = strides[j]!;
      for (let e = 0; e < nd - 1; e++) off += idx[e]! * s[e]!;
      offsets[j] = off;
    }
  }
}

/** Offsets of every element of `v` in row-major order of its shape. */
export function elementOffsets(v: View): Int32Array {
  let size = 1;
  for (const d of v.shape) size *= d;
  const out = new Int32Array(size);
  let p = 0;
  forEachRow([v], (off, n, inner) => {
    const s = inner[0]!;
    let o = off[0]!;
    for (let i = 0; i < n; i++, o += s) out[p++] = o;
  });
  return out;
}
