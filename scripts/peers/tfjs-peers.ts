/**
 * TF.js's runner for the peer benchmark (started by scripts/bench-peers.ts with backend 'cpu' or
 * 'wasm'): matmul, and the GPT and LSTM training steps written with tf ops — the same architecture
 * as src/models/gpt.ts (nanoGPT: pre-norm blocks, exact GELU, tied output head) and nn.LSTM (gates
 * i, f, g, o), from the same initial weights and data, with an AdamW written as PyTorch's.
 *
 * Run: node --import tsx scripts/peers/tfjs-peers.ts SPEC.json
 */
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { readFile } from 'node:fs/promises';
import {
  attempt,
  emit,
  readSpec,
  timeMatmul,
  timeStep,
  type RunResult,
  type RunSpec,
} from './spec.js';

type Arrays = Map<string, { data: Float32Array | Int32Array; shape: number[] }>;

/** A safetensors file's F32 and I32 tensors as typed arrays (enough for the bench's own file). */
async function readArrays(path: string): Promise<Arrays> {
  const buf = await readFile(path);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out: Arrays = new Map();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = e.data_offsets;
    const raw = bytes.slice(8 + n + a, 8 + n + b); // a copy: aligned
    const data = e.dtype === 'I32' ? new Int32Array(raw.buffer) : new Float32Array(raw.buffer);
    out.set(name, { data, shape: e.shape });
  }
  return out;
}

function get(arrays: Arrays, name: string): { data: Float32Array | Int32Array; shape: number[] } {
  const a = arrays.get(name);
  if (!a) throw new Error(`missing ${name} in the data file`);
  return a;
}

const variable = (arrays: Arrays, name: string): tf.Variable =>
  tf.variable(tf.tensor(get(arrays, name).data, get(arrays, name).shape, 'float32'), true, name);

const constant = (arrays: Arrays, name: string, dtype: 'float32' | 'int32'): tf.Tensor =>
  tf.tensor(get(arrays, name).data, get(arrays, name).shape, dtype);

// The functional ops under short names (the chained x.add(y) forms exist only where a bundle
// registers them, as @tensorflow/tfjs does and tfjs-core alone does not).
type Operand = tf.Tensor | number;
const add = (a: Operand, b: Operand): tf.Tensor => tf.add(a, b);
const sub = (a: Operand, b: Operand): tf.Tensor => tf.sub(a, b);
const mul = (a: Operand, b: Operand): tf.Tensor => tf.mul(a, b);
const div = (a: Operand, b: Operand): tf.Tensor => tf.div(a, b);

/** AdamW with PyTorch's update: p ← p·(1 − lr·wd) − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps). */
class AdamW {
  private t = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  constructor(
    private readonly params: tf.Variable[],
    private readonly o: RunSpec['adamw'],
  ) {
    this.m = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p), false));
  }

  step(grads: tf.NamedTensorMap): void {
    this.t++;
    const { lr, betas, eps, weightDecay } = this.o;
    const [b1, b2] = betas;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[p.name]!;
        const m = this.m[i]!;
        const v = this.v[i]!;
        m.assign(add(mul(m, b1), mul(g, 1 - b1)));
        v.assign(add(mul(v, b2), mul(tf.square(g), 1 - b2)));
        const denom = add(div(tf.sqrt(v), Math.sqrt(bc2)), eps);
        p.assign(sub(mul(p, 1 - lr * weightDecay), mul(div(m, denom), lr / bc1)));
      });
    });
  }
}

/** One step: loss and gradients with respect to `params`, then the AdamW update. */
function stepper(params: tf.Variable[], opt: AdamW, lossOf: () => tf.Scalar): () => number {
  return () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(lossOf, params);
      opt.step(grads);
      return value.dataSync()[0]!;
    });
}

/** Layer norm over the last axis (eps 1e-5, as torch.nn.LayerNorm). */
function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const xc = sub(x, tf.mean(x, -1, true));
  const variance = tf.mean(tf.square(xc), -1, true);
  return add(mul(mul(xc, tf.rsqrt(add(variance, 1e-5))), w), b);
}

