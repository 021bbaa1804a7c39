/**
 * Where a nabla training step of the peer benchmark spends its time: every kernel of the current
 * backend is wrapped in a timer (exclusive time, keyed by kernel, op and phase), and each step is
 * split into forward (with the loss), backward and optimizer. Buffer allocation, reads and frees
 * are timed too; what is outside all of them is the TypeScript around them (ops, autograd, views).
 *
 * Run: node --import tsx scripts/peers/profile-steps.ts [--backend native] [--threads 1]
 *        [--only gpt,lstm] [--steps 5] [--top 25]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as nb from '../../src/index.node.js';
import { setNumThreads } from '../../src/node.js';
import { makeInputs } from './inputs.js';
import { gptTraining, lstmTraining, readArrays, type Training } from './nabla-steps.js';
import { ADAMW, GPT, LSTM, MATMUL_SIZES, timingPolicy, type RunSpec } from './spec.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

type Phase = 'forward' | 'backward' | 'optimizer';
let phase: Phase = 'forward';
const totals = new Map<string, { ms: number; calls: number }>();
/** Time spent in nested kernels, per open kernel call (to make times exclusive). */
const stack: number[] = [];

/** Describes a call: the op of unary/binary/reduce kernels, the shapes of matmuls. */
function keyOf(name: string, args: unknown[]): string {
  if (typeof args[0] === 'string') return `${name}:${args[0]}`;
  if (name === 'matmul') {
    const [a, b] = args as [{ shape: readonly number[] }, { shape: readonly number[] }];
    return `matmul ${a.shape.join('×')} @ ${b.shape.join('×')}`;
  }
  return name;
}

/** Replaces each function of `target` named in `names` (all, by default) by a timed call. */
function wrap(target: Record<string, unknown>, names: string[], prefix: string): void {
  for (const name of names) {
    const fn = target[name];
    if (typeof fn !== 'function') continue;
    const original = fn as (...args: unknown[]) => unknown;
    target[name] = (...args: unknown[]): unknown => {
      stack.push(0);
      const t0 = performance.now();
      try {
        return original.apply(target, args);
      } finally {
        const total = performance.now() - t0;
        const nested = stack.pop()!;
        if (stack.length) stack[stack.length - 1]! += total;
        const key = `${phase} ${prefix}${keyOf(name, args)}`;
        const e = totals.get(key) ?? { ms: 0, calls: 0 };
        e.ms += total - nested;
        e.calls++;
        totals.set(key, e);
      }
    };
  }
}

/** Times every kernel of `backend`, and its buffer management (allocation, reads, frees). */
function instrument(backend: nb.Backend): void {
  const kernels = backend.kernels as unknown as Record<string, unknown>;
  wrap(kernels, Object.keys(kernels), '');
  wrap(
    backend as unknown as Record<string, unknown>,
    ['alloc', 'write', 'read', 'free'],
    'buffer ',
  );
}

function profile(label: string, training: Training, steps: number, top: number): void {
  const { loss: lossOf, opt } = training;
  const wall: Record<Phase, number> = { forward: 0, backward: 0, optimizer: 0 };
  const run = (): void =>
    nb.scope(() => {
      opt.zeroGrad();
      let t = performance.now();
      phase = 'forward';
      const loss = lossOf();
      loss.item();
      wall.forward += performance.now() - t;
      t = performance.now();
      phase = 'backward';
      loss.backward();
      wall.backward += performance.now() - t;
      t = performance.now();
      phase = 'optimizer';
      opt.step();
      wall.optimizer += performance.now() - t;
    });
  run(); // warm-up
  run();
  totals.clear();
  for (const p of Object.keys(wall) as Phase[]) wall[p] = 0;
  for (let i = 0; i < steps; i++) run();

  const stepMs = (wall.forward + wall.backward + wall.optimizer) / steps;
  console.log(`\n${label}: ${stepMs.toFixed(1)} ms/step (mean of ${steps})`);
  // Kernels and buffer management together: everything below the TypeScript of ops and autograd.
  const kernelMs = (p: Phase): number =>
    [...totals].filter(([k]) => k.startsWith(`${p} `)).reduce((s, [, e]) => s + e.ms, 0) / steps;
  for (const p of Object.keys(wall) as Phase[]) {
    const w = wall[p] / steps;
    const k = kernelMs(p);
    console.log(
      `  ${p.padEnd(9)} ${w.toFixed(1).padStart(8)} ms: kernels and buffers ${k.toFixed(1)} ms, outside them ${(w - k).toFixed(1)} ms`,
    );
  }
  console.log(`  top kernels (exclusive ms per step, calls per step, share of the step):`);
  const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
  for (const [k, e] of rows) {
    const ms = e.ms / steps;
    console.log(
      `  ${ms.toFixed(2).padStart(9)} ms ${String(e.calls / steps).padStart(6)}× ${((100 * ms) / stepMs).toFixed(1).padStart(5)}%  ${k}`,
    );
  }
}

async function main(): Promise<void> {
  const backend = arg('backend', 'native');
  const threads = Number(arg('threads', '1'));
  const only = arg('only', 'gpt,lstm').split(',');
  const steps = Number(arg('steps', '5'));
  const top = Number(arg('top', '25'));
  const dir = mkdtempSync(join(os.tmpdir(), 'nabla-profile-'));
  try {
    const data = join(dir, 'inputs.safetensors');
    await makeInputs(data);
    nb.setBackend(backend);
    if (backend === 'native') setNumThreads(threads);
    if (backend === 'wasm') await nb.initWasm();
    instrument(nb.getBackend());
    const arrays = await readArrays(data);
    const spec: RunSpec = {
      data,
      workloads: [],
      threads,
      backend,
      timing: timingPolicy(true, null),
      gpt: GPT,
      lstm: LSTM,
      adamw: ADAMW,
      matmulSizes: [...MATMUL_SIZES],
    };
    // The wasm backend's own threads (NABLA_WASM_THREADS) and GEMM (relaxed SIMD or not).
    const wasm = nb.wasmFeatures();
    const what =
      backend === 'wasm'
        ? `${wasm.threads} thread(s), ${wasm.relaxedSimd ? 'relaxed-SIMD' : 'plain-SIMD'} GEMM`
        : `${threads} thread(s)`;
    console.log(`nabla ${backend}, ${what}, load average ${os.loadavg()[0]!.toFixed(2)}`);
    if (only.includes('gpt')) profile('GPT step', gptTraining(spec, arrays), steps, top);
    if (only.includes('lstm')) profile('LSTM step', lstmTraining(spec, arrays), steps, top);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
