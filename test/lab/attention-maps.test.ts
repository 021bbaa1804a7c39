/**
 * nb.lab.attentionMaps: the captured weights are the module's own (MultiheadAttention's
 * needWeights output; for GPT's CausalSelfAttention, weights that reproduce its output through
 * the values and c_proj), every row sums to 1, causal maps are lower-triangular, the per-head
 * numbers match hand-made maps, the heat map renders with the token labels, and bad input is a
 * clear error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { renderSvg } from '../../src/lab/node/render.js';

const maxDiff = (a: number[][][], b: number[][][]): number =>
  Math.max(...a.flat(2).map((x, i) => Math.abs(x - b.flat(2)[i]!)));

/** Nested H × L × S arrays of a (1, H, L, S) tensor. */
function nested(w: nb.Tensor): number[][][] {
  return (w.toArray() as number[][][][])[0]!;
}

/** An embedding and one MultiheadAttention, called with needWeights false as Transformer layers do. */
class OneAttention extends nb.nn.Module {
  emb = new nb.nn.Embedding(12, 8);
  attn = new nb.nn.MultiheadAttention({ embedDim: 8, numHeads: 2, batchFirst: true });
  constructor(readonly causal: boolean) {
    super();
  }
  mask(T: number): nb.Tensor | null {
    return this.causal ? nb.nn.Transformer.generateSquareSubsequentMask(T) : null;
  }
  forward(ids: nb.Tensor): nb.Tensor {
    const x = this.emb.forward(ids);
    return this.attn.forward(x, x, x, {
      attnMask: this.mask(ids.shape[1]!),
      needWeights: false,
    })[0];
  }
}

function checkRows(map: nb.lab.AttentionMap, tol: number): void {
  for (const rows of map.weights)
    for (const row of rows) {
      const sum = row.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < tol, `row sums to ${sum}`);
      assert.ok(row.every((w) => w >= 0));
    }
}

function checkLowerTriangular(map: nb.lab.AttentionMap): void {
  map.weights.forEach((rows) =>
    rows.forEach((row, i) =>
      row.forEach((w, j) => {
        if (j > i) assert.equal(w, 0, `w[${i}][${j}] above the diagonal`);
        else assert.ok(w > 0, `w[${i}][${j}] on or below the diagonal is positive`);
      }),
    ),
  );
}

describe('attentionMaps on MultiheadAttention', () => {
  for (const causal of [false, true]) {
    test(`captured weights equal the module's needWeights output (${causal ? 'causal' : 'full'})`, () => {
      nb.manualSeed(1);
      const model = new OneAttention(causal);
      const ids = [3, 1, 4, 1, 5, 9];
      const { maps } = nb.lab.attentionMaps(model, ids);
      assert.equal(maps.length, 1);
      const map = maps[0]!;
      assert.equal(map.module, 'attn');
      assert.equal(map.kind, 'self');
      assert.equal(map.causal, causal);
      assert.equal(map.numHeads, 2);
      assert.deepEqual(map.queryLabels, ids.map(String));

      model.eval();
      const x = model.emb.forward(nb.tensor([ids], { dtype: 'int32' }));
      const opts = { attnMask: model.mask(ids.length), needWeights: true };
      const [, perHead] = model.attn.forward(x, x, x, { ...opts, averageAttnWeights: false });
      assert.equal(maxDiff(map.weights, nested(perHead!)), 0);
      // The module's head-averaged weights are the mean of the captured heads.
      const [, averaged] = model.attn.forward(x, x, x, opts);
      const avg = (averaged!.toArray() as number[][][])[0]!;
      const mean = map.weights[0]!.map((row, i) =>
        row.map((w, j) => (w + map.weights[1]![i]![j]!) / 2),
      );
      assert.ok(maxDiff([mean], [avg]) < 1e-7);

      checkRows(map, 1e-6);
      if (causal) checkLowerTriangular(map);
    });
  }

  test('the model is left in its mode and without hooks', () => {
    const model = new OneAttention(false);
    assert.equal(model.training, true);
    nb.lab.attentionMaps(model, [1, 2, 3]);
    assert.equal(model.training, true);
    const again = nb.lab.attentionMaps(model, [1, 2]);
    assert.equal(again.maps.length, 1, 'the first call left no hook behind');
  });
});

