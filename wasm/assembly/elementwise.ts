/**
 * float32 elementwise kernels over at most three dimensions (two for where; the TypeScript side
 * merges the rest): out is contiguous (planes × rows × n); each input has a plane, row and element
 * stride (in elements).
 * Rows whose input element strides are 1 (or 0, a broadcast) run four lanes at a time; other
 * strides, and row tails, go one element at a time through the same f32x4 functions.
 */
import { verf, vexp, vgelu, vgeluGrad, vgeluTanh, vgeluTanhGrad, vsigmoid, vtanh } from './vmath';

// Op codes: keep in step with src/backend/wasm/elementwise.ts.
const NEG = 0;
const ABS = 1;
const SQRT = 2;
const RSQRT = 3;
const RECIPROCAL = 4;
const SQUARE = 5;
const RELU = 6;
const FLOOR = 7;
const EXP = 8;
const TANH = 9;
const SIGMOID = 10;
const ERF = 11;
const COPY = 12;
const GELU = 13;
const GELU_TANH = 14;

const ADD = 0;
const SUB = 1;
const MUL = 2;
const DIV = 3;
const MAXIMUM = 4;
const MINIMUM = 5;
const GELU_GRAD = 6; // b·gelu′(a)
const GELU_TANH_GRAD = 7;

// @inline
function un(op: i32, x: v128): v128 {
  switch (op) {
    case NEG:
      return f32x4.neg(x);
    case ABS:
      return f32x4.abs(x);
    case SQRT:
      return f32x4.sqrt(x);
    case RSQRT:
      return f32x4.div(f32x4.splat(1), f32x4.sqrt(x));
    case RECIPROCAL:
      return f32x4.div(f32x4.splat(1), x);
    case SQUARE:
      return f32x4.mul(x, x);
    case RELU:
      // max propagates NaN, as PyTorch's relu does.
      return f32x4.max(x, f32x4.splat(0));
    case FLOOR:
      return f32x4.floor(x);
    case EXP:
      return vexp(x);
    case TANH:
      return vtanh(x);
    case SIGMOID:
      return vsigmoid(x);
    case ERF:
      return verf(x);
    case COPY:
      return x;
    case GELU:
      return vgelu(x);
    case GELU_TANH:
      return vgeluTanh(x);
    default:
      return x;
  }
}

// @inline
function bin(op: i32, x: v128, y: v128): v128 {
  switch (op) {
    case ADD:
      return f32x4.add(x, y);
    case SUB:
      return f32x4.sub(x, y);
    case MUL:
      return f32x4.mul(x, y);
    case DIV:
      return f32x4.div(x, y);
    case MAXIMUM:
      // WebAssembly's max and min return NaN when either lane is NaN, as PyTorch's do.
      return f32x4.max(x, y);
    case MINIMUM:
      return f32x4.min(x, y);
    case GELU_GRAD:
      return f32x4.mul(y, vgeluGrad(x));
    case GELU_TANH_GRAD:
      return f32x4.mul(y, vgeluTanhGrad(x));
    default:
      return x;
  }
}

/** out[i] = gelu(x[i]) for i < n (a multiple of 4): the loop alone, no op switch in it. */
function geluRow(x: usize, out: usize, n: i32): void {
  const end = x + ((<usize>n) << 2);
  for (; x < end; x += 16, out += 16) v128.store(out, vgelu(v128.load(x)));
}

/** out[i] = g[i]·gelu′(x[i]) for i < n (a multiple of 4). */
function geluGradRow(x: usize, g: usize, out: usize, n: i32): void {
  const end = x + ((<usize>n) << 2);
  for (; x < end; x += 16, g += 16, out += 16) {
    v128.store(out, f32x4.mul(v128.load(g), vgeluGrad(v128.load(x))));
  }
}

/** Four lanes from `p`: consecutive when the stride is 1, one value repeated when it is 0. */
function lanes(p: usize, stride: i32): v128 {
  return stride == 0 ? v128.load32_splat(p) : v128.load(p);
}

/** out[p, r, i] = op(x[p·sxp + r·sxr + i·sx]) for p < planes, r < rows, i < n. */
export function unary(
  op: i32,
  planes: i32,
  rows: i32,
  n: i32,
  x: usize,
  sxp: i32,
  sxr: i32,
  sx: i32,
  out: usize,
): void {
  const plane = (<usize>rows * <usize>n) << 2;
  for (let q = 0; q < planes; q++) {
    const xq = x + ((<usize>q * <usize>sxp) << 2);
    const oq = out + <usize>q * plane;
    if (op == COPY && sxr == 1 && sx != 1) {
      transpose(rows, n, xq, sx, oq);
      continue;
    }
    const sxb = (<usize>sx) << 2;
    for (let r = 0; r < rows; r++) {
      let px = xq + ((<usize>r * <usize>sxr) << 2);
      let po = oq + ((<usize>r * <usize>n) << 2);
      let i = 0;
      if (sx == 1 && op == GELU) {
        i = n & ~3;
        geluRow(px, po, i);
        px += (<usize>i) << 2;
        po += (<usize>i) << 2;
      } else if (sx == 1) {
        for (; i + 4 <= n; i += 4) {
          v128.store(po, un(op, v128.load(px)));
          px += 16;
          po += 16;
        }
      }
      for (; i < n; i++) {
        store<f32>(po, f32x4.extract_lane(un(op, f32x4.splat(load<f32>(px))), 0));
        px += sxb;
        po += 4;
      }
    }
  }
}

