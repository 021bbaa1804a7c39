/**
 * Decoding helpers: greedy/temperature/top-k/top-p sampling on known logits, the generic
 * autoregressive loop against GPT.generate, and for encoder–decoder models greedy decoding and
 * beam search — on a toy Markov scorer whose best output is known by exhaustive search (greedy
 * misses it), with beam size 1 equal to greedy, and on an nb.nn.Transformer through
 * transformerSeq2Seq, where cached decoding must equal uncached decoding and every beam's
 * log-probability must equal the one a full teacher-forced forward gives (which checks that the
 * key/value cache follows the beams).
 *
 * Tolerances: log-probabilities recomputed by a full forward within 1e-4 (float32 attention over
 * cached vs full keys); everything else exact.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const { greedy, sample, generateTokens, greedyDecode, beamSearch, transformerSeq2Seq } = nb.train;

describe('decode: sampling', () => {
  const logits = nb.tensor([
    [0.1, 2, 0.3, 1.9],
    [5, 1, 1, 5],
  ]);

  test('greedy takes the first largest; temperature 0, topK 1 and a tiny topP are greedy', () => {
    assert.deepEqual(Array.from(greedy(logits)), [1, 0]);
    assert.deepEqual(Array.from(greedy(nb.tensor([3, 1, 7]))), [2]);
    const g = new nb.Generator(0);
    for (const options of [{ temperature: 0 }, { topK: 1 }, { topP: 1e-6 }])
      for (let i = 0; i < 5; i++)
        assert.deepEqual(Array.from(sample(logits, { ...options, generator: g })), [1, 0]);
  });

  test('sampling is reproducible with a seeded generator and stays inside topK / topP', () => {
    const a = sample(logits, { generator: new nb.Generator(3) });
    const b = sample(logits, { generator: new nb.Generator(3) });
    assert.deepEqual(a, b);
    const g = new nb.Generator(1);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const [r0, r1] = sample(logits, { topK: 2, temperature: 3, generator: g });
      assert.ok(r0 === 1 || r0 === 3, `top-2 of row 0 is {1, 3}, got ${r0}`);
      assert.ok(r1 === 0 || r1 === 3, `top-2 of row 1 is {0, 3}, got ${r1}`);
      seen.add(r0!);
    }
    assert.deepEqual([...seen].sort(), [1, 3]);
    // Row 1: tokens 0 and 3 hold ~98% of the mass; topP 0.9 keeps exactly those two.
    for (let i = 0; i < 100; i++) {
      const r1 = sample(logits, { topP: 0.9, generator: g })[1]!;
      assert.ok(r1 === 0 || r1 === 3);
    }
    // Frequencies follow softmax at temperature 1: p(token 1 | row 0) ≈ 0.47.
    let ones = 0;
    for (let i = 0; i < 2000; i++)
      ones += sample(logits.select(0, 0), { generator: g })[0] === 1 ? 1 : 0;
    const p = Math.exp(2) / [0.1, 2, 0.3, 1.9].reduce((s, x) => s + Math.exp(x), 0);
    assert.ok(Math.abs(ones / 2000 - p) < 0.04, `${ones / 2000} vs ${p}`);
  });

  test('invalid options are ValueErrors naming the option', () => {
    assert.throws(() => sample(logits, { temperature: -1 }), /temperature/);
    assert.throws(() => sample(logits, { topK: 0 }), /topK/);
    assert.throws(() => sample(logits, { topP: 1.5 }), /topP/);
    assert.throws(() => sample(nb.zeros([2, 2, 2])), nb.ShapeError);
  });

  test('generateTokens drives any step function; with a GPT it equals GPT.generate', () => {
    // A counter "model": the next token is the last one + 1.
    const V = 5;
    const counter = (x: nb.Tensor): nb.Tensor => {
      const last = x.select(1, -1).dataSync(); // (B)
      const out = new Float32Array(last.length * V).fill(-10);
      last.forEach((t, b) => (out[b * V + ((t + 1) % V)] = 10));
      return nb.tensor(out, { shape: [last.length, V] });
    };
    const prompt = nb.tensor([[0], [3]], { dtype: 'int32' });
    assert.deepEqual(generateTokens(counter, prompt, 4, { temperature: 0 }).toArray(), [
      [0, 1, 2, 3, 4],
      [3, 4, 0, 1, 2],
    ]);

    nb.manualSeed(0);
    const model = new nb.models.GPT(nb.models.gptPresets.tiny).eval();
    const p = nb.tensor([[1, 2, 3]], { dtype: 'int32' });
    const cache = model.createCache();
    const ours = generateTokens((x) => model.forwardCached(x, cache), p, 5, {
      topK: 4,
      generator: new nb.Generator(42),
    });
    const theirs = model.generate(p, 5, { topK: 4, generator: new nb.Generator(42) });
    assert.deepEqual(ours.toArray(), theirs.toArray());
  });
});

/**
 * A toy "model" whose next-token distribution depends only on the last token: probs[last][next].
 * Tokens: 0 BOS, 1 EOS, 2 A, 3 B.
 */
