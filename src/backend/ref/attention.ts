/**
 * Fused ("flash") attention for the reference backend: FlashAttention's tiled forward with an
 * online softmax (Dao et al., 2022; Milakov & Gimelshein, 2018) and FlashAttention-2's backward
 * (Dao, 2023). Per batch entry only O(L·E + S·E) scratch is used: the (L, S) scores and
 * probabilities exist one tile (BQ × BK) at a time, and the backward recomputes them from q, k
 * and the saved row log-sum-exp, so memory stays linear in the sequence length.
 *
 * Inputs are packed per batch entry into float64 rows (q pre-multiplied by the scale), which makes
 * the inner loops contiguous whatever the views' strides; masks are read in place, so a stride-0
 * broadcast mask is never expanded.
 */
import type { AttentionParams, View } from '../backend.js';
import { arrayOf } from './storage.js';

/** Query rows and key rows per tile. */
const BQ = 32;
const BK = 64;

/** Element offsets of every batch entry of `v` (whose last two dims are the matrix). */
function batchOffsets(v: View): Float64Array {
  const nb = v.shape.length - 2;
  let count = 1;
  for (let d = 0; d < nb; d++) count *= v.shape[d]!;
  const offs = new Float64Array(count);
  const idx = new Array<number>(nb).fill(0);
  let off = v.offset;
  for (let b = 0; b < count; b++) {
    offs[b] = off;
    for (let d = nb - 1; d >= 0; d--) {
      idx[d]!++;
      off += v.strides[d]!;
      if (idx[d]! < v.shape[d]!) break;
      off -= v.strides[d]! * v.shape[d]!;
      idx[d] = 0;
    }
  }
  return offs;
}

/** Copies the (R, C) matrix at `off` of view `v` into dst (row-major), times `factor`. */
function pack(v: View, off: number, R: number, C: number, dst: Float64Array, factor = 1): void {
  const src = arrayOf(v);
  const sr = v.strides[v.shape.length - 2]!;
  const sc = v.strides[v.shape.length - 1]!;
  for (let r = 0; r < R; r++) {
    const base = off + r * sr;
    for (let c = 0; c < C; c++) dst[r * C + c] = (src[base + c * sc] as number) * factor;
  }
}

/** Reads the masks and causality of one batch entry: the score of (i, j) is finite iff visible. */
interface Masking {
  allowed: ArrayLike<number> | null;
  aOff: number;
  aRow: number;
  aCol: number;
  bias: ArrayLike<number> | null;
  bOff: number;
  bRow: number;
  bCol: number;
  /** Causal offset, or +∞ when there is no causal mask. */
  causal: number;
}

function masking(
  allowed: View | null,
  bias: View | null,
  aOffs: Float64Array | null,
  bOffs: Float64Array | null,
  b: number,
  params: AttentionParams,
): Masking {
  const nd = (allowed ?? bias)?.shape.length ?? 0;
  return {
    allowed: allowed ? (arrayOf(allowed) as ArrayLike<number>) : null,
    aOff: aOffs ? aOffs[b]! : 0,
    aRow: allowed ? allowed.strides[nd - 2]! : 0,
    aCol: allowed ? allowed.strides[nd - 1]! : 0,
    bias: bias ? (arrayOf(bias) as ArrayLike<number>) : null,
    bOff: bOffs ? bOffs[b]! : 0,
    bRow: bias ? bias.strides[nd - 2]! : 0,
    bCol: bias ? bias.strides[nd - 1]! : 0,
    causal: params.causalOffset ?? Infinity,
  };
}

/**
 * Scores of query row i (packed, pre-scaled, at qa[qi..]) against keys j0..j1−1 into s[0..],
 * with masked entries -∞. Returns the row maximum of the tile.
 */
