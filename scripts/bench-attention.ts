/**
 * Attention benchmark (`npm run bench:attention`, not part of the tests): one forward + backward
 * of `scaledDotProductAttention` (float32, batch 1, 8 heads, head size 64 by default) with the
 * fused kernels and with the composite ops, at several sequence lengths: wall time and peak extra
 * memory of tensor buffers (memoryStats: bytes allocated inside a scope beyond q, k, v and the
 * output gradient, which exist before the step). Issue 5's target: under 64 MiB for the fused
 * attention at T = 4096.
 *
 * Options: --T 1024,2048,4096 (lengths), --composite-max 2048 (longest length the composite runs
 * at: it holds several (H, T, T) matrices), --heads 8, --head-size 64, --causal, --backend
 * native|ref (default: native when built), --threads n, --repeats 1.
 * Run with: node --import tsx scripts/bench-attention.ts [options]
 */
import os from 'node:os';
import * as nb from '../src/index.js';
import { nativeBackendInfo, setNumThreads, useNativeBackend } from '../src/backend/native/index.js';
import { cpuModel } from './bench-util.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const Ts = option('T', '1024,2048,4096').split(',').map(Number);
const compositeMax = Number(option('composite-max', '2048'));
const H = Number(option('heads', '8'));
const D = Number(option('head-size', '64'));
const causal = process.argv.includes('--causal');
const repeats = Number(option('repeats', '1'));
const backend = option('backend', nativeBackendInfo().available ? 'native' : 'ref');
if (backend === 'native') useNativeBackend();
else nb.setBackend(backend);
if (process.argv.includes('--threads')) setNumThreads(Number(option('threads', '1')));

const MiB = 2 ** 20;

/** Fastest forward + backward (ms) and its peak extra bytes. */
function step(T: number, fused: boolean): { ms: number; peak: number } {
  const g = new nb.Generator(0);
  const [q, k, v] = [0, 1, 2].map(() =>
    nb.keep(nb.randn([1, H, T, D], { generator: g, requiresGrad: true })),
  ) as [nb.Tensor, nb.Tensor, nb.Tensor];
  const dOut = nb.keep(nb.randn([1, H, T, D], { generator: g }));
  let best = Infinity;
  let peak = 0;
  for (let r = 0; r < repeats; r++) {
    for (const t of [q, k, v]) t.grad = null;
    const before = nb.memoryStats({ resetPeak: true }).liveBytes;
    const t0 = performance.now();
    nb.scope(() => {
      const out = nb.nn.F.scaledDotProductAttention(q, k, v, { isCausal: causal, fused });
      out.backward(dOut);
    });
    best = Math.min(best, performance.now() - t0);
    // Gradients of q, k, v are kept (3 · T·H·D floats): part of what one step leaves behind.
    peak = Math.max(peak, nb.memoryStats().peakBytes - before);
  }
  for (const t of [q, k, v, dOut]) t.dispose();
  return { ms: best, peak };
}

console.log(
  `attention forward+backward, float32, batch 1, ${H} heads, head size ${D}${causal ? ', causal' : ''}; ` +
    `backend ${backend}${backend === 'native' ? ` (${nativeBackendInfo().numThreads} threads)` : ''}; ` +
    `${cpuModel()}, ${os.cpus().length} logical CPUs`,
);
console.log('| T | fused ms | fused peak MiB | composite ms | composite peak MiB |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const T of Ts) {
  const f = step(T, true);
  const c = T <= compositeMax ? step(T, false) : null;
  console.log(
    `| ${T} | ${f.ms.toFixed(0)} | ${(f.peak / MiB).toFixed(2)} | ${c ? c.ms.toFixed(0) : '—'} | ${
      c ? (c.peak / MiB).toFixed(2) : '—'
    } |`,
  );
}
