/**
 * Moving strided views between typed-array storage and the wasm memory: a view is copied as the
 * one span of its storage that it touches (a memcpy, whatever its strides), so kernels read it
 * with its own strides, transposes and stride-0 broadcasts included.
 */
import type { View } from '../backend.js';
import { arrayOf } from '../ref/storage.js';
import { alloc, heapF32, heapU8 } from './instance.js';

/** The storage span [lo, hi) a view touches (empty, lo = hi, for a view with no elements). */
export function span(v: View): { lo: number; hi: number } {
  let lo = v.offset;
  let hi = v.offset;
  for (let d = 0; d < v.shape.length; d++) {
    const n = v.shape[d]!;
    if (n === 0) return { lo: v.offset, hi: v.offset };
    const s = v.strides[d]!;
    if (s < 0) lo += (n - 1) * s;
    else hi += (n - 1) * s;
  }
  return { lo, hi: hi + 1 };
}

/** Bytes per element of the dtypes staged here: float32, and bool (conditions). */
const width = (v: View): number => (v.dtype === 'bool' ? 1 : 4);

/** Bytes `copyIn` will allocate for a float32 or bool view (with the arena's alignment slack). */
export function stagedBytes(v: View): number {
  const { lo, hi } = span(v);
  return (hi - lo) * width(v) + 16;
}

/**
 * Copies the float32 (or bool) view's span into the wasm memory; returns the address of its
 * element (0, 0, ...), so that `address + width·(i·stride...)` finds every element.
 */
export function copyIn(v: View): number {
  const { lo, hi } = span(v);
  const w = width(v);
  const ptr = alloc((hi - lo) * w);
  if (w === 1) heapU8().set((arrayOf(v) as Uint8Array).subarray(lo, hi), ptr);
  else heapF32().set((arrayOf(v) as Float32Array).subarray(lo, hi), ptr >> 2);
  return ptr + (v.offset - lo) * w;
}

/** Copies `size` float32 values at `ptr` into the contiguous view `out`. */
export function copyOut(ptr: number, size: number, out: View): void {
  const src = heapF32().subarray(ptr >> 2, (ptr >> 2) + size);
  (arrayOf(out) as Float32Array).set(src, out.offset);
}
