/**
 * Backend benchmark (`npm run bench:backends`, not part of the tests): float32 matmul GFLOP/s at
 * 128/256/512/1024 and the time of one forward + backward step of a small MLP, on the reference
 * backend, the wasm backend (1 thread) and the native backend at 1 and 2 threads, beside PyTorch
 * (torch.matmul and the same MLP, torch.set_num_threads(1) and (2)) when `python3 -c "import torch"`
 * works.
 *
 * Every measurement warms up, then repeats until at least MIN_MS of samples, and reports the median
 * and the best sample (on a busy machine the best is the closer estimate of what the code can do;
 * both are printed). Run with: node --import tsx scripts/bench-backends.ts [--quick]
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import * as nb from '../src/index.js';
import { nativeBackendInfo, setNumThreads, useNativeBackend } from '../src/backend/native/index.js';

const QUICK = process.argv.includes('--quick');
const MIN_MS = QUICK ? 300 : 1000;
const WARMUP_MS = QUICK ? 100 : 200;
const SIZES = [128, 256, 512, 1024];
const THREADS = [1, 2];
const MLP = { batch: 64, din: 256, hidden: 512, dout: 10 };

interface Timing {
  /** Median milliseconds per call. */
  median: number;
  /** Fastest call, in milliseconds. */
  best: number;
}

/** Milliseconds per call of `fn`: warm up, then sample until `MIN_MS` have elapsed. */
function measure(fn: () => void): Timing {
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
  const median = samples.length % 2 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  return { median, best: samples[0]! };
}

const gflops = (n: number, ms: number): number => (2 * n * n * n) / (ms * 1e6);

/** GFLOP/s of a·b (n×n float32), from the median and from the best call. */
function benchMatmul(n: number): Timing {
  nb.manualSeed(n);
  const a = nb.randn([n, n]);
  const b = nb.randn([n, n]);
  const t = measure(() => void a.matmul(b));
  return { median: gflops(n, t.median), best: gflops(n, t.best) };
}

