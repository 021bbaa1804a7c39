/**
 * Scaled dot-product attention and MultiheadAttention: the attention identity computed by hand,
 * fully masked rows, float64 gradchecks, masks and layouts, initialisation, key/value caching and
 * errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { assertClose, gradcheck } from '../core/helpers.js';

/** float64 N(0, 1) tensors of the given shapes from one seeded generator. */
function inputs(
  shapes: readonly number[][],
  options: { seed: number; requiresGrad?: boolean },
): nb.Tensor[] {
  const g = new nb.Generator(options.seed);
  return shapes.map((s) =>
    nb.randn(s, { dtype: 'float64', requiresGrad: options.requiresGrad ?? true, generator: g }),
  );
}

const F = nb.nn.F;

describe('scaledDotProductAttention', () => {
  test('row_i = Σ_j softmax_j(q_i·k_j/√D + mask) v_j, computed by hand with a boolean mask', () => {
    const g = new nb.Generator(3);
    const [L, S, D, Dv] = [3, 4, 5, 2];
    const q = nb.randn([L, D], { generator: g, dtype: 'float64' });
    const k = nb.randn([S, D], { generator: g, dtype: 'float64' });
    const v = nb.randn([S, Dv], { generator: g, dtype: 'float64' });
    // true = may attend (SDPA convention)
    const allowed = [
      [true, false, true, true],
      [false, true, false, false],
      [true, true, true, false],
    ];
    const out = F.scaledDotProductAttention(q, k, v, { attnMask: nb.tensor(allowed) });
    const Q = q.toArray() as number[][];
    const K = k.toArray() as number[][];
    const V = v.toArray() as number[][];
    const expected: number[][] = [];
    for (let i = 0; i < L; i++) {
      const logits = K.map((kj, j) =>
        allowed[i]![j] ? kj.reduce((s, x, d) => s + x * Q[i]![d]!, 0) / Math.sqrt(D) : -Infinity,
      );
      const m = Math.max(...logits);
      const e = logits.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      expected.push(
        Array.from({ length: Dv }, (_, c) => e.reduce((s, w, j) => s + (w / z) * V[j]![c]!, 0)),
      );
    }
    assertClose(out, expected, 1e-12);
  });

  test('a float mask is added to the scores; the bool mask equals the -Infinity float mask', () => {
    const [q, k, v] = inputs(
      [
        [2, 3, 4],
        [2, 5, 4],
        [2, 5, 3],
      ],
      { seed: 4, requiresGrad: false },
    );
    const bool = nb.tensor([
      [true, true, false, true, false],
      [false, true, true, true, true],
      [true, false, false, false, false],
    ]);
    const float = nb.where(bool, 0, -Infinity).to('float64');
    assertClose(
      F.scaledDotProductAttention(q!, k!, v!, { attnMask: bool }),
      F.scaledDotProductAttention(q!, k!, v!, { attnMask: float }),
      1e-12,
    );
    // A constant float mask changes nothing (softmax is shift invariant).
    assertClose(
      F.scaledDotProductAttention(q!, k!, v!, {
        attnMask: nb.full([3, 5], 2.5, { dtype: 'float64' }),
      }),
      F.scaledDotProductAttention(q!, k!, v!),
      1e-12,
    );
  });

  test('isCausal is the top-left aligned lower triangle, also when L != S', () => {
    const [q, k, v] = inputs(
      [
        [3, 4],
        [5, 4],
        [5, 2],
      ],
      { seed: 5, requiresGrad: false },
    );
    const tri = nb.ones([3, 5]).tril().gt(0); // row i sees keys 0..i
    assertClose(
      F.scaledDotProductAttention(q!, k!, v!, { isCausal: true }),
      F.scaledDotProductAttention(q!, k!, v!, { attnMask: tri }),
      1e-12,
    );
    const [, w] = nb.nn.scaledDotProductAttentionWithWeights(q!, k!, v!, { isCausal: true });
    const W = w.toArray() as number[][];
    assert.equal(W[0]![1], 0);
    assert.equal(W[1]![2], 0);
    assertClose(w.sum(-1), [1, 1, 1], 1e-12);
  });

  test('fully masked rows give zeros, not NaN, in the output, the weights and the gradients', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const g = new nb.Generator(9);
      const q = nb.randn([2, 3, 4], { generator: g, dtype, requiresGrad: true });
      const k = nb.randn([2, 5, 4], { generator: g, dtype, requiresGrad: true });
      const v = nb.randn([2, 5, 4], { generator: g, dtype, requiresGrad: true });
      const allowed = nb
        .ones([2, 3, 5])
        .gt(0)
        .logicalAnd(
          nb
            .tensor([
              [[1], [0], [1]],
              [[1], [1], [1]],
            ])
            .gt(0), // batch 0, query 1 sees nothing
        );
      const [out, w] = nb.nn.scaledDotProductAttentionWithWeights(q, k, v, { attnMask: allowed });
      assert.ok(Array.from(out.dataSync()).every(Number.isFinite));
      assertClose(out.select(0, 0).select(0, 1), [0, 0, 0, 0]);
      assertClose(w.select(0, 0).select(0, 1), [0, 0, 0, 0, 0]);
      out.square().sum().backward();
      for (const t of [q, k, v]) assert.ok(Array.from(t.grad!.dataSync()).every(Number.isFinite));
      assertClose(q.grad!.select(0, 0).select(0, 1), [0, 0, 0, 0]);
      // A float -Infinity row behaves the same.
      const fm = nb.tensor(
        [
          [0, 0, 0, 0, 0],
          [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity],
          [0, 1, 2, 3, 4],
        ],
        { dtype },
      );
      const y = F.scaledDotProductAttention(q.detach(), k.detach(), v.detach(), { attnMask: fm });
      assertClose(y.select(1, 1), [
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ]);
    }
  });

  test('batch dims broadcast (one key/value set for every head)', () => {
    const [q, k, v] = inputs(
      [
        [2, 3, 4, 4],
        [1, 1, 5, 4],
        [1, 1, 5, 4],
      ],
      { seed: 6, requiresGrad: false },
    );
    const y = F.scaledDotProductAttention(q!, k!, v!);
    assert.deepEqual(y.shape, [2, 3, 4, 4]);
    const y01 = F.scaledDotProductAttention(
      q!.select(0, 0).select(0, 1),
      k!.select(0, 0).select(0, 0),
      v!.select(0, 0).select(0, 0),
    );
    assertClose(y.select(0, 0).select(0, 1), y01, 1e-12);
  });

  test('dropout on the weights: reproducible with a generator, rows rescaled by 1/(1-p)', () => {
    const [q, k, v] = inputs(
      [
        [4, 4],
        [6, 4],
        [6, 3],
      ],
      { seed: 7, requiresGrad: false },
    );
    const run = () =>
      nb.nn.scaledDotProductAttentionWithWeights(q!, k!, v!, {
        dropoutP: 0.5,
        generator: new nb.Generator(1),
      });
    const [y1, w1] = run();
    const [y2] = run();
    assertClose(y1, y2, 0);
    const [, w0] = nb.nn.scaledDotProductAttentionWithWeights(q!, k!, v!);
    const a = w1.dataSync();
    const b = w0.dataSync();
    for (let i = 0; i < a.length; i++) assert.ok(a[i] === 0 || Math.abs(a[i]! - 2 * b[i]!) < 1e-12);
    assert.ok(Array.from(a).some((x) => x === 0));
  });

  test('float64 gradcheck: no mask, bool mask, float mask, causal, custom scale', () => {
    const [q, k, v] = inputs(
      [
        [2, 3, 4],
        [2, 4, 4],
        [2, 4, 3],
      ],
      { seed: 11 },
    );
    gradcheck((q, k, v) => F.scaledDotProductAttention(q, k, v), [q!, k!, v!]);
    const bool = nb.tensor([
      [true, false, true, true],
      [true, true, false, false],
      [false, false, true, true],
    ]);
    gradcheck((q, k, v) => F.scaledDotProductAttention(q, k, v, { attnMask: bool }), [q!, k!, v!]);
    const fm = nb.tensor(
      [
        [0.3, -1, 0, -Infinity],
        [0, 0.5, 2, 0],
        [-Infinity, 0, 0, 1],
      ],
      { dtype: 'float64' },
    );
    gradcheck(
      (q, k, v) => F.scaledDotProductAttention(q, k, v, { attnMask: fm, scale: 0.7 }),
      [q!, k!, v!],
    );
    gradcheck((q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true }), [q!, k!, v!]);
  });

  test('errors: shapes, masks, dtypes, isCausal together with attnMask', () => {
    const q = nb.randn([2, 3, 4]);
    const k = nb.randn([2, 5, 4]);
    const v = nb.randn([2, 5, 6]);
    assert.throws(() => F.scaledDotProductAttention(q, nb.randn([2, 5, 3]), v), nb.ShapeError);
    assert.throws(() => F.scaledDotProductAttention(q, k, nb.randn([2, 4, 6])), nb.ShapeError);
    assert.throws(() => F.scaledDotProductAttention(nb.randn([4]), k, v), nb.ShapeError);
    assert.throws(
      () => F.scaledDotProductAttention(q, k, v, { attnMask: nb.ones([3, 4]).gt(0) }),
      /does not broadcast to the attention scores \[2, 3, 5\]/,
    );
    assert.throws(
      () =>
        F.scaledDotProductAttention(q, k, v, { attnMask: nb.zeros([3, 5], { dtype: 'int32' }) }),
      nb.DTypeError,
    );
    assert.throws(
      () => F.scaledDotProductAttention(q, k, v, { attnMask: nb.zeros([3, 5]), isCausal: true }),
      nb.ValueError,
    );
    assert.throws(() => F.scaledDotProductAttention(q, k, v, { dropoutP: 1.5 }), nb.ValueError);
  });
});