/** x (N, in) · Wᵀ + b with W (out, in), as torch.nn.Linear. */
const linear = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor =>
  add(tf.matMul(x, w, false, true), b);

/** Exact GELU: x·Φ(x) = x/2 · (1 + erf(x/√2)). */
const gelu = (x: tf.Tensor): tf.Tensor => mul(mul(x, 0.5), add(tf.erf(mul(x, Math.SQRT1_2)), 1));

function gptStep(spec: RunSpec, arrays: Arrays): () => number {
  const { batch: B, seqLen: T, nEmbd: C, nHead: H, nLayer, vocabSize: V } = spec.gpt;
  const D = C / H;
  const P = new Map<string, tf.Variable>();
  // The tied head: lm_head.weight is transformer.wte.weight, one variable.
  for (const name of arrays.keys())
    if (name.startsWith('gpt.') && name !== 'gpt.lm_head.weight')
      P.set(name.slice(4), variable(arrays, name));
  const w = (k: string): tf.Variable => P.get(k)!;
  const idx = tf.reshape(constant(arrays, 'gpt_data.idx', 'int32'), [B * T]); // (B·T)
  // The embedding as one-hot rows times wte: TF.js's wasm backend has no UnsortedSegmentSum, the
  // kernel of tf.gather's gradient (a (B·T, V)·(V, C) product is small at V = 65).
  const idxOnehot = tf.cast(tf.oneHot(idx, V), 'float32'); // (B·T, V)
  const targets = tf.reshape(constant(arrays, 'gpt_data.targets', 'int32'), [B * T]); // (B·T)
  const onehot = tf.cast(tf.oneHot(targets, V), 'float32'); // (B·T, V)
  // (T, T): 0 where key j ≤ query i, a large negative number above the diagonal (masked; its
  // softmax weight is exactly 0, as with nabla's -Infinity).
  const mask = mul(sub(tf.linalg.bandPart(tf.ones([T, T]), -1, 0), 1), 1e9);
  const params = [...P.values()];
  const opt = new AdamW(params, spec.adamw);
  const heads = (t: tf.Tensor): tf.Tensor =>
    tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]); // (B·T, C) → (B, H, T, D)

  const lossOf = (): tf.Scalar => {
    const tok = tf.matMul(idxOnehot, w('transformer.wte.weight')); // (B·T, C)
    const pos = tf.slice(w('transformer.wpe.weight'), [0, 0], [T, C]); // (T, C)
    let x = tf.reshape(add(tf.reshape(tok, [B, T, C]), pos), [B * T, C]); // (B·T, C)
    for (let l = 0; l < nLayer; l++) {
      const k = (s: string): tf.Variable => w(`transformer.h.${l}.${s}`);
      const h = layerNorm(x, k('ln_1.weight'), k('ln_1.bias'));
      const qkv = linear(h, k('attn.c_attn.weight'), k('attn.c_attn.bias')); // (B·T, 3C)
      const [q, kk, v] = tf.split(qkv, 3, 1).map(heads) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const att = add(mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(D)), mask); // (B, H, T, T)
      const y = tf.matMul(tf.softmax(att), v); // (B, H, T, D)
      const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, C]); // (B·T, C)
      x = add(x, linear(merged, k('attn.c_proj.weight'), k('attn.c_proj.bias')));
      const h2 = layerNorm(x, k('ln_2.weight'), k('ln_2.bias'));
      const f = gelu(linear(h2, k('mlp.c_fc.weight'), k('mlp.c_fc.bias'))); // (B·T, 4C)
      x = add(x, linear(f, k('mlp.c_proj.weight'), k('mlp.c_proj.bias')));
    }
    x = layerNorm(x, w('transformer.ln_f.weight'), w('transformer.ln_f.bias'));
    const logits = tf.matMul(x, w('transformer.wte.weight'), false, true); // (B·T, V), tied head
    return div(tf.sum(mul(tf.logSoftmax(logits), onehot)), -(B * T)) as tf.Scalar; // mean cross-entropy
  };
  return stepper(params, opt, lossOf);
}

