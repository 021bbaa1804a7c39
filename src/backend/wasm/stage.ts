/**
 * Moving strided views between typed-array storage and the wasm memory: a view is copied as the
 * one span of its storage that it touches (a memcpy, whatever its strides), so kernels read it
 * with its own strides, transposes and stride-0 broadcasts included. A view whose storage is
 * resident in the current memory (resident.ts) is not copied: kernels get its address, and write
 * a resident output in place.
 */
import type { View } from '../backend.js';
import { arrayOf } from '../ref/storage.js';
import { isContiguousView } from '../ref/strided.js';
import { alloc, heapF32, heapI32, heapU8, wasmHeap } from './instance.js';
import { ResidentStorage } from './resident.js';

let copied = 0;

/** @internal Bytes copied into and out of the wasm memory so far: for the tests. */
export function stagedCopyBytes(): number {
  return copied;
}

/**
 * The address of the view's element (0, 0, ...) when its storage is resident in the current
 * instance's memory, else -1.
 */
export function residentAddress(v: View): number {
  const s = v.storage;
  if (!(s instanceof ResidentStorage) || s.heap !== wasmHeap()) return -1;
  return s.ptr + v.offset * width(v);
}

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
  if (residentAddress(v) >= 0) return 0;
  const { lo, hi } = span(v);
  return (hi - lo) * width(v) + 16;
}

/** Copies storage elements [lo, hi) of `v` to `ptr` in the wasm memory, bits unchanged. */
function put(v: View, lo: number, hi: number, ptr: number): void {
  copied += (hi - lo) * width(v);
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
  const resident = residentAddress(v);
  if (resident >= 0) return resident;
  const { lo, hi } = span(v);
  const w = width(v);
  const ptr = alloc((hi - lo) * w);
  put(v, lo, hi, ptr);
  return ptr + (v.offset - lo) * w;
}

/**
 * Whether a kernel may write `out` (contiguous float32) in place: it is resident, and no input
 * shares its storage, but for inputs laid out exactly as `out` when `sameOk` (elementwise kernels
 * read each element before they write it).
 */
function inPlace(out: View, inputs: readonly (View | null)[], sameOk: boolean): boolean {
  if (residentAddress(out) < 0 || !isContiguousView(out)) return false;
  return inputs.every((v) => !v || v.storage !== out.storage || (sameOk && sameLayout(v, out)));
}

function sameLayout(a: View, b: View): boolean {
  if (a.offset !== b.offset || a.shape.length !== b.shape.length) return false;
  return a.shape.every((n, d) => n === b.shape[d] && (n === 1 || a.strides[d] === b.strides[d]));
}

/** Bytes `output` will allocate (with the alignment slack): none when it writes in place. */
export function outputBytes(
  out: View,
  size: number,
  inputs: readonly (View | null)[],
  sameOk = false,
): number {
  return inPlace(out, inputs, sameOk) ? 0 : size * 4 + 16;
}

/**
 * Where a kernel writes the `size` float32 elements of the contiguous view `out`: in place when it
 * may (see `inPlace`), else a staging block that `copyOut` copies into `out`.
 */
export function output(
  out: View,
  size: number,
  inputs: readonly (View | null)[],
  sameOk = false,
): number {
  return inPlace(out, inputs, sameOk) ? residentAddress(out) : alloc(size * 4);
}

/**
 * Copies `size` float32 values at `ptr` into the contiguous view `out`; nothing when `ptr` is
 * `out` itself (written in place).
 */
export function copyOut(ptr: number, size: number, out: View): void {
  if (ptr === residentAddress(out)) return;
  copied += size * 4;
  const src = heapF32().subarray(ptr >> 2, (ptr >> 2) + size);
  (arrayOf(out) as Float32Array).set(src, out.offset);
}

/**
 * Bytes `copyInAll` will allocate for `views`: views over one storage (and dtype) share one span,
 * the union of theirs.
 */
export function stagedBytesAll(views: readonly View[]): number {
  let bytes = 0;
  for (const g of groups(views)) {
    const v0 = views[g.first]!;
    if (residentAddress(v0) < 0) bytes += (g.hi - g.lo) * width(v0) + 16;
  }
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
    if (residentAddress(v0) >= 0) {
      for (const i of g.members) addr[i] = residentAddress(views[i]!);
      continue;
    }
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