function markov(probs: number[][]): nb.train.Seq2SeqModel<nb.Tensor> {
  return {
    encode: (src) => src,
    decodeStep: (tokens) => {
      const [N, t] = tokens.shape as [number, number];
      const ids = tokens.dataSync();
      const V = probs[0]!.length;
      const out = new Float32Array(N * V);
      for (let n = 0; n < N; n++) {
        const row = probs[ids[n * t + t - 1]!]!;
        for (let v = 0; v < V; v++) out[n * V + v] = Math.log(row[v]!);
      }
      return nb.tensor(out, { shape: [N, V] });
    },
  };
}

/** Every output up to maxLen tokens with its log-probability (exhaustive search). */
function allOutputs(probs: number[][], maxLen: number): { tokens: number[]; logProb: number }[] {
  const out: { tokens: number[]; logProb: number }[] = [];
  const walk = (tokens: number[], last: number, lp: number): void => {
    for (let v = 0; v < probs[0]!.length; v++) {
      const p = Math.fround(Math.log(probs[last]![v]!));
      if (p === -Infinity) continue;
      const next = [...tokens, v];
      if (v === 1) out.push({ tokens: next, logProb: lp + p });
      else if (next.length < maxLen) walk(next, v, lp + p);
      else out.push({ tokens: next, logProb: lp + p });
    }
  };
  walk([], 0, 0);
  return out;
}

describe('decode: greedy and beam search (toy scorer)', () => {
  // From BOS: A 0.55, B 0.45. After A the mass is spread (A, B, EOS ~1/3 each); after B, EOS 0.9.
  // Greedy goes A...; the best output is [B, EOS] with 0.45 · 0.9 = 0.405.
  const probs = [
    [1e-9, 1e-9, 0.55, 0.45],
    [0.25, 0.25, 0.25, 0.25],
    [1e-9, 0.34, 0.33, 0.33],
    [1e-9, 0.9, 0.05, 0.05],
  ];
  const src = nb.tensor([[7, 8, 9]], { dtype: 'int32' });
  const opts = { bos: 0, eos: 1, maxLen: 5 };

  test('beam search finds the best output that greedy misses', () => {
    const g = greedyDecode(markov(probs), src, opts)[0]!;
    assert.deepEqual(g, [2, 1]); // A then EOS (0.34 beats A 0.33 and B 0.33)
    for (const lengthPenalty of [0, 1]) {
      const beams = beamSearch(markov(probs), src, { ...opts, beamSize: 2, lengthPenalty });
      assert.deepEqual(beams[0]!.tokens, [3, 1], `α = ${lengthPenalty}`);
      assert.ok(Math.abs(beams[0]!.logProb - Math.log(0.405)) < 1e-6);
      assert.equal(beams[0]!.finished, true);
      // The exhaustive search agrees on the best score.
      const best = Math.max(
        ...allOutputs(probs, opts.maxLen).map((o) => o.logProb / o.tokens.length ** lengthPenalty),
      );
      assert.ok(Math.abs(beams[0]!.score - best) < 1e-6);
      assert.ok(
        beams.every((b, i) => i === 0 || b.score <= beams[i - 1]!.score),
        'best first',
      );
    }
  });

  test('with a wide beam, the top hypotheses are the exhaustive top list', () => {
    const rng = new nb.Generator(5);
    for (let trial = 0; trial < 5; trial++) {
      // Random 5-token chains; BOS never follows.
      const table = Array.from({ length: 5 }, () =>
        Array.from({ length: 5 }, (_, v) => (v === 0 ? 1e-12 : 0.1 + rng.nextDouble())),
      ).map((row) => row.map((p) => p / row.reduce((a, b) => a + b, 0)));
      for (const alpha of [0, 1]) {
        const maxLen = 4;
        const all = allOutputs(table, maxLen)
          .map((o) => o.logProb / o.tokens.length ** alpha)
          .sort((a, b) => b - a);
        const beams = beamSearch(markov(table), src, {
          bos: 0,
          eos: 1,
          maxLen,
          beamSize: 64,
          lengthPenalty: alpha,
          numReturn: 3,
        });
        beams.forEach((b, i) =>
          assert.ok(Math.abs(b.score - all[i]!) < 1e-5, `trial ${trial} α ${alpha} rank ${i}`),
        );
      }
    }
  });

  test('beam size 1 is greedy (lengthPenalty 0, or early stopping)', () => {
    const rng = new nb.Generator(9);
    for (let trial = 0; trial < 20; trial++) {
      const V = 6;
      const table = Array.from({ length: V }, () =>
        Array.from({ length: V }, (_, v) => (v === 0 ? 1e-12 : rng.nextDouble() ** 3 + 1e-3)),
      );
      const model = markov(table);
      const g = greedyDecode(model, src, { bos: 0, eos: 1, maxLen: 8 })[0]!;
      const b0 = beamSearch(model, src, {
        bos: 0,
        eos: 1,
        maxLen: 8,
        beamSize: 1,
        lengthPenalty: 0,
      });
      const b1 = beamSearch(model, src, {
        bos: 0,
        eos: 1,
        maxLen: 8,
        beamSize: 1,
        lengthPenalty: 1,
        earlyStopping: true,
      });
      assert.deepEqual(b0[0]!.tokens, g, `trial ${trial}`);
      assert.deepEqual(b1[0]!.tokens, g, `trial ${trial}`);
    }
  });

  test('errors: a batch of sources, a cache without reorderCache, bad options', () => {
    const model = markov(probs);
    assert.throws(() => beamSearch(model, nb.zeros([2, 3]), opts), /one source at a time/);
    assert.throws(
      () => beamSearch({ ...model, createCache: () => null }, src, { ...opts, beamSize: 2 }),
      /reorderCache/,
    );
    assert.throws(() => beamSearch(model, src, { ...opts, beamSize: 0 }), /beamSize/);
    assert.throws(() => greedyDecode(model, src, { ...opts, maxLen: 0 }), /maxLen/);
  });
});

