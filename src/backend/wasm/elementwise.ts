/**
 * float32 unary, binary, where and gathering copy kernels on the wasm backend
 * (wasm/assembly/elementwise.ts). The operands' dims are merged first (ref's coalesce); the last
 * two are one WebAssembly call, the others are looped over here. Non-contiguous outputs, other
 * dtypes and ops without a WebAssembly version run the reference kernels.
 */
import { sizeOf } from '../../core/shape.js';
import type { BinaryOp, UnaryOp, View } from '../backend.js';
import { refBackend } from '../ref/index.js';
import { coalesce } from '../ref/strided.js';
import { begin, kernelsOrNull, wasmPool, wasmTuning } from './instance.js';
import { copyIn, copyOut, output, outputBytes, stagedBytes } from './stage.js';

// Op codes of wasm/assembly/elementwise.ts.
const UNARY: Partial<Record<UnaryOp, number>> = {
  neg: 0,
  abs: 1,
  sqrt: 2,
  rsqrt: 3,
  reciprocal: 4,
  square: 5,
  relu: 6,
  floor: 7,
  exp: 8,
  tanh: 9,
  sigmoid: 10,
  erf: 11,
  gelu: 13,
  geluTanh: 14,
};
const COPY = 12; // the identity: a strided gather into a contiguous output

const BINARY: Partial<Record<BinaryOp, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  maximum: 4,
  minimum: 5,
  geluGrad: 6,
  geluTanhGrad: 7,
};

/**
 * The views' iteration space after merging dims: slabs of (planes ×) rows × n, out contiguous; per
 * input, the (plane,) row and element strides, and the strides of the outer dims that index the
 * slabs.
 */
interface Slabs {
  /** Dims of a kernel call, innermost last: [planes,] rows, n. */
  dims: number[];
  /** Per input, the strides of those dims. */
  inner: number[][];
  outerShape: number[];
  outerStrides: number[][];
  count: number;
}

/**
 * The slabs of `out` (which must be contiguous after merging) and `inputs`, with `depth` (2 or 3)
 * dims per kernel call; null if out is not contiguous, or too small to gain from WebAssembly.
 */
function slabs(out: View, inputs: View[], depth: 2 | 3): Slabs | null {
  let size = 1;
  for (const d of out.shape) size *= d;
  if (size < wasmTuning.minElements) return null;
  const { shape, strides } = coalesce(out.shape, [out.strides, ...inputs.map((v) => v.strides)]);
  const nd = shape.length;
  let acc = 1;
  for (let d = nd - 1; d >= 0; d--) {
    if (strides[0]![d] !== acc) return null;
    acc *= shape[d]!;
  }
  // Pad to `depth` dims with leading 1s.
  const pad = Math.max(0, depth - nd);
  const dims = [...new Array<number>(pad).fill(1), ...shape].slice(-depth);
  const outer = Math.max(0, nd - depth);
  const outerShape = shape.slice(0, outer);
  let count = 1;
  for (const d of outerShape) count *= d;
  const ins = strides.slice(1);
  return {
    dims,
    inner: ins.map((s) => [...new Array<number>(pad).fill(0), ...s].slice(-depth)),
    outerShape,
    outerStrides: ins.map((s) => s.slice(0, outer)),
    count,
  };
}

/** Calls `fn(q, offsets)` for slab q = 0, 1, ... with each input's element offset of that slab. */
function eachSlab(p: Slabs, fn: (q: number, offsets: number[]) => void): void {
  const k = p.outerStrides.length;
  const offsets = new Array<number>(k).fill(0);
  const nd = p.outerShape.length;
  const idx = new Array<number>(nd).fill(0);
  for (let q = 0; q < p.count; q++) {
    fn(q, offsets);
    // Odometer over the outer dims, updating the offsets incrementally.
    for (let d = nd - 1; d >= 0; d--) {
      for (let j = 0; j < k; j++) offsets[j]! += p.outerStrides[j]![d]!;
      if (++idx[d]! < p.outerShape[d]!) break;
      for (let j = 0; j < k; j++) offsets[j]! -= p.outerStrides[j]![d]! * idx[d]!;
      idx[d] = 0;
    }
  }
}