/**
 * out[r, i] = x[r + i·sx]: a transpose, in 4×4 tiles (four loads down the source's contiguous
 * columns, shuffled into four rows of out), instead of one strided read per element.
 */
export function transpose(rows: i32, n: i32, x: usize, sx: i32, out: usize): void {
  const sxb = (<usize>sx) << 2;
  const ob = (<usize>n) << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    let px = x + ((<usize>r) << 2);
    let po = out + <usize>r * ob;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const a0 = v128.load(px);
      const a1 = v128.load(px + sxb);
      const a2 = v128.load(px + 2 * sxb);
      const a3 = v128.load(px + 3 * sxb);
      const t0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7);
      const t3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
      v128.store(po, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
      v128.store(po + ob, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
      v128.store(po + 2 * ob, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
      v128.store(po + 3 * ob, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
      px += 4 * sxb;
      po += 16;
    }
    for (; i < n; i++) {
      for (let q = 0; q < 4; q++) store<f32>(po + <usize>q * ob, load<f32>(px + ((<usize>q) << 2)));
      px += sxb;
      po += 4;
    }
  }
  for (; r < rows; r++) {
    let px = x + ((<usize>r) << 2);
    let po = out + <usize>r * ob;
    for (let i = 0; i < n; i++) {
      store<f32>(po, load<f32>(px));
      px += sxb;
      po += 4;
    }
  }
}

/** out[p, r, i] = op(a[p·sap + r·sar + i·sa], b[p·sbp + r·sbr + i·sb]) (p < planes, ...). */
export function binary(
  op: i32,
  planes: i32,
  rows: i32,
  n: i32,
  a: usize,
  sap: i32,
  sar: i32,
  sa: i32,
  b: usize,
  sbp: i32,
  sbr: i32,
  sb: i32,
  out: usize,
): void {
  const sab = (<usize>sa) << 2;
  const sbb = (<usize>sb) << 2;
  const vector = (sa == 0 || sa == 1) && (sb == 0 || sb == 1);
  const va = (<usize>sa) << 4;
  const vb = (<usize>sb) << 4;
  for (let q = 0; q < planes; q++) {
    const aq = a + ((<usize>q * <usize>sap) << 2);
    const bq = b + ((<usize>q * <usize>sbp) << 2);
    const oq = out + ((<usize>q * <usize>rows * <usize>n) << 2);
    for (let r = 0; r < rows; r++) {
      let pa = aq + ((<usize>r * <usize>sar) << 2);
      let pb = bq + ((<usize>r * <usize>sbr) << 2);
      let po = oq + ((<usize>r * <usize>n) << 2);
      let i = 0;
      if (op == GELU_GRAD && sa == 1 && sb == 1) {
        i = n & ~3;
        geluGradRow(pa, pb, po, i);
        pa += (<usize>i) << 2;
        pb += (<usize>i) << 2;
        po += (<usize>i) << 2;
      } else if (vector) {
        for (; i + 4 <= n; i += 4) {
          v128.store(po, bin(op, lanes(pa, sa), lanes(pb, sb)));
          pa += va;
          pb += vb;
          po += 16;
        }
      }
      for (; i < n; i++) {
        const y = bin(op, f32x4.splat(load<f32>(pa)), f32x4.splat(load<f32>(pb)));
        store<f32>(po, f32x4.extract_lane(y, 0));
        pa += sab;
        pb += sbb;
        po += 4;
      }
    }
  }
}

/**
 * out[r, i] = cond[r·scr + i·sc] ? a[r·sar + i·sa] : b[r·sbr + i·sb]; cond is bytes (bool), a, b
 * and out float32.
 */
export function where(
  rows: i32,
  n: i32,
  c: usize,
  scr: i32,
  sc: i32,
  a: usize,
  sar: i32,
  sa: i32,
  b: usize,
  sbr: i32,
  sb: i32,
  out: usize,
): void {
  const sab = (<usize>sa) << 2;
  const sbb = (<usize>sb) << 2;
  const scb = <usize>sc;
  const vector = sc == 1 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1);
  const va = (<usize>sa) << 4;
  const vb = (<usize>sb) << 4;
  for (let r = 0; r < rows; r++) {
    let pc = c + <usize>r * <usize>scr;
    let pa = a + ((<usize>r * <usize>sar) << 2);
    let pb = b + ((<usize>r * <usize>sbr) << 2);
    let po = out + ((<usize>r * <usize>n) << 2);
    let i = 0;
    if (vector) {
      for (; i + 4 <= n; i += 4) {
        // Four condition bytes widened to four 32-bit lanes, then a lane mask.
        const bytes = v128.load32_zero(pc);
        const wide = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(bytes));
        const mask = i32x4.ne(wide, i32x4.splat(0));
        v128.store(po, v128.bitselect(lanes(pa, sa), lanes(pb, sb), mask));
        pc += 4;
        pa += va;
        pb += vb;
        po += 16;
      }
    }
    for (; i < n; i++) {
      store<f32>(po, load<u8>(pc) != 0 ? load<f32>(pa) : load<f32>(pb));
      pc += scb;
      pa += sab;
      pb += sbb;
      po += 4;
    }
  }
}
