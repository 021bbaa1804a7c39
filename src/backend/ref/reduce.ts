/** Reference reduction kernels: sum/max/min over a set of axes, argmax/argmin along one axis. */
import type { ArgReduceOp, ReduceOp, View } from '../backend.js';
import { arrayOf } from './storage.js';
import { elementOffsets } from './strided.js';

/** Splits x's dims into kept and reduced ones; returns element offsets of each part. */
function splitOffsets(x: View, axes: readonly number[]): { outer: Int32Array; inner: Int32Array } {
  const kept: number[] = [];
  for (let d = 0; d < x.shape.length; d++) if (!axes.includes(d)) kept.push(d);
  const part = (dims: number[], offset: number): View => ({
    storage: x.storage,
    dtype: x.dtype,
    shape: dims.map((d) => x.shape[d]!),
    strides: dims.map((d) => x.strides[d]!),
    offset,
  });
  return { outer: elementOffsets(part(kept, x.offset)), inner: elementOffsets(part([...axes], 0)) };
}

export function reduce(op: ReduceOp, x: View, axes: readonly number[], out: View): void {
  const a = arrayOf(x);
  const o = arrayOf(out);
  const { outer, inner } = splitOffsets(x, axes);
  const m = inner.length;
  for (let i = 0; i < outer.length; i++) {
    const base = outer[i]!;
    let acc: number;
    if (op === 'sum') {
      acc = 0;
      for (let j = 0; j < m; j++) acc += a[base + inner[j]!]!;
    } else if (op === 'max') {
      acc = -Infinity;
      for (let j = 0; j < m; j++) {
        const v = a[base + inner[j]!]!;
        if (v > acc || v !== v) acc = v;
        if (acc !== acc) break;
      }
    } else {
      acc = Infinity;
      for (let j = 0; j < m; j++) {
        const v = a[base + inner[j]!]!;
        if (v < acc || v !== v) acc = v;
        if (acc !== acc) break;
      }
    }
    o[out.offset + i] = acc;
  }
}

export function argReduce(op: ArgReduceOp, x: View, axis: number, out: View): void {
  const a = arrayOf(x);
  const o = arrayOf(out);
  const { outer } = splitOffsets(x, [axis]);
  const n = x.shape[axis]!;
  const s = x.strides[axis]!;
  const isMax = op === 'argmax';
  for (let i = 0; i < outer.length; i++) {
    const base = outer[i]!;
    let best = a[base]!;
    let bestIdx = 0;
    if (best === best) {
      for (let j = 1; j < n; j++) {
        const v = a[base + j * s]!;
        if (v !== v) {
          bestIdx = j; // NaN wins, as in PyTorch
          break;
        }
        if (isMax ? v > best : v < best) {
          best = v;
          bestIdx = j;
        }
      }
    }
    o[out.offset + i] = bestIdx;
  }
}