function tileRow(
  qa: Float64Array,
  qi: number,
  ka: Float64Array,
  E: number,
  i: number,
  j0: number,
  j1: number,
  m: Masking,
  s: Float64Array,
): number {
  let mx = -Infinity;
  const jc = Math.min(j1, Math.floor(i + m.causal) + 1); // keys >= jc are in the future
  for (let j = j0; j < j1; j++) {
    let x: number;
    if (j >= jc || (m.allowed !== null && m.allowed[m.aOff + i * m.aRow + j * m.aCol] === 0)) {
      x = -Infinity;
    } else {
      x = 0;
      const kj = j * E;
      for (let e = 0; e < E; e++) x += qa[qi + e]! * ka[kj + e]!;
      if (m.bias !== null) x += m.bias[m.bOff + i * m.bRow + j * m.bCol]!;
    }
    s[j - j0] = x;
    if (x > mx) mx = x;
  }
  return mx;
}

/** Whether the causal mask hides every key of the tile [j0, …) from every query of [i0, i1). */
function tileHidden(i1: number, j0: number, causal: number): boolean {
  return j0 > i1 - 1 + causal;
}

export function attentionForward(
  q: View,
  k: View,
  v: View,
  allowed: View | null,
  bias: View | null,
  params: AttentionParams,
  out: View,
  lse: View,
): void {
  const nd = q.shape.length;
  const L = q.shape[nd - 2]!;
  const E = q.shape[nd - 1]!;
  const S = k.shape[nd - 2]!;
  const Ev = v.shape[nd - 1]!;
  const qOffs = batchOffsets(q);
  const kOffs = batchOffsets(k);
  const vOffs = batchOffsets(v);
  const aOffs = allowed ? batchOffsets(allowed) : null;
  const bOffs = bias ? batchOffsets(bias) : null;
  const o = arrayOf(out);
  const ls = arrayOf(lse);
  const qa = new Float64Array(L * E);
  const ka = new Float64Array(S * E);
  const va = new Float64Array(S * Ev);
  const s = new Float64Array(BK);
  const rowMax = new Float64Array(BQ);
  const rowSum = new Float64Array(BQ);
  const acc = new Float64Array(BQ * Ev);
  for (let b = 0; b < qOffs.length; b++) {
    pack(q, qOffs[b]!, L, E, qa, params.scale);
    pack(k, kOffs[b]!, S, E, ka);
    pack(v, vOffs[b]!, S, Ev, va);
    const m = masking(allowed, bias, aOffs, bOffs, b, params);
    for (let i0 = 0; i0 < L; i0 += BQ) {
      const i1 = Math.min(L, i0 + BQ);
      rowMax.fill(-Infinity);
      rowSum.fill(0);
      acc.fill(0);
      for (let j0 = 0; j0 < S; j0 += BK) {
        if (tileHidden(i1, j0, m.causal)) break;
        const j1 = Math.min(S, j0 + BK);
        for (let i = i0; i < i1; i++) {
          const r = i - i0;
          const mb = tileRow(qa, i * E, ka, E, i, j0, j1, m, s);
          if (mb === -Infinity) continue; // nothing visible in this tile
          // Online softmax: rescale what was accumulated under the old maximum.
          const mOld = rowMax[r]!;
          const mNew = mb > mOld ? mb : mOld;
          const ar = r * Ev;
          if (mNew !== mOld) {
            const alpha = Math.exp(mOld - mNew); // 0 when mOld = -∞
            rowSum[r]! *= alpha;
            for (let c = 0; c < Ev; c++) acc[ar + c]! *= alpha;
            rowMax[r] = mNew;
          }
          let l = rowSum[r]!;
          for (let j = j0; j < j1; j++) {
            const x = s[j - j0]!;
            if (x === -Infinity) continue;
            const p = Math.exp(x - mNew);
            l += p;
            const vj = j * Ev;
            for (let c = 0; c < Ev; c++) acc[ar + c]! += p * va[vj + c]!;
          }
          rowSum[r] = l;
        }
      }
      const base = b * L;
      for (let i = i0; i < i1; i++) {
        const r = i - i0;
        const l = rowSum[r]!;
        const oi = (base + i) * Ev;
        if (l === 0) {
          // Fully masked row: zeros, as the composite's safe softmax gives.
          for (let c = 0; c < Ev; c++) o[oi + c] = 0;
          ls[base + i] = -Infinity;
        } else {
          const inv = 1 / l;
          for (let c = 0; c < Ev; c++) o[oi + c] = acc[r * Ev + c]! * inv;
          ls[base + i] = rowMax[r]! + Math.log(l);
        }
      }
    }
  }
}

