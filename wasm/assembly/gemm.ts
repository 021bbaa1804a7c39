/**
 * Float32 GEMM for the wasm backend, in AssemblyScript (compiled by scripts/build-wasm.mjs).
 *
 * BLIS-style (Goto & van de Geijn 2008): blocks of A and B are packed, reading any strides, into
 * contiguous panels; a 4×8 micro-kernel keeps its tile in eight f32x4 accumulators. The same source
 * is built twice: plain SIMD (a multiply and an add per step) and, in the relaxed-SIMD companion
 * module, one fused multiply-add per step (`madd`, simd.ts), used where the runtime has it.
 *
 * Why 4×8 for both: V8's TurboFan (Node 20) schedules all of a step's loads before its arithmetic,
 * so the registers a step needs are accumulators + B vectors + loaded A values; with x64's 16
 * vector registers (V8 keeps one as scratch), 6×8, 5×8 and 4×12 spilled and ran about half as
 * fast. The A values are one vector load, broadcast per row by shuffles (which V8 schedules next to
 * their use); 4×8 with FMA then runs at the core's FMA peak (measured ~25 GMAC/s, as fast as 3×12
 * and 5×8 with the same trick).
 *
 * Addresses are byte offsets into this module's memory; strides are in elements. The caller (the
 * TypeScript side) copies the operands in, provides the scratch for the packed panels
 * (gemmScratchBytes) and copies the result out.
 */
import { madd, storeTile, transposeStore } from './simd';

const MR = 4; // rows of the micro-tile
const NR = 8; // columns of the micro-tile (two f32x4)
const KC = 256; // depth of a packed block: an A micro-panel and a B micro-panel stay in L1
const MC = 128; // rows of a packed A block (L2)
const NC = 1024; // columns of a packed B block (smaller measured faster at 1024³ than 2048)

/**
 * Bytes of scratch `gemm` needs: its packed panels (A block, then B block) and an edge tile (a
 * partial tile is computed there in full, then its valid corner copied to C). All of a call's
 * state is in its scratch, so calls with separate scratch can run on separate threads.
 */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) * 4;
}

/**
 * c[t] = a[t] · b[t] for t < batch: a[t] is M×K at `a + t·sab` (strides sam, sak), b[t] is K×N at
 * `b + t·sbb` (strides sbk, sbn), c[t] is M×N at `c + t·M·ldc` with rows `ldc` elements apart (a
 * band of columns of a wider C, when threads split N).
 */