describe('decode: nn.Transformer through transformerSeq2Seq', () => {
  function setup(batchFirst: boolean) {
    nb.manualSeed(3);
    const V = 11;
    const E = 16;
    const transformer = new nb.nn.Transformer({
      dModel: E,
      nhead: 2,
      numEncoderLayers: 1,
      numDecoderLayers: 2,
      dimFeedforward: 32,
      dropout: 0,
      batchFirst,
    }).eval();
    const srcEmb = new nb.nn.Embedding(V, E);
    const tgtEmb = new nb.nn.Embedding(V, E);
    const pos = new nb.nn.Embedding(32, E);
    const proj = new nb.nn.Linear(E, V);
    const parts = {
      transformer,
      srcEmbed: (s: nb.Tensor) => srcEmb.forward(s).add(pos.forward(nb.arange(0, s.shape[1]!))),
      tgtEmbed: (t: nb.Tensor, offset: number) =>
        tgtEmb.forward(t).add(pos.forward(nb.arange(offset, offset + t.shape[1]!))),
      project: (h: nb.Tensor) => proj.forward(h).mul(3), // sharper distributions
    };
    return { parts, V };
  }

  /** Σ log p(token) of `out` given src under a full (teacher-forced, uncached) forward. */
  function fullLogProb(
    parts: nb.train.TransformerSeq2SeqParts,
    src: nb.Tensor,
    out: number[],
  ): number {
    return nb.noGrad(() => {
      const m = transformerSeq2Seq({ ...parts, useCache: false });
      const memory = m.encode(src);
      let lp = 0;
      const prefix = [0];
      for (const tok of out) {
        const logits = m.decodeStep(nb.tensor([prefix], { dtype: 'int32' }), memory, null);
        lp += logits.logSoftmax(-1).dataSync()[tok]!;
        prefix.push(tok);
      }
      return lp;
    });
  }

  for (const batchFirst of [true, false]) {
    test(`cached equals uncached; beams' log-probs match full forwards (batchFirst ${batchFirst})`, () => {
      const { parts } = setup(batchFirst);
      const cached = transformerSeq2Seq(parts);
      const uncached = transformerSeq2Seq({ ...parts, useCache: false });
      const srcs = nb.tensor(
        [
          [3, 4, 5, 6],
          [9, 2, 2, 7],
        ],
        { dtype: 'int32' },
      );
      const opts = { bos: 0, eos: 1, maxLen: 7 };
      const g = greedyDecode(cached, srcs, opts);
      assert.deepEqual(g, greedyDecode(uncached, srcs, opts));
      // Greedy over a batch equals greedy per row.
      assert.deepEqual(g[1], greedyDecode(cached, srcs.narrow(0, 1, 1), opts)[0]);
      for (let r = 0; r < 2; r++) {
        const src = srcs.narrow(0, r, 1);
        const beams = beamSearch(cached, src, { ...opts, beamSize: 3, lengthPenalty: 0.7 });
        const plain = beamSearch(uncached, src, { ...opts, beamSize: 3, lengthPenalty: 0.7 });
        assert.deepEqual(
          beams.map((b) => b.tokens),
          plain.map((b) => b.tokens),
        );
        for (const b of beams) {
          const lp = fullLogProb(parts, src, b.tokens);
          assert.ok(Math.abs(b.logProb - lp) < 1e-4, `${b.tokens}: ${b.logProb} vs ${lp}`);
        }
        const one = beamSearch(cached, src, { ...opts, beamSize: 1, lengthPenalty: 0 });
        assert.deepEqual(one[0]!.tokens, g[r]);
        // A wider beam never returns a worse best than greedy's path (when greedy finished).
        if (g[r]![g[r]!.length - 1] === 1) {
          const wide = beamSearch(cached, src, { ...opts, beamSize: 4, lengthPenalty: 0 });
          assert.ok(wide[0]!.logProb >= fullLogProb(parts, src, g[r]!) - 1e-5);
        }
      }
    });
  }
});