export function attentionBackward(
  q: View,
  k: View,
  v: View,
  allowed: View | null,
  bias: View | null,
  params: AttentionParams,
  out: View,
  lse: View,
  dOut: View,
  dq: View,
  dk: View,
  dv: View,
): void {
  const nd = q.shape.length;
  const L = q.shape[nd - 2]!;
  const E = q.shape[nd - 1]!;
  const S = k.shape[nd - 2]!;
  const Ev = v.shape[nd - 1]!;
  const scale = params.scale;
  const qOffs = batchOffsets(q);
  const kOffs = batchOffsets(k);
  const vOffs = batchOffsets(v);
  const oOffs = batchOffsets(out);
  const gOffs = batchOffsets(dOut);
  const aOffs = allowed ? batchOffsets(allowed) : null;
  const bOffs = bias ? batchOffsets(bias) : null;
  const ls = arrayOf(lse);
  const dqo = arrayOf(dq);
  const dko = arrayOf(dk);
  const dvo = arrayOf(dv);
  const qa = new Float64Array(L * E);
  const ka = new Float64Array(S * E);
  const va = new Float64Array(S * Ev);
  const oa = new Float64Array(L * Ev);
  const ga = new Float64Array(L * Ev);
  const Di = new Float64Array(L);
  const dqa = new Float64Array(L * E);
  const dka = new Float64Array(S * E);
  const dva = new Float64Array(S * Ev);
  const s = new Float64Array(BK);
  for (let b = 0; b < qOffs.length; b++) {
    pack(q, qOffs[b]!, L, E, qa, scale);
    pack(k, kOffs[b]!, S, E, ka);
    pack(v, vOffs[b]!, S, Ev, va);
    pack(out, oOffs[b]!, L, Ev, oa);
    pack(dOut, gOffs[b]!, L, Ev, ga);
    // D_i = rowsum(dO ∘ O) = Σ_j P_ij·dP_ij, the softmax backward's correction term.
    for (let i = 0; i < L; i++) {
      let d = 0;
      for (let c = 0; c < Ev; c++) d += ga[i * Ev + c]! * oa[i * Ev + c]!;
      Di[i] = d;
    }
    dqa.fill(0);
    dka.fill(0);
    dva.fill(0);
    const m = masking(allowed, bias, aOffs, bOffs, b, params);
    // Key blocks outside, query blocks inside: dk, dv of a key block are finished in one sweep.
    for (let j0 = 0; j0 < S; j0 += BK) {
      const j1 = Math.min(S, j0 + BK);
      for (let i0 = 0; i0 < L; i0 += BQ) {
        const i1 = Math.min(L, i0 + BQ);
        if (tileHidden(i1, j0, m.causal)) continue;
        for (let i = i0; i < i1; i++) {
          const li = ls[b * L + i] as number;
          if (li === -Infinity) continue; // fully masked row: no gradient
          tileRow(qa, i * E, ka, E, i, j0, j1, m, s);
          const qi = i * E;
          const gi = i * Ev;
          const di = Di[i]!;
          for (let j = j0; j < j1; j++) {
            const x = s[j - j0]!;
            if (x === -Infinity) continue;
            const p = Math.exp(x - li);
            const vj = j * Ev;
            let dp = 0;
            for (let c = 0; c < Ev; c++) {
              dva[vj + c]! += p * ga[gi + c]!;
              dp += ga[gi + c]! * va[vj + c]!;
            }
            const ds = p * (dp - di); // ∂L/∂score_ij
            const kj = j * E;
            const dsq = ds * scale;
            for (let e = 0; e < E; e++) {
              dqa[qi + e]! += dsq * ka[kj + e]!;
              dka[kj + e]! += ds * qa[qi + e]!; // qa is already scaled
            }
          }
        }
      }
    }
    dqo.set(dqa, b * L * E);
    dko.set(dka, b * S * E);
    dvo.set(dva, b * S * Ev);
  }
}
