/**
 * Transformer layers, stacks and model: layer cloning and initialisation semantics, masks and
 * layouts, training mode, errors, and cached incremental decoding equal to the full causal forward.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose } from '../core/helpers.js';

const small = { dModel: 8, nhead: 2, dimFeedforward: 16 };

describe('Transformer.generateSquareSubsequentMask', () => {
  test('-Infinity above the diagonal, 0 elsewhere', () => {
    assert.deepEqual(nb.nn.Transformer.generateSquareSubsequentMask(3).toArray(), [
      [0, -Infinity, -Infinity],
      [0, 0, -Infinity],
      [0, 0, 0],
    ]);
    assert.equal(nb.nn.Transformer.generateSquareSubsequentMask(2, 'float64').dtype, 'float64');
    assert.throws(() => nb.nn.Transformer.generateSquareSubsequentMask(-1), nb.ValueError);
  });
});

describe('TransformerEncoder / TransformerDecoder: cloned layers', () => {
  test('every layer starts as an identical deep copy with its own parameters', () => {
    nb.manualSeed(1);
    const layer = new nb.nn.TransformerEncoderLayer(small);
    const enc = new nb.nn.TransformerEncoder(layer, 3, new nb.nn.LayerNorm(8));
    assert.equal(enc.layers.length, 3);
    const ref = layer.stateDict();
    const own = new Set(layer.parameters());
    for (const l of enc.layers) {
      assert.notEqual(l, layer);
      for (const [k, t] of Object.entries(l.stateDict())) assertClose(t, ref[k]!, 0);
      for (const p of l.parameters()) assert.ok(!own.has(p));
    }
    const n = layer.parameters().length;
    assert.equal(new Set(enc.parameters()).size, 3 * n + 2);
    nb.noGrad(() => enc.layers.get(0).linear1.weight.add_(1));
    assertClose(enc.layers.get(1).linear1.weight, layer.linear1.weight, 0);
    const dec = new nb.nn.TransformerDecoder(new nb.nn.TransformerDecoderLayer(small), 2);
    assert.equal(dec.norm, null);
    assert.ok(Object.keys(dec.stateDict()).includes('layers.1.multihead_attn.in_proj_weight'));
  });

  test('Transformer re-initialises every >1-D parameter with xavier_uniform_ (layers then differ)', () => {
    nb.manualSeed(2);
    const model = new nb.nn.Transformer({ ...small, numEncoderLayers: 2, numDecoderLayers: 2 });
    for (const [name, p] of model.namedParameters()) {
      if (p.ndim > 1) {
        const { fanIn, fanOut } = nb.nn.init.fans(p);
        const bound = Math.sqrt(6 / (fanIn + fanOut));
        assert.ok(
          Array.from(p.dataSync()).every((x) => Math.abs(x) <= bound),
          name,
        );
      } else if (name.includes('norm') && name.endsWith('weight')) {
        assertClose(p, new Array(8).fill(1));
      } else if (name.includes('in_proj_bias') || name.includes('out_proj.bias')) {
        assertClose(p, new Array(p.size).fill(0));
      }
    }
    const a = model.encoder.layers.get(0).selfAttn.inProjWeight!.dataSync();
    const b = model.encoder.layers.get(1).selfAttn.inProjWeight!.dataSync();
    assert.ok(a.some((x, i) => x !== b[i]));
    assert.equal(model.encoder.norm!.weight!.size, 8);
    assert.equal(model.decoder.layers.length, 2);
  });
});

describe('Transformer layers', () => {
  test('batchFirst and seq-first layers compute the same function', () => {
    nb.manualSeed(3);
    for (const normFirst of [false, true]) {
      const a = new nb.nn.TransformerDecoderLayer({
        ...small,
        normFirst,
        activation: 'gelu',
      }).eval();
      const b = new nb.nn.TransformerDecoderLayer({
        ...small,
        normFirst,
        activation: 'gelu',
        batchFirst: true,
      }).eval();
      b.loadStateDict(a.stateDict());
      const tgt = nb.randn([4, 2, 8]);
      const mem = nb.randn([5, 2, 8]);
      const opts = {
        tgtMask: nb.nn.Transformer.generateSquareSubsequentMask(4),
        memoryKeyPaddingMask: nb.tensor([
          [false, false, false, true, true],
          [false, false, false, false, false],
        ]),
      };
      const ya = a.forward(tgt, mem, opts);
      const yb = b.forward(tgt.transpose(0, 1), mem.transpose(0, 1), opts);
      assertClose(yb.transpose(0, 1), ya, 1e-5);
    }
  });

  test('isCausal without a mask equals the generated causal mask (encoder and decoder)', () => {
    nb.manualSeed(4);
    const enc = new nb.nn.TransformerEncoder(new nb.nn.TransformerEncoderLayer(small), 2).eval();
    const src = nb.randn([5, 2, 8]);
    assertClose(
      enc.forward(src, { isCausal: true }),
      enc.forward(src, { mask: nb.nn.Transformer.generateSquareSubsequentMask(5) }),
      1e-6,
    );
    const layer = new nb.nn.TransformerDecoderLayer(small).eval();
    const mem = nb.randn([3, 2, 8]);
    const tgt = nb.randn([4, 2, 8]);
    assertClose(
      layer.forward(tgt, mem, { tgtIsCausal: true }),
      layer.forward(tgt, mem, { tgtMask: nb.nn.Transformer.generateSquareSubsequentMask(4) }),
      1e-6,
    );
  });

  test('training mode applies dropout; backward reaches every parameter', () => {
    nb.manualSeed(5);
    const model = new nb.nn.Transformer({
      ...small,
      numEncoderLayers: 1,
      numDecoderLayers: 1,
      dropout: 0.2,
    });
    const src = nb.randn([5, 2, 8]);
    const tgt = nb.randn([4, 2, 8]);
    const y1 = model.forward(src, tgt);
    const y2 = model.forward(src, tgt);
    assert.ok(y1.dataSync().some((v, i) => v !== y2.dataSync()[i]));
    y1.square().mean().backward();
    for (const [name, p] of model.namedParameters()) assert.ok(p.grad !== null, name);
    model.eval();
    assertClose(model.forward(src, tgt), model.forward(src, tgt), 0);
  });

  test('a custom activation function, bias=false, unbatched inputs', () => {
    nb.manualSeed(6);
    const layer = new nb.nn.TransformerEncoderLayer(8, 2, {
      dimFeedforward: 16,
      activation: (x) => x.tanh(),
      bias: false,
    }).eval();
    assert.ok(!Object.keys(layer.stateDict()).some((k) => k.endsWith('bias')));
    const x = nb.randn([5, 3, 8]);
    const y = layer.forward(x);
    assertClose(layer.forward(x.select(1, 1)), y.select(1, 1), 1e-5);
  });

  test('errors: sizes, batch mismatch, bad options, wrong cache', () => {
    assert.throws(() => new nb.nn.TransformerEncoderLayer({ dModel: 10, nhead: 3 }), nb.ShapeError);
    assert.throws(
      () => new nb.nn.TransformerEncoderLayer({ ...small, activation: 'swish' as 'relu' }),
      nb.ValueError,
    );
    assert.throws(
      () => new nb.nn.TransformerEncoderLayer({ ...small, dimFeedforward: 0 }),
      nb.ValueError,
    );
    const model = new nb.nn.Transformer({ ...small, numEncoderLayers: 1, numDecoderLayers: 1 });
    assert.throws(() => model.forward(nb.randn([5, 2, 8]), nb.randn([4, 3, 8])), /batch sizes/);
    assert.throws(() => model.forward(nb.randn([5, 2, 6]), nb.randn([4, 2, 6])), /dModel 8/);
    assert.throws(
      () =>
        model.decoder.forwardIncremental(
          nb.randn([1, 2, 8]),
          nb.randn([5, 2, 8]),
          new nb.nn.DecoderCache(3),
        ),
      nb.ValueError,
    );
    const layer = new nb.nn.TransformerEncoderLayer(small);
    assert.throws(() => layer.forward(nb.randn([5, 2, 7])), nb.ShapeError);
    assert.throws(
      () => layer.forward(nb.randn([5, 2, 8]), { srcKeyPaddingMask: nb.zeros([5, 2]).gt(0) }),
      /keyPaddingMask of shape \[5, 2\] should be \[2, 5\]/,
    );
  });
});

describe('incremental decoding with a key/value cache', () => {
  for (const [normFirst, batchFirst] of [
    [false, false],
    [true, true],
  ] as const) {
    test(`cached step-by-step logits equal the full causal forward (normFirst ${normFirst}, batchFirst ${batchFirst})`, () => {
      nb.manualSeed(10);
      const [d, V, S, T, N] = [16, 11, 6, 7, 2];
      const model = new nb.nn.Transformer({
        dModel: d,
        nhead: 4,
        numEncoderLayers: 2,
        numDecoderLayers: 3,
        dimFeedforward: 32,
        activation: 'gelu',
        normFirst,
        batchFirst,
      }).eval();
      const emb = new nb.nn.Embedding(V, d);
      const pos = new nb.nn.SinusoidalPositionalEncoding(d, { maxLen: 32, batchFirst }).eval();
      const head = new nb.nn.Linear(d, V);
      const sd = batchFirst ? 1 : 0; // sequence dim
      const tokens = (n: number, seed: number): nb.Tensor => {
        const t = nb.randint(0, V, [N, n], { generator: new nb.Generator(seed) }); // (N, n)
        return batchFirst ? t : t.transpose(0, 1).contiguous(); // -> (n, N) when seq-first
      };
      const src = tokens(S, 1);
      const tgt = tokens(T, 2);
      const srcPad = nb.tensor([
        [false, false, false, false, false, false],
        [false, false, false, false, true, true],
      ]);
      // Batch 1 has a padded target position 2, which later positions must ignore.
      const tgtPad = nb.tensor([
        [false, false, false, false, false, false, false],
        [false, false, true, false, false, false, false],
      ]);
      const embed = (tok: nb.Tensor, offset = 0) =>
        pos.forward(emb.forward(tok).mul(Math.sqrt(d)), offset);

      nb.noGrad(() => {
        const memory = model.encode(embed(src), { srcKeyPaddingMask: srcPad });
        const full = head.forward(
          model.decoder.forward(embed(tgt), memory, {
            tgtMask: nb.nn.Transformer.generateSquareSubsequentMask(T),
            tgtKeyPaddingMask: tgtPad,
            memoryKeyPaddingMask: srcPad,
          }),
        ); // (T, N, V) or (N, T, V)

        const cache = model.decoder.createCache();
        let crossKey: nb.Tensor | null = null;
        for (let t = 0; t < T; t++) {
          const step = model.decoder.forwardIncremental(
            embed(tgt.narrow(sd, t, 1), cache.length),
            t === 0 ? memory : null, // the cross-attention K/V are cached after step 0
            cache,
            { memoryKeyPaddingMask: srcPad, tgtKeyPaddingMask: tgtPad.narrow(1, 0, t + 1) },
          );
          const logits = head.forward(step);
          assertClose(logits, full.narrow(sd, t, 1), 1e-5);
          assert.equal(cache.length, t + 1);
          assert.equal(cache.layers[2]!.selfAttn.key!.shape[2], t + 1);
          if (t === 0) crossKey = cache.layers[0]!.crossAttn.key;
          else assert.equal(cache.layers[0]!.crossAttn.key, crossKey);
        }
        // A multi-token chunk (prompt prefill) then single steps give the same rows.
        cache.clear();
        assert.equal(cache.length, 0);
        const pre = model.decoder.forwardIncremental(embed(tgt.narrow(sd, 0, 4)), memory, cache, {
          memoryKeyPaddingMask: srcPad,
          tgtKeyPaddingMask: tgtPad.narrow(1, 0, 4),
        });
        assertClose(head.forward(pre), full.narrow(sd, 0, 4), 1e-5);
        const next = model.decoder.forwardIncremental(embed(tgt.narrow(sd, 4, 1), 4), null, cache, {
          memoryKeyPaddingMask: srcPad,
          tgtKeyPaddingMask: tgtPad.narrow(1, 0, 5),
        });
        assertClose(head.forward(next), full.narrow(sd, 4, 1), 1e-5);
      });
    });
  }

  test('cached tensors survive per-step nb.scope()', () => {
    nb.manualSeed(11);
    const model = new nb.nn.Transformer({
      ...small,
      numEncoderLayers: 1,
      numDecoderLayers: 1,
    }).eval();
    const memory = model.encode(nb.randn([5, 1, 8]));
    const cache = model.decoder.createCache();
    const x = nb.randn([3, 1, 8]);
    const full = model.decoder.forward(x, memory, { tgtIsCausal: true });
    for (let t = 0; t < 3; t++) {
      const y = nb.scope(() =>
        nb.noGrad(() => model.decoder.forwardIncremental(x.narrow(0, t, 1), memory, cache)),
      );
      assertClose(y, full.narrow(0, t, 1), 1e-5);
    }
  });
});