export function unary(op: UnaryOp, x: View, out: View): void {
  const code = UNARY[op];
  const k = kernelsOrNull();
  const n = sizeOf(out.shape);
  const f32 = x.dtype === 'float32' && out.dtype === 'float32';
  const p = k && code !== undefined && f32 && n > 0 ? slabs(out, [x], 3) : null;
  if (!k || code === undefined || !p || !begin(stagedBytes(x) + outputBytes(out, n, [x], true))) {
    refBackend.kernels.unary(op, x, out);
    return;
  }
  runUnary(code, p, x, out, n);
}

function runUnary(code: number, p: Slabs, x: View, out: View, n: number): void {
  const px = copyIn(x);
  const po = output(out, n, [x], true);
  const [planes, rows, cols] = p.dims as [number, number, number];
  const [sxp, sxr, sx] = p.inner[0]! as [number, number, number];
  const slab = planes * rows * cols * 4;
  const calls: number[][] = [];
  eachSlab(p, (q, off) =>
    calls.push([code, planes, rows, cols, px + off[0]! * 4, sxp, sxr, sx, po + q * slab]),
  );
  run('unary', calls, UNARY_HEAVY.has(code) && n >= MIN_THREADED, [4], 8);
  copyOut(po, n, out);
}

export function binary(op: BinaryOp, a: View, b: View, out: View): void {
  const code = BINARY[op];
  const k = kernelsOrNull();
  const n = sizeOf(out.shape);
  const f32 = a.dtype === 'float32' && b.dtype === 'float32' && out.dtype === 'float32';
  const p = k && code !== undefined && f32 && n > 0 ? slabs(out, [a, b], 3) : null;
  const bytes = stagedBytes(a) + stagedBytes(b) + outputBytes(out, n, [a, b], true);
  if (!k || code === undefined || !p || !begin(bytes)) {
    refBackend.kernels.binary(op, a, b, out);
    return;
  }
  const pa = copyIn(a);
  const pb = copyIn(b);
  const po = output(out, n, [a, b], true);
  const [planes, rows, cols] = p.dims as [number, number, number];
  const [sap, sar, sa] = p.inner[0]! as [number, number, number];
  const [sbp, sbr, sb] = p.inner[1]! as [number, number, number];
  const slab = planes * rows * cols * 4;
  const calls: number[][] = [];
  eachSlab(p, (q, off) =>
    calls.push([
      code,
      planes,
      rows,
      cols,
      pa + off[0]! * 4,
      sap,
      sar,
      sa,
      pb + off[1]! * 4,
      sbp,
      sbr,
      sb,
      po + q * slab,
    ]),
  );
  run('binary', calls, BINARY_HEAVY.has(code) && n >= MIN_THREADED, [4, 8], 12);
  copyOut(po, n, out);
}

// Ops whose arithmetic (rather than the copies in and out) dominates: with a thread pool, large
// calls split among the threads.
const UNARY_HEAVY = new Set([
  UNARY.exp,
  UNARY.tanh,
  UNARY.sigmoid,
  UNARY.erf,
  UNARY.gelu,
  UNARY.geluTanh,
]);
const BINARY_HEAVY = new Set([BINARY.geluGrad, BINARY.geluTanhGrad]);
/** Elements below which a heavy op stays on one thread. */
const MIN_THREADED = 1 << 16;

/**
 * Runs kernel calls (each: op, planes, rows, n, then each input's address and its three strides,
 * then the contiguous output's address at `outAt`; `ins`: the argument index of each input's
 * address), on the pool's threads when `threaded` and a pool runs: each call is cut along its
 * outermost dim longer than 1 into bands, one per thread (bands of columns in multiples of 4).
 */
