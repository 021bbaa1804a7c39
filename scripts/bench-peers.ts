/**
 * Peer benchmark (`npm run bench:peers`, not part of the tests): nabla on each of its backends
 * beside TF.js (cpu and wasm backends, dev dependencies) and PyTorch (when `python3 -c "import
 * torch"` works), on the same workloads in one run:
 *
 * - float32 matmul n×n·n×n at n = 128, 256, 512, 1024 (GFLOP/s);
 * - a GPT training step: nanoGPT's architecture (src/models/gpt.ts), vocab 65, T 128, B 16,
 *   4 layers, 4 heads, width 128, cross-entropy, backward, AdamW (ms/step);
 * - an LSTM training step: input 64, hidden 256, T 100, B 32, MSE of the last output, backward,
 *   AdamW (ms/step).
 *
 * Every framework starts from the same weights and data: nabla draws them once (seeded) and writes
 * them to a safetensors file that each runner reads (scripts/peers/: nabla-peers.ts,
 * tfjs-peers.ts, torch_peers.py; shapes, optimizer and timing policy in scripts/peers/spec.ts).
 * The first two steps' losses (at the initial weights, and after one AdamW update) are compared
 * across frameworks. Each runner is its own process, so frameworks do not share a heap or threads.
 *
 * Usage: npm run bench:peers -- [--quick] [--only gpt,lstm,matmul] [--reps N] [--threads 1,2]
 *                               [--frameworks nabla,tfjs,torch] [--json FILE]
 * (--quick: shorter warm-up and timing budgets, a single timed step for slow peers; --reps: that
 * many timed steps for everyone)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as nb from '../src/index.node.js';
import { nativeBackendInfo } from '../src/node.js';
import { makeInputs } from './peers/inputs.js';
import {
  ADAMW,
  GPT,
  LSTM,
  MATMUL_SIZES,
  WORKLOADS,
  timingPolicy,
  type RunResult,
  type RunSpec,
  type Workload,
} from './peers/spec.js';
import { cpuModel } from './bench-util.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Relative agreement required of the first step's loss (the initial weights) across frameworks. */
const LOSS_TOL = 1e-4;
/** After one AdamW update (whose first step moves each weight by about ±lr): looser. */
const LOSS2_TOL = 1e-3;

// ---- Options ------------------------------------------------------------------------------------

interface Options {
  quick: boolean;
  only: Workload[];
  reps: number | null;
  threads: number[];
  frameworks: Framework[];
  json: string | null;
}