/** Milliseconds of one forward + backward step of the MLP. */
function benchMlp(): Timing {
  const { batch, din, hidden, dout } = MLP;
  nb.manualSeed(0);
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

const TORCH = `
import json, sys, time
import torch
MIN_S, WARM_S = ${MIN_MS / 1000}, ${WARMUP_MS / 1000}
def measure(fn):
    t0 = time.perf_counter(); w = 0
    while w < 2 or time.perf_counter() - t0 < WARM_S:
        fn(); w += 1
    ts = []; t0 = time.perf_counter()
    while len(ts) < 3 or time.perf_counter() - t0 < MIN_S:
        s = time.perf_counter(); fn(); ts.append(time.perf_counter() - s)
    ts.sort(); m = len(ts) // 2
    return {"median": (ts[m] if len(ts) % 2 else (ts[m - 1] + ts[m]) / 2) * 1000, "best": ts[0] * 1000}
torch.set_num_threads(int(sys.argv[1]))
out = {"version": torch.__version__, "matmul": {}, "mlp": None}
for n in ${JSON.stringify(SIZES)}:
    a = torch.randn(n, n); b = torch.randn(n, n)
    t = measure(lambda: torch.matmul(a, b))
    out["matmul"][str(n)] = {k: 2 * n ** 3 / (v * 1e6) for k, v in t.items()}
B, DI, H, DO = ${MLP.batch}, ${MLP.din}, ${MLP.hidden}, ${MLP.dout}
x = torch.randn(B, DI); y = torch.randn(B, DO)
w1 = (torch.randn(DI, H) / DI ** 0.5).requires_grad_(); b1 = torch.zeros(H, requires_grad=True)
w2 = (torch.randn(H, DO) / H ** 0.5).requires_grad_(); b2 = torch.zeros(DO, requires_grad=True)
def step():
    loss = ((torch.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean()
    loss.backward()
    for p in (w1, b1, w2, b2): p.grad = None
out["mlp"] = measure(step)
print(json.dumps(out))
`;
import { cpuModel } from './bench-util.js';

interface TorchResult {
  version: string;
  matmul: Record<string, Timing>;
  mlp: Timing;
}

/** PyTorch's numbers at `threads`, or null (the reason kept) without python3 + torch. */
let torchMissing: string | null = null;
function benchTorch(threads: number): TorchResult | null {
  if (torchMissing !== null) return null;
  const r = spawnSync('python3', ['-c', TORCH, String(threads)], {
    encoding: 'utf8',
    timeout: 10 * 60 * 1000,
  });
  if (r.status !== 0 || r.error) {
    const why = r.error?.message ?? r.stderr.trim().split('\n').pop() ?? 'failed';
    torchMissing = why.slice(0, 120);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult;
}

const fmt = (x: number | undefined, digits = 1): string =>
  x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`;

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function main(): void {
  const started = performance.now();
  const info = nativeBackendInfo();
  console.log('nabla backend bench: float32');
  console.log(
    `CPU: ${cpuModel()} (${os.cpus().length} logical cores), Node ${process.version}, load average ${load()}`,
  );
  console.log(
    info.available
      ? `native: GEMM kernel ${info.gemmKernel}, CPU features ${info.cpuFeatures}, default threads ${info.numThreads}`
      : `native: not available (${info.reason})`,
  );
  console.log(`each number: after warm-up, ≥ ${MIN_MS} ms of repeated calls\n`);

  // Reference backend (single-threaded TypeScript).
  nb.setBackend('ref');
  const refMm: Record<number, Timing> = {};
  for (const n of SIZES) refMm[n] = benchMatmul(n);
  const refMlp = benchMlp();

  // wasm backend (single-threaded WebAssembly SIMD).
  nb.setBackend('wasm');
  const wasmMm: Record<number, Timing> = {};
  for (const n of SIZES) wasmMm[n] = benchMatmul(n);
  const wasmMlp = benchMlp();
  nb.setBackend('ref');

  // Native and PyTorch, thread count by thread count (measured back to back).
  const natMm: Record<string, Timing> = {};
  const natMlp: Record<number, Timing> = {};
  const torch: Record<number, TorchResult | null> = {};
  for (const t of THREADS) {
    if (info.available) {
      useNativeBackend();
      setNumThreads(t);
      for (const n of SIZES) natMm[`${n}/${t}`] = benchMatmul(n);
      natMlp[t] = benchMlp();
      nb.setBackend('ref');
    }
    torch[t] = benchTorch(t);
  }
  const tv = torch[1]?.version;

  for (const which of ['median', 'best'] as const) {
    const title = which === 'median' ? 'median call' : 'best call';
    console.log(`matmul n×n·n×n, GFLOP/s, ${title}${tv ? ` (PyTorch ${tv})` : ''}`);
    table(
      [
        'n',
        'ref',
        'wasm',
        'native 1t',
        'native 2t',
        'torch 1t',
        'torch 2t',
        'wasm/ref',
        'native/ref 1t',
        'native/torch 1t',
        'native/torch 2t',
      ],
      SIZES.map((n) => {
        const r = refMm[n]?.[which];
        const w = wasmMm[n]?.[which];
        const n1 = natMm[`${n}/1`]?.[which];
        const n2 = natMm[`${n}/2`]?.[which];
        const t1 = torch[1]?.matmul[n]?.[which];
        const t2 = torch[2]?.matmul[n]?.[which];
        return [
          String(n),
          fmt(r),
          fmt(w),
          fmt(n1),
          fmt(n2),
          fmt(t1),
          fmt(t2),
          ratio(w, r),
          ratio(n1, r),
          ratio(n1, t1),
          ratio(n2, t2),
        ];
      }),
    );
    console.log('');
  }
  const { batch, din, hidden, dout } = MLP;
  console.log(
    `MLP ${din} → ${hidden} → ${dout} (tanh, MSE), batch ${batch}: forward + backward, ms/step (median / best)`,
  );
  const both = (t: Timing | undefined): string =>
    t === undefined ? '—' : `${fmt(t.median, 2)} / ${fmt(t.best, 2)}`;
  table(
    [
      'ref',
      'wasm',
      'native 1t',
      'native 2t',
      'torch 1t',
      'torch 2t',
      'ref/native 1t',
      'ref/native 2t',
    ],
    [
      [
        both(refMlp),
        both(wasmMlp),
        both(natMlp[1]),
        both(natMlp[2]),
        both(torch[1]?.mlp),
        both(torch[2]?.mlp),
        ratio(refMlp.median, natMlp[1]?.median),
        ratio(refMlp.median, natMlp[2]?.median),
      ],
    ],
  );
  if (torchMissing !== null) console.log(`\nPyTorch columns skipped: ${torchMissing}`);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`\nload average at the end ${load()}; total bench time ${secs} s`);
}

main();
