/**
 * A/B of the wasm backend's resident storage (src/backend/wasm/resident.ts) on the peer
 * benchmark's GPT training step, in one process so that both see the same machine load: one model
 * trained with tensors in the wasm memory (kernels use them in place), one with the resident bound
 * at 0 (typed arrays: kernels copy operands in and results out, as before). Blocks of steps
 * alternate between them; the medians of their per-step times and their ratio are printed.
 *
 * Run: [NABLA_WASM_THREADS=2] node --import tsx scripts/bench-resident.ts [--rounds 6] [--steps 3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as nb from '../src/index.node.js';
import { residentTuning } from '../src/backend/wasm/resident.js';
import { makeInputs } from './peers/inputs.js';
import { gptTraining, readArrays, stepper } from './peers/nabla-steps.js';
import { ADAMW, GPT, LSTM, MATMUL_SIZES, timingPolicy, type RunSpec } from './peers/spec.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const ROUNDS = Number(arg('rounds', '6'));
const STEPS = Number(arg('steps', '3'));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const dir = mkdtempSync(join(os.tmpdir(), 'nabla-resident-'));
try {
  const data = join(dir, 'inputs.safetensors');
  await makeInputs(data);
  nb.setBackend('wasm');
  await nb.initWasm();
  const arrays = await readArrays(data);
  const spec: RunSpec = {
    data,
    workloads: [],
    threads: 1,
    backend: 'wasm',
    timing: timingPolicy(true, null),
    gpt: GPT,
    lstm: LSTM,
    adamw: ADAMW,
    matmulSizes: [...MATMUL_SIZES],
  };
  const bound = residentTuning.maxBytes;
  const variants = [
    { name: 'copying', maxBytes: 0, times: [] as number[] },
    { name: 'resident', maxBytes: bound, times: [] as number[] },
  ].map((v) => {
    residentTuning.maxBytes = v.maxBytes;
    const step = stepper(gptTraining(spec, arrays));
    step(); // warm-up: allocates the optimizer's state under this variant's bound
    step();
    return { ...v, step };
  });
  const w = nb.wasmFeatures();
  console.log(
    `GPT step on wasm, ${w.threads} thread(s), ${w.relaxedSimd ? 'relaxed' : 'plain'} SIMD, ` +
      `load average ${os.loadavg()[0]!.toFixed(2)}; ${ROUNDS} rounds of ${STEPS} steps each`,
  );
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of r % 2 ? [...variants].reverse() : variants) {
      residentTuning.maxBytes = v.maxBytes;
      for (let s = 0; s < STEPS; s++) {
        const t = performance.now();
        v.step();
        v.times.push(performance.now() - t);
      }
    }
  }
  const [a, b] = variants.map((v) => median(v.times)) as [number, number];
  for (const v of variants)
    console.log(`  ${v.name.padEnd(9)} ${median(v.times).toFixed(1)} ms/step (median)`);
  console.log(`  resident / copying: ${(b / a).toFixed(3)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
