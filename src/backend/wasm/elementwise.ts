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
import { alloc, begin, kernelsOrNull, wasmTuning } from './instance.js';
import { copyIn, copyOut, stagedBytes } from './stage.js';

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
};
const COPY = 12; // the identity: a strided gather into a contiguous output

const BINARY: Partial<Record<BinaryOp, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  maximum: 4,
  minimum: 5,
};

/**
 * The views' iteration space after merging dims: slabs of rows × n, out contiguous; per input,
 * the row and element strides, and the strides of the outer dims that index the slabs.
 */
interface Slabs {
  rows: number;
  n: number;
  inner: [number, number][];
  outerShape: number[];
  outerStrides: number[][];
  count: number;
}

/**
 * The slabs of `out` (which must be contiguous after merging) and `inputs`; null if it is not, or
 * if it is too small to gain from WebAssembly.
 */
function slabs(out: View, inputs: View[]): Slabs | null {
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
  const outer = Math.max(0, nd - 2);
  const outerShape = shape.slice(0, outer);
  let count = 1;
  for (const d of outerShape) count *= d;
  const ins = strides.slice(1);
  return {
    rows: nd >= 2 ? shape[nd - 2]! : 1,
    n: shape[nd - 1]!,
    inner: ins.map((s) => [nd >= 2 ? s[nd - 2]! : 0, s[nd - 1]!]),
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
  const p = k && code !== undefined && f32 && n > 0 ? slabs(out, [x]) : null;
  if (!k || code === undefined || !p || !begin(stagedBytes(x) + n * 4 + 16)) {
    refBackend.kernels.unary(op, x, out);
    return;
  }
  runUnary(code, p, x, out, n);
}

function runUnary(code: number, p: Slabs, x: View, out: View, n: number): void {
  const k = kernelsOrNull()!;
  const px = copyIn(x);
  const po = alloc(n * 4);
  const [sxr, sx] = p.inner[0]!;
  const slab = p.rows * p.n * 4;
  eachSlab(p, (q, off) => k.unary(code, p.rows, p.n, px + off[0]! * 4, sxr, sx, po + q * slab));
  copyOut(po, n, out);
}

export function binary(op: BinaryOp, a: View, b: View, out: View): void {
  const code = BINARY[op];
  const k = kernelsOrNull();
  const n = sizeOf(out.shape);
  const f32 = a.dtype === 'float32' && b.dtype === 'float32' && out.dtype === 'float32';
  const p = k && code !== undefined && f32 && n > 0 ? slabs(out, [a, b]) : null;
  if (!k || code === undefined || !p || !begin(stagedBytes(a) + stagedBytes(b) + n * 4 + 16)) {
    refBackend.kernels.binary(op, a, b, out);
    return;
  }
  const pa = copyIn(a);
  const pb = copyIn(b);
  const po = alloc(n * 4);
  const [sar, sa] = p.inner[0]!;
  const [sbr, sb] = p.inner[1]!;
  const slab = p.rows * p.n * 4;
  eachSlab(p, (q, off) =>
    k.binary(
      code,
      p.rows,
      p.n,
      pa + off[0]! * 4,
      sar,
      sa,
      pb + off[1]! * 4,
      sbr,
      sb,
      po + q * slab,
    ),
  );
  copyOut(po, n, out);
}

/**
 * float32 copies into a contiguous dst. A source that merges into one contiguous run is a memcpy
 * already in ref (TypedArray.set); permuted sources gain here (one call per slab, not per row).
 */
export function copy(src: View, dst: View): void {
  const k = kernelsOrNull();
  const n = sizeOf(dst.shape);
  const f32 = src.dtype === 'float32' && dst.dtype === 'float32';
  const p = k && f32 && n > 0 ? slabs(dst, [src]) : null;
  const run =
    p !== null &&
    !(p.count === 1 && p.inner[0]![1] === 1 && (p.rows === 1 || p.inner[0]![0] === p.n));
  if (!run || !begin(stagedBytes(src) + n * 4 + 16)) {
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
  const p = k && ok && n > 0 ? slabs(out, [cond, a, b]) : null;
  const bytes = stagedBytes(cond) + stagedBytes(a) + stagedBytes(b) + n * 4 + 16;
  if (!k || !p || !begin(bytes)) {
    refBackend.kernels.where(cond, a, b, out);
    return;
  }
  const pc = copyIn(cond);
  const pa = copyIn(a);
  const pb = copyIn(b);
  const po = alloc(n * 4);
  const [scr, sc] = p.inner[0]!;
  const [sar, sa] = p.inner[1]!;
  const [sbr, sb] = p.inner[2]!;
  const slab = p.rows * p.n * 4;
  eachSlab(p, (q, off) =>
    k.where(
      p.rows,
      p.n,
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
