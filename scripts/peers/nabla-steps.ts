/**
 * nabla's two training workloads of the peer benchmark, built from the benchmark's initial weights
 * and data: the GPT (src/models/gpt.ts) and the LSTM (nn.LSTM), each with AdamW. Shared by the
 * nabla runner (nabla-peers.ts) and the per-kernel profile (profile-steps.ts).
 */
import * as nb from '../../src/index.node.js';
import { readSafetensorsFile } from '../../src/io/node/files.js';
import type { RunSpec } from './spec.js';

/** Typed arrays by name, so that each backend builds its own tensors from them. */
export type Arrays = Map<string, { data: Float32Array | Int32Array; shape: number[] }>;

/** The tensors of a safetensors file as typed arrays. */
export async function readArrays(path: string): Promise<Arrays> {
  // Read on the reference backend, then copied out, so that no tensor of another backend is kept.
  const previous = nb.getBackend();
  nb.setBackend('ref');
  const { tensors } = await readSafetensorsFile(path);
  nb.setBackend(previous);
  const out: Arrays = new Map();
  for (const [k, t] of Object.entries(tensors)) {
    out.set(k, { data: t.dataSync() as Float32Array | Int32Array, shape: [...t.shape] });
  }
  return out;
}

/** The tensors whose names start with `prefix` (prefix removed), on the current backend. */
function take(arrays: Arrays, prefix: string): Record<string, nb.Tensor> {
  const out: Record<string, nb.Tensor> = {};
  for (const [k, { data, shape }] of arrays)
    if (k.startsWith(prefix)) out[k.slice(prefix.length)] = nb.tensor(data.slice(), { shape });
  return out;
}

/** A model ready to train: its loss on the fixed batch, and its optimizer. */
export interface Training {
  loss: () => nb.Tensor;
  opt: nb.optim.AdamW;
}

function adamw(spec: RunSpec, params: nb.nn.Parameter[]): nb.optim.AdamW {
  const { lr, betas, eps, weightDecay } = spec.adamw;
  return new nb.optim.AdamW(params, { lr, betas, eps, weightDecay });
}

/** One training step in a scope (freeing its intermediates); returns the loss. */
export function stepper({ loss: lossOf, opt }: Training): () => number {
  return () =>
    nb.scope(() => {
      opt.zeroGrad();
      const loss = lossOf();
      const value = loss.item();
      loss.backward();
      opt.step();
      return value;
    });
}

export function gptTraining(spec: RunSpec, arrays: Arrays): Training {
  const g = spec.gpt;
  const model = new nb.models.GPT({
    vocabSize: g.vocabSize,
    blockSize: g.blockSize,
    nLayer: g.nLayer,
    nHead: g.nHead,
    nEmbd: g.nEmbd,
    dropout: 0,
    bias: true,
  });
  model.loadStateDict(take(arrays, 'gpt.'));
  const data = take(arrays, 'gpt_data.');
  model.train();
  return {
    loss: () => model.forward(data.idx!, data.targets!).loss!,
    opt: adamw(spec, model.parameters()),
  };
}

export function lstmTraining(spec: RunSpec, arrays: Arrays): Training {
  const l = spec.lstm;
  const lstm = new nb.nn.LSTM(l.inputSize, l.hiddenSize);
  lstm.loadStateDict(take(arrays, 'lstm.'));
  const { x, y } = take(arrays, 'lstm_data.');
  return {
    loss: () => {
      const [out] = lstm.forward(x!); // (T, B, H)
      return nb.F.mseLoss(out.select(0, -1), y!); // last output (B, H) against the target
    },
    opt: adamw(spec, lstm.parameters()),
  };
}
