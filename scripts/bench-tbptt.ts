/**
 * Memory of a training step with truncated BPTT (nb.nn.truncatedBptt) against the chunk length k
 * and the sequence length T: the peak should grow linearly with k and not with T (full BPTT,
 * k = T, grows with T). Not a test; prints a table.
 *
 *   node --expose-gc --import tsx scripts/bench-tbptt.ts [--quick]
 *
 * Two measures of the peak, each relative to the memory held before the step:
 * - "live MB": nb.memoryStats().peakBytes, the largest total of tensor buffers allocated and not yet
 *   released. Each chunk runs in nb.scope, which releases its graph and intermediates when it
 *   ends, so this is what a backend without garbage collection (WASM, GPU) would hold.
 * - "heap MB" (with --expose-gc): process.memoryUsage().arrayBuffers after a full garbage
 *   collection, sampled from gradient hooks at a few points of the backward passes of the first
 *   two chunks and the last one, where the graph of the chunk is alive.
 */
import * as nb from '../src/index.js';

const quick = process.argv.includes('--quick');
const INPUT = 16;
const HIDDEN = 128;
const BATCH = 16;
const Ts = quick ? [128, 512] : [256, 1024, 2048];
const ks = quick ? [16, 64] : [16, 64, 256];
const v8gc = (globalThis as { gc?: () => void }).gc;
// Two collections: array buffers dropped by the first are released by the second.
const gc = v8gc
  ? (): void => {
      v8gc();
      v8gc();
    }
  : undefined;
const MB = 2 ** 20;

nb.manualSeed(0);
const lstm = new nb.nn.LSTM(INPUT, HIDDEN);
const head = new nb.nn.Linear(HIDDEN, INPUT);
const opt = new nb.optim.Adam([...lstm.parameters(), ...head.parameters()], { lr: 1e-3 });

interface Row {
  T: number;
  k: number | 'full';
  liveMB: number;
  heapMB: number | null;
  seconds: number;
}

function measure(T: number, k: number): Omit<Row, 'k' | 'T'> {
  const x = nb.randn([T, BATCH, INPUT]);
  const y = nb.randn([T, BATCH, INPUT]);
  const chunks = Math.ceil(T / k);
  let heapPeak = 0;
  let heapBase = 0;
  const sampleEvery = Math.max(1, Math.floor(k / 4));
  let chunkIndex = 0;
  // Gradient hooks on a few per-step states: they run during backward, while the graph is alive.
  const hook = lstm.registerStepHook(({ t, h }) => {
    const sampled = chunkIndex < 2 || chunkIndex === chunks - 1;
    if (gc && sampled && t % sampleEvery === 0 && h.requiresGrad) {
      h.registerHook(() => {
        gc();
        heapPeak = Math.max(heapPeak, process.memoryUsage().arrayBuffers - heapBase);
      });
    }
  });
  if (gc) gc();
  heapBase = process.memoryUsage().arrayBuffers;
  const live0 = nb.memoryStats({ resetPeak: true }).liveBytes;
  const t0 = performance.now();
  nb.nn.truncatedBptt<[nb.Tensor, nb.Tensor]>(
    x,
    ({ x, targets, state, index }) => {
      chunkIndex = index;
      const [out, hc] = lstm.forward(x, state);
      return { loss: head.forward(out).sub(targets!).square().mean(), state: hc };
    },
    { k, targets: y, optimizer: opt },
  );
  const seconds = (performance.now() - t0) / 1000;
  hook.remove();
  return {
    liveMB: (nb.memoryStats().peakBytes - live0) / MB,
    heapMB: gc ? heapPeak / MB : null,
    seconds,
  };
}

const rows: Row[] = [];
for (const T of Ts) {
  for (const k of new Set([...ks.filter((k) => k < T), T])) {
    const r = measure(T, k);
    rows.push({ T, k: k === T ? 'full' : k, ...r });
  }
}

const pad = (s: string, n: number): string => s.padStart(n);
console.log(
  `LSTM ${INPUT} → ${HIDDEN}, batch ${BATCH}, float32; peak memory of one pass over the sequence (Adam step per chunk)\n`,
);
console.log(
  `${pad('T', 6)} ${pad('k', 6)} ${pad('live MB', 9)} ${pad('heap MB', 9)} ${pad('time s', 8)}`,
);
for (const r of rows) {
  console.log(
    `${pad(String(r.T), 6)} ${pad(String(r.k), 6)} ${pad(r.liveMB.toFixed(2), 9)} ${pad(
      r.heapMB === null ? '-' : r.heapMB.toFixed(2),
      9,
    )} ${pad(r.seconds.toFixed(2), 8)}`,
  );
}
if (!gc) console.log('\n(run node with --expose-gc for the heap column)');