describe('attentionMaps on models', () => {
  test('GPT: causal maps per layer, and they reproduce each attention output', () => {
    nb.manualSeed(2);
    const gpt = new nb.models.GPT({ ...nb.models.gptPresets.tiny, vocabSize: 10 });
    const ids = [1, 2, 3, 4, 5, 6, 7];
    // The module's own outputs, seen by a hook of the test.
    const seen: { x: nb.Tensor; y: nb.Tensor }[] = [];
    const handles = [...gpt.transformer.h].map((b) =>
      b.attn.registerForwardHook((_m, args, out) => {
        seen.push({ x: nb.keep(args[0] as nb.Tensor), y: nb.keep(out as nb.Tensor) });
      }),
    );
    const { maps } = nb.lab.attentionMaps(gpt, ids, { labels: ids.map((i) => `t${i}`) });
    for (const h of handles) h.remove();
    assert.deepEqual(
      maps.map((m) => [m.module, m.layer, m.group]),
      [
        ['transformer.h.0.attn', 0, 'transformer.h.*.attn'],
        ['transformer.h.1.attn', 1, 'transformer.h.*.attn'],
      ],
    );
    maps.forEach((map, l) => {
      assert.ok(map.causal);
      assert.deepEqual(map.keyLabels, ['t1', 't2', 't3', 't4', 't5', 't6', 't7']);
      checkRows(map, 1e-6);
      checkLowerTriangular(map);
      // y = c_proj(concat_h(W_h · V_h)) with the captured W_h.
      const attn = gpt.transformer.h.get(l).attn;
      const { x, y } = seen[l]!;
      const [T, C, H] = [ids.length, 32, 2];
      const v = attn.cAttn
        .forward(x)
        .split(C, 2)[2]!
        .view(1, T, H, C / H)
        .transpose(1, 2);
      const W = nb.tensor([map.weights]); // (1, H, T, T)
      const merged = W.matmul(v).transpose(1, 2).contiguous().view(1, T, C);
      const rebuilt = attn.cProj.forward(merged);
      const err = nb.abs(rebuilt.sub(y)).max().item();
      assert.ok(err < 1e-5, `rebuilt output differs by ${err}`);
    });
  });

  test('TransformerSeq2Seq: encoder, decoder self and cross maps with their sequences', () => {
    nb.manualSeed(3);
    const model = new nb.models.TransformerSeq2Seq({
      srcVocabSize: 15,
      tgtVocabSize: 15,
      dModel: 16,
      nHead: 2,
      numEncoderLayers: 2,
      numDecoderLayers: 1,
      dimFeedforward: 32,
      dropout: 0.1,
    });
    const src = [1, 5, 6, 7, 8, 2];
    const target = [1, 8, 7, 6];
    const { maps } = nb.lab.attentionMaps(model, src, {
      target,
      labels: ['<bos>', '1', '2', '3', '4', '<eos>'],
      targetLabels: ['<bos>', '4', '3', '2'],
    });
    const byTitle = new Map<string, nb.lab.AttentionMap[]>();
    for (const m of maps) {
      const t = nb.lab.attentionGroupTitle(m);
      byTitle.set(t, [...(byTitle.get(t) ?? []), m]);
    }
    const enc = byTitle.get('encoder self-attention')!;
    const dec = byTitle.get('decoder self-attention (causal)')!;
    const cross = byTitle.get('decoder cross-attention')!;
    assert.deepEqual(
      [enc.length, dec.length, cross.length],
      [2, 1, 1],
      [...byTitle.keys()].join(', '),
    );
    for (const m of enc) {
      assert.equal(m.weights[0]!.length, 6);
      assert.equal(m.weights[0]![0]!.length, 6);
      assert.equal(m.causal, false);
      assert.equal(m.queryLabels[5], '<eos>');
    }
    assert.deepEqual(dec[0]!.keyLabels, ['<bos>', '4', '3', '2']);
    checkLowerTriangular(dec[0]!);
    assert.equal(cross[0]!.kind, 'cross');
    assert.deepEqual(cross[0]!.queryLabels, ['<bos>', '4', '3', '2']);
    assert.deepEqual(cross[0]!.keyLabels, ['<bos>', '1', '2', '3', '4', '<eos>']);
    for (const m of maps) checkRows(m, 1e-6);
    // Eval mode during capture: dropout 0.1 did not perturb the weights, so a second run agrees.
    const again = nb.lab.attentionMaps(model, src, { target });
    assert.equal(maxDiff(again.maps[0]!.weights, maps[0]!.weights), 0);
    assert.equal(model.training, true);
  });
});

