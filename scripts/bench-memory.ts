/**
 * Memory soak (`npm run bench:memory`, not part of the tests): trains a small GPT for many steps
 * (default 10,000) the way nabla's trainer does — each step inside `nb.scope`, AdamW, gradient
 * clipping — and samples the process's resident set size (RSS), the V8 heap and nabla's own
 * counters (`memoryStats`: live tensor buffers and the buffer pool; on wasm, the bytes of tensors
 * resident in the wasm memory and that memory's size) every `--every` steps. A leak
 * shows as RSS or live buffers rising after warm-up; the summary prints their change between the
 * first sample after warm-up and the last.
 *
 * Usage: node --expose-gc --import tsx scripts/bench-memory.ts [--steps N] [--every N]
 *        [--backend ref|wasm|native] [--sync]
 * With --sync the loop never lets the event loop turn (no FinalizationRegistry callbacks: tensors
 * dropped without dispose() are never freed), the worst case for the wasm backend's resident
 * storage, which then falls back to typed arrays at its bound.
 */
import * as nb from '../src/index.node.js';
import { wasmHeap } from '../src/backend/wasm/instance.js';
import { residentLiveBytes } from '../src/backend/wasm/resident.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const STEPS = Number(arg('steps', '10000'));
const EVERY = Number(arg('every', '1000'));
const BACKEND = arg('backend', '');
const SYNC = process.argv.includes('--sync');
if (!(STEPS > 0 && EVERY > 0)) throw new Error('--steps and --every must be positive');
if (BACKEND) nb.setBackend(BACKEND);

const gc = (globalThis as { gc?: () => void }).gc;
const MiB = 2 ** 20;
nb.manualSeed(0);
const B = 8;
const T = 32;
const V = 65;
const model = new nb.models.GPT({ vocabSize: V, blockSize: T, nLayer: 2, nHead: 2, nEmbd: 64 });
const opt = new nb.optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.1 });
const g = new nb.Generator(1);

interface Sample {
  step: number;
  rssMiB: number;
  heapMiB: number;
  liveMiB: number;
  liveBuffers: number;
  poolMiB: number;
  residentMiB: number;
  wasmMiB: number;
  msPerStep: number;
  loss: number;
}
const samples: Sample[] = [];
let lastStep = 0;
let lastTime = performance.now();
function sample(step: number, loss: number): void {
  const msPerStep = (performance.now() - lastTime) / Math.max(1, step - lastStep);
  gc?.();
  const m = nb.memoryStats();
  const u = process.memoryUsage();
  samples.push({
    step,
    rssMiB: u.rss / MiB,
    heapMiB: u.heapUsed / MiB,
    liveMiB: m.liveBytes / MiB,
    liveBuffers: m.liveBuffers,
    poolMiB: m.pool.bytes / MiB,
    residentMiB: residentLiveBytes() / MiB,
    wasmMiB: (wasmHeap()?.memory.buffer.byteLength ?? 0) / MiB,
    msPerStep,
    loss,
  });
  lastStep = step;
  lastTime = performance.now();
}

console.log(
  `memory soak: GPT (2 layers, 2 heads, width 64, vocab ${V}, T ${T}, B ${B}), AdamW, ${STEPS} steps on ${nb.getBackend().name}` +
    (gc ? ', gc() before each sample' : ' (run with --expose-gc for steadier heap samples)') +
    (SYNC ? ', never yielding to the event loop' : ''),
);
const started = performance.now();
for (let step = 1; step <= STEPS; step++) {
  const loss = nb.scope(() => {
    const x = nb.randint(0, V, [B, T], { generator: g });
    const y = nb.randint(0, V, [B, T], { generator: g });
    opt.zeroGrad();
    const l = model.forward(x, y).loss!;
    l.backward();
    nb.nn.utils.clipGradNorm(model.parameters(), 1);
    opt.step();
    return l.item();
  });
  if (step === 1 || step % EVERY === 0) sample(step, loss);
  // Let the event loop turn now and then, as a real training loop does (progress output,
  // checkpoints): FinalizationRegistry callbacks, which uncount buffers dropped without dispose()
  // (the gradients zeroGrad() lets go), only run then.
  if (!SYNC && step % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
}
const seconds = (performance.now() - started) / 1000;

console.table(
  samples.map((s) => ({
    step: s.step,
    'RSS MiB': s.rssMiB.toFixed(1),
    'heap MiB': s.heapMiB.toFixed(1),
    'live buffers': s.liveBuffers,
    'live MiB': s.liveMiB.toFixed(2),
    'pool MiB': s.poolMiB.toFixed(2),
    'resident MiB': s.residentMiB.toFixed(2),
    'wasm memory MiB': s.wasmMiB.toFixed(1),
    'ms/step': s.msPerStep.toFixed(1),
    loss: s.loss.toFixed(4),
  })),
);
// Warm-up: the first sample after step 1 (the pool and V8 have reached their working size).
const first = samples[Math.min(1, samples.length - 1)]!;
const last = samples[samples.length - 1]!;
const span = last.step - first.step;
console.log(
  `${STEPS} steps in ${seconds.toFixed(1)} s; from step ${first.step} to ${last.step}: ` +
    `RSS ${(last.rssMiB - first.rssMiB).toFixed(1)} MiB, heap ${(last.heapMiB - first.heapMiB).toFixed(1)} MiB, ` +
    `live buffers ${last.liveBuffers - first.liveBuffers} (${(last.liveMiB - first.liveMiB).toFixed(2)} MiB)` +
    (span > 0
      ? `, i.e. ${((1024 * (last.rssMiB - first.rssMiB)) / span).toFixed(2)} KiB of RSS per step`
      : ''),
);