function lstmStep(spec: RunSpec, arrays: Arrays): () => number {
  const { inputSize: I, hiddenSize: Hd, seqLen: T, batch: B } = spec.lstm;
  const wih = variable(arrays, 'lstm.weight_ih_l0'); // (4H, I)
  const whh = variable(arrays, 'lstm.weight_hh_l0'); // (4H, H)
  const bih = variable(arrays, 'lstm.bias_ih_l0'); // (4H)
  const bhh = variable(arrays, 'lstm.bias_hh_l0'); // (4H)
  const x = tf.reshape(constant(arrays, 'lstm_data.x', 'float32'), [T * B, I]); // (T, B, I) → (T·B, I)
  const target = constant(arrays, 'lstm_data.y', 'float32'); // (B, H)
  const params = [wih, whh, bih, bhh];
  const opt = new AdamW(params, spec.adamw);

  const lossOf = (): tf.Scalar => {
    // Input projections of every step at once, as PyTorch's LSTM: (T·B, 4H) → T × (B, 4H).
    const xw = tf.unstack(tf.reshape(linear(x, wih, add(bih, bhh)), [T, B, 4 * Hd]));
    let h: tf.Tensor = tf.zeros([B, Hd]);
    let c: tf.Tensor = tf.zeros([B, Hd]);
    for (let t = 0; t < T; t++) {
      const gates = add(xw[t]!, tf.matMul(h, whh, false, true)); // (B, 4H)
      const [i, f, g, o] = tf.split(gates, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      c = add(mul(tf.sigmoid(f), c), mul(tf.sigmoid(i), tf.tanh(g)));
      h = mul(tf.sigmoid(o), tf.tanh(c));
    }
    return tf.mean(tf.square(sub(h, target))) as tf.Scalar;
  };
  return stepper(params, opt, lossOf);
}

async function main(): Promise<void> {
  const spec = await readSpec();
  if (spec.backend === 'wasm') tfwasm.setThreadsCount(spec.threads);
  if (!(await tf.setBackend(spec.backend))) throw new Error(`TF.js backend ${spec.backend} failed`);
  await tf.ready();
  const result: RunResult = {
    framework: 'tfjs',
    version: tf.version_core,
    backend: spec.backend,
    threads: spec.threads,
    actualThreads: spec.backend === 'wasm' ? tfwasm.getThreadsCount() : 1,
    matmul: {},
    errors: {},
    notes: [],
  };
  if (spec.backend === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    result.notes.push(`SIMD ${String(simd)}, multithread support ${String(mt)}`);
  }
  const arrays = await readArrays(spec.data);
  const p = spec.timing;
  const label = `tfjs ${spec.backend} ${spec.threads}t`;
  for (const w of spec.workloads) {
    process.stderr.write(`  ${label}: ${w}\n`);
    if (w === 'matmul') {
      attempt(result, w, () => {
        for (const n of spec.matmulSizes) {
          const a = tf.randomNormal([n, n], 0, 1, 'float32', n) as tf.Tensor2D;
          const b = tf.randomNormal([n, n], 0, 1, 'float32', n + 1) as tf.Tensor2D;
          result.matmul[n] = timeMatmul(
            n,
            () => {
              // Synchronous on the cpu and wasm backends: no read-back needed (none for the others).
              tf.matMul(a, b).dispose();
            },
            p,
          );
          a.dispose();
          b.dispose();
        }
      });
    } else if (w === 'gpt') {
      attempt(result, w, () => (result.gpt = timeStep(gptStep(spec, arrays), p)));
    } else {
      attempt(result, w, () => (result.lstm = timeStep(lstmStep(spec, arrays), p)));
    }
  }
  emit(result);
}

await main();
