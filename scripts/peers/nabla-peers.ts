/**
 * nabla's runner for the peer benchmark (started by scripts/bench-peers.ts, one process per backend
 * and thread count): matmul, the GPT training step (src/models/gpt.ts) and the LSTM training step
 * (nn.LSTM), from the initial weights and data in the spec's safetensors file.
 *
 * Run: node --import tsx scripts/peers/nabla-peers.ts SPEC.json
 */
import * as nb from '../../src/index.node.js';
import { nativeBackendInfo, setNumThreads } from '../../src/node.js';
import { wasmPool } from '../../src/backend/wasm/instance.js';
import { attempt, emit, readSpec, timeMatmul, timeStep, type RunResult } from './spec.js';
import { gptTraining, lstmTraining, readArrays, stepper } from './nabla-steps.js';

async function main(): Promise<void> {
  const spec = await readSpec();
  nb.setBackend(spec.backend);
  const result: RunResult = {
    framework: 'nabla',
    version: '0.1.0',
    backend: spec.backend,
    threads: spec.threads,
    actualThreads: spec.threads,
    matmul: {},
    errors: {},
    notes: [],
  };
  if (spec.backend === 'native') {
    setNumThreads(spec.threads);
    const info = nativeBackendInfo();
    result.notes.push(`GEMM kernel ${info.gemmKernel}, CPU features ${info.cpuFeatures}`);
  } else if (spec.backend === 'wasm') {
    // Compiled asynchronously; until then its kernels would be the reference ones.
    const ready = await nb.initWasm();
    const gemm = nb.wasmFeatures().relaxedSimd ? 'relaxed-SIMD GEMM' : 'plain-SIMD GEMM';
    result.notes.push(
      ready ? `WebAssembly kernels ready, ${gemm}` : 'WebAssembly failed: ref kernels',
    );
    // Worker threads started by NABLA_WASM_THREADS (src/index.node.ts); one thread without them.
    result.actualThreads = wasmPool()?.threads ?? 1;
  } else if (spec.backend === 'ref') {
    result.actualThreads = 1;
  }
  const arrays = await readArrays(spec.data);
  const p = spec.timing;
  const label = `nabla ${spec.backend} ${spec.threads}t`;
  for (const w of spec.workloads) {
    process.stderr.write(`  ${label}: ${w}\n`);
    if (w === 'matmul') {
      attempt(result, w, () => {
        for (const n of spec.matmulSizes) {
          nb.manualSeed(n);
          const a = nb.randn([n, n]);
          const b = nb.randn([n, n]);
          result.matmul[n] = timeMatmul(n, () => void a.matmul(b).dispose(), p);
        }
      });
    } else if (w === 'gpt') {
      attempt(result, w, () => (result.gpt = timeStep(stepper(gptTraining(spec, arrays)), p)));
    } else {
      attempt(result, w, () => (result.lstm = timeStep(stepper(lstmTraining(spec, arrays)), p)));
    }
  }
  emit(result);
}

await main();
