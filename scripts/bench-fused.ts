/**
 * Fused training kernels, on vs off (`npm run bench:fused`, not part of the tests): the time of a
 * GPT training step (vocab 65, T 128, B 16, 4 layers, 4 heads, width 128, cross-entropy, AdamW) and
 * an LSTM training step (input 64, hidden 256, T 100, B 32, MSE of the last output, AdamW) on the
 * native backend (the reference one when the addon is missing), with F.setFusedKernels(true) and
 * (false), split into forward, backward and optimizer phases.
 *
 * The two settings run interleaved, round by round, so that a busy machine slows both alike; the
 * median and the best step of each are printed (the best is the closer estimate on a loaded
 * machine). The GPT loss is F.crossEntropy of its logits (src/models/gpt.ts computes its own
 * composite loss), so that the fused softmax-cross-entropy is what is measured.
 *
 * With --compare pool, the two settings are nb.setBufferPooling(true) and (false) instead (fused
 * kernels on in both): the typed-array pool that recycles the buffers each step's scope disposes.
 *
 * Usage: node --import tsx scripts/bench-fused.ts [--rounds N] [--steps N] [--only gpt,lstm]
 *        [--threads N] [--compare fused|pool] [--pool-mib N]
 */
import * as nb from '../src/index.node.js';
import { nativeBackendInfo, setNumThreads } from '../src/backend/native/index.js';
import { ADAMW, GPT, LSTM } from './peers/spec.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const ROUNDS = Number(arg('rounds', '4'));
const STEPS = Number(arg('steps', '3'));
const ONLY = arg('only', 'gpt,lstm').split(',');
const THREADS = arg('threads', '');
const COMPARE = arg('compare', 'fused');
const POOL_MIB = arg('pool-mib', ''); // the pool's byte bound in MiB (default: nabla's)
if (COMPARE !== 'fused' && COMPARE !== 'pool') throw new Error('--compare must be fused or pool');

/** Switches the compared setting (the other one stays at its default). */
function setMode(on: boolean): void {
  if (COMPARE === 'pool') {
    nb.setBufferPooling(on, POOL_MIB ? { maxBytes: Number(POOL_MIB) * 2 ** 20 } : {});
  } else nb.F.setFusedKernels(on);
}

type Phase = 'forward' | 'backward' | 'optimizer';
const PHASES: Phase[] = ['forward', 'backward', 'optimizer'];

interface Workload {
  name: string;
  loss: () => nb.Tensor;
  opt: nb.optim.Optimizer<nb.optim.AdamOptions>;
}

/** One step in a scope, timed per phase (item() forces the forward's work to finish). */
function step(w: Workload): Record<Phase, number> {
  return nb.scope(() => {
    const t0 = performance.now();
    w.opt.zeroGrad();
    const loss = w.loss();
    loss.item();
    const t1 = performance.now();
    loss.backward();
    const t2 = performance.now();
    w.opt.step();
    const t3 = performance.now();
    return { forward: t1 - t0, backward: t2 - t1, optimizer: t3 - t2 };
  });
}

function gpt(): Workload {
  nb.manualSeed(0);
  const model = new nb.models.GPT({ ...GPT, dropout: 0, bias: true });
  const { batch: B, seqLen: T, vocabSize: V } = GPT;
  const idx = nb.randint(0, V, [B, T]);
  const targets = nb.randint(0, V, [B * T]);
  return {
    name: 'GPT',
    loss: () => {
      const { logits } = model.forward(idx); // (B, T, V)
      return nb.F.crossEntropy(logits.reshape(B * T, V), targets, { ignoreIndex: -1 });
    },
    opt: new nb.optim.AdamW(model.parameters(), { ...ADAMW }),
  };
}

function lstm(): Workload {
  nb.manualSeed(0);
  const m = new nb.nn.LSTM(LSTM.inputSize, LSTM.hiddenSize);
  const x = nb.randn([LSTM.seqLen, LSTM.batch, LSTM.inputSize]);
  const y = nb.randn([LSTM.batch, LSTM.hiddenSize]);
  return {
    name: 'LSTM',
    loss: () => nb.F.mseLoss(m.forward(x)[0].select(0, -1), y),
    opt: new nb.optim.AdamW(m.parameters(), { ...ADAMW }),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function bench(make: () => Workload): void {
  const runs = { on: [] as Record<Phase, number>[], off: [] as Record<Phase, number>[] };
  const work = { on: make(), off: make() };
  for (const mode of ['on', 'off'] as const) {
    setMode(mode === 'on');
    step(work[mode]); // warm-up
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ['on', 'off'] as const) {
      setMode(mode === 'on');
      // Turning the pool off empties it: refill it with an untimed step before timing.
      if (COMPARE === 'pool') step(work[mode]);
      for (let s = 0; s < STEPS; s++) runs[mode].push(step(work[mode]));
    }
  }
  setMode(true);
  const total = (p: Record<Phase, number>): number => p.forward + p.backward + p.optimizer;
  const row = (mode: 'on' | 'off'): string => {
    const phases = PHASES.map((ph) =>
      median(runs[mode].map((p) => p[ph]))
        .toFixed(1)
        .padStart(9),
    );
    const tot = runs[mode].map(total);
    return `  ${COMPARE.padEnd(5)} ${mode.padEnd(3)} ${median(tot).toFixed(1).padStart(9)} ${Math.min(
      ...tot,
    )
      .toFixed(1)
      .padStart(9)} ${phases.join(' ')}`;
  };
  console.log(`\n${work.on.name} step, ${runs.on.length} steps per setting (ms)`);
  console.log(`            ${['median', 'best', ...PHASES].map((h) => h.padStart(9)).join(' ')}`);
  console.log(row('on'));
  console.log(row('off'));
  const on = runs.on.map(total);
  const off = runs.off.map(total);
  if (COMPARE === 'pool') {
    const { hits, misses, bytes } = nb.memoryStats({ resetPoolCounts: true }).pool;
    console.log(`  pool: ${hits} hits, ${misses} misses, ${(bytes / 2 ** 20).toFixed(1)} MiB held`);
  }
  console.log(
    `  off / on: median ${(median(off) / median(on)).toFixed(2)}×, best ${(Math.min(...off) / Math.min(...on)).toFixed(2)}×`,
  );
}

const info = nativeBackendInfo();
if (info.available && THREADS) setNumThreads(Number(THREADS));
console.log(
  `backend ${nb.getBackend().name}` +
    (info.available
      ? ` (gemm ${info.gemmKernel}, ${info.numThreads} threads of ${info.hardwareThreads})`
      : ` (native addon not available: ${info.reason})`),
);
if (ONLY.includes('gpt')) bench(gpt);
if (ONLY.includes('lstm')) bench(lstm);