function run(
  kernel: 'unary' | 'binary',
  calls: number[][],
  threaded: boolean,
  ins: number[],
  outAt: number,
): void {
  const k = kernelsOrNull()!;
  const pool = wasmPool();
  const t = pool?.threads ?? 1;
  if (!threaded || !pool || t < 2) {
    const fn = k[kernel] as (...args: number[]) => void;
    for (const c of calls) fn(...c);
    return;
  }
  const tasks: number[][] = [];
  for (const c of calls) {
    const dims = [c[1]!, c[2]!, c[3]!];
    let d = dims.findIndex((x) => x > 1);
    if (d < 0) d = 2;
    const count = dims[d]!;
    // The output's stride along dim d (it is contiguous).
    const outStride = d === 0 ? dims[1]! * dims[2]! : d === 1 ? dims[2]! : 1;
    const cut = (j: number): number =>
      j === t ? count : d < 2 ? Math.floor((count * j) / t) : Math.floor((count * j) / t / 4) * 4;
    for (let i = 0; i < t; i++) {
      const [b0, b1] = [cut(i), cut(i + 1)];
      const task = c.slice();
      task[1 + d] = b1 - b0;
      for (const at of ins) task[at] = c[at]! + b0 * c[at + 1 + d]! * 4;
      task[outAt] = c[outAt]! + b0 * outStride * 4;
      tasks.push(task);
    }
  }
  for (let i = 0; i < tasks.length; i += t) pool.run(tasks.slice(i, i + t), kernel);
}

/**
 * float32 copies into a contiguous dst. A source that merges into one contiguous run is a memcpy
 * already in ref (TypedArray.set), and so are rows of one that are long runs in a span much wider
 * than the copy (a slice of a wider tensor: staging the whole span would cost more); permuted
 * sources gain here (one call per slab, not per row).
 */
export function copy(src: View, dst: View): void {
  const k = kernelsOrNull();
  const n = sizeOf(dst.shape);
  const f32 = src.dtype === 'float32' && dst.dtype === 'float32';
  const p = k && f32 && n > 0 ? slabs(dst, [src], 3) : null;
  const runs = p !== null && p.inner[0]![2] === 1;
  const memcpy = runs && p.count === 1 && p.dims[0] === 1 && p.dims[1] === 1;
  const wide = runs && p.dims[2]! >= 32 && stagedBytes(src) > 6 * n;
  if (!p || memcpy || wide || !begin(stagedBytes(src) + outputBytes(dst, n, [src], true))) {
    refBackend.kernels.copy(src, dst);
    return;
  }
  runUnary(COPY, p, src, dst, n);
}

/** out = cond ? a : b for a bool cond and float32 a, b. */
export function where(cond: View, a: View, b: View, out: View): void {
  const k = kernelsOrNull();
  const n = sizeOf(out.shape);
  const ok =
    cond.dtype === 'bool' &&
    a.dtype === 'float32' &&
    b.dtype === 'float32' &&
    out.dtype === 'float32';
  const p = k && ok && n > 0 ? slabs(out, [cond, a, b], 2) : null;
  const inputs = [cond, a, b];
  const bytes =
    stagedBytes(cond) + stagedBytes(a) + stagedBytes(b) + outputBytes(out, n, inputs, true);
  if (!k || !p || !begin(bytes)) {
    refBackend.kernels.where(cond, a, b, out);
    return;
  }
  const pc = copyIn(cond);
  const pa = copyIn(a);
  const pb = copyIn(b);
  const po = output(out, n, inputs, true);
  const [rows, cols] = p.dims as [number, number];
  const [scr, sc] = p.inner[0]! as [number, number];
  const [sar, sa] = p.inner[1]! as [number, number];
  const [sbr, sb] = p.inner[2]! as [number, number];
  const slab = rows * cols * 4;
  eachSlab(p, (q, off) =>
    k.where(
      rows,
      cols,
      pc + off[0]!,
      scr,
      sc,
      pa + off[1]! * 4,
      sar,
      sa,
      pb + off[2]! * 4,
      sbr,
      sb,
      po + q * slab,
    ),
  );
  copyOut(po, n, out);
}
