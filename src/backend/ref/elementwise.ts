/**
 * Reference elementwise kernels: fill, copy (with dtype casts), unary, binary and where. Each op is a
 * scalar function applied along rows of the coalesced iteration space (see strided.ts).
 */
import type { DType, TypedArray } from '../../core/dtype.js';
import type { BinaryOp, UnaryOp, View } from '../backend.js';
import { erf, gelu, geluGrad, geluTanh, geluTanhGrad, sigmoid } from './scalar-math.js';
import { arrayOf } from './storage.js';
import { forEachRow, isContiguousView } from './strided.js';

type Fn1 = (x: number) => number;
type Fn2 = (a: number, b: number) => number;

const UNARY: Record<UnaryOp, Fn1> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  sign: Math.sign,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid,
  relu: (x) => (x > 0 ? x : x === x ? 0 : x), // keeps NaN, as PyTorch does
  erf,
  gelu,
  geluTanh,
  reciprocal: (x) => 1 / x,
  square: (x) => x * x,
  floor: Math.floor,
  logicalNot: (x) => (x === 0 ? 1 : 0),
  isFinite: (x) => (Number.isFinite(x) ? 1 : 0),
};

const BINARY: Record<BinaryOp, Fn2> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  logicalAnd: (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  logicalOr: (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
  geluGrad: (a, b) => b * geluGrad(a),
  geluTanhGrad: (a, b) => b * geluTanhGrad(a),
};

/** Conversion applied when storing into `dtype` (typed arrays already round float32 and wrap int32). */
function storeCast(dtype: DType): Fn1 | null {
  if (dtype === 'bool') return (x) => (x !== 0 ? 1 : 0); // NaN is truthy, as in PyTorch
  if (dtype === 'int32') return (x) => (Number.isFinite(x) ? Math.trunc(x) : 0);
  return null;
}

export function fill(out: View, value: number): void {
  const o = arrayOf(out);
  const cast = storeCast(out.dtype);
  const v = cast ? cast(value) : value;
  forEachRow([out], (off, n, inner) => {
    const s = inner[0]!;
    if (s === 1) o.fill(v, off[0]!, off[0]! + n);
    else for (let i = 0, p = off[0]!; i < n; i++, p += s) o[p] = v;
  });
}

export function copy(src: View, dst: View): void {
  const x = arrayOf(src);
  const o = arrayOf(dst);
  const cast = src.dtype === dst.dtype ? null : storeCast(dst.dtype);
  forEachRow([dst, src], (off, n, inner) => {
    let po = off[0]!;
    let px = off[1]!;
    const so = inner[0]!;
    const sx = inner[1]!;
    if (cast) {
      for (let i = 0; i < n; i++, po += so, px += sx) o[po] = cast(x[px]!);
    } else if (so === 1 && sx === 1) {
      o.set(x.subarray(px, px + n) as never, po);
    } else {
      for (let i = 0; i < n; i++, po += so, px += sx) o[po] = x[px]!;
    }
  });
}

function map1(fn: Fn1, x: TypedArray, o: TypedArray, src: View, out: View, cast: Fn1 | null): void {
  forEachRow([out, src], (off, n, inner) => {
    let po = off[0]!;
    let px = off[1]!;
    const so = inner[0]!;
    const sx = inner[1]!;
    if (cast) for (let i = 0; i < n; i++, po += so, px += sx) o[po] = cast(fn(x[px]!));
    else for (let i = 0; i < n; i++, po += so, px += sx) o[po] = fn(x[px]!);
  });
}

export function unary(op: UnaryOp, src: View, out: View): void {
  const x = arrayOf(src);
  const o = arrayOf(out);
  // Contiguous fast paths for the ops on every training step's hot path.
  const cast = storeCast(out.dtype);
  if (cast === null && isContiguousView(src) && isContiguousView(out)) {
    const n = numel(out);
    const b = src.offset;
    const c = out.offset;
    switch (op) {
      case 'exp':
        for (let i = 0; i < n; i++) o[c + i] = Math.exp(x[b + i]!);
        return;
      case 'neg':
        for (let i = 0; i < n; i++) o[c + i] = -x[b + i]!;
        return;
      case 'tanh':
        for (let i = 0; i < n; i++) o[c + i] = Math.tanh(x[b + i]!);
        return;
      case 'relu':
        for (let i = 0; i < n; i++) {
          const v = x[b + i]!;
          o[c + i] = v > 0 ? v : v === v ? 0 : v;
        }
        return;
      default:
        break;
    }
  }
  map1(UNARY[op], x, o, src, out, cast);
}

function numel(v: View): number {
  let n = 1;
  for (const d of v.shape) n *= d;
  return n;
}

export function binary(op: BinaryOp, av: View, bv: View, out: View): void {
  const a = arrayOf(av);
  const b = arrayOf(bv);
  const o = arrayOf(out);
  const fn = BINARY[op];
  const cast = storeCast(out.dtype);
  forEachRow([out, av, bv], (off, n, inner) => {
    let po = off[0]!;
    let pa = off[1]!;
    let pb = off[2]!;
    const so = inner[0]!;
    const sa = inner[1]!;
    const sb = inner[2]!;
    if (cast) {
      for (let i = 0; i < n; i++, po += so, pa += sa, pb += sb) o[po] = cast(fn(a[pa]!, b[pb]!));
      return;
    }
    // Dedicated loops for the arithmetic that dominates training.
    switch (op) {
      case 'add':
        for (let i = 0; i < n; i++, po += so, pa += sa, pb += sb) o[po] = a[pa]! + b[pb]!;
        return;
      case 'sub':
        for (let i = 0; i < n; i++, po += so, pa += sa, pb += sb) o[po] = a[pa]! - b[pb]!;
        return;
      case 'mul':
        for (let i = 0; i < n; i++, po += so, pa += sa, pb += sb) o[po] = a[pa]! * b[pb]!;
        return;
      case 'div':
        for (let i = 0; i < n; i++, po += so, pa += sa, pb += sb) o[po] = a[pa]! / b[pb]!;
        return;
      default:
        for (let i = 0; i < n; i++, po += so, pa += sa, pb += sb) o[po] = fn(a[pa]!, b[pb]!);
    }
  });
}

export function where(cv: View, av: View, bv: View, out: View): void {
  const c = arrayOf(cv);
  const a = arrayOf(av);
  const b = arrayOf(bv);
  const o = arrayOf(out);
  forEachRow([out, cv, av, bv], (off, n, inner) => {
    let po = off[0]!;
    let pc = off[1]!;
    let pa = off[2]!;
    let pb = off[3]!;
    const [so, sc, sa, sb] = inner as [number, number, number, number];
    for (let i = 0; i < n; i++, po += so, pc += sc, pa += sa, pb += sb) {
      o[po] = c[pc] !== 0 ? a[pa]! : b[pb]!;
    }
  });
}
