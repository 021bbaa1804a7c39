/**
 * float32 reductions (sum, max, min) over one merged axis k of a view whose kept axes merge into
 * at most two (i, j): out[i·nj + j] = reduce over k < nk of x[i·si + j·sj + k·sk], nk ≥ 1. Sums
 * accumulate in float64, as the reference kernel does; max and min return NaN if any element is.
 */

const SUM = 0;
const MAX = 1;

/** Horizontal sum of two f64x2 accumulators. */
function hsum(a: v128, b: v128): f64 {
  const s = f64x2.add(a, b);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** max (op 1) or min (op 2) of two f32x4, NaN-propagating. */
function pick(op: i32, a: v128, b: v128): v128 {
  return op == MAX ? f32x4.max(a, b) : f32x4.min(a, b);
}

/** Scalar max/min with the same NaN rule. */
function pick1(op: i32, a: f32, b: f32): f32 {
  return f32x4.extract_lane(pick(op, f32x4.splat(a), f32x4.splat(b)), 0);
}

/** `scratch` must hold nj float64 (used when j is the contiguous axis). */
export function reduce(
  op: i32,
  ni: i32,
  nj: i32,
  nk: i32,
  x: usize,
  si: i32,
  sj: i32,
  sk: i32,
  out: usize,
  scratch: usize,
): void {
  const skb = (<usize>sk) << 2;
  const sjb = (<usize>sj) << 2;
  if (sk != 1 && sj == 1 && nj >= 4) {
    // Vectorize across j: accumulate whole rows of the kept axis.
    for (let i = 0; i < ni; i++) {
      const row = x + ((<usize>i * <usize>si) << 2);
      const o = out + ((<usize>i * <usize>nj) << 2);
      if (op == SUM) {
        memory.fill(scratch, 0, (<usize>nj) << 3);
        for (let k = 0; k < nk; k++) {
          const p = row + <usize>k * skb;
          let j = 0;
          for (; j + 4 <= nj; j += 4) {
            const v = v128.load(p + ((<usize>j) << 2));
            const acc = scratch + ((<usize>j) << 3);
            v128.store(acc, f64x2.add(v128.load(acc), f64x2.promote_low_f32x4(v)));
            const hi = v128.shuffle<f32>(v, v, 2, 3, 0, 1);
            v128.store(acc, f64x2.add(v128.load(acc, 16), f64x2.promote_low_f32x4(hi)), 16);
          }
          for (; j < nj; j++) {
            const acc = scratch + ((<usize>j) << 3);
            store<f64>(acc, load<f64>(acc) + <f64>load<f32>(p + ((<usize>j) << 2)));
          }
        }
        for (let j = 0; j < nj; j++) {
          store<f32>(o + ((<usize>j) << 2), <f32>load<f64>(scratch + ((<usize>j) << 3)));
        }
      } else {
        memory.copy(o, row, (<usize>nj) << 2);
        for (let k = 1; k < nk; k++) {
          const p = row + <usize>k * skb;
          let j = 0;
          for (; j + 4 <= nj; j += 4) {
            const q = o + ((<usize>j) << 2);
            v128.store(q, pick(op, v128.load(q), v128.load(p + ((<usize>j) << 2))));
          }
          for (; j < nj; j++) {
            const q = o + ((<usize>j) << 2);
            store<f32>(q, pick1(op, load<f32>(q), load<f32>(p + ((<usize>j) << 2))));
          }
        }
      }
    }
    return;
  }
  for (let i = 0; i < ni; i++) {
    for (let j = 0; j < nj; j++) {
      let p = x + ((<usize>i * <usize>si) << 2) + <usize>j * sjb;
      const o = out + ((<usize>i * <usize>nj + <usize>j) << 2);
      let k = 0;
      if (op == SUM) {
        let total: f64 = 0;
        if (sk == 1) {
          let a0 = f64x2.splat(0);
          let a1 = a0;
          for (; k + 4 <= nk; k += 4) {
            const v = v128.load(p);
            a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
            a1 = f64x2.add(a1, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
            p += 16;
          }
          total = hsum(a0, a1);
        }
        for (; k < nk; k++) {
          total += <f64>load<f32>(p);
          p += skb;
        }
        store<f32>(o, <f32>total);
      } else {
        let m = f32x4.splat(load<f32>(p));
        if (sk == 1) {
          for (; k + 4 <= nk; k += 4) {
            m = pick(op, m, v128.load(p));
            p += 16;
          }
          m = pick(op, m, v128.shuffle<f32>(m, m, 2, 3, 0, 1));
          m = pick(op, m, v128.shuffle<f32>(m, m, 1, 0, 3, 2));
        }
        let acc = f32x4.extract_lane(m, 0);
        for (; k < nk; k++) {
          acc = pick1(op, acc, load<f32>(p));
          p += skb;
        }
        store<f32>(o, acc);
      }
    }
  }
}