type Framework = 'nabla' | 'tfjs' | 'torch';
const FRAMEWORKS: readonly Framework[] = ['nabla', 'tfjs', 'torch'];

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false,
    only: [...WORKLOADS],
    reps: null,
    threads: [1, 2],
    frameworks: [...FRAMEWORKS],
    json: null,
  };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`bench-peers: ${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') o.quick = true;
    else if (a === '--only') {
      const list = value(i++, a).split(',');
      for (const w of list)
        if (!WORKLOADS.includes(w as Workload))
          throw new Error(`bench-peers: --only takes ${WORKLOADS.join(',')}; got ${w}`);
      o.only = list as Workload[];
    } else if (a === '--reps') {
      o.reps = Number(value(i++, a));
      if (!Number.isInteger(o.reps) || o.reps < 1)
        throw new Error(`bench-peers: --reps needs a positive integer`);
    } else if (a === '--threads') {
      o.threads = value(i++, a).split(',').map(Number);
      if (o.threads.some((t) => !Number.isInteger(t) || t < 1))
        throw new Error(`bench-peers: --threads takes positive integers, e.g. 1,2`);
    } else if (a === '--frameworks') {
      const list = value(i++, a).split(',');
      for (const f of list)
        if (!FRAMEWORKS.includes(f as Framework))
          throw new Error(`bench-peers: --frameworks takes ${FRAMEWORKS.join(',')}; got ${f}`);
      o.frameworks = list as Framework[];
    } else if (a === '--json') o.json = value(i++, a);
    else if (a === '--help' || a === '-h') {
      console.log(
        'npm run bench:peers -- [--quick] [--only gpt,lstm,matmul] [--reps N] [--threads 1,2] [--frameworks nabla,tfjs,torch] [--json FILE]',
      );
      process.exit(0);
    } else throw new Error(`bench-peers: unknown option ${a} (try --help)`);
  }
  return o;
}

// ---- Runners ------------------------------------------------------------------------------------

interface Runner {
  /** Row label, e.g. 'nabla native 2t'. */
  label: string;
  framework: Framework;
  backend: string;
  threads: number;
}

interface Outcome {
  runner: Runner;
  result: RunResult | null;
  error: string | null;
  wallS: number;
}

function command(r: Runner): [string, string[]] {
  if (r.framework === 'torch') return ['python3', [join(HERE, 'peers', 'torch_peers.py')]];
  const file = r.framework === 'nabla' ? 'nabla-peers.ts' : 'tfjs-peers.ts';
  return [process.execPath, ['--import', 'tsx', join(HERE, 'peers', file)]];
}

function run(r: Runner, spec: RunSpec, dir: string): Outcome {
  const specPath = join(dir, `spec-${r.framework}-${r.backend}-${r.threads}.json`);
  writeFileSync(specPath, JSON.stringify({ ...spec, backend: r.backend, threads: r.threads }));
  const [cmd, args] = command(r);
  const t = String(r.threads);
  const started = performance.now();
  console.error(`running ${r.label} ...`);
  const p = spawnSync(cmd, [...args, specPath], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      OMP_NUM_THREADS: t,
      MKL_NUM_THREADS: t,
      NABLA_NUM_THREADS: t,
      NABLA_WASM_THREADS: t,
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallS = (performance.now() - started) / 1000;
  const last = p.stdout?.trim().split('\n').pop() ?? '';
  if (p.status === 0 && last.startsWith('{'))
    return { runner: r, result: JSON.parse(last) as RunResult, error: null, wallS };
  const why =
    p.error?.message ??
    `exit ${p.status ?? p.signal}${last ? `: ${last.slice(0, 200)}` : ''} (its error output is above)`;
  return { runner: r, result: null, error: why, wallS };
}

function torchAvailable(): string | null {
  const p = spawnSync('python3', ['-c', 'import torch, numpy; print(torch.__version__)'], {
    encoding: 'utf8',
  });
  if (p.status === 0) return null;
  return (p.error?.message ?? p.stderr.trim().split('\n').pop() ?? 'failed').slice(0, 160);
}

// ---- Report -------------------------------------------------------------------------------------

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const fmt = (x: number | undefined, digits = 1): string =>
  x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
const times = (x: number | undefined): string =>
  x === undefined || !Number.isFinite(x) ? '—' : `${x >= 100 ? x.toFixed(0) : x.toFixed(2)}×`;

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

/** The outcome of `framework`/`backend` at `threads` threads, when it ran. */
function find(
  all: Outcome[],
  framework: string,
  backend: string,
  threads: number,
): RunResult | undefined {
  return (
    all.find(
      (o) =>
        o.runner.framework === framework &&
        o.runner.backend === backend &&
        o.runner.threads === threads,
    )?.result ?? undefined
  );
}

const torchAt = (all: Outcome[], t: number): RunResult | undefined => find(all, 'torch', 'cpu', t);
/** TF.js wasm's result (one thread in Node, whatever was asked). */
const tfWasm = (all: Outcome[]): RunResult | undefined =>
  find(all, 'tfjs', 'wasm', 1) ??
  all.find((o) => o.runner.framework === 'tfjs' && o.runner.backend === 'wasm' && o.result)
    ?.result ??
  undefined;

function matmulTable(all: Outcome[], sizes: number[]): void {
  console.log('\nmatmul n×n·n×n float32, GFLOP/s (median call; higher is better)');
  const header = ['framework', ...sizes.map(String), '1024 ÷ torch', '1024 ÷ tfjs wasm'];
  const rows = all
    .filter((o) => o.result && Object.keys(o.result.matmul).length > 0)
    .map((o) => {
      const r = o.result!;
      const at = (x: RunResult | undefined): number | undefined => x?.matmul['1024']?.median;
      const mine = at(r);
      return [
        o.runner.label,
        ...sizes.map((n) => fmt(r.matmul[n]?.median)),
        r.framework === 'torch' ? '' : times(mine! / at(torchAt(all, o.runner.threads))!),
        times(mine! / at(tfWasm(all))!),
      ];
    });
  table(header, rows);
}

function stepTable(all: Outcome[], w: 'gpt' | 'lstm', title: string): void {
  console.log(`\n${title}: ms/step (lower is better)`);
  const header = [
    'framework',
    'median',
    'best',
    'reps',
    'loss 1',
    'loss 2',
    'time ÷ torch',
    'speed-up vs tfjs wasm',
  ];
  const rows = all
    .filter((o) => o.result?.[w])
    .map((o) => {
      const s = o.result![w]!;
      const torch = torchAt(all, o.runner.threads)?.[w]?.median;
      const tw = tfWasm(all)?.[w]?.median;
      return [
        o.runner.label,
        fmt(s.median),
        fmt(s.best),
        String(s.samples.length),
        s.losses[0].toFixed(6),
        s.losses[1].toFixed(6),
        o.runner.framework === 'torch' ? '' : times(s.median / torch!),
        times(tw! / s.median),
      ];
    });
  table(header, rows);
}

interface LossCheck {
  workload: 'gpt' | 'lstm';
  reference: string;
  rows: { label: string; rel1: number; rel2: number; ok: boolean }[];
}

/** First-step (and second-step) losses against PyTorch's (else the first runner's), relative. */
function lossChecks(all: Outcome[], workloads: Workload[]): LossCheck[] {
  const checks: LossCheck[] = [];
  for (const w of ['gpt', 'lstm'] as const) {
    if (!workloads.includes(w)) continue;
    const ran = all.filter((o) => o.result?.[w]);
    const ref = ran.find((o) => o.runner.framework === 'torch') ?? ran[0];
    if (!ref) continue;
    const [r1, r2] = ref.result![w]!.losses;
    const rows = ran.map((o) => {
      const [l1, l2] = o.result![w]!.losses;
      const rel1 = Math.abs(l1 - r1) / Math.abs(r1);
      const rel2 = Math.abs(l2 - r2) / Math.abs(r2);
      return { label: o.runner.label, rel1, rel2, ok: rel1 <= LOSS_TOL && rel2 <= LOSS2_TOL };
    });
    checks.push({ workload: w, reference: ref.runner.label, rows });
  }
  return checks;
}

function printLossChecks(checks: LossCheck[]): void {
  if (!checks.length) return;
  console.log(
    `\nsame model, same start: relative loss difference vs the reference (step 1 ≤ ${LOSS_TOL}, step 2 after one AdamW update ≤ ${LOSS2_TOL})`,
  );
  for (const c of checks) {
    const cells = c.rows.map(
      (r) =>
        `${r.label} ${r.rel1.toExponential(1)} / ${r.rel2.toExponential(1)} ${r.ok ? 'ok' : 'MISMATCH'}`,
    );
    console.log(`  ${c.workload} (reference ${c.reference}): ${cells.join('; ')}`);
  }
}

const ratioOf = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : a / b;

interface TargetCheck {
  target: string;
  value: string;
  pass: boolean | null;
}

/** The issue's targets, each PASS / FAIL (or — when a side did not run). */
function targets(all: Outcome[], threads: number[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const check = (target: string, v: number | undefined, ok: (v: number) => boolean): void => {
    const has = v !== undefined && Number.isFinite(v);
    out.push({ target, value: has ? times(v) : '—', pass: has ? ok(v) : null });
  };
  for (const t of threads) {
    const nat = find(all, 'nabla', 'native', t);
    const tor = torchAt(all, t);
    check(
      `matmul 1024³ native ≥ 0.8× PyTorch GFLOP/s at ${t}t`,
      ratioOf(nat?.matmul['1024']?.median, tor?.matmul['1024']?.median),
      (v) => v >= 0.8,
    );
    check(
      `GPT step native ≤ 1.5× PyTorch's time at ${t}t`,
      nat?.gpt && tor?.gpt ? nat.gpt.median / tor.gpt.median : undefined,
      (v) => v <= 1.5,
    );
    check(
      `LSTM step native ≤ 1.5× PyTorch's time at ${t}t`,
      nat?.lstm && tor?.lstm ? nat.lstm.median / tor.lstm.median : undefined,
      (v) => v <= 1.5,
    );
  }
  const tw = tfWasm(all);
  for (const o of all.filter((x) => x.runner.framework === 'nabla' && x.runner.backend !== 'ref')) {
    const g = o.result?.gpt;
    check(
      `GPT step ${o.runner.label} ≥ 20× faster than TF.js wasm`,
      g && tw?.gpt ? tw.gpt.median / g.median : undefined,
      (v) => v >= 20,
    );
  }
  for (const o of all.filter(
    (x) => x.runner.framework === 'nabla' && x.runner.backend === 'wasm',
  )) {
    const tor = torchAt(all, o.runner.threads);
    check(
      `GPT step ${o.runner.label} ≤ 4× PyTorch's time`,
      o.result?.gpt && tor?.gpt ? o.result.gpt.median / tor.gpt.median : undefined,
      (v) => v <= 4,
    );
    if (o.runner.threads === 1)
      check(
        `matmul 1024³ ${o.runner.label} ≥ 1.0× TF.js wasm GFLOP/s`,
        ratioOf(o.result?.matmul['1024']?.median, tw?.matmul['1024']?.median),
        (v) => v >= 1,
      );
    else
      check(
        `matmul 1024³ ${o.runner.label} faster than on 1 thread (GFLOP/s ratio)`,
        ratioOf(
          o.result?.matmul['1024']?.median,
          find(all, 'nabla', 'wasm', 1)?.matmul['1024']?.median,
        ),
        (v) => v > 1,
      );
  }
  return out;
}

