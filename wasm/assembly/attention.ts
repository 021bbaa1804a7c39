/**
 * Fused float32 attention (FlashAttention's forward with an online softmax, FlashAttention-2's
 * backward), with the semantics of the reference kernels (src/backend/ref/attention.ts): per batch
 * entry, q (pre-multiplied by the scale), k and v are packed, and the (L, S) scores exist one tile
 * of up to TILE keys at a time. Every product of tiles (q·kᵀ, p·v, pᵀ·dO, dO·vᵀ, dS·k, dSᵀ·q) runs
 * through a 4×8 f32x4 micro-kernel (as in gemm.ts), the softmax steps four lanes at a time.
 *
 * The arguments are a parameter block (offsets P_* below, written by src/backend/wasm/attention.ts)
 * and a range of batch entries [b0, b1) with its own scratch, so that ranges can run on separate
 * threads. A table holds each batch entry's element offsets of q, k, v, the masks, the saved output
 * and its gradient (T_* words of 8).
 */

import { madd, storeTile, transposeStore } from './simd';
import { EXP_CONSTANT_BYTES, placeExpConstants, vexp, vexpSmall } from './vmath';

// Parameter block: i32 words, then two f64. Keep in step with src/backend/wasm/attention.ts.
const P_L = 0;
const P_S = 4;
const P_E = 8;
const P_EV = 12;
const P_FLAGS = 16; // bit 0: causal, 1: allowed mask, 2: bias
const P_TABLE = 20;
const P_Q = 24;
const P_K = 36;
const P_V = 48;
const P_A = 60;
const P_B = 72;
const P_O = 84; // the saved output (backward)
const P_LSE = 96;
const P_G = 100; // dOut (backward)
const P_OUT = 112; // out (forward) or dq (backward): contiguous
const P_DK = 116;
const P_DV = 120;
const P_SCALE = 128;
const P_CAUSAL = 136;

const CAUSAL = 1;
const ALLOWED = 2;
const BIAS = 4;

// Words of a batch entry in the table.
const T_Q = 0;
const T_K = 1;
const T_V = 2;
const T_A = 3;
const T_B = 4;
const T_O = 5;
const T_G = 6;
const T_WORDS = 8;

/**
 * Keys per tile, and the row stride of the scores tiles: the micro-kernel reads four rows of a tile
 * at constant offsets. GPT-sized sequences (T ≤ 128) then fit one tile: each product of the
 * backward runs once over its whole depth, instead of accumulating tile by tile (with the
 * micro-kernels below, the GPT's backward measured 1.17× faster than with 32 × 32 tiles and four A
 * addresses); the tiles stay small (two of 18 KiB in the backward). 64 query rows per tile
 * measured no faster.
 */
const TILE = 128;
/**
 * Query rows per tile of the forward (wider rows of scores mean fewer rescalings of the online
 * softmax) and of the backward (a multiple of 4: the packed panels below).
 */
const FBQ = 32;
const BQ = 32;
/** Floats of slack after each panel: the micro-kernel reads up to 3 rows and 7 columns past. */
const SLACK = 64;

const NEG_INF = f32x4.splat(-Infinity);

/** The address of element (r, c) of a view whose row and column strides are at p + 4, p + 8. */
// @inline
function stride(params: usize, p: i32, which: i32): i32 {
  return load<i32>(params + <usize>(p + 4 * which));
}

/** Bytes of scratch one thread needs for [b0, b1) of a forward (backward = 0) or backward. */
export function attentionScratchBytes(L: i32, S: i32, E: i32, Ev: i32, backward: i32): i32 {
  let floats: i32;
  if (backward) {
    floats =
      (L + 4) * E * 2 + // qs: panels and rows
      (S + 4) * E + // k
      E * S + // kᵀ
      Ev * S + // vᵀ
      (L + 4) * Ev * 2 + // dO: panels and rows
      L + // D
      2 * (BQ + 4) * TILE + // p, dS tiles
      BQ + // ends
      32 + // edge tile
      12 * SLACK; // one per block (take), twelve blocks
  } else {
    floats =
      (L + 4) * E + // qs panels
      E * S + // kᵀ
      (S + 4) * Ev + // v
      (FBQ + 4) * TILE + // scores / p tile
      FBQ * Ev + // accumulators
      3 * FBQ + // row max, row sum, ends
      32 + // edge tile
      9 * SLACK; // one per block (take), nine blocks
  }
  return floats * 4 + 16 * 12 + EXP_CONSTANT_BYTES; // each block's alignment, e^x's constants
}