describe('MultiheadAttention', () => {
  test('parameters, PyTorch keys and init (packed and separate projections)', () => {
    const mha = new nb.nn.MultiheadAttention({ embedDim: 8, numHeads: 2 });
    assert.deepEqual(Object.keys(mha.stateDict()), [
      'in_proj_weight',
      'in_proj_bias',
      'out_proj.weight',
      'out_proj.bias',
    ]);
    assert.deepEqual(mha.inProjWeight!.shape, [24, 8]);
    const bound = Math.sqrt(6 / (8 + 24)); // xavier_uniform_ on (3E, E)
    const w = mha.inProjWeight!.dataSync();
    assert.ok(Array.from(w).every((x) => Math.abs(x) <= bound));
    assert.ok(Math.max(...Array.from(w).map(Math.abs)) > 0.8 * bound);
    assertClose(mha.inProjBias!, new Array(24).fill(0));
    assertClose(mha.outProj.bias!, new Array(8).fill(0));

    const sep = new nb.nn.MultiheadAttention(8, 2, { kdim: 6, vdim: 4, bias: false });
    assert.deepEqual(
      Object.entries(sep.stateDict()).map(([k, t]) => `${k}:${t.shape}`),
      ['q_proj_weight:8,8', 'k_proj_weight:8,6', 'v_proj_weight:8,4', 'out_proj.weight:8,8'],
    );
  });

  test('batchFirst, seq-first and unbatched layouts agree', () => {
    nb.manualSeed(21);
    const a = new nb.nn.MultiheadAttention({ embedDim: 8, numHeads: 4 }).eval();
    const b = new nb.nn.MultiheadAttention({ embedDim: 8, numHeads: 4, batchFirst: true }).eval();
    b.loadStateDict(a.stateDict());
    const x = nb.randn([5, 3, 8]); // (L, N, E)
    const mask = nb.nn.Transformer.generateSquareSubsequentMask(5);
    const kpm = nb.tensor([
      [false, false, false, false, true],
      [false, false, false, false, false],
      [false, true, false, false, false],
    ]);
    const [ya, wa] = a.forward(x, x, x, { attnMask: mask, keyPaddingMask: kpm });
    const xb = x.transpose(0, 1); // (N, L, E), non-contiguous on purpose
    const [yb, wb] = b.forward(xb, xb, xb, { attnMask: mask, keyPaddingMask: kpm });
    assertClose(yb.transpose(0, 1), ya, 1e-6);
    assertClose(wb!, wa!, 1e-6);
    const x1 = x.select(1, 2); // (L, E)
    const [y1, w1] = a.forward(x1, x1, x1, { attnMask: mask, keyPaddingMask: kpm.select(0, 2) });
    assertClose(y1, ya.select(1, 2), 1e-6);
    assertClose(w1!, wa!.select(0, 2), 1e-6);
  });

  test('isCausal without attnMask applies the causal mask; weights per head average to the mean', () => {
    nb.manualSeed(22);
    const mha = new nb.nn.MultiheadAttention({ embedDim: 6, numHeads: 3, batchFirst: true });
    const x = nb.randn([2, 4, 6]);
    const mask = nb.nn.Transformer.generateSquareSubsequentMask(4);
    const [y1, w1] = mha.forward(x, x, x, { isCausal: true, averageAttnWeights: false });
    const [y2, w2] = mha.forward(x, x, x, { attnMask: mask });
    assertClose(y1, y2, 1e-6);
    assert.deepEqual(w1!.shape, [2, 3, 4, 4]);
    assertClose(w1!.mean(1), w2!, 1e-6);
    const [, none] = mha.forward(x, x, x, { needWeights: false });
    assert.equal(none, null);
  });

  test('a bool attnMask (true = not allowed) equals the -Infinity float mask; masks combine', () => {
    nb.manualSeed(23);
    const mha = new nb.nn.MultiheadAttention({ embedDim: 4, numHeads: 2 });
    const x = nb.randn([3, 2, 4]);
    const m = nb.tensor([
      [false, true, false],
      [false, false, true],
      [true, false, false],
    ]);
    const fm = nb.where(m, -Infinity, 0);
    const kpm = nb.tensor([
      [false, false, true],
      [false, false, false],
    ]);
    const [a] = mha.forward(x, x, x, { attnMask: m, keyPaddingMask: kpm });
    const [b] = mha.forward(x, x, x, { attnMask: fm, keyPaddingMask: nb.where(kpm, -Infinity, 0) });
    const [c] = mha.forward(x, x, x, { attnMask: fm, keyPaddingMask: kpm });
    assertClose(a, b, 1e-6);
    assertClose(a, c, 1e-6);
  });

  test('fully masked query rows: zero attention (output = out_proj bias), no NaN', () => {
    nb.manualSeed(24);
    const mha = new nb.nn.MultiheadAttention({ embedDim: 4, numHeads: 2 });
    nb.noGrad(() => mha.outProj.bias!.copy_(nb.tensor([1, 2, 3, 4])));
    const x = nb.randn([3, 1, 4], { requiresGrad: true });
    const m = nb.tensor([
      [false, false, false],
      [true, true, true],
      [false, true, false],
    ]);
    const [y, w] = mha.forward(x, x, x, { attnMask: m });
    assertClose(y.select(0, 1), [[1, 2, 3, 4]], 1e-6);
    assertClose(w!.select(1, 1), [[0, 0, 0]]);
    y.sum().backward();
    assert.ok(Array.from(x.grad!.dataSync()).every(Number.isFinite));
  });

  test('float64 gradcheck of a tiny MHA: inputs and every parameter, with masks', () => {
    nb.manualSeed(25);
    const mha = new nb.nn.MultiheadAttention({ embedDim: 4, numHeads: 2, kdim: 3, vdim: 5 }).to(
      'float64',
    );
    // Non-zero biases so that their gradients are exercised.
    nb.noGrad(() => {
      for (const p of mha.parameters()) p.add_(nb.randn(p.shape, { dtype: 'float64', std: 0.1 }));
    });
    const g = new nb.Generator(26);
    const [q, k, v] = [
      [3, 2, 4],
      [4, 2, 3],
      [4, 2, 5],
    ].map((s) => nb.randn(s, { dtype: 'float64', requiresGrad: true, generator: g }));
    const kpm = nb.tensor([
      [false, false, false, true],
      [false, false, false, false],
    ]);
    const am = nb.tensor(
      [
        [0, -0.5, 0.2, 0],
        [0.1, 0, 0, -1],
        [0, 0, 0.3, 0],
      ],
      { dtype: 'float64' },
    );
    gradcheck(
      (q, k, v) => {
        const [y, w] = mha.forward(q, k, v, {
          keyPaddingMask: kpm,
          attnMask: am,
          averageAttnWeights: false,
        });
        return nb.cat([y.reshape([-1]), w!.reshape([-1])]);
      },
      [q!, k!, v!, ...mha.parameters()],
    );
    const self = new nb.nn.MultiheadAttention({ embedDim: 4, numHeads: 2, batchFirst: true }).to(
      'float64',
    );
    nb.noGrad(() => {
      for (const p of self.parameters()) p.add_(nb.randn(p.shape, { dtype: 'float64', std: 0.1 }));
    });
    const x = nb.randn([2, 3, 4], { dtype: 'float64', requiresGrad: true, generator: g });
    gradcheck(
      (x) => self.forward(x, x, x, { isCausal: true, needWeights: false })[0],
      [x!, ...self.parameters()],
    );
  });

  test('forwardCached with a growing cache equals the causal forward, step by step', () => {
    nb.manualSeed(28);
    for (const batchFirst of [false, true]) {
      const mha = new nb.nn.MultiheadAttention({ embedDim: 8, numHeads: 2, batchFirst }).eval();
      const T = 5;
      const x = nb.randn(batchFirst ? [2, T, 8] : [T, 2, 8]);
      const sd = batchFirst ? 1 : 0;
      const [full] = mha.forward(x, x, x, {
        attnMask: nb.nn.Transformer.generateSquareSubsequentMask(T),
      });
      const cache = new nb.nn.KVCache();
      nb.noGrad(() => {
        // A chunk of 2 positions, then one at a time.
        const [y01] = mha.forwardCached(
          x.narrow(sd, 0, 2),
          x.narrow(sd, 0, 2),
          x.narrow(sd, 0, 2),
          cache,
        );
        assertClose(y01, full.narrow(sd, 0, 2), 1e-5);
        for (let t = 2; t < T; t++) {
          const xt = x.narrow(sd, t, 1);
          const [yt] = mha.forwardCached(xt, xt, xt, cache);
          assert.equal(cache.length, t + 1);
          assertClose(yt, full.narrow(sd, t, 1), 1e-5);
        }
      });
    }
  });

  test('forwardCached with a static cache projects the memory once', () => {
    nb.manualSeed(29);
    const mha = new nb.nn.MultiheadAttention({ embedDim: 8, numHeads: 2 }).eval();
    const q = nb.randn([3, 2, 8]);
    const mem = nb.randn([6, 2, 8]);
    const kpm = nb.tensor([
      [false, false, false, false, true, true],
      [false, false, false, false, false, false],
    ]);
    const [full] = mha.forward(q, mem, mem, { keyPaddingMask: kpm });
    const cache = new nb.nn.KVCache(true);
    const [a] = mha.forwardCached(q.narrow(0, 0, 1), mem, mem, cache, { keyPaddingMask: kpm });
    const [b] = mha.forwardCached(q.narrow(0, 1, 2), null, null, cache, { keyPaddingMask: kpm });
    assertClose(nb.cat([a, b], 0), full, 1e-5);
    assert.equal(cache.length, 6);
    assert.throws(() => cache.append(cache.key!, cache.value!), nb.ValueError);
    assert.throws(() => mha.forwardCached(q, null, null, new nb.nn.KVCache(true)), nb.ValueError);
  });

  test('errors: config, input sizes and mask shapes', () => {
    assert.throws(() => new nb.nn.MultiheadAttention({ embedDim: 10, numHeads: 3 }), nb.ShapeError);
    assert.throws(() => new nb.nn.MultiheadAttention({ embedDim: 0, numHeads: 1 }), nb.ValueError);
    assert.throws(
      () => new nb.nn.MultiheadAttention({ embedDim: 4, numHeads: 2, addBiasKv: true as false }),
      nb.ValueError,
    );
    const mha = new nb.nn.MultiheadAttention({ embedDim: 4, numHeads: 2 });
    const x = nb.randn([3, 2, 4]);
    assert.throws(() => mha.forward(nb.randn([3, 2, 5]), x, x), /embedDim = 4/);
    assert.throws(
      () => mha.forward(x, nb.randn([3, 1, 4]), nb.randn([3, 1, 4])),
      /batch sizes differ/,
    );
    assert.throws(() => mha.forward(x, x, nb.randn([2, 2, 4])), nb.ShapeError);
    assert.throws(() => mha.forward(x, x, nb.randn([3, 4])), nb.ShapeError);
    assert.throws(
      () => mha.forward(x, x, x, { attnMask: nb.zeros([3, 4]) }),
      /attnMask of shape \[3, 4\] should be \[3, 3\] or \[4, 3, 3\]/,
    );
    assert.throws(
      () => mha.forward(x, x, x, { keyPaddingMask: nb.zeros([3, 2]) }),
      /keyPaddingMask of shape \[3, 2\] should be \[2, 3\]/,
    );
    assert.throws(
      () => mha.forward(x, x, x, { keyPaddingMask: nb.zeros([2, 3], { dtype: 'int32' }) }),
      nb.DTypeError,
    );
  });
});