export function gemm(
  batch: i32,
  M: i32,
  N: i32,
  K: i32,
  a: usize,
  sab: i32,
  sam: i32,
  sak: i32,
  b: usize,
  sbb: i32,
  sbk: i32,
  sbn: i32,
  c: usize,
  ldc: i32,
  scratch: usize,
): void {
  const pa = scratch;
  const pb = scratch + <usize>(MC * KC * 4);
  const edgeTile = pb + <usize>(KC * NC * 4);
  const ldcb = (<usize>ldc) << 2;
  for (let t = 0; t < batch; t++) {
    const aT = a + ((<usize>t * <usize>sab) << 2);
    const bT = b + ((<usize>t * <usize>sbb) << 2);
    const cT = c + <usize>t * <usize>M * ldcb;
    if (K == 0) {
      for (let i = 0; i < M; i++) memory.fill(cT + <usize>i * ldcb, 0, (<usize>N) << 2);
      continue;
    }
    for (let jc = 0; jc < N; jc += NC) {
      const nc = min(NC, N - jc);
      for (let pc = 0; pc < K; pc += KC) {
        const kc = min(KC, K - pc);
        packB(bT + ((<usize>pc * sbk + <usize>jc * sbn) << 2), sbk, sbn, kc, nc, pb);
        for (let ic = 0; ic < M; ic += MC) {
          const mc = min(MC, M - ic);
          packA(aT + ((<usize>ic * sam + <usize>pc * sak) << 2), sam, sak, mc, kc, pa);
          for (let jr = 0; jr < nc; jr += NR) {
            const nr = min(NR, nc - jr);
            const pbPanel = pb + ((<usize>jr * kc) << 2);
            for (let ir = 0; ir < mc; ir += MR) {
              const mr = min(MR, mc - ir);
              const paPanel = pa + ((<usize>ir * kc) << 2);
              const cTile = cT + <usize>(ic + ir) * ldcb + ((<usize>(jc + jr)) << 2);
              if (mr == MR && nr == NR) {
                micro(kc, paPanel, pbPanel, cTile, ldcb, pc > 0);
              } else {
                micro(kc, paPanel, pbPanel, edgeTile, NR * 4, false);
                for (let r = 0; r < mr; r++) {
                  for (let q = 0; q < nr; q++) {
                    const dst = cTile + <usize>r * ldcb + ((<usize>q) << 2);
                    const v = load<f32>(edgeTile + ((<usize>(r * NR + q)) << 2));
                    store<f32>(dst, pc > 0 ? load<f32>(dst) + v : v);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Packs an mc×kc block of A into row panels of MR: panel p holds [k][r], rows past mc are 0.
 * Row-major A (sk = 1) goes through 4×4 transposes; transposed A (sm = 1) is a vector copy.
 */
function packA(src: usize, sm: i32, sk: i32, mc: i32, kc: i32, dst: usize): void {
  const smb = (<usize>sm) << 2;
  const skb = (<usize>sk) << 2;
  for (let ir = 0; ir < mc; ir += MR) {
    const panel = dst + ((<usize>ir * kc) << 2);
    const rows = min(MR, mc - ir);
    let s = src + <usize>ir * smb;
    let d = panel;
    let k = 0;
    if (rows == MR && sm == 1) {
      for (; k < kc; k++) {
        v128.store(d, v128.load(s));
        s += skb;
        d += MR * 4;
      }
    } else if (rows == MR && sk == 1) {
      for (; k + 4 <= kc; k += 4) {
        const r0 = v128.load(s);
        const r1 = v128.load(s + smb);
        const r2 = v128.load(s + 2 * smb);
        const r3 = v128.load(s + 3 * smb);
        transposeStore(d, MR * 4, r0, r1, r2, r3);
        s += 16;
        d += MR * 16;
      }
    }
    // What is left: the generic path, zero rows past mc.
    for (; k < kc; k++) {
      for (let r = 0; r < MR; r++) {
        store<f32>(d + ((<usize>r) << 2), r < rows ? load<f32>(s + <usize>r * smb) : 0);
      }
      s += skb;
      d += MR * 4;
    }
  }
}

/**
 * Packs a kc×nc block of B into column panels of NR: panel p holds [k][c], cols past nc are 0.
 * Row-major B (sn = 1) is a vector copy; transposed B (sk = 1) goes through 4×4 transposes.
 */
function packB(src: usize, sk: i32, sn: i32, kc: i32, nc: i32, dst: usize): void {
  const skb = (<usize>sk) << 2;
  const snb = (<usize>sn) << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    let s = src + <usize>jr * snb;
    let d = dst + ((<usize>jr * kc) << 2);
    let k = 0;
    if (cols == NR && sn == 1) {
      for (; k < kc; k++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += skb;
        d += NR * 4;
      }
    } else if (cols == NR && sk == 1) {
      for (; k + 4 <= kc; k += 4) {
        transposeStore(
          d,
          NR * 4,
          v128.load(s),
          v128.load(s + snb),
          v128.load(s + 2 * snb),
          v128.load(s + 3 * snb),
        );
        transposeStore(
          d + 16,
          NR * 4,
          v128.load(s + 4 * snb),
          v128.load(s + 5 * snb),
          v128.load(s + 6 * snb),
          v128.load(s + 7 * snb),
        );
        s += 16;
        d += NR * 16;
      }
    }
    // What is left: the generic path, zero columns past nc.
    for (; k < kc; k++) {
      for (let q = 0; q < NR; q++) {
        store<f32>(d + ((<usize>q) << 2), q < cols ? load<f32>(s + <usize>q * snb) : 0);
      }
      s += skb;
      d += NR * 4;
    }
  }
}

/** C[4×8] (+)= A panel · B panel over kc steps; ldc is C's row stride in bytes. */
function micro(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, accumulate: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const a = v128.load(pa);
    let x = i32x4.shuffle(a, a, 0, 0, 0, 0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = i32x4.shuffle(a, a, 1, 1, 1, 1);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = i32x4.shuffle(a, a, 2, 2, 2, 2);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = i32x4.shuffle(a, a, 3, 3, 3, 3);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    pa += MR * 4;
    pb += NR * 4;
  }
  storeTile(c, ldc, accumulate, c00, c01, c10, c11, c20, c21, c30, c31);
}