/** Bump allocation inside a scratch block (16-byte aligned). */
let cursor: usize = 0;
function take(floats: i32): usize {
  const p = cursor;
  cursor = (cursor + ((<usize>(floats + SLACK)) << 2) + 15) & ~(<usize>15);
  return p;
}

/**
 * Packs the (R, C) matrix at `src` (strides sr, sc in elements) times `factor`, in one pass over
 * it: a row-major copy at `rows` (row stride C; none when 0), and groups of four rows column by
 * column at `t` (none when 0): rows 4g … 4g + 3 of column c are the four floats at t + 4·(g·tg +
 * c·tc). With tg = 4, tc = R that is the transpose (R a multiple of 4 or not); with tg = 4·C,
 * tc = 4 the panels the micro-kernel reads four rows of per step, and then a last partial group is
 * padded with zero rows (`pad`).
 */
function pack(
  src: usize,
  sr: i32,
  sc: i32,
  R: i32,
  C: i32,
  factor: f32,
  rows: usize,
  t: usize,
  tg: i32,
  tc: i32,
  pad: bool,
): void {
  const srb = (<usize>sr) << 2;
  const scb = (<usize>sc) << 2;
  const tgb = (<usize>tg) << 2;
  const tcb = (<usize>tc) << 2;
  const ldr = (<usize>C) << 2;
  const f = f32x4.splat(factor);
  let r = 0;
  if (sc == 1) {
    // 4×4 blocks: four row vectors, copied and transposed into four column vectors.
    for (; r + 4 <= R; r += 4) {
      const s = src + <usize>r * srb;
      const d = rows + <usize>r * ldr;
      const g = t + <usize>(r >> 2) * tgb;
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const o = (<usize>c) << 2;
        const r0 = f32x4.mul(v128.load(s + o), f);
        const r1 = f32x4.mul(v128.load(s + srb + o), f);
        const r2 = f32x4.mul(v128.load(s + 2 * srb + o), f);
        const r3 = f32x4.mul(v128.load(s + 3 * srb + o), f);
        if (rows) {
          v128.store(d + o, r0);
          v128.store(d + ldr + o, r1);
          v128.store(d + 2 * ldr + o, r2);
          v128.store(d + 3 * ldr + o, r3);
        }
        if (t) transposeStore(g + <usize>c * tcb, tcb, r0, r1, r2, r3);
      }
      for (; c < C; c++) {
        for (let q = 0; q < 4; q++) {
          const x = load<f32>(s + <usize>q * srb + ((<usize>c) << 2)) * factor;
          if (rows) store<f32>(d + <usize>q * ldr + ((<usize>c) << 2), x);
          if (t) store<f32>(g + <usize>c * tcb + ((<usize>q) << 2), x);
        }
      }
    }
  }
  // What is left, element by element; then the zero rows that complete the last group.
  const end = pad ? (R + 3) & ~3 : R;
  for (; r < end; r++) {
    const s = src + <usize>r * srb;
    const d = rows + <usize>r * ldr;
    const g = t + <usize>(r >> 2) * tgb + ((<usize>(r & 3)) << 2);
    for (let c = 0; c < C; c++) {
      const x = r < R ? load<f32>(s + <usize>c * scb) * factor : 0;
      if (rows && r < R) store<f32>(d + ((<usize>c) << 2), x);
      if (t) store<f32>(g + <usize>c * tcb, x);
    }
  }
}

/*
 * The micro-kernels: C[4×8] (+)= A·B over k steps, C's rows ldc bytes apart, B's rows (eight
 * contiguous columns) at b, stepping ldb bytes. A's four values of a step are read with load-splats
 * at constant offsets from one address (an offset folds into the load, where each further address
 * costs an add per step), and the loop runs on B's address alone: with fewer instructions per step
 * the loop is nearer to being bound by the multiply-adds than by instruction issue. (Two steps per
 * iteration ran slower: V8 hoists both steps' loads to the top, and the registers spill.)
 */

