/**
 * float32 matmul on the wasm backend: the operands' spans are copied into the wasm memory (unless
 * resident there, stage.ts) and the packed, cache-blocked f32x4 GEMM (wasm/assembly/gemm.ts; its relaxed-SIMD build where the
 * runtime has it) reads them with their strides; with a thread pool (src/backend/wasm/node/
 * threads.ts), large products are split into batches, or bands of rows or of columns, one per
 * thread. Other dtypes run the reference kernel.
 */
import type { View } from '../backend.js';
import { refBackend } from '../ref/index.js';
import {
  begin,
  alloc,
  wasmPool,
  kernelsOrNull,
  relaxedKernels,
  type RelaxedExports,
  type PoolKernel,
} from './instance.js';
import { copyIn, copyOut, output, outputBytes, stagedBytes } from './stage.js';

const ADD = 0; // the add op of the elementwise binary kernel (wasm/assembly/elementwise.ts)
const MR = 4; // the micro-kernel's rows and columns (wasm/assembly/gemm.ts): bands are multiples
const NR = 8;

/**
 * @internal Tuning, and hooks for the tests and benchmarks. `minThreadedMacs`: below this many
 * multiply-adds the workers are not woken: the copies in and out stay on this thread and the
 * other operand's packing is repeated per thread (scripts/bench-gemm.ts, 2 threads, best of
 * several quiet runs: relaxed 128³ 34 vs 45 GFLOP/s on one, 160³ about even, 192³ 53 vs 47).
 * `relaxedSimd`: false runs the plain-SIMD GEMM even where the relaxed one is available.
 */
export const gemmTuning = { minThreadedMacs: 176 * 176 * 176, relaxedSimd: true };

/** The GEMM that runs now, and its name for the pool. */
function chooseGemm(plain: RelaxedExports): { gemm: RelaxedExports; kernel: PoolKernel } {
  const r = gemmTuning.relaxedSimd ? relaxedKernels() : null;
  return r ? { gemm: r, kernel: 'gemmRelaxed' } : { gemm: plain, kernel: 'gemm' };
}

/**
 * out = a·b (+ bias on every row). The bias is added in the wasm memory before the product is
 * copied out (or in `out` itself, when resident), by the elementwise add kernel, so a linear layer
 * costs no second pass through JS.
 */
export function matmul(a: View, b: View, out: View, bias: View | null = null): void {
  const k = kernelsOrNull();
  const f32 = a.dtype === 'float32' && b.dtype === 'float32' && out.dtype === 'float32';
  if (!k || !f32 || (bias && bias.dtype !== 'float32')) {
    refBackend.kernels.matmul(a, b, out, bias);
    return;
  }
  const [batch, M, K] = a.shape as [number, number, number];
  const N = b.shape[2]!;
  const size = batch * M * N;
  if (size === 0) return;
  const { gemm, kernel } = chooseGemm(k);
  const scratch = gemm.gemmScratchBytes();
  const pool = wasmPool();
  const threads = pool && size * K >= gemmTuning.minThreadedMacs ? pool.threads : 1;
  const biasBytes = bias ? stagedBytes(bias) : 0;
  const inputs = [a, b, bias];
  const outBytes = outputBytes(out, size, inputs);
  if (!begin(stagedBytes(a) + stagedBytes(b) + biasBytes + outBytes + (scratch + 16) * threads)) {
    refBackend.kernels.matmul(a, b, out, bias);
    return;
  }
  const pa = copyIn(a);
  const pb = copyIn(b);
  const pc = output(out, size, inputs);
  const scratches = [alloc(scratch)];
  const [sab, sam, sak] = a.strides as [number, number, number];
  const [sbb, sbk, sbn] = b.strides as [number, number, number];
  // Adds the bias in place, then copies the product out.
  const finish = (): void => {
    if (bias) k.binary(ADD, 1, batch * M, N, pc, 0, N, 1, copyIn(bias), 0, 0, bias.strides[0]!, pc);
    copyOut(pc, size, out);
  };
  if (!pool || threads === 1) {
    gemm.gemm(batch, M, N, K, pa, sab, sam, sak, pb, sbb, sbk, sbn, pc, N, scratches[0]!);
    finish();
    return;
  }
  for (let i = 1; i < threads; i++) scratches.push(alloc(scratch));
  const tasks: number[][] = [];
  if (batch >= threads) {
    // Whole batches per thread.
    for (let i = 0; i < threads; i++) {
      const b0 = Math.floor((batch * i) / threads);
      const b1 = Math.floor((batch * (i + 1)) / threads);
      const at = pa + b0 * sab * 4;
      const bt = pb + b0 * sbb * 4;
      const ct = pc + b0 * M * N * 4;
      tasks.push([b1 - b0, M, N, K, at, sab, sam, sak, bt, sbb, sbk, sbn, ct, N, scratches[i]!]);
    }
    pool.run(tasks, kernel);
  } else {
    // Each batch in turn, in bands: each thread packs its part of one operand and all of the other,
    // so the bands cut the larger of M and N (rows: every thread packs all of B; columns: all of A).
    const byColumns = N > M;
    const step = byColumns ? NR : MR;
    const extent = byColumns ? N : M;
    const band = Math.ceil(extent / threads / step) * step;
    for (let t = 0; t < batch; t++) {
      tasks.length = 0;
      for (let i = 0; i < threads; i++) {
        const lo = Math.min(extent, i * band);
        const hi = Math.min(extent, lo + band);
        const at = pa + (t * sab + (byColumns ? 0 : lo * sam)) * 4;
        const bt = pb + (t * sbb + (byColumns ? lo * sbn : 0)) * 4;
        const ct = pc + (t * M * N + (byColumns ? lo : lo * N)) * 4;
        const [m, n] = byColumns ? [M, hi - lo] : [hi - lo, N];
        tasks.push([
          hi > lo ? 1 : 0,
          m,
          n,
          K,
          at,
          sab,
          sam,
          sak,
          bt,
          sbb,
          sbk,
          sbn,
          ct,
          N,
          scratches[i]!,
        ]);
      }
      pool.run(tasks, kernel);
    }
  }
  finish();
}
