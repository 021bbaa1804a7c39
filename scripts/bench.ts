/**
 * Benchmarks (`npm run bench`, not part of the tests): float32 matmul throughput of nabla's current
 * backend beside a plain triple loop over Float32Array run in the same process (the "peer"), and the
 * time of one forward + backward step of a small MLP built from nabla ops.
 *
 * Every measurement warms up, then repeats until at least MIN_MS of samples, and reports the median.
 * Run with: node --import tsx scripts/bench.ts
 */
import os from 'node:os';
import * as nb from '../src/index.js';
import { cpuModel } from './bench-util.js';

const MIN_MS = 1000;
const WARMUP_MS = 200;

/** Median milliseconds per call of `fn`: warm up, then sample until `MIN_MS` have elapsed. */
function measure(fn: () => void): { ms: number; reps: number } {
  let t0 = performance.now();
  let warm = 0;
  while (warm < 2 || performance.now() - t0 < WARMUP_MS) {
    fn();
    warm++;
  }
  const samples: number[] = [];
  t0 = performance.now();
  while (samples.length < 3 || performance.now() - t0 < MIN_MS) {
    const s = performance.now();
    fn();
    samples.push(performance.now() - s);
  }
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  const ms = samples.length % 2 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  return { ms, reps: samples.length };
}

/** The peer: C = A·B, all row-major M×K, K×N, M×N, with the cache-friendly i-k-j loop order. */
function peerIkj(
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  M: number,
  K: number,
  N: number,
) {
  C.fill(0);
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let k = 0; k < K; k++) {
      const aik = A[i * K + k]!;
      const bk = k * N;
      for (let j = 0; j < N; j++) C[ci + j]! += aik * B[bk + j]!;
    }
  }
}

/** The peer for C = A·Bᵀ with Bᵀ stored row-major as N×K: the natural i-j-k dot-product loop. */
function peerIjkBt(
  A: Float32Array,
  Bt: Float32Array,
  C: Float32Array,
  M: number,
  K: number,
  N: number,
) {
  for (let i = 0; i < M; i++) {
    const ai = i * K;
    for (let j = 0; j < N; j++) {
      const bj = j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[ai + k]! * Bt[bj + k]!;
      C[i * N + j] = s;
    }
  }
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

const gflops = (n: number, ms: number): number => (2 * n * n * n) / (ms * 1e6);
const pad = (s: string, w: number): string => s.padStart(w);

interface Row {
  name: string;
  ours: number;
  peer: number;
  err: number;
}

function benchMatmul(n: number, transposed: boolean): Row {
  const a = nb.randn([n, n]);
  const b = nb.randn([n, n]); // for the transposed row, b is Bᵀ's storage: we compute a · bᵀ
  const A = a.dataSync() as Float32Array;
  const B = b.dataSync() as Float32Array;
  const C = new Float32Array(n * n);
  const ours = transposed ? measure(() => void a.matmul(b.T)) : measure(() => void a.matmul(b));
  const peer = transposed
    ? measure(() => peerIjkBt(A, B, C, n, n, n))
    : measure(() => peerIkj(A, B, C, n, n, n));
  const check = transposed ? a.matmul(b.T) : a.matmul(b);
  return {
    name: transposed ? `${n}³ a·bᵀ` : `${n}³`,
    ours: gflops(n, ours.ms),
    peer: gflops(n, peer.ms),
    err: maxAbsDiff(check.dataSync(), C),
  };
}

function benchMlp(batch: number, din: number, hidden: number, dout: number) {
  const x = nb.randn([batch, din]);
  const y = nb.randn([batch, dout]);
  const w1 = nb.randn([din, hidden], { std: 1 / Math.sqrt(din), requiresGrad: true });
  const b1 = nb.zeros([hidden], { requiresGrad: true });
  const w2 = nb.randn([hidden, dout], { std: 1 / Math.sqrt(hidden), requiresGrad: true });
  const b2 = nb.zeros([dout], { requiresGrad: true });
  const params = [w1, b1, w2, b2];
  return measure(() => {
    const loss = x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).sub(y).square().mean();
    loss.backward();
    for (const p of params) p.grad = null;
  });
}

function main(): void {
  nb.manualSeed(0);
  const started = performance.now();
  console.log(`nabla bench: backend '${nb.getBackend().name}', float32`);
  console.log(`CPU: ${cpuModel()} (${os.cpus().length} logical cores), Node ${process.version}`);
  console.log(
    `each number: median of repeats after warm-up (≥ ${MIN_MS} ms of samples); peer = plain JS loop over Float32Array, same process\n`,
  );

  const rows: Row[] = [];
  for (const n of [128, 256, 512, 1024]) rows.push(benchMatmul(n, false));
  rows.push(benchMatmul(512, true));

  const W = [14, 16, 16, 12, 12];
  console.log(
    ['matmul', 'nabla GFLOP/s', 'peer GFLOP/s', 'ours/peer', 'max |Δ|']
      .map((s, i) => pad(s, W[i]!))
      .join(''),
  );
  for (const r of rows) {
    console.log(
      [
        r.name,
        r.ours.toFixed(2),
        r.peer.toFixed(2),
        `${(r.ours / r.peer).toFixed(2)}×`,
        r.err.toExponential(1),
      ]
        .map((s, i) => pad(s, W[i]!))
        .join(''),
    );
  }
  console.log(
    'peer: i-k-j loop for a·b; i-j-k dot-product loop over the rows of the stored bᵀ for a·bᵀ',
  );

  const [batch, din, hidden, dout] = [64, 256, 512, 10];
  const mlp = benchMlp(batch, din, hidden, dout);
  console.log(
    `\nMLP ${din} → ${hidden} → ${dout} (tanh, MSE), batch ${batch}: forward + backward ${mlp.ms.toFixed(2)} ms/step (median of ${mlp.reps})`,
  );
  console.log(`\ntotal bench time ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main();