describe('attentionHeadStats', () => {
  const map = (weights: number[][][], kind: 'self' | 'cross' = 'self'): nb.lab.AttentionMap => ({
    module: 'm.0.attn',
    group: 'm.*.attn',
    layer: 0,
    kind,
    causal: false,
    numHeads: weights.length,
    queryLabels: weights[0]!.map((_, i) => String(i)),
    keyLabels: weights[0]![0]!.map((_, j) => String(j)),
    weights,
  });
  const eye = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  const previous = [
    [1, 0, 0],
    [1, 0, 0],
    [0, 1, 0],
  ];
  const causalUniform = [
    [1, 0, 0],
    [0.5, 0.5, 0],
    [1 / 3, 1 / 3, 1 / 3],
  ];

  test('identity, previous-token and uniform causal heads', () => {
    const [id, prev, uni] = nb.lab.attentionHeadStats(map([eye, previous, causalUniform]));
    assert.equal(id!.entropy, 0);
    assert.equal(id!.sameToken, 1);
    assert.equal(id!.meanDistance, 0);
    assert.equal(id!.previousToken, 0);
    assert.equal(id!.maxWeight, 1);
    assert.equal(prev!.previousToken, 1);
    assert.equal(prev!.meanDistance, 2 / 3); // rows 1 and 2 look one step back
    assert.equal(prev!.firstToken, 0.5); // rows 1, 2: weight 1 and 0 on key 0
    const lnMean = (Math.log(1) + Math.log(2) + Math.log(3)) / 3;
    assert.ok(Math.abs(uni!.entropy - lnMean) < 1e-12);
    assert.ok(Math.abs(uni!.uniformEntropy - lnMean) < 1e-12);
    assert.ok(Math.abs(uni!.previousToken! - (0.5 + 1 / 3) / 2) < 1e-12);
    for (const s of [id!, prev!, uni!]) assert.ok(s.rowSumError < 1e-12);
  });

  test('cross-attention has no distance, previous or same token', () => {
    const [s] = nb.lab.attentionHeadStats(map([[[0.25, 0.75]]], 'cross'));
    assert.equal(s!.meanDistance, null);
    assert.equal(s!.previousToken, null);
    assert.equal(s!.sameToken, null);
    assert.equal(s!.firstToken, 0.25);
    assert.equal(s!.maxWeight, 0.75);
  });
});

describe('attention map plots and report', () => {
  test('the heat map renders one rect per non-zero weight, with the token labels', async () => {
    nb.manualSeed(4);
    const gpt = new nb.models.GPT({ ...nb.models.gptPresets.tiny, vocabSize: 10 });
    const result = nb.lab.attentionMaps(gpt, [1, 2, 3, 4], { labels: ['a', 'b', ' ', 'd'] });
    const svg = await renderSvg(nb.lab.attentionMapSpec(result.maps, 'maps'));
    const rects = svg.match(/class="mark-rect role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g) ?? [];
    const cells = rects.map((g) => (g.match(/<path/g) ?? []).length).reduce((a, b) => a + b, 0);
    assert.equal(cells, 2 * 2 * 10, 'layers × heads × (1 + 2 + 3 + 4) causal cells');
    for (const label of ['>a<', '>b<', '>␣<', '>d<']) assert.ok(svg.includes(label), label);

    const report = nb.lab.attentionMapsReport(result, { description: 'test' });
    assert.equal(report.id, 'attention-maps');
    assert.equal(report.plots.length, 1);
    const heads = report.tables.find((t) => t.title.startsWith('Per head'))!;
    assert.equal(heads.rows.length, 4);
    assert.match(
      report.findings[1]!,
      /the 2 causal maps have exactly zero weight above the diagonal/,
    );
  });
});

describe('attentionMaps errors', () => {
  test('bad models and inputs are clear errors', () => {
    const seq2seq = new nb.models.TransformerSeq2Seq({
      srcVocabSize: 8,
      tgtVocabSize: 8,
      dModel: 8,
      nHead: 2,
      numEncoderLayers: 1,
      numDecoderLayers: 1,
      dimFeedforward: 16,
    });
    assert.throws(() => nb.lab.attentionMaps(seq2seq, [1, 2]), /needs options\.target/);
    assert.throws(
      () => nb.lab.attentionMaps(new nb.nn.Linear(2, 2), [1]),
      (e: unknown) => e instanceof nb.ValueError && /no MultiheadAttention/.test(e.message),
    );
    const model = new OneAttention(false);
    assert.throws(
      () =>
        nb.lab.attentionMaps(
          model,
          nb.tensor(
            [
              [1, 2],
              [3, 4],
            ],
            { dtype: 'int32' },
          ),
        ),
      nb.ShapeError,
    );
    assert.throws(() => nb.lab.attentionMaps(model, []), nb.ValueError);
    assert.throws(() => nb.lab.attentionMaps(model, [1, 2], { labels: ['a'] }), /1 labels for 2/);
    const gpt = new nb.models.GPT({ ...nb.models.gptPresets.tiny, vocabSize: 10 });
    assert.throws(() => nb.lab.attentionMaps(gpt, Array(9).fill(1)), /blockSize/);
  });
});