/** A's four values of a step contiguous at a (packed panels, or 4 keys of a tile row), a += sak. */
function microPacked(
  k: i32,
  a: usize,
  sak: usize,
  b: usize,
  ldb: usize,
  c: usize,
  ldc: usize,
  accumulate: bool,
): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  const end = b + <usize>k * ldb;
  for (; b < end; b += ldb) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    a += sak;
  }
  storeTile(c, ldc, accumulate, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** A is four rows of a scores tile (TILE floats apart) at a, read along them: a += 4 per step. */
function microTile(
  k: i32,
  a: usize,
  b: usize,
  ldb: usize,
  c: usize,
  ldc: usize,
  accumulate: bool,
): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  const end = b + <usize>k * ldb;
  for (; b < end; b += ldb) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, TILE * 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a, TILE * 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a, TILE * 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    a += 4;
  }
  storeTile(c, ldc, accumulate, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** The 4×8 tile of scratch where partial tiles are computed whole. */
let edge: usize = 0;

/**
 * The products' modes: how mm finds A and which micro-kernel reads it, and how it skips what the
 * causal mask hides inside a tile, from `ends` (i32 per query row r of the tile: keys [0, ends[r])
 * are visible, non-decreasing in r). The skipped products are zero (the masked probabilities and dS
 * are stored as zeros) or never read: on diagonal tiles about half of the work.
 */
/**
 * C (query rows × keys) = A (query rows, packed in panels of four: `pack` with tg = 4·k, tc = 4) ·
 * B: only the 8-column blocks that some row of the 4-row block sees.
 */
const COLS = 0;
/**
 * C (query rows) += A (a scores tile: query rows × keys, row stride TILE) · B (keys): k runs over
 * the keys the block sees.
 */
const KEYS = 1;
/**
 * C (keys) += A (the transpose of a scores tile: keys × query rows) · B (query rows): k starts at
 * the first row seeing the block.
 */
const ROWS = 2;

/**
 * C (m × n, row stride ldc) (+)= A (m × k, laid out as `mode` says) · B (k × n, row-major, row
 * stride ldb), less what `mode` skips. Strides in elements. Partial tiles at the edges are computed
 * in the edge tile (reading up to 3 rows of A and 7 columns of B past their ends, which the panels'
 * slack allows) and only their valid corner is stored.
 */
function mm(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  b: usize,
  ldb: i32,
  c: usize,
  ldc: i32,
  accumulate: bool,
  mode: i32,
  ends: usize,
): void {
  const ldbb = (<usize>ldb) << 2;
  const ldcb = (<usize>ldc) << 2;
  let k0 = 0; // ROWS: the first query row that sees key i (rises with i)
  for (let i = 0; i < m; i += 4) {
    const mr = min(4, m - i);
    let nEnd = n;
    let k1 = k;
    if (mode == ROWS) {
      while (k0 < k && load<i32>(ends + ((<usize>k0) << 2)) <= i) k0++;
      if (k0 == k) break;
    } else {
      const last = load<i32>(ends + ((<usize>(i + mr - 1)) << 2));
      if (mode == COLS) nEnd = last;
      else k1 = last;
      if (last == 0) continue;
    }
    // A's rows i … i + 3 at step k0, and its step in bytes.
    let ai = a + ((<usize>(i * TILE)) << 2); // KEYS
    let sak: usize = TILE * 4;
    if (mode == COLS) {
      ai = a + ((<usize>(i * k)) << 2);
      sak = 16;
    } else if (mode == ROWS) {
      ai = a + ((<usize>(i + k0 * TILE)) << 2);
    }
    const bi = b + <usize>k0 * ldbb;
    const ci = c + <usize>i * ldcb;
    for (let j = 0; j < nEnd; j += 8) {
      const nr = min(8, n - j);
      const bj = bi + ((<usize>j) << 2);
      const whole = mr == 4 && nr == 8;
      const cij = whole ? ci + ((<usize>j) << 2) : edge;
      const ld = whole ? ldcb : 32;
      if (mode == KEYS) microTile(k1 - k0, ai, bj, ldbb, cij, ld, accumulate && whole);
      else microPacked(k1 - k0, ai, sak, bj, ldbb, cij, ld, accumulate && whole);
      if (!whole) {
        const cj = ci + ((<usize>j) << 2);
        for (let r = 0; r < mr; r++) {
          for (let q = 0; q < nr; q++) {
            const dst = cj + <usize>r * ldcb + ((<usize>q) << 2);
            const v = load<f32>(edge + ((<usize>(r * 8 + q)) << 2));
            store<f32>(dst, accumulate ? load<f32>(dst) + v : v);
          }
        }
      }
    }
  }
}

/** Masking state of the current batch entry. */
let flags = 0;
let causal: f64 = 0;
let maskA: usize = 0;
let sar: i32 = 0;
let sac: i32 = 0;
let biasB: usize = 0;
let sbr: i32 = 0;
let sbc: i32 = 0;

/** The first key hidden from query i by the causal mask (j ≥ it), within [lo, hi]. */
// @inline
function causalEnd(i: i32, lo: i32, hi: i32): i32 {
  if (!(flags & CAUSAL)) return hi;
  const e = Math.floor(<f64>i + causal) + 1;
  return e <= <f64>lo ? lo : e >= <f64>hi ? hi : <i32>e;
}

/** Whether the causal mask hides keys j0… from every query of [i0, i1). */
// @inline
function tileHidden(i1: i32, j0: i32): bool {
  return (flags & CAUSAL) != 0 && <f64>j0 > <f64>(i1 - 1) + causal;
}

/** ends[r] = the keys of [j0, j0 + nj) that the causal mask shows query i0 + r, for r < ni. */
function tileEnds(ends: usize, i0: i32, ni: i32, j0: i32, nj: i32): void {
  for (let r = 0; r < ni; r++) {
    store<i32>(ends + ((<usize>r) << 2), causalEnd(i0 + r, j0, j0 + nj) - j0);
  }
}

/** x rounded up to a multiple of 4: the rows' lanes that the vector loops cover. */
// @inline
function up4(x: i32): i32 {
  return (x + 3) & ~3;
}

/**
 * Of row r of a tile, the lanes that mm (KEYS) reads: up to the last row of r's 4-row block's end,
 * rounded to whole vectors.
 */
// @inline
function rowReach(ends: usize, r: i32, ni: i32): i32 {
  return up4(load<i32>(ends + ((<usize>min(r | 3, ni - 1)) << 2)));
}

/** row[j] = x for j in [from, to). */
function fillRow(row: usize, from: i32, to: i32, x: f32): void {
  let j = from;
  for (; j < to && (j & 3) != 0; j++) store<f32>(row + ((<usize>j) << 2), x);
  const v = f32x4.splat(x);
  for (; j + 4 <= to; j += 4) v128.store(row + ((<usize>j) << 2), v);
  for (; j < to; j++) store<f32>(row + ((<usize>j) << 2), x);
}

/**
 * Masks row i of a scores tile (at `row`, keys j0 … j0 + jc − 1 the causal mask shows, jc > 0):
 * bias added, −∞ where the allowed mask is false, and −∞ in the lanes [jc, up4(jc)) so that the row
 * is whole vectors. Returns the row maximum.
 */
function maskRow(row: usize, i: i32, j0: i32, jc: i32): f32 {
  if (flags & (ALLOWED | BIAS)) {
    const pa = maskA + <usize>i * <usize>sar;
    const pb = biasB + ((<usize>i * <usize>sbr) << 2);
    for (let j = 0; j < jc; j++) {
      const q = row + ((<usize>j) << 2);
      const jj = <usize>(j0 + j);
      if (flags & ALLOWED && load<u8>(pa + jj * <usize>sac) == 0) {
        store<f32>(q, -Infinity);
      } else if (flags & BIAS) {
        store<f32>(q, load<f32>(q) + load<f32>(pb + ((jj * <usize>sbc) << 2)));
      }
    }
  }
  const n4 = up4(jc);
  fillRow(row, jc, n4, -Infinity);
  let m = NEG_INF;
  for (let j = 0; j < n4; j += 4) m = f32x4.pmax(m, v128.load(row + ((<usize>j) << 2)));
  return max(
    max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)),
    max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)),
  );
}

