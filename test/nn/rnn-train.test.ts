/**
 * Training recurrent networks end to end.
 *
 * Long memory: each sequence starts with a marked symbol out of K = 8, followed by 40 random
 * symbols from the same alphabet (same input channels, unmarked); the network must output the
 * first symbol at every later step. Same budget for both (hidden size 16, Adam lr 0.02, gradient
 * norm clipped to 1, 400 steps of batch 32, same seeds): the LSTM reaches 100% accuracy at the
 * last step on 1000 fresh sequences (with the composite kernels; 87.7–100% with others), while the tanh RNN stays near chance (12.5%): 11.5% with the
 * seed used here, 11.0–35.7% over seeds 0–3 (the LSTM: 100% for all four). Storing a symbol
 * against inputs on the same channels needs the multiplicative input and forget gates
 * (Hochreiter & Schmidhuber, 1997).
 *
 * Truncated BPTT: an LSTM learns to predict the next value of a periodic signal from one
 * 2000-step sequence, trained in chunks of k = 25 steps with the state carried across chunks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const K = 8;
const D = 40;
const T = D + 1;
const H = 16;

/** x (T, n, K + 1): one-hot symbols, the marker channel K set at t = 0; y (n, 1): the first symbol. */
function recallBatch(g: nb.Generator, n: number): { x: nb.Tensor; y: nb.Tensor } {
  const x = new Float32Array(T * n * (K + 1));
  const y = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    for (let t = 0; t < T; t++) {
      const s = g.nextInt(0, K);
      if (t === 0) {
        y[b] = s;
        x[b * (K + 1) + K] = 1;
      }
      x[(t * n + b) * (K + 1) + s] = 1;
    }
  }
  return {
    x: nb.tensor(x, { shape: [T, n, K + 1] }),
    y: nb.tensor(y, { shape: [n, 1], dtype: 'int32' }),
  };
}

/** Trains `kind` on the recall task and returns its accuracy at the last step on fresh data. */
function trainRecall(kind: 'LSTM' | 'RNN', seed: number): number {
  nb.manualSeed(seed);
  const rnn = kind === 'LSTM' ? new nb.nn.LSTM(K + 1, H) : new nb.nn.RNN(K + 1, H);
  const head = new nb.nn.Linear(H, K);
  const params = [...rnn.parameters(), ...head.parameters()];
  const opt = new nb.optim.Adam(params, { lr: 0.02 });
  const run = (x: nb.Tensor): nb.Tensor =>
    rnn instanceof nb.nn.LSTM ? rnn.forward(x)[0] : rnn.forward(x)[0];
  const g = new nb.Generator(seed + 1);
  const B = 32;
  for (let step = 0; step < 400; step++) {
    const { x, y } = recallBatch(g, B);
    nb.scope(() => {
      opt.zeroGrad();
      const logits = head.forward(run(x).narrow(0, 1, T - 1)); // (T − 1, B, K)
      const target = y.reshape([1, B, 1]).expand([T - 1, B, 1]);
      const loss = logits.logSoftmax(-1).gather(2, target).mean().neg();
      loss.backward();
      nb.nn.utils.clipGradNorm(params, 1);
      opt.step();
    });
  }
  const test = recallBatch(new nb.Generator(1000 + seed), 1000);
  return nb.noGrad(() =>
    head
      .forward(run(test.x).select(0, T - 1))
      .argmax(-1)
      .eq(test.y.reshape([1000]))
      .float()
      .mean()
      .item(),
  );
}

describe('training recurrent networks', () => {
  test('an LSTM remembers a symbol across 40 distractors; a tanh RNN of the same size does not', (t) => {
    const lstm = trainRecall('LSTM', 0);
    const rnn = trainRecall('RNN', 0);
    t.diagnostic(
      `recall after 40 distractors: LSTM ${(100 * lstm).toFixed(1)}%, tanh RNN ${(100 * rnn).toFixed(1)}% (chance 12.5%)`,
    );
    // Usually 100%; the trajectory is chaotic in float32 rounding, and kernels that round
    // differently (fused vs composite, ref vs native) have given as little as 87.7% at this seed.
    assert.ok(lstm >= 0.85, `LSTM accuracy ${lstm}`);
    assert.ok(rnn <= 0.5, `RNN accuracy ${rnn}`);
  });

  test('truncated BPTT learns a periodic signal from one long sequence', () => {
    nb.manualSeed(0);
    const steps = 2000;
    const B = 4;
    const signal = (t: number, b: number): number =>
      0.8 * Math.sin((2 * Math.PI * (t + 7 * b)) / 20) +
      0.3 * Math.sin((2 * Math.PI * (t + 3 * b)) / 7);
    const data = new Float32Array((steps + 1) * B);
    for (let t = 0; t <= steps; t++) for (let b = 0; b < B; b++) data[t * B + b] = signal(t, b);
    const all = nb.tensor(data, { shape: [steps + 1, B, 1] });
    const lstm = new nb.nn.LSTM(1, 16);
    const head = new nb.nn.Linear(16, 1);
    const opt = new nb.optim.Adam([...lstm.parameters(), ...head.parameters()], { lr: 0.01 });
    const history: number[][] = [];
    for (let epoch = 0; epoch < 2; epoch++) {
      const { losses } = nb.nn.truncatedBptt<[nb.Tensor, nb.Tensor]>(
        all.narrow(0, 0, steps),
        ({ x, targets, state }) => {
          const [out, hc] = lstm.forward(x, state);
          return { loss: head.forward(out).sub(targets!).square().mean(), state: hc };
        },
        { k: 25, targets: all.narrow(0, 1, steps), optimizer: opt },
      );
      assert.equal(losses.length, steps / 25);
      history.push(losses);
    }
    const first = history[0]![0]!;
    const last = history[1]!.slice(-10).reduce((a, b) => a + b, 0) / 10;
    // The signal's variance is 0.8²/2 + 0.3²/2 ≈ 0.365.
    assert.ok(first > 0.1, `initial loss ${first}`);
    assert.ok(last < 2e-3, `final loss ${last}`);
  });
});
