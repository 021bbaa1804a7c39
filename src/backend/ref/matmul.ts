/**
 * Reference GEMM: cache-blocked and register-tiled, after the BLIS/GotoBLAS scheme (Goto & van de
 * Geijn, "Anatomy of High-Performance Matrix Multiplication", 2008). Blocks of A and B are packed
 * (reading any strides, so transposed operands cost nothing extra) into contiguous Float64Array
 * panels; a 4×4 micro-kernel keeps its 16 accumulators in locals and streams the panels.
 */
import type { View } from '../backend.js';
import { arrayOf } from './storage.js';

const MR = 4; // rows of the micro-tile
const NR = 4; // columns of the micro-tile
const KC = 256; // depth of a packed block: an A micro-panel (MR·KC) and B micro-panel stay in L1
const MC = 64; // rows of a packed A block (L2)
const NC = 1024; // columns of a packed B block

let packA = new Float64Array(MC * KC);
let packB = new Float64Array(KC * NC);

export function matmul(a: View, b: View, out: View): void {
  const [batch, M, K] = a.shape as [number, number, number];
  const N = b.shape[2]!;
  const A = arrayOf(a);
  const B = arrayOf(b);
  const O = arrayOf(out);
  const [sab, sam, sak] = a.strides as [number, number, number];
  const [sbb, sbk, sbn] = b.strides as [number, number, number];
  if (packB.length < KC * Math.min(NC, roundUp(N, NR))) packB = new Float64Array(KC * NC);
  if (packA.length < MC * KC) packA = new Float64Array(MC * KC);
  for (let t = 0; t < batch; t++) {
    const aBase = a.offset + t * sab;
    const bBase = b.offset + t * sbb;
    const oBase = out.offset + t * M * N;
    if (K === 0) {
      O.fill(0, oBase, oBase + M * N);
      continue;
    }
    for (let jc = 0; jc < N; jc += NC) {
      const nc = Math.min(NC, N - jc);
      for (let pc = 0; pc < K; pc += KC) {
        const kc = Math.min(KC, K - pc);
        packPanelsB(B, bBase + pc * sbk + jc * sbn, sbk, sbn, kc, nc);
        for (let ic = 0; ic < M; ic += MC) {
          const mc = Math.min(MC, M - ic);
          packPanelsA(A, aBase + ic * sam + pc * sak, sam, sak, mc, kc);
          for (let jr = 0; jr < nc; jr += NR) {
            const nr = Math.min(NR, nc - jr);
            for (let ir = 0; ir < mc; ir += MR) {
              const mr = Math.min(MR, mc - ir);
              microKernel(
                kc,
                ir * kc,
                jr * kc,
                O,
                oBase + (ic + ir) * N + jc + jr,
                N,
                mr,
                nr,
                pc > 0,
              );
            }
          }
        }
      }
    }
  }
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** Packs an mc×kc block of A into row panels of MR: panel p holds [k][r] (zero-padded rows). */
function packPanelsA(
  A: ArrayLike<number>,
  base: number,
  sm: number,
  sk: number,
  mc: number,
  kc: number,
): void {
  const P = packA;
  for (let ir = 0; ir < mc; ir += MR) {
    const dst = ir * kc;
    const rows = Math.min(MR, mc - ir);
    for (let r = 0; r < MR; r++) {
      if (r < rows) {
        let src = base + (ir + r) * sm;
        for (let k = 0; k < kc; k++, src += sk) P[dst + k * MR + r] = A[src]!;
      } else {
        for (let k = 0; k < kc; k++) P[dst + k * MR + r] = 0;
      }
    }
  }
}

/** Packs a kc×nc block of B into column panels of NR: panel p holds [k][c] (zero-padded cols). */
function packPanelsB(
  B: ArrayLike<number>,
  base: number,
  sk: number,
  sn: number,
  kc: number,
  nc: number,
): void {
  const P = packB;
  for (let jr = 0; jr < nc; jr += NR) {
    const dst = jr * kc;
    const cols = Math.min(NR, nc - jr);
    for (let k = 0; k < kc; k++) {
      const src = base + k * sk + jr * sn;
      const d = dst + k * NR;
      for (let c = 0; c < NR; c++) P[d + c] = c < cols ? B[src + c * sn]! : 0;
    }
  }
}

/** C[mr×nr] (+)= Apanel · Bpanel over kc, with 16 scalar accumulators. */
function microKernel(
  kc: number,
  aOff: number,
  bOff: number,
  C: Float32Array | Float64Array | Int32Array | Uint8Array,
  cOff: number,
  ldc: number,
  mr: number,
  nr: number,
  accumulate: boolean,
): void {
  const pa = packA;
  const pb = packB;
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0;
  let c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  let ia = aOff;
  let ib = bOff;
  for (let k = 0; k < kc; k++, ia += MR, ib += NR) {
    const a0 = pa[ia]!,
      a1 = pa[ia + 1]!,
      a2 = pa[ia + 2]!,
      a3 = pa[ia + 3]!;
    const b0 = pb[ib]!,
      b1 = pb[ib + 1]!,
      b2 = pb[ib + 2]!,
      b3 = pb[ib + 3]!;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
  }
  if (mr === MR && nr === NR) {
    let p = cOff;
    if (accumulate) {
      C[p] += c00;
      C[p + 1] += c01;
      C[p + 2] += c02;
      C[p + 3] += c03;
      p += ldc;
      C[p] += c10;
      C[p + 1] += c11;
      C[p + 2] += c12;
      C[p + 3] += c13;
      p += ldc;
      C[p] += c20;
      C[p + 1] += c21;
      C[p + 2] += c22;
      C[p + 3] += c23;
      p += ldc;
      C[p] += c30;
      C[p + 1] += c31;
      C[p + 2] += c32;
      C[p + 3] += c33;
    } else {
      C[p] = c00;
      C[p + 1] = c01;
      C[p + 2] = c02;
      C[p + 3] = c03;
      p += ldc;
      C[p] = c10;
      C[p + 1] = c11;
      C[p + 2] = c12;
      C[p + 3] = c13;
      p += ldc;
      C[p] = c20;
      C[p + 1] = c21;
      C[p + 2] = c22;
      C[p + 3] = c23;
      p += ldc;
      C[p] = c30;
      C[p + 1] = c31;
      C[p + 2] = c32;
      C[p + 3] = c33;
    }
    return;
  }
  // Edge tile: write only the valid mr×nr corner.
  const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let r = 0; r < mr; r++) {
    for (let c = 0; c < nr; c++) {
      const p = cOff + r * ldc + c;
      C[p] = (accumulate ? C[p]! : 0) + tile[r * NR + c]!;
    }
  }
}