/** Below this, e^x is taken as 0: larger values stay normal floats (e^−87 ≈ 1.6e−38). */
const EXP_FLOOR: f32 = -30;

/**
 * row[j] = e^(row[j] − shift) for j < n4 (a multiple of 4): 0 where row[j] − shift < −87 (−∞
 * included), so that masked and negligible entries never make subnormal floats, each of which costs
 * x86 a microcode assist (here in e^x's scaling, and later in the products of the tiles): the
 * forward ran 1.5× slower with them. Returns the sum.
 */
function expRow(row: usize, n4: i32, shift: f32): f32 {
  const s = f32x4.splat(shift);
  const floor = f32x4.splat(EXP_FLOOR);
  let sum = f32x4.splat(0);
  for (let j = 0; j < n4; j += 4) {
    const p = row + ((<usize>j) << 2);
    const d = f32x4.sub(v128.load(p), s);
    // pmax keeps NaN (which stays NaN, as in ref); lanes below the floor become 0.
    const e = v128.andnot(vexpSmall(f32x4.pmax(d, floor)), f32x4.lt(d, floor));
    v128.store(p, e);
    sum = f32x4.add(sum, e);
  }
  return (
    f32x4.extract_lane(sum, 0) +
    f32x4.extract_lane(sum, 1) +
    (f32x4.extract_lane(sum, 2) + f32x4.extract_lane(sum, 3))
  );
}