function printTargets(checks: TargetCheck[]): void {
  console.log('\ntargets (issue 5; ratios from this run, medians)');
  table(
    ['target', 'measured', 'verdict'],
    checks.map((c) => [c.target, c.value, c.pass === null ? '—' : c.pass ? 'PASS' : 'FAIL']),
  );
}

// ---- Main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const info = nativeBackendInfo();
  const backends = [...new Set(nb.listBackends())];
  console.log('nabla peer benchmark (float32)');
  console.log(
    `CPU: ${cpuModel()} (${os.cpus().length} logical cores), Node ${process.version}, load average ${load()}`,
  );
  console.log(
    `nabla backends: ${backends.join(', ')}; native: ${
      info.available
        ? `GEMM kernel ${info.gemmKernel}, CPU features ${info.cpuFeatures}`
        : `not available (${info.reason})`
    }`,
  );
  console.log(
    `threads: ${o.threads.join(', ')}; workloads: ${o.only.join(', ')}; ${
      o.quick ? 'quick' : 'full'
    } timing${o.reps ? `, ${o.reps} timed reps` : ''}`,
  );

  const dir = mkdtempSync(join(os.tmpdir(), 'nabla-bench-peers-'));
  try {
    const data = join(dir, 'inputs.safetensors');
    await makeInputs(data);
    const spec: RunSpec = {
      data,
      workloads: o.only,
      threads: 1,
      backend: '',
      timing: timingPolicy(o.quick, o.reps),
      gpt: GPT,
      lstm: LSTM,
      adamw: ADAMW,
      matmulSizes: [...MATMUL_SIZES],
    };
    const noTorch = torchAvailable();
    const notes: string[] = [];
    if (noTorch !== null) notes.push(`PyTorch columns skipped: python3 with torch: ${noTorch}`);
    if (!info.available) notes.push(`nabla native columns skipped: ${info.reason}`);

    // Runners of one thread count back to back, so their ratios see the same machine load.
    const plan: Runner[] = [{ label: 'nabla ref', framework: 'nabla', backend: 'ref', threads: 1 }];
    for (const t of o.threads) {
      if (info.available)
        plan.push({
          label: `nabla native ${t}t`,
          framework: 'nabla',
          backend: 'native',
          threads: t,
        });
      // nabla's wasm backend on t threads (NABLA_WASM_THREADS: matmul, attention, unary maths).
      if (backends.includes('wasm'))
        plan.push({ label: `nabla wasm ${t}t`, framework: 'nabla', backend: 'wasm', threads: t });
      if (noTorch === null)
        plan.push({ label: `torch ${t}t`, framework: 'torch', backend: 'cpu', threads: t });
      plan.push({ label: `tfjs wasm ${t}t`, framework: 'tfjs', backend: 'wasm', threads: t });
      // TF.js's cpu backend is plain single-threaded JavaScript: once.
      if (t === o.threads[0])
        plan.push({ label: 'tfjs cpu', framework: 'tfjs', backend: 'cpu', threads: 1 });
    }

    const all: Outcome[] = [];
    let tfjsSingleThreaded = false;
    for (const r of plan) {
      if (!o.frameworks.includes(r.framework)) continue;
      if (r.framework === 'tfjs' && r.backend === 'wasm' && r.threads > 1 && tfjsSingleThreaded) {
        notes.push(
          `tfjs wasm ${r.threads}t skipped: TF.js wasm has no multithread support in Node`,
        );
        continue;
      }
      const out = run(r, spec, dir);
      all.push(out);
      if (out.error) notes.push(`${r.label} failed: ${out.error}`);
      for (const [w, e] of Object.entries(out.result?.errors ?? {}))
        notes.push(`${r.label} ${w} failed: ${e}`);
      if (r.framework === 'tfjs' && r.backend === 'wasm' && out.result?.actualThreads === 1)
        tfjsSingleThreaded = true;
      if (out.result && out.result.actualThreads !== r.threads)
        notes.push(`${r.label} really ran on ${out.result.actualThreads} thread(s)`);
    }

    if (o.only.includes('matmul')) matmulTable(all, [...MATMUL_SIZES]);
    if (o.only.includes('gpt'))
      stepTable(
        all,
        'gpt',
        `GPT training step (vocab ${GPT.vocabSize}, T ${GPT.seqLen}, B ${GPT.batch}, ${GPT.nLayer} layers, ${GPT.nHead} heads, width ${GPT.nEmbd}; forward, cross-entropy, backward, AdamW)`,
      );
    if (o.only.includes('lstm'))
      stepTable(
        all,
        'lstm',
        `LSTM training step (input ${LSTM.inputSize}, hidden ${LSTM.hiddenSize}, T ${LSTM.seqLen}, B ${LSTM.batch}; MSE on the last output, backward, AdamW)`,
      );
    const checks = lossChecks(all, o.only);
    printLossChecks(checks);
    const tg = targets(all, o.threads);
    printTargets(tg);
    const versions = all
      .filter((x) => x.result)
      .map(
        (x) =>
          `${x.runner.label}: ${x.result!.framework} ${x.result!.version}${x.result!.notes.length ? ` (${x.result!.notes.join('; ')})` : ''}`,
      );
    console.log(`\nversions: ${[...new Set(versions)].join('; ')}`);
    for (const n of notes) console.log(`note: ${n}`);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`load average at the end ${load()}; total ${secs} s`);

    if (o.json) {
      const report = {
        cpu: cpuModel(),
        logicalCores: os.cpus().length,
        node: process.version,
        options: o,
        loadAverageEnd: os.loadavg(),
        runs: all.map((x) => ({ ...x.runner, wallS: x.wallS, error: x.error, result: x.result })),
        lossChecks: checks,
        targets: tg,
        notes,
      };
      writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`wrote ${o.json}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
