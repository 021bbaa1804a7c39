/**
 * Float32 GEMM for the wasm backend, in AssemblyScript (compiled by scripts/build-wasm.mjs).
 *
 * BLIS-style (Goto & van de Geijn 2008): blocks of A and B are packed, reading any strides, into
 * contiguous panels; a 4×8 micro-kernel keeps its tile in eight f32x4 accumulators. 4×8 rather than
 * 6×8: without a fused multiply-add a step needs a temporary beside the accumulators, the two B
 * vectors and the broadcast A value, and V8 keeps one of x64's 16 vector registers as scratch, so
 * 6×8 (12 accumulators) would spill.
 *
 * Addresses are byte offsets into this module's memory; strides are in elements. The caller (the
 * TypeScript side) copies the operands in, provides the scratch for the packed panels
 * (gemmScratchBytes) and copies the contiguous result out.
 */

const MR = 4; // rows of the micro-tile
const NR = 8; // columns of the micro-tile (two f32x4)
const KC = 256; // depth of a packed block: an A micro-panel and a B micro-panel stay in L1
const MC = 128; // rows of a packed A block (L2)
const NC = 1024; // columns of a packed B block (smaller measured faster at 1024³ than 2048)

/**
 * Bytes of scratch `gemm` needs: its packed panels (A block, then B block) and an edge tile (a
 * partial tile is computed there in full, then its valid corner copied to C). All of a call's
 * state is in its scratch, so calls with separate scratch could run on separate threads.
 */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) * 4;
}

/**
 * c[t] = a[t] · b[t] for t < batch: a[t] is M×K at `a + t·sab` (strides sam, sak), b[t] is K×N at
 * `b + t·sbb` (strides sbk, sbn), c is contiguous (batch, M, N).
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
  scratch: usize,
): void {
  const pa = scratch;
  const pb = scratch + <usize>(MC * KC * 4);
  const edgeTile = pb + <usize>(KC * NC * 4);
  const ldc = (<usize>N) << 2;
  for (let t = 0; t < batch; t++) {
    const aT = a + ((<usize>t * <usize>sab) << 2);
    const bT = b + ((<usize>t * <usize>sbb) << 2);
    const cT = c + ((<usize>t * <usize>M * <usize>N) << 2);
    if (K == 0) {
      memory.fill(cT, 0, (<usize>M * <usize>N) << 2);
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
              const cTile = cT + ((<usize>(ic + ir) * N + <usize>(jc + jr)) << 2);
              if (mr == MR && nr == NR) {
                micro(kc, paPanel, pbPanel, cTile, ldc, pc > 0);
              } else {
                micro(kc, paPanel, pbPanel, edgeTile, NR * 4, false);
                for (let r = 0; r < mr; r++) {
                  for (let q = 0; q < nr; q++) {
                    const dst = cTile + <usize>r * ldc + ((<usize>q) << 2);
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

/** Packs an mc×kc block of A into row panels of MR: panel p holds [k][r], rows past mc are 0. */
function packA(src: usize, sm: i32, sk: i32, mc: i32, kc: i32, dst: usize): void {
  const smb = (<usize>sm) << 2;
  const skb = (<usize>sk) << 2;
  for (let ir = 0; ir < mc; ir += MR) {
    const panel = dst + ((<usize>ir * kc) << 2);
    const rows = min(MR, mc - ir);
    if (rows == MR) {
      let s0 = src + <usize>ir * smb;
      let s1 = s0 + smb;
      let s2 = s1 + smb;
      let s3 = s2 + smb;
      let d = panel;
      for (let k = 0; k < kc; k++) {
        store<f32>(d, load<f32>(s0));
        store<f32>(d, load<f32>(s1), 4);
        store<f32>(d, load<f32>(s2), 8);
        store<f32>(d, load<f32>(s3), 12);
        s0 += skb;
        s1 += skb;
        s2 += skb;
        s3 += skb;
        d += 16;
      }
    } else {
      for (let r = 0; r < MR; r++) {
        let s = src + <usize>(ir + r) * smb;
        let d = panel + ((<usize>r) << 2);
        for (let k = 0; k < kc; k++) {
          store<f32>(d, r < rows ? load<f32>(s) : 0);
          s += skb;
          d += MR * 4;
        }
      }
    }
  }
}

/** Packs a kc×nc block of B into column panels of NR: panel p holds [k][c], cols past nc are 0. */
function packB(src: usize, sk: i32, sn: i32, kc: i32, nc: i32, dst: usize): void {
  const skb = (<usize>sk) << 2;
  const snb = (<usize>sn) << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    let s = src + <usize>jr * snb;
    let d = dst + ((<usize>jr * kc) << 2);
    if (cols == NR && sn == 1) {
      for (let k = 0; k < kc; k++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        s += skb;
        d += NR * 4;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let q = 0; q < NR; q++) {
          store<f32>(d + ((<usize>q) << 2), q < cols ? load<f32>(s + <usize>q * snb) : 0);
        }
        s += skb;
        d += NR * 4;
      }
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
    let x = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(x, b0));
    c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(x, b0));
    c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(x, b0));
    c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(x, b0));
    c31 = f32x4.add(c31, f32x4.mul(x, b1));
    pa += MR * 4;
    pb += NR * 4;
  }
  if (accumulate) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc));
    c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
    c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
    c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}