/**
 * ln x for a positive normal x (a row sum of the softmax: ≥ 1), to about 1e-15: x = m·2^e with m in
 * [√½, √2), ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| < 0.172, by its series. Not Math.log:
 * AssemblyScript's reads tables from static data, which the relaxed-SIMD build may not have.
 */
function logPositive(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  let e = <i32>(bits >> 52) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  if (m > Math.SQRT2) {
    m *= 0.5;
    e++;
  }
  const s = (m - 1) / (m + 1);
  const z = s * s;
  const series =
    1 +
    z * (1.0 / 3 + z * (1.0 / 5 + z * (1.0 / 7 + z * (1.0 / 9 + z * (1.0 / 11 + z * (1.0 / 13))))));
  return <f64>e * Math.LN2 + 2 * s * series;
}

/** Reads the masks' addresses and the flags for batch entry `b` of the table. */
function setMasks(params: usize, entry: usize): void {
  flags = load<i32>(params + P_FLAGS);
  causal = load<f64>(params + P_CAUSAL);
  maskA = <usize>load<i32>(params + P_A) + <usize>load<i32>(entry + (T_A << 2));
  sar = stride(params, P_A, 1);
  sac = stride(params, P_A, 2);
  biasB = <usize>load<i32>(params + P_B) + ((<usize>load<i32>(entry + (T_B << 2))) << 2);
  sbr = stride(params, P_B, 1);
  sbc = stride(params, P_B, 2);
}

/** The address of matrix `which` (P_Q, ...) of a batch entry: base + 4·offset. */
// @inline
function matrix(params: usize, entry: usize, which: i32, t: i32): usize {
  return (
    <usize>load<i32>(params + <usize>which) + ((<usize>load<i32>(entry + ((<usize>t) << 2))) << 2)
  );
}

