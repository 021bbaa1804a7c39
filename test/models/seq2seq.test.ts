/**
 * nb.models.TransformerSeq2Seq and nb.models.RNNLanguageModel: state-dict keys and weight tying,
 * cached decoding against full forwards, beam search of width 1 against greedy decoding, padding
 * that does not change a row's output, overfitting a batch, and the recurrent state carried
 * across calls.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const { TransformerSeq2Seq, RNNLanguageModel } = nb.models;

const int32 = (rows: number[][]): nb.Tensor => nb.tensor(rows, { dtype: 'int32' });

function tinySeq2Seq(
  extra: Partial<nb.models.TransformerSeq2SeqConfig> = {},
): nb.models.TransformerSeq2Seq {
  return new TransformerSeq2Seq({
    srcVocabSize: 15,
    tgtVocabSize: 15,
    dModel: 16,
    nHead: 2,
    numEncoderLayers: 1,
    numDecoderLayers: 2,
    dimFeedforward: 32,
    dropout: 0,
    ...extra,
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('TransformerSeq2Seq', () => {
  test("state-dict keys follow PyTorch's names; the output projection is tied", () => {
    nb.manualSeed(0);
    const model = tinySeq2Seq();
    const keys = Object.keys(model.stateDict());
    assert.ok(keys.includes('src_embed.weight'));
    assert.ok(keys.includes('tgt_embed.weight'));
    assert.ok(keys.includes('generator.weight'));
    assert.ok(keys.includes('transformer.encoder.layers.0.self_attn.in_proj_weight'));
    assert.ok(keys.includes('transformer.decoder.norm.weight'));
    assert.equal(model.outProj.weight, model.tgtEmbed.weight);
    assert.ok(!keys.includes('generator.bias'));
    const untied = tinySeq2Seq({ tieEmbeddings: false });
    assert.notEqual(untied.outProj.weight, untied.tgtEmbed.weight);
    assert.ok(Object.keys(untied.stateDict()).includes('generator.bias'));
  });

  test('cached greedy decoding picks the argmax of the full forward at every step', () => {
    nb.manualSeed(1);
    const model = tinySeq2Seq().eval();
    const src = int32([[1, 5, 6, 7, 2]]);
    const [out] = model.decode(src, { bos: 1, eos: 2, maxLen: 6 });
    // Re-derive each token from a full (uncached) forward over the prefix.
    const prefix = [1];
    nb.noGrad(() => {
      for (const token of out!) {
        const logits = model.forward(src, int32([prefix])); // (1, t, V)
        const last = logits.select(1, -1).dataSync();
        const argmax = last.indexOf(Math.max(...last));
        assert.equal(token, argmax);
        prefix.push(token);
      }
    });
  });

  test('decodeStep with the key/value cache equals re-running the prefix, with padded sources', () => {
    nb.manualSeed(4);
    const model = tinySeq2Seq().eval();
    const src = int32([
      [1, 5, 6, 7, 2],
      [1, 8, 2, 0, 0],
    ]);
    nb.noGrad(() => {
      const memory = model.encode(src);
      assert.ok(memory.padding !== null);
      const cache = model.createCache();
      const tokens = [
        [1, 9, 10, 11],
        [1, 12, 13, 14],
      ];
      for (let t = 1; t <= 4; t++) {
        const prefix = int32(tokens.map((r) => r.slice(0, t)));
        const cached = model.decodeStep(prefix, memory, cache).dataSync();
        const full = model.decodeStep(prefix, memory, null).dataSync();
        assert.ok(maxDiff(cached, full) < 1e-5, `step ${t}: ${maxDiff(cached, full)}`);
      }
    });
  });

  test('beam search of width 1 with lengthPenalty 0 equals greedy; padding does not change a row', () => {
    nb.manualSeed(2);
    const model = tinySeq2Seq();
    const batch = nb.data.collateSeq2Seq(
      [
        { src: [5, 6, 7, 8, 9], tgt: [9] },
        { src: [10, 11], tgt: [9] },
      ],
      nb.data.SYNTHETIC_SPECIAL_IDS,
    );
    const o = { bos: 1, eos: 2, maxLen: 7 };
    const greedy = model.decode(batch.src, o);
    const beam = model.decode(batch.src, { ...o, beamSize: 1, lengthPenalty: 0 });
    assert.deepEqual(beam, greedy);
    // The second row alone (no padding) decodes as in the padded batch.
    const alone = model.decode(int32([[1, 10, 11, 2]]), o);
    assert.deepEqual(alone[0], greedy[1]);
    assert.ok(model.training, 'decode restores training mode');
  });

  test('overfits a batch of the reversal task', async () => {
    nb.manualSeed(3);
    const model = tinySeq2Seq({ dModel: 32, nHead: 4, dimFeedforward: 64 });
    const batch = nb.data.syntheticBatch('reverse', 8, { seed: 4, maxLength: 4 });
    const optimizer = new nb.optim.AdamW(model.parameters(), { lr: 3e-3 });
    let loss = Infinity;
    await nb.train.trainLoop({
      model,
      optimizer,
      data: () => batch,
      loss: (m, b) => m.loss(b),
      maxSteps: 150,
      onStep: ({ record }) => void (loss = record.loss),
    });
    assert.ok(loss < 0.05, `loss ${loss}`);
    const out = model.decode(batch.src, { bos: 1, eos: 2, maxLen: 6, beamSize: 2 });
    const tgt = batch.tgt.toArray() as number[][];
    out.forEach((row, i) => assert.deepEqual(row, tgt[i]!.slice(1, tgt[i]!.indexOf(2))));
  });

  test('input errors', () => {
    const model = tinySeq2Seq({ maxLen: 8 });
    assert.throws(
      () => model.forward(int32([[1, 20]]), int32([[1]])),
      /token id 20 .*vocabulary of 15/,
    );
    assert.throws(
      () => model.forward(int32([[1, 2, 3, 4, 5, 6, 7, 8, 9]]), int32([[1]])),
      /beyond maxLen 8/,
    );
    assert.throws(() => tinySeq2Seq({ dModel: 15 }), /divisible by nHead/);
  });
});

describe('RNNLanguageModel', () => {
  for (const cell of ['lstm', 'gru', 'rnn'] as const) {
    test(`${cell}: feeding a sequence in two pieces with the carried state equals one forward`, () => {
      nb.manualSeed(5);
      const model = new RNNLanguageModel({ vocabSize: 11, cell, hiddenSize: 12, numLayers: 2 });
      const idx = int32([
        [1, 2, 3, 4, 5, 6],
        [6, 5, 4, 3, 2, 1],
      ]);
      nb.noGrad(() => {
        const full = model.forward(idx).logits; // (2, 6, 11)
        const a = model.forward(idx.narrow(1, 0, 4));
        const b = model.forward(idx.narrow(1, 4, 2), undefined, a.state);
        const pieces = nb.cat([a.logits, b.logits], 1);
        assert.ok(maxDiff(full.dataSync(), pieces.dataSync()) < 1e-5);
      });
    });
  }

  test('loss, tied weights, keys, generation', () => {
    nb.manualSeed(6);
    const model = new RNNLanguageModel({
      vocabSize: 9,
      cell: 'lstm',
      hiddenSize: 8,
      tieWeights: true,
    });
    assert.equal(model.decoder.weight, model.encoder.weight);
    const keys = Object.keys(model.stateDict());
    for (const k of [
      'encoder.weight',
      'rnn.weight_ih_l0',
      'rnn.weight_hh_l0',
      'decoder.weight',
      'decoder.bias',
    ])
      assert.ok(keys.includes(k), k);
    const { loss } = model.forward(int32([[1, 2, 3]]), int32([[2, 3, -1]]));
    assert.ok(Number.isFinite(loss!.item()));
    loss!.backward();
    assert.ok(model.encoder.weight.grad !== null);
    const out = model.generate(int32([[1, 2]]), 5, { temperature: 0 });
    assert.deepEqual(out.shape, [1, 7]);
    const again = model.generate(int32([[1, 2]]), 5, { temperature: 0 });
    assert.deepEqual(again.toArray(), out.toArray());
    const g1 = model.generate(int32([[1]]), 6, { topK: 3, generator: new nb.Generator(9) });
    const g2 = model.generate(int32([[1]]), 6, { topK: 3, generator: new nb.Generator(9) });
    assert.deepEqual(g1.toArray(), g2.toArray());
    assert.throws(
      () =>
        new RNNLanguageModel({
          vocabSize: 9,
          cell: 'lstm',
          hiddenSize: 8,
          embedSize: 4,
          tieWeights: true,
        }),
      /tieWeights needs/,
    );
  });

  test('learns to continue a repeating sequence', async () => {
    nb.manualSeed(7);
    const model = new RNNLanguageModel({ vocabSize: 5, cell: 'gru', hiddenSize: 16 });
    const seq = Array.from({ length: 9 }, (_, i) => i % 5);
    const x = int32([seq.slice(0, 8)]);
    const y = int32([seq.slice(1, 9)]);
    await nb.train.trainLoop({
      model,
      optimizer: new nb.optim.Adam(model.parameters(), { lr: 0.03 }),
      data: () => ({ x, y }),
      loss: (m, b) => m.forward(b.x, b.y).loss!,
      maxSteps: 80,
    });
    const out = model.generate(int32([[0, 1]]), 6, { temperature: 0 });
    assert.deepEqual(out.toArray(), [[0, 1, 2, 3, 4, 0, 1, 2]]);
  });
});
