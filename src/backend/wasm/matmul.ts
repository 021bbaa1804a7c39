/**
 * float32 matmul on the wasm backend: the operands' spans are copied into the wasm memory and the
 * packed, cache-blocked f32x4 GEMM (wasm/assembly/gemm.ts) reads them with their strides; with a
 * thread pool (src/backend/wasm/node/threads.ts), large products are split into batches or bands
 * of rows, one per thread. Other dtypes run the reference kernel.
 */
import type { View } from '../backend.js';
import { refBackend } from '../ref/index.js';
import { begin, alloc, wasmPool, kernelsOrNull } from './instance.js';
import { copyIn, copyOut, stagedBytes } from './stage.js';

// Below this many multiply-adds the workers are not woken (their round trip would not pay).
const MIN_THREADED = 64 * 64 * 64;

export function matmul(a: View, b: View, out: View): void {
  const k = kernelsOrNull();
  if (!k || a.dtype !== 'float32' || b.dtype !== 'float32' || out.dtype !== 'float32') {
    refBackend.kernels.matmul(a, b, out);
    return;
  }
  const [batch, M, K] = a.shape as [number, number, number];
  const N = b.shape[2]!;
  const size = batch * M * N;
  if (size === 0) return;
  const scratch = k.gemmScratchBytes();
  const threads = wasmPool()?.threads ?? 1;
  if (!begin(stagedBytes(a) + stagedBytes(b) + size * 4 + (scratch + 16) * threads + 16)) {
    refBackend.kernels.matmul(a, b, out);
    return;
  }
  const pa = copyIn(a);
  const pb = copyIn(b);
  const pc = alloc(size * 4);
  const ps = alloc(scratch);
  const [sab, sam, sak] = a.strides as [number, number, number];
  const [sbb, sbk, sbn] = b.strides as [number, number, number];
  const pool = wasmPool();
  if (pool && pool.threads > 1 && size * K >= MIN_THREADED) {
    // Each thread gets whole batches, or (one batch) a band of rows, and its own scratch.
    const t = pool.threads;
    const scratches = [ps];
    for (let i = 1; i < t; i++) scratches.push(alloc(scratch));
    const tasks: number[][] = [];
    if (batch >= t) {
      for (let i = 0; i < t; i++) {
        const b0 = Math.floor((batch * i) / t);
        const b1 = Math.floor((batch * (i + 1)) / t);
        tasks.push([
          b1 - b0,
          M,
          N,
          K,
          pa + b0 * sab * 4,
          sab,
          sam,
          sak,
          pb + b0 * sbb * 4,
          sbb,
          sbk,
          sbn,
          pc + b0 * M * N * 4,
          scratches[i]!,
        ]);
      }
    } else {
      // Bands of rows, multiples of the micro-kernel's 4, for each batch in turn.
      const band = Math.ceil(M / t / 4) * 4;
      for (let bt = 0; bt < batch; bt++) {
        for (let i = 0; i < t; i++) {
          const m0 = Math.min(M, i * band);
          const m1 = Math.min(M, m0 + band);
          const at = pa + (bt * sab + m0 * sam) * 4;
          const ct = pc + (bt * M + m0) * N * 4;
          tasks.push([
            m1 > m0 ? 1 : 0,
            m1 - m0,
            N,
            K,
            at,
            sab,
            sam,
            sak,
            pb + bt * sbb * 4,
            sbb,
            sbk,
            sbn,
            ct,
            scratches[i]!,
          ]);
        }
      }
    }
    for (let i = 0; i < tasks.length; i += t) pool.run(tasks.slice(i, i + t));
  } else {
    k.gemm(batch, M, N, K, pa, sab, sam, sak, pb, sbb, sbk, sbn, pc, ps);
  }
  copyOut(pc, size, out);
}
