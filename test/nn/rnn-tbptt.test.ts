/**
 * Truncated BPTT helpers: chunking, detaching, carrying the state (h and c), the truncated
 * gradient against a hand-written loop, k ≥ T against full BPTT, clipping, and the memory bound
 * (peak live bytes independent of T for a fixed k, growing with T for full BPTT).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose } from '../core/helpers.js';

describe('timeChunks and detachState', () => {
  test('chunks of k steps along time (dim 0, or 1 with batchFirst), with targets', () => {
    const x = nb.arange(0, 2 * 7).reshape([7, 2]);
    const chunks = [...nb.nn.timeChunks(x, 3, { targets: x.mul(10) })];
    assert.deepEqual(
      chunks.map((c) => [c.index, c.start, c.length, c.x.shape[0]]),
      [
        [0, 0, 3, 3],
        [1, 3, 3, 3],
        [2, 6, 1, 1],
      ],
    );
    assertClose(chunks[1]!.targets!, x.narrow(0, 3, 3).mul(10), 0);
    const bf = [...nb.nn.timeChunks(nb.zeros([2, 5, 3]), 2, { batchFirst: true })];
    assert.deepEqual(
      bf.map((c) => c.x.shape),
      [
        [2, 2, 3],
        [2, 2, 3],
        [2, 1, 3],
      ],
    );
    assert.throws(() => [...nb.nn.timeChunks(x, 0)], nb.ValueError);
    assert.throws(() => [...nb.nn.timeChunks(x, 2, { targets: nb.zeros([6, 2]) })], nb.ValueError);
  });

  test('detachState detaches tensors in arrays and objects, sharing their values', () => {
    const w = nb.ones([2], { requiresGrad: true });
    const h = w.mul(2);
    const c = w.mul(3);
    const s = nb.nn.detachState({ hc: [h, c], n: null });
    const [h2, c2] = s.hc as nb.Tensor[];
    assert.ok(!h2!.requiresGrad && !c2!.requiresGrad && s.n === null);
    assertClose(h2!, h, 0);
    assert.equal(nb.nn.detachState(undefined), undefined);
  });
});

/** Runs a GRU over chunks by hand: per chunk, forward from the detached state and backward. */
function manualTruncated(gru: nb.nn.GRU, x: nb.Tensor, k: number): void {
  let h: nb.Tensor | undefined;
  for (let s = 0; s < x.shape[0]!; s += k) {
    const len = Math.min(k, x.shape[0]! - s);
    const [out, hN] = gru.forward(x.narrow(0, s, len), h);
    out.square().sum().backward();
    h = hN.detach();
  }
}

