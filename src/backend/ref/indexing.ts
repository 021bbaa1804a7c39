/** Reference indexing kernels: indexSelect / indexAdd along an axis, gather / scatterAdd. */
import type { View } from '../backend.js';
import { arrayOf } from './storage.js';
import { elementOffsets } from './strided.js';

/** A view of `v` with `axis` removed (size 1), used to enumerate the "other" positions. */
function without(v: View, axis: number): View {
  const shape = [...v.shape];
  shape[axis] = 1;
  return { ...v, shape };
}

export function indexSelect(x: View, axis: number, index: View, out: View): void {
  const a = arrayOf(x);
  const o = arrayOf(out);
  const idx = arrayOf(index);
  const idxOff = elementOffsets(index);
  // out = x with axis replaced by index positions; walk out in its own (contiguous) order.
  const xOther = elementOffsets(without(x, axis));
  const oOther = elementOffsets(without(out, axis));
  const xs = x.strides[axis]!;
  const os = out.strides[axis]!;
  for (let k = 0; k < idxOff.length; k++) {
    const src = idx[idxOff[k]!]! * xs;
    const dst = out.offset + k * os;
    for (let i = 0; i < xOther.length; i++) o[dst + oOther[i]! - out.offset] = a[xOther[i]! + src]!;
  }
}

export function indexAdd(out: View, axis: number, index: View, src: View): void {
  const s = arrayOf(src);
  const o = arrayOf(out);
  const idx = arrayOf(index);
  const idxOff = elementOffsets(index);
  const sOther = elementOffsets(without(src, axis));
  const oOther = elementOffsets(without(out, axis));
  const ss = src.strides[axis]!;
  const os = out.strides[axis]!;
  for (let k = 0; k < idxOff.length; k++) {
    const dst = idx[idxOff[k]!]! * os;
    const from = k * ss;
    for (let i = 0; i < sOther.length; i++) o[oOther[i]! + dst] += s[sOther[i]! + from]!;
  }
}

/** Offsets of every element of `shape` under `strides`, plus each element's coordinate on `axis`. */
function offsetsWithCoord(v: View, axis: number): { offs: Int32Array; coord: Int32Array } {
  const offs = elementOffsets(v);
  const coord = new Int32Array(offs.length);
  let inner = 1;
  for (let d = v.shape.length - 1; d > axis; d--) inner *= v.shape[d]!;
  const n = v.shape[axis]!;
  for (let i = 0; i < offs.length; i++) coord[i] = Math.floor(i / inner) % n;
  return { offs, coord };
}

export function gather(x: View, axis: number, index: View, out: View): void {
  const a = arrayOf(x);
  const o = arrayOf(out);
  const idx = arrayOf(index);
  const idxOffs = elementOffsets(index);
  // x positioned like out/index but with its own strides; the axis coordinate replaced by index.
  const { offs: xOffs, coord } = offsetsWithCoord({ ...x, shape: index.shape }, axis);
  const xs = x.strides[axis]!;
  for (let i = 0; i < idxOffs.length; i++) {
    o[out.offset + i] = a[xOffs[i]! + (idx[idxOffs[i]!]! - coord[i]!) * xs]!;
  }
}

export function scatterAdd(out: View, axis: number, index: View, src: View): void {
  const s = arrayOf(src);
  const o = arrayOf(out);
  const idx = arrayOf(index);
  const idxOffs = elementOffsets(index);
  const srcOffs = elementOffsets({ ...src, shape: index.shape });
  const { offs: oOffs, coord } = offsetsWithCoord({ ...out, shape: index.shape }, axis);
  const os = out.strides[axis]!;
  for (let i = 0; i < idxOffs.length; i++) {
    o[oOffs[i]! + (idx[idxOffs[i]!]! - coord[i]!) * os] += s[srcOffs[i]!]!;
  }
}
