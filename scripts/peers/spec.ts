/**
 * What every runner of the peer benchmark (scripts/bench-peers.ts) shares: the workloads' shapes,
 * the optimizer's hyper-parameters, the timing policy, the JSON a runner reads (RunSpec) and prints
 * (RunResult), and the timing loops. scripts/peers/torch_peers.py mirrors the loops and the JSON.
 */

/** The GPT workload: nanoGPT's char-level baby GPT at T = 128, dropout off. */
export const GPT = Object.freeze({
  vocabSize: 65,
  blockSize: 128,
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  batch: 16,
  seqLen: 128,
});

/** The LSTM workload: one layer, inputs (T, B, I), MSE of the last output against a target. */
export const LSTM = Object.freeze({ inputSize: 64, hiddenSize: 256, seqLen: 100, batch: 32 });

/**
 * AdamW for both training steps (nanoGPT's betas; one weight decay for every parameter, so all
 * frameworks need only one parameter group).
 */
export const ADAMW = Object.freeze({
  lr: 1e-3,
  betas: [0.9, 0.99] as [number, number],
  eps: 1e-8,
  weightDecay: 0.1,
});

export const MATMUL_SIZES = [128, 256, 512, 1024] as const;

export type Workload = 'matmul' | 'gpt' | 'lstm';
export const WORKLOADS: readonly Workload[] = ['matmul', 'gpt', 'lstm'];

/**
 * How long to measure. A training step runs twice first (the two steps whose losses are checked,
 * also the first warm-up), then more warm-up steps for `warmMs`, then `reps` timed steps: `fixedReps`
 * if set, else as many as fit in `budgetMs`, within [minReps, maxReps] (slow peers get few).
 */
export interface TimingPolicy {
  warmMs: number;
  budgetMs: number;
  minReps: number;
  maxReps: number;
  fixedReps: number | null;
  /** Matmul: warm up for this long, then sample for `matmulMs` (at least minReps calls). */
  matmulWarmMs: number;
  matmulMs: number;
}

export function timingPolicy(quick: boolean, reps: number | null): TimingPolicy {
  return quick
    ? {
        warmMs: 300,
        budgetMs: 1500,
        minReps: 1,
        maxReps: 10,
        fixedReps: reps,
        matmulWarmMs: 100,
        matmulMs: 300,
      }
    : {
        warmMs: 1000,
        budgetMs: 5000,
        minReps: 3,
        maxReps: 30,
        fixedReps: reps,
        matmulWarmMs: 200,
        matmulMs: 1000,
      };
}

/** The file a runner is started with (its path is the runner's last argument). */
export interface RunSpec {
  /** safetensors file with the initial weights and the data (see bench-peers.ts, makeInputs). */
  data: string;
  workloads: Workload[];
  threads: number;
  /** Runner-specific choice, e.g. 'native' or 'wasm' for nabla, 'cpu' or 'wasm' for TF.js. */
  backend: string;
  timing: TimingPolicy;
  gpt: typeof GPT;
  lstm: typeof LSTM;
  adamw: typeof ADAMW;
  matmulSizes: number[];
}

/** Milliseconds of each timed call, and their median. */
export interface Timing {
  median: number;
  best: number;
  samples: number[];
}

export interface StepResult extends Timing {
  /** Losses of the first two steps: at the initial weights, and after one AdamW update. */
  losses: [number, number];
  warmup: number;
}

/** What a runner prints as the last line of its stdout. */
export interface RunResult {
  framework: string;
  version: string;
  backend: string;
  threads: number;
  /** Threads the framework reports it really uses (e.g. TF.js wasm in Node: 1). */
  actualThreads: number;
  /** GFLOP/s timing per size, keyed by n ('median' and 'best' are GFLOP/s here). */
  matmul: Record<string, Timing>;
  gpt?: StepResult;
  lstm?: StepResult;
  /** Workloads that failed, with why. */
  errors: Record<string, string>;
  notes: string[];
}

function summarize(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, best: s[0]!, samples };
}

/** Times a training step (`step` returns its loss) by the policy above. */
export function timeStep(step: () => number, p: TimingPolicy): StepResult {
  const l0 = step();
  let t = performance.now();
  const l1 = step();
  const estimate = performance.now() - t;
  let warmup = 2;
  t = performance.now();
  while (performance.now() - t < p.warmMs - estimate) {
    step();
    warmup++;
  }
  const reps =
    p.fixedReps ??
    Math.min(p.maxReps, Math.max(p.minReps, Math.ceil(p.budgetMs / Math.max(estimate, 1e-3))));
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    t = performance.now();
    step();
    samples.push(performance.now() - t);
  }
  return { ...summarize(samples), losses: [l0, l1], warmup };
}

/** GFLOP/s of an n×n·n×n product (`mm` computes it and waits for the result). */
export function timeMatmul(n: number, mm: () => void, p: TimingPolicy): Timing {
  let t = performance.now();
  let warm = 0;
  while (warm < 1 || performance.now() - t < p.matmulWarmMs) {
    mm();
    warm++;
  }
  const samples: number[] = [];
  t = performance.now();
  while (
    samples.length < Math.max(p.minReps, p.fixedReps ?? 0) ||
    performance.now() - t < p.matmulMs
  ) {
    const s = performance.now();
    mm();
    samples.push(performance.now() - s);
  }
  const ms = summarize(samples);
  const gf = (x: number): number => (2 * n ** 3) / (x * 1e6);
  return { median: gf(ms.median), best: gf(ms.best), samples: samples.map(gf) };
}

/** Reads the runner's spec (path = last argument). */
export async function readSpec(): Promise<RunSpec> {
  const { readFile } = await import('node:fs/promises');
  const path = process.argv[process.argv.length - 1]!;
  return JSON.parse(await readFile(path, 'utf8')) as RunSpec;
}

/** Runs `fn` for one workload, recording a failure instead of aborting the other workloads. */
export function attempt(result: RunResult, workload: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    result.errors[workload] = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    process.stderr.write(`  ${result.framework} ${workload} failed: ${result.errors[workload]}\n`);
  }
}

/** Prints the result as the last line of stdout (the orchestrator parses it). */
export function emit(result: RunResult): void {
  process.stdout.write(`\n${JSON.stringify(result)}\n`);
}