describe('truncatedBptt', () => {
  const make = (): { gru: nb.nn.GRU; x: nb.Tensor } => {
    nb.manualSeed(21);
    return { gru: new nb.nn.GRU(3, 4, { numLayers: 2 }), x: nb.randn([10, 2, 3]) };
  };
  const step =
    (gru: nb.nn.GRU) =>
    ({ x, state }: { x: nb.Tensor; state: nb.Tensor | undefined }) => {
      const [out, hN] = gru.forward(x, state);
      return { loss: out.square().sum(), state: hN };
    };

  test('accumulated gradients equal a hand-written truncated loop', () => {
    const { gru, x } = make();
    manualTruncated(gru, x, 4);
    const expected = gru.parameters().map((p) => p.grad!.clone());
    gru.zeroGrad();
    const { losses } = nb.nn.truncatedBptt(x, step(gru), { k: 4, params: gru.parameters() });
    assert.equal(losses.length, 3);
    gru.parameters().forEach((p, i) => assertClose(p.grad!, expected[i]!, 1e-6));
  });

  test('k >= T is full BPTT; k < T gives a different (truncated) gradient', () => {
    const { gru, x } = make();
    const [out] = gru.forward(x);
    out.square().sum().backward();
    const full = gru.parameters().map((p) => p.grad!.clone());
    gru.zeroGrad();
    nb.nn.truncatedBptt(x, step(gru), { k: 10, params: gru.parameters() });
    gru.parameters().forEach((p, i) => assertClose(p.grad!, full[i]!, 1e-6));
    gru.zeroGrad();
    nb.nn.truncatedBptt(x, step(gru), { k: 3, params: gru.parameters() });
    const w = gru.flatWeight('weight_hh', 0)!;
    assert.ok(w.grad!.sub(full[1]!).abs().max().item() > 1e-4);
  });

  test('the carried LSTM state (h and c) is detached and continues the sequence exactly', () => {
    nb.manualSeed(22);
    const lstm = new nb.nn.LSTM(2, 3);
    const x = nb.randn([9, 2, 2]);
    const [full] = nb.noGrad(() => lstm.forward(x));
    const pieces: nb.Tensor[] = [];
    nb.nn.truncatedBptt<[nb.Tensor, nb.Tensor]>(
      x,
      ({ x, state, index }) => {
        if (index > 0) assert.ok(state!.every((s) => !s.requiresGrad && s.gradFn === null));
        else assert.equal(state, undefined);
        const [out, hc] = lstm.forward(x, state);
        pieces.push(nb.keep(out.detach()));
        return { loss: out.sum(), state: hc };
      },
      { k: 4, params: lstm.parameters() },
    );
    assertClose(nb.cat(pieces, 0), full, 1e-6);
  });

  test('optimizer, clipping, initial state and batchFirst', () => {
    nb.manualSeed(23);
    const rnn = new nb.nn.RNN(2, 3, { batchFirst: true });
    const opt = new nb.optim.SGD(rnn.parameters(), { lr: 0.1 });
    const before = rnn.flatWeight('weight_hh', 0)!.clone();
    const seen: number[] = [];
    const { losses, state } = nb.nn.truncatedBptt(
      nb.randn([2, 7, 2]),
      ({ x, state }) => {
        const [out, h] = rnn.forward(x, state);
        return { loss: out.sum().mul(100), state: h };
      },
      {
        k: 3,
        batchFirst: true,
        optimizer: opt,
        clipGradNorm: 0.01,
        initialState: nb.zeros([1, 2, 3]),
        onChunk: ({ index }) => seen.push(index),
      },
    );
    assert.deepEqual(seen, [0, 1, 2]);
    assert.equal(losses.length, 3);
    assert.deepEqual(state!.shape, [1, 2, 3]);
    // Every step was clipped: each change of the weights is at most lr · 0.01 in norm.
    const total = Math.sqrt(
      rnn.parameters().reduce((s, p) => s + p.grad!.square().sum().item(), 0),
    );
    assert.ok(total <= 0.01 + 1e-6, `clipped norm ${total}`);
    const moved = rnn.flatWeight('weight_hh', 0)!.sub(before).abs().max().item();
    assert.ok(moved > 0 && moved <= 3 * 0.1 * 0.01 + 1e-6);
  });

  test('peak memory grows with k, not with T', () => {
    nb.manualSeed(24);
    const gru = new nb.nn.GRU(4, 32);
    const opt = new nb.optim.SGD(gru.parameters(), { lr: 0.01 });
    const peak = (T: number, k: number): number => {
      const x = nb.randn([T, 8, 4]);
      const base = nb.memoryStats({ resetPeak: true }).liveBytes;
      nb.nn.truncatedBptt(x, step(gru), { k, optimizer: opt });
      return nb.memoryStats().peakBytes - base;
    };
    const t64 = peak(64, 16);
    const t256 = peak(256, 16);
    const full64 = peak(64, 64);
    const full256 = peak(256, 256);
    assert.ok(t256 < 1.1 * t64, `k = 16: ${t64} bytes at T = 64, ${t256} at T = 256`);
    assert.ok(full256 > 3 * full64, `full BPTT: ${full64} bytes at T = 64, ${full256} at T = 256`);
    assert.ok(full64 > 2.5 * t64);
  });
});
