/**
 * Shared set-up for the training tests: a tiny GPT (nb.models.GPT, 1 layer, 16 wide, dropout on)
 * on a synthetic task — arithmetic sequences mod 16 whose start comes from the batch source's own
 * generator and whose stride comes from the global one — so that a run touches every piece of
 * state a checkpoint must hold: weights, AdamW moments, schedule position, dropout generator,
 * data generator and global generator.
 */
import * as nb from '../../src/index.js';

export const V = 16;
export const T = 8;

/** (x, y) int32 (B, T): rows of (start + stride·i) mod V, y shifted by one. */
export interface TokenBatch {
  x: nb.Tensor;
  y: nb.Tensor;
}

/** A batch of B sequences, starts from `gen`, strides from `strideGen` (default: the global one). */
export function arithmeticBatch(
  B: number,
  gen: nb.Generator,
  strideGen: nb.Generator = nb.defaultGenerator(),
): TokenBatch {
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = gen.nextInt(0, V);
    const stride = strideGen.nextInt(1, 4);
    for (let i = 0; i < T; i++) {
      x[b * T + i] = (start + stride * i) % V;
      y[b * T + i] = (start + stride * (i + 1)) % V;
    }
  }
  return { x: nb.tensor(x, { shape: [B, T] }), y: nb.tensor(y, { shape: [B, T] }) };
}

export interface TinyRun {
  model: nb.models.GPT;
  optimizer: nb.optim.AdamW;
  dropoutGen: nb.Generator;
  dataGen: nb.Generator;
  options: nb.train.TrainerOptions<nb.models.GPT, TokenBatch>;
}

/** A fresh model, optimizer and generators; `seed` decides all of them. */
export function tinyRun(seed: number, maxSteps: number): TinyRun {
  nb.manualSeed(seed);
  const dropoutGen = new nb.Generator(seed + 1);
  const dataGen = new nb.Generator(seed + 2);
  const model = new nb.models.GPT(
    { vocabSize: V, blockSize: T, nLayer: 1, nHead: 2, nEmbd: 16, dropout: 0.1 },
    { generator: dropoutGen },
  );
  const optimizer = new nb.optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.1 });
  const val = arithmeticBatch(8, new nb.Generator(1234), new nb.Generator(4321));
  const options: nb.train.TrainerOptions<nb.models.GPT, TokenBatch> = {
    model,
    optimizer,
    data: () => arithmeticBatch(4, dataGen),
    loss: (m, b) => m.forward(b.x, b.y).loss!,
    maxSteps,
    lr: nb.optim.cosineWithWarmup({
      maxLr: 1e-2,
      minLr: 1e-3,
      warmupIters: 2,
      lrDecayIters: Math.max(maxSteps, 2),
    }),
    gradClip: 1,
    evalEvery: 2,
    evalFn: (m) => ({ valLoss: m.forward(val.x, val.y).loss!.item() }),
    generators: { dropout: dropoutGen, data: dataGen },
    config: { model: 'tiny', seed },
    tokenizer: { kind: 'identity', vocabSize: V },
  };
  return { model, optimizer, dropoutGen, dataGen, options };
}

/** Copies of every tensor of a state dict, as flat arrays. */
export function snapshot(model: nb.nn.Module): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(model.stateDict())) out[k] = Array.from(t.dataSync());
  return out;
}