export function attentionForward(params: usize, b0: i32, b1: i32, scratch: usize): void {
  const L = load<i32>(params + P_L);
  const S = load<i32>(params + P_S);
  const E = load<i32>(params + P_E);
  const Ev = load<i32>(params + P_EV);
  const scale = <f32>load<f64>(params + P_SCALE);
  cursor = (scratch + 15) & ~(<usize>15);
  placeExpConstants(cursor); // (the relaxed-SIMD build's: it has no static data)
  cursor += EXP_CONSTANT_BYTES;
  const qs = take((L + 4) * E);
  const kt = take(E * S);
  const vp = take((S + 4) * Ev);
  const tile = take((FBQ + 4) * TILE);
  const acc = take(FBQ * Ev);
  const rowMax = take(FBQ);
  const rowSum = take(FBQ);
  const ends = take(FBQ);
  edge = take(32);
  const table = <usize>load<i32>(params + P_TABLE);
  const out = <usize>load<i32>(params + P_OUT);
  const lse = <usize>load<i32>(params + P_LSE);
  for (let b = b0; b < b1; b++) {
    const entry = table + <usize>(b * T_WORDS * 4);
    // qs in panels of four rows (the A of q·kᵀ), kᵀ, v row-major.
    pack(
      matrix(params, entry, P_Q, T_Q),
      stride(params, P_Q, 1),
      stride(params, P_Q, 2),
      L,
      E,
      scale,
      0,
      qs,
      4 * E,
      4,
      true,
    );
    pack(
      matrix(params, entry, P_K, T_K),
      stride(params, P_K, 1),
      stride(params, P_K, 2),
      S,
      E,
      1,
      0,
      kt,
      4,
      S,
      false,
    );
    pack(
      matrix(params, entry, P_V, T_V),
      stride(params, P_V, 1),
      stride(params, P_V, 2),
      S,
      Ev,
      1,
      vp,
      0,
      0,
      0,
      false,
    );
    setMasks(params, entry);
    for (let i0 = 0; i0 < L; i0 += FBQ) {
      const ni = min(FBQ, L - i0);
      for (let r = 0; r < ni; r++) {
        store<f32>(rowMax + ((<usize>r) << 2), -Infinity);
        store<f32>(rowSum + ((<usize>r) << 2), 0);
      }
      memory.fill(acc, 0, (<usize>(ni * Ev)) << 2);
      for (let j0 = 0; j0 < S; j0 += TILE) {
        if (tileHidden(i0 + ni, j0)) break;
        const nj = min(TILE, S - j0);
        tileEnds(ends, i0, ni, j0, nj);
        mm(
          ni,
          nj,
          E,
          qs + ((<usize>(i0 * E)) << 2),
          kt + ((<usize>j0) << 2),
          S,
          tile,
          TILE,
          false,
          COLS,
          ends,
        );
        for (let r = 0; r < ni; r++) {
          const row = tile + ((<usize>(r * TILE)) << 2);
          const jc = load<i32>(ends + ((<usize>r) << 2));
          const reach = rowReach(ends, r, ni);
          const mb = jc > 0 ? maskRow(row, i0 + r, j0, jc) : -Infinity;
          if (mb == -Infinity) {
            // Nothing visible in this tile: a zero row of p adds nothing.
            fillRow(row, 0, reach, 0);
            continue;
          }
          // Online softmax: rescale what was accumulated under the old maximum.
          const pm = rowMax + ((<usize>r) << 2);
          const ps = rowSum + ((<usize>r) << 2);
          const mOld = load<f32>(pm);
          if (mb > mOld) {
            const d = mOld - mb;
            const alpha = f32x4.splat(
              d < EXP_FLOOR ? 0 : f32x4.extract_lane(vexp(f32x4.splat(d)), 0),
            );
            store<f32>(ps, load<f32>(ps) * f32x4.extract_lane(alpha, 0));
            const ar = acc + ((<usize>(r * Ev)) << 2);
            let c = 0;
            for (; c + 4 <= Ev; c += 4) {
              const p = ar + ((<usize>c) << 2);
              v128.store(p, f32x4.mul(v128.load(p), alpha));
            }
            for (; c < Ev; c++) {
              const p = ar + ((<usize>c) << 2);
              store<f32>(p, load<f32>(p) * f32x4.extract_lane(alpha, 0));
            }
            store<f32>(pm, mb);
          }
          store<f32>(ps, load<f32>(ps) + expRow(row, up4(jc), load<f32>(pm)));
          fillRow(row, up4(jc), reach, 0);
        }
        mm(ni, Ev, nj, tile, vp + ((<usize>(j0 * Ev)) << 2), Ev, acc, Ev, true, KEYS, ends);
      }
      for (let r = 0; r < ni; r++) {
        const i = i0 + r;
        const l = load<f32>(rowSum + ((<usize>r) << 2));
        const o = out + ((<usize>((b * L + i) * Ev)) << 2);
        const pl = lse + ((<usize>(b * L + i)) << 2);
        if (l == 0) {
          // Fully masked row: zeros, as the composite's safe softmax gives.
          memory.fill(o, 0, (<usize>Ev) << 2);
          store<f32>(pl, -Infinity);
        } else {
          const inv = <f32>1 / l;
          const ar = acc + ((<usize>(r * Ev)) << 2);
          for (let c = 0; c < Ev; c++) {
            store<f32>(o + ((<usize>c) << 2), load<f32>(ar + ((<usize>c) << 2)) * inv);
          }
          store<f32>(pl, <f32>(<f64>load<f32>(rowMax + ((<usize>r) << 2)) + logPositive(<f64>l)));
        }
      }
    }
  }
}

