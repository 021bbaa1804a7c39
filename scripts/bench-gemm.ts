/**
 * The wasm backend's float32 matmul (not part of the tests): GFLOP/s of the plain-SIMD and the
 * relaxed-SIMD (FMA) GEMM, on 1 thread and on `--threads` (default 2), at square sizes around the
 * threading threshold and at the GPT benchmark's shapes (forward, input-gradient and weight-gradient
 * products, with their transposed operands). The variants alternate within each round, so a busy
 * machine slows them alike; each figure is the best of the rounds (and the median, in brackets).
 *
 * Run: npm run bench:gemm [-- --threads 2 --rounds 5 --ms 150 --sizes 96,128,160]
 * (`--sizes`: those square sizes only, for the threading threshold)
 */
import os from 'node:os';
import * as nb from '../src/index.node.js';
import { wasmFeatures } from '../src/backend/wasm/index.js';
import { gemmTuning } from '../src/backend/wasm/matmul.js';
import { startWasmThreads } from '../src/backend/wasm/node/threads.js';
import { cpuModel } from './bench-util.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const THREADS = arg('threads', 2);
const ROUNDS = arg('rounds', 5);
const MS = arg('ms', 150);

if (THREADS > 1) startWasmThreads(THREADS);
nb.setBackend('wasm');

/** [label, M, K, N, a transposed, b transposed]: C (M×N) = A (M×K) · B (K×N). */
type Shape = [string, number, number, number, boolean, boolean];
const square = (n: number): Shape => [`${n}³`, n, n, n, false, false];
const GPT_SHAPES: Shape[] = [
  ['2048×128 @ 128×512', 2048, 128, 512, false, false],
  ['2048×512 @ 512×128', 2048, 512, 128, false, false],
  ['2048×128 @ 128×384', 2048, 128, 384, false, false],
  ['2048×512 @ (128×512)ᵀ', 2048, 512, 128, false, true],
  ['(2048×128)ᵀ @ 2048×512', 128, 2048, 512, true, false],
  ['(2048×512)ᵀ @ 2048×128', 512, 2048, 128, true, false],
];
const sizes = process.argv.indexOf('--sizes');
const SHAPES: Shape[] =
  sizes >= 0
    ? process.argv[sizes + 1]!.split(',').map(Number).map(square)
    : [...[128, 160, 192, 256, 512, 1024].map(square), ...GPT_SHAPES];

interface Variant {
  name: string;
  relaxedSimd: boolean;
  threads: number;
}
const VARIANTS: Variant[] = [
  { name: 'plain 1T', relaxedSimd: false, threads: 1 },
  { name: 'relaxed 1T', relaxedSimd: true, threads: 1 },
];
if (THREADS > 1) {
  VARIANTS.push({ name: `plain ${THREADS}T`, relaxedSimd: false, threads: THREADS });
  VARIANTS.push({ name: `relaxed ${THREADS}T`, relaxedSimd: true, threads: THREADS });
}

/** GFLOP/s of one timed run of `fn` (repeated for about MS milliseconds). */
function rate(fn: () => void, flops: number): number {
  fn();
  let n = 0;
  const t0 = performance.now();
  let dt = 0;
  while (dt < MS) {
    fn();
    n++;
    dt = performance.now() - t0;
  }
  return (flops * n) / (dt * 1e6);
}

const features = wasmFeatures();
console.log(
  `wasm matmul GFLOP/s, ${cpuModel()} (${os.cpus().length} cores), load ${os.loadavg()[0]!.toFixed(2)}; ` +
    `relaxed SIMD ${features.relaxedSimd ? 'available' : 'NOT available'}; best of ${ROUNDS} rounds (median)`,
);
console.log(['shape'.padEnd(24), ...VARIANTS.map((v) => v.name.padStart(16))].join(''));
for (const [label, M, K, N, ta, tb] of SHAPES) {
  nb.manualSeed(M + K + N);
  const a = ta ? nb.randn([K, M]).transpose(0, 1) : nb.randn([M, K]);
  const b = tb ? nb.randn([N, K]).transpose(0, 1) : nb.randn([K, N]);
  const samples = VARIANTS.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) {
    VARIANTS.forEach((v, i) => {
      gemmTuning.relaxedSimd = v.relaxedSimd;
      gemmTuning.minThreadedMacs = v.threads > 1 ? 0 : Infinity;
      samples[i]!.push(rate(() => nb.scope(() => void a.matmul(b)), 2 * M * K * N));
    });
  }
  const cells = samples.map((s) => {
    s.sort((x, y) => x - y);
    return `${s[s.length - 1]!.toFixed(1)} (${s[s.length >> 1]!.toFixed(1)})`.padStart(16);
  });
  console.log([label.padEnd(24), ...cells].join(''));
}
