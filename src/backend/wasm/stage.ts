/**
 * Moving strided views between typed-array storage and the wasm memory: a view is copied as the
 * one span of its storage that it touches (a memcpy, whatever its strides), so kernels read it
 * with its own strides, transposes and stride-0 broadcasts included.
 */
import type { View } from '../backend.js';
import { arrayOf } from '../ref/storage.js';
import { alloc, heapF32, heapI32, heapU8 } from './instance.js';

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

/** Bytes per element of the dtypes staged here: float32, int32 (indices) and bool (masks). */
const width = (v: View): number => (v.dtype === 'bool' ? 1 : 4);

/** Bytes `copyIn` will allocate for a float32, int32 or bool view (with the alignment slack). */
export function stagedBytes(v: View): number {
  const { lo, hi } = span(v);
  return (hi - lo) * width(v) + 16;
}

/** Copies storage elements [lo, hi) of `v` to `ptr` in the wasm memory, bits unchanged. */
function put(v: View, lo: number, hi: number, ptr: number): void {
  if (v.dtype === 'bool') heapU8().set((arrayOf(v) as Uint8Array).subarray(lo, hi), ptr);
  else if (v.dtype === 'int32')
    heapI32().set((arrayOf(v) as Int32Array).subarray(lo, hi), ptr >> 2);
  else heapF32().set((arrayOf(v) as Float32Array).subarray(lo, hi), ptr >> 2);
}

/**
 * Copies the float32 (int32, bool) view's span into the wasm memory; returns the address of its
 * element (0, 0, ...), so that `address + width·(i·stride...)` finds every element.
 */
export function copyIn(v: View): number {
  const { lo, hi } = span(v);
  const w = width(v);
  const ptr = alloc((hi - lo) * w);
  put(v, lo, hi, ptr);
  return ptr + (v.offset - lo) * w;
}

/** Copies `size` float32 values at `ptr` into the contiguous view `out`. */
export function copyOut(ptr: number, size: number, out: View): void {
  const src = heapF32().subarray(ptr >> 2, (ptr >> 2) + size);
  (arrayOf(out) as Float32Array).set(src, out.offset);
}

/**
 * Bytes `copyInAll` will allocate for `views`: views over one storage (and dtype) share one span,
 * the union of theirs.
 */
export function stagedBytesAll(views: readonly View[]): number {
  let bytes = 0;
  for (const g of groups(views)) bytes += (g.hi - g.lo) * width(views[g.first]!) + 16;
  return bytes;
}

/**
 * copyIn for several views, copying the span of each storage once: the query, key and value of
 * self-attention, say, are three views of one projection. Returns each view's element (0, 0, ...).
 */
export function copyInAll(views: readonly View[]): number[] {
  const addr = new Array<number>(views.length);
  for (const g of groups(views)) {
    const v0 = views[g.first]!;
    const w = width(v0);
    const ptr = alloc((g.hi - g.lo) * w);
    put(v0, g.lo, g.hi, ptr);
    for (const i of g.members) addr[i] = ptr + (views[i]!.offset - g.lo) * w;
  }
  return addr;
}

interface Group {
  first: number;
  members: number[];
  lo: number;
  hi: number;
}

/**
 * Views grouped by storage and dtype, each group with the union of its members' spans; spans far
 * apart in one storage (their union over twice their sizes) stay separate groups.
 */
function groups(views: readonly View[]): Group[] {
  const out: Group[] = [];
  views.forEach((v, i) => {
    const { lo, hi } = span(v);
    const g = out.find((x) => {
      const u = views[x.first]!;
      if (u.storage !== v.storage || u.dtype !== v.dtype) return false;
      const union = Math.max(x.hi, hi) - Math.min(x.lo, lo);
      return union <= 2 * (x.hi - x.lo + hi - lo);
    });
    if (!g || hi === lo) {
      out.push({ first: i, members: [i], lo, hi });
    } else {
      g.members.push(i);
      g.lo = Math.min(g.lo, lo);
      g.hi = Math.max(g.hi, hi);
    }
  });
  return out;
}