export function attentionBackward(params: usize, b0: i32, b1: i32, scratch: usize): void {
  const L = load<i32>(params + P_L);
  const S = load<i32>(params + P_S);
  const E = load<i32>(params + P_E);
  const Ev = load<i32>(params + P_EV);
  const scale = <f32>load<f64>(params + P_SCALE);
  cursor = (scratch + 15) & ~(<usize>15);
  placeExpConstants(cursor); // (the relaxed-SIMD build's: it has no static data)
  cursor += EXP_CONSTANT_BYTES;
  const qs4 = take((L + 4) * E);
  const qs = take((L + 4) * E);
  const kp = take((S + 4) * E);
  const kt = take(E * S);
  const vt = take(Ev * S);
  const go4 = take((L + 4) * Ev);
  const go = take((L + 4) * Ev);
  const D = take(L);
  const pt = take((BQ + 4) * TILE);
  const ds = take((BQ + 4) * TILE);
  const ends = take(BQ);
  edge = take(32);
  const table = <usize>load<i32>(params + P_TABLE);
  const lse = <usize>load<i32>(params + P_LSE);
  const dqAll = <usize>load<i32>(params + P_OUT);
  const dkAll = <usize>load<i32>(params + P_DK);
  const dvAll = <usize>load<i32>(params + P_DV);
  const sor = stride(params, P_O, 1);
  const soc = stride(params, P_O, 2);
  for (let b = b0; b < b1; b++) {
    const entry = table + <usize>(b * T_WORDS * 4);
    // qs and dO row-major (the B of dSᵀ·qs, pᵀ·dO) and in panels (the A of qs·kᵀ, dO·vᵀ); k
    // row-major (the B of dS·k) and transposed (the B of qs·kᵀ); vᵀ (the B of dO·vᵀ).
    pack(
      matrix(params, entry, P_Q, T_Q),
      stride(params, P_Q, 1),
      stride(params, P_Q, 2),
      L,
      E,
      scale,
      qs,
      qs4,
      4 * E,
      4,
      true,
    );
    pack(
      matrix(params, entry, P_K, T_K),
      stride(params, P_K, 1),
      stride(params, P_K, 2),
      S,
      E,
      1,
      kp,
      kt,
      4,
      S,
      false,
    );
    pack(
      matrix(params, entry, P_V, T_V),
      stride(params, P_V, 1),
      stride(params, P_V, 2),
      S,
      Ev,
      1,
      0,
      vt,
      4,
      S,
      false,
    );
    pack(
      matrix(params, entry, P_G, T_G),
      stride(params, P_G, 1),
      stride(params, P_G, 2),
      L,
      Ev,
      1,
      go,
      go4,
      4 * Ev,
      4,
      true,
    );
    // D_i = rowsum(dO ∘ O) = Σ_j P_ij·dP_ij, the softmax backward's correction term.
    const ob = matrix(params, entry, P_O, T_O);
    for (let i = 0; i < L; i++) {
      const gi = go + ((<usize>(i * Ev)) << 2);
      const oi = ob + ((<usize>(i * sor)) << 2);
      let c = 0;
      let d4 = f32x4.splat(0);
      if (soc == 1) {
        for (; c + 4 <= Ev; c += 4) {
          const o = (<usize>c) << 2;
          d4 = madd(v128.load(gi + o), v128.load(oi + o), d4);
        }
      }
      let d =
        f32x4.extract_lane(d4, 0) +
        f32x4.extract_lane(d4, 1) +
        (f32x4.extract_lane(d4, 2) + f32x4.extract_lane(d4, 3));
      for (; c < Ev; c++) {
        d += load<f32>(gi + ((<usize>c) << 2)) * load<f32>(oi + ((<usize>(c * soc)) << 2));
      }
      store<f32>(D + ((<usize>i) << 2), d);
    }
    setMasks(params, entry);
    const dq = dqAll + ((<usize>(b * L * E)) << 2);
    const dk = dkAll + ((<usize>(b * S * E)) << 2);
    const dv = dvAll + ((<usize>(b * S * Ev)) << 2);
    memory.fill(dq, 0, (<usize>(L * E)) << 2);
    memory.fill(dk, 0, (<usize>(S * E)) << 2);
    memory.fill(dv, 0, (<usize>(S * Ev)) << 2);
    const lb = lse + ((<usize>(b * L)) << 2);
    // Key blocks outside, query blocks inside: dk, dv of a key block are finished in one sweep.
    for (let j0 = 0; j0 < S; j0 += TILE) {
      const nj = min(TILE, S - j0);
      for (let i0 = 0; i0 < L; i0 += BQ) {
        const ni = min(BQ, L - i0);
        if (tileHidden(i0 + ni, j0)) continue;
        tileEnds(ends, i0, ni, j0, nj);
        mm(
          ni,
          nj,
          E,
          qs4 + ((<usize>(i0 * E)) << 2),
          kt + ((<usize>j0) << 2),
          S,
          pt,
          TILE,
          false,
          COLS,
          ends,
        );
        let any = false;
        for (let r = 0; r < ni; r++) {
          const row = pt + ((<usize>(r * TILE)) << 2);
          const jc = load<i32>(ends + ((<usize>r) << 2));
          // A fully masked row (lse −∞) or one with nothing visible here: no gradient.
          const li = load<f32>(lb + ((<usize>(i0 + r)) << 2));
          if (li == -Infinity || jc == 0 || maskRow(row, i0 + r, j0, jc) == -Infinity) {
            fillRow(row, 0, rowReach(ends, r, ni), 0);
            continue;
          }
          expRow(row, up4(jc), li);
          any = true;
        }
        if (!any) continue;
        // dv[j] += pᵀ·dO[i]
        mm(
          nj,
          Ev,
          ni,
          pt,
          go + ((<usize>(i0 * Ev)) << 2),
          Ev,
          dv + ((<usize>(j0 * Ev)) << 2),
          Ev,
          true,
          ROWS,
          ends,
        );
        // dP = dO[i]·vᵀ, then dS = p ∘ (dP − D_i)
        mm(
          ni,
          nj,
          Ev,
          go4 + ((<usize>(i0 * Ev)) << 2),
          vt + ((<usize>j0) << 2),
          S,
          ds,
          TILE,
          false,
          COLS,
          ends,
        );
        for (let r = 0; r < ni; r++) {
          const pr = pt + ((<usize>(r * TILE)) << 2);
          const dr = ds + ((<usize>(r * TILE)) << 2);
          const di = f32x4.splat(load<f32>(D + ((<usize>(i0 + r)) << 2)));
          const jc = load<i32>(ends + ((<usize>r) << 2));
          for (let j = 0; j < jc; j += 4) {
            const o = (<usize>j) << 2;
            v128.store(dr + o, f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(dr + o), di)));
          }
          // Exact zeros where hidden (dP is not computed past the row's reach).
          fillRow(dr, jc, rowReach(ends, r, ni), 0);
        }
        // dq[i] += dS·k[j] (scaled at the end); dk[j] += dSᵀ·qs[i] (qs is already scaled)
        mm(
          ni,
          E,
          nj,
          ds,
          kp + ((<usize>(j0 * E)) << 2),
          E,
          dq + ((<usize>(i0 * E)) << 2),
          E,
          true,
          KEYS,
          ends,
        );
        mm(
          nj,
          E,
          ni,
          ds,
          qs + ((<usize>(i0 * E)) << 2),
          E,
          dk + ((<usize>(j0 * E)) << 2),
          E,
          true,
          ROWS,
          ends,
        );
      }
    }
    const n = L * E;
    const sc = f32x4.splat(scale);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const p = dq + ((<usize>i) << 2);
      v128.store(p, f32x4.mul(v128.load(p), sc));
    }
    for (; i < n; i++) {
      const p = dq + ((<usize>i) << 2);
      store<f32>(p, load<f32>(p) * scale);
    }
  }
}
