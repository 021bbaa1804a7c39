/**
 * nb.models.GPT (nanoGPT's GPT-2): state-dict layout and weight tying, KV-cache decoding against
 * full forwards, overfitting one batch, sampling, input errors, and parity with PyTorch through
 * test/fixtures/gpt-tiny.json (written by scripts/fixtures/gen_gpt.py).
 *
 * Tolerances: cached vs full logits within 1e-5 absolute (same float32 arithmetic, summed in a
 * different order); PyTorch parity within 1e-5 absolute + 1e-4 relative for logits, loss and every
 * gradient (float32 on both sides; PyTorch's fused scaled_dot_product_attention and layer_norm
 * round differently from nabla's composed ops).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as nb from '../../src/index.js';

const { GPT, gptPresets } = nb.models;

const int32 = (data: nb.NestedArray | Int32Array, shape?: number[]): nb.Tensor =>
  data instanceof Int32Array
    ? nb.tensor(data, { shape })
    : nb.tensor(data as number[][], { dtype: 'int32' });

/** Asserts |a − e| <= atol + rtol·|e| elementwise, reporting the worst element. */
function assertClose(
  actual: nb.Tensor | ArrayLike<number>,
  expected: nb.Tensor | ArrayLike<number>,
  atol: number,
  rtol = 0,
  what = 'values',
): void {
  const a = actual instanceof nb.Tensor ? actual.dataSync() : actual;
  const e = expected instanceof nb.Tensor ? expected.dataSync() : expected;
  if (actual instanceof nb.Tensor && expected instanceof nb.Tensor)
    assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assert.equal(a.length, e.length, `${what}: element count`);
  let worst = -1;
  let excess = 0;
  for (let i = 0; i < a.length; i++) {
    const over = Math.abs(a[i]! - e[i]!) - (atol + rtol * Math.abs(e[i]!));
    if (!(over <= excess)) {
      excess = Number.isNaN(over) ? Infinity : over;
      worst = i;
    }
  }
  assert.ok(
    worst < 0,
    `${what}: element ${worst} is ${a[worst]}, expected ${e[worst]} (atol ${atol}, rtol ${rtol})`,
  );
}

/** Adam (Kingma & Ba, 2015) written out: the optimizer under test elsewhere is not used here. */
function makeAdam(params: nb.nn.Parameter[], lr: number): () => void {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const m = params.map((p) => nb.zerosLike(p));
  const v = params.map((p) => nb.zerosLike(p));
  let t = 0;
  return () => {
    t++;
    nb.noGrad(() => {
      params.forEach((p, i) => {
        const g = p.grad!;
        m[i]!.mul_(b1).add_(g, 1 - b1);
        v[i]!.mul_(b2).add_(g.mul(g), 1 - b2);
        const mHat = m[i]!.div(1 - b1 ** t);
        const vHat = v[i]!.div(1 - b2 ** t);
        p.sub_(mHat.div(vHat.sqrt().add(eps)).mul(lr));
      });
    });
  };
}

describe('GPT: module tree, state dict and weight tying', () => {
  // nanoGPT's GPT(GPTConfig(n_layer=2, ...)).state_dict().keys() with bias=True (flash attention,
  // so no attn.bias buffer).
  const layer = (i: number): string[] =>
    [
      'ln_1.weight',
      'ln_1.bias',
      'attn.c_attn.weight',
      'attn.c_attn.bias',
      'attn.c_proj.weight',
      'attn.c_proj.bias',
      'ln_2.weight',
      'ln_2.bias',
      'mlp.c_fc.weight',
      'mlp.c_fc.bias',
      'mlp.c_proj.weight',
      'mlp.c_proj.bias',
    ].map((k) => `transformer.h.${i}.${k}`);
  const NANOGPT_KEYS = [
    'transformer.wte.weight',
    'transformer.wpe.weight',
    ...layer(0),
    ...layer(1),
    'transformer.ln_f.weight',
    'transformer.ln_f.bias',
    'lm_head.weight',
  ];

  test('stateDict keys are exactly nanoGPT’s, with its shapes', () => {
    const model = new GPT(gptPresets.tiny);
    const sd = model.stateDict();
    assert.deepEqual(Object.keys(sd), NANOGPT_KEYS);
    const C = 32;
    assert.deepEqual(sd['transformer.wte.weight']!.shape, [16, C]);
    assert.deepEqual(sd['transformer.wpe.weight']!.shape, [8, C]);
    assert.deepEqual(sd['transformer.h.1.attn.c_attn.weight']!.shape, [3 * C, C]);
    assert.deepEqual(sd['transformer.h.1.attn.c_proj.weight']!.shape, [C, C]);
    assert.deepEqual(sd['transformer.h.0.mlp.c_fc.weight']!.shape, [4 * C, C]);
    assert.deepEqual(sd['transformer.h.0.mlp.c_proj.weight']!.shape, [C, 4 * C]);
    assert.deepEqual(sd['lm_head.weight']!.shape, [16, C]);
    // The tied weight is one parameter: listed once, under its first name (as PyTorch).
    const names = model.namedParameters().map(([n]) => n);
    assert.deepEqual(
      names,
      NANOGPT_KEYS.filter((k) => k !== 'lm_head.weight'),
    );
  });

  test('bias: false drops every Linear and LayerNorm bias (babyShakespeare)', () => {
    const model = new GPT({ ...gptPresets.babyShakespeare, nLayer: 1 });
    const keys = Object.keys(model.stateDict());
    assert.equal(keys.filter((k) => k.endsWith('.bias')).length, 0);
    assert.equal(keys.length, 2 + 6 + 1 + 1);
    assert.deepEqual(model.config, {
      vocabSize: 65,
      blockSize: 64,
      nLayer: 1,
      nHead: 4,
      nEmbd: 128,
      dropout: 0.2,
      bias: false,
    });
  });

  test('lm_head.weight is transformer.wte.weight; gradients of both uses add up in it', () => {
    nb.manualSeed(1);
    const model = new GPT(gptPresets.tiny);
    const wte = model.transformer.wte.weight;
    assert.equal(model.lmHead.weight, wte);
    const sd = model.stateDict();
    assert.deepEqual(sd['lm_head.weight']!.toArray(), sd['transformer.wte.weight']!.toArray());

    const idx = nb.randint(0, 16, [2, 8]);
    const targets = nb.randint(0, 16, [2, 8]);
    model.forward(idx, targets).loss!.backward();
    const tied = wte.grad!;
    assert.equal(model.lmHead.weight.grad, tied);

    // Untie with a copy: the two gradients then land in two tensors and sum to the tied one.
    model.zeroGrad();
    const copy = new nb.nn.Parameter(wte.detach().clone());
    model.transformer.wte.weight = copy;
    model.forward(idx, targets).loss!.backward();
    const fromEmbedding = copy.grad!;
    const fromHead = model.lmHead.weight.grad!;
    assert.ok(fromEmbedding.abs().sum().item() > 0 && fromHead.abs().sum().item() > 0);
    assertClose(fromEmbedding.add(fromHead), tied, 1e-7, 1e-5, 'tied gradient');
  });

  test('GPT-2 initialisation: N(0, 0.02) weights, zero biases, c_proj scaled by 1/√(2·nLayer)', () => {
    const model = new GPT({ ...gptPresets.tiny, nEmbd: 64 }, { generator: new nb.Generator(3) });
    const stdOf = (t: nb.Tensor): number => Math.sqrt(t.square().mean().item());
    for (const [name, p] of model.namedParameters()) {
      if (name.endsWith('.bias')) assert.equal(p.abs().max().item(), 0, name);
      else if (/ln_\d|ln_f/.test(name)) assert.equal(p.sub(1).abs().max().item(), 0, name);
      else {
        const expected = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(4) : 0.02;
        const s = stdOf(p);
        assert.ok(Math.abs(s / expected - 1) < 0.1, `${name}: std ${s}, expected ${expected}`);
      }
    }
    // A seeded generator makes the initialisation reproducible.
    const again = new GPT({ ...gptPresets.tiny, nEmbd: 64 }, { generator: new nb.Generator(3) });
    assert.deepEqual(
      again.lmHead.weight.toArray(),
      model.lmHead.weight.toArray(),
      'same seed, same weights',
    );
  });
});

describe('GPT: forward and its errors', () => {
  const model = new GPT(gptPresets.tiny, { generator: new nb.Generator(0) });

  test('logits are (B, T, V) for every T <= blockSize; the loss starts near log V', () => {
    for (const T of [1, 5, 8]) {
      const { logits, loss } = model.forward(nb.randint(0, 16, [3, T]));
      assert.deepEqual(logits.shape, [3, T, 16]);
      assert.equal(loss, undefined);
    }
    const { loss } = model.forward(nb.randint(0, 16, [4, 8]), nb.randint(0, 16, [4, 8]));
    assert.deepEqual(loss!.shape, []);
    assert.ok(Math.abs(loss!.item() - Math.log(16)) < 0.2, `initial loss ${loss!.item()}`);
  });

  test('the causal mask hides the future: changing token t leaves logits before t unchanged', () => {
    model.eval();
    const a = int32([[1, 2, 3, 4, 5, 6, 7, 8]]);
    const b = int32([[1, 2, 3, 4, 9, 6, 7, 8]]);
    const la = nb.noGrad(() => model.forward(a).logits);
    const lb = nb.noGrad(() => model.forward(b).logits);
    assertClose(lb.narrow(1, 0, 4), la.narrow(1, 0, 4), 0, 0, 'positions before the change');
    assert.ok(
      lb
        .narrow(1, 4, 4)
        .sub(la.narrow(1, 4, 4))
        .abs()
        .max()
        .item() > 1e-4,
    );
    model.train();
  });

  test('targets of -1 are ignored (nanoGPT’s ignore_index)', () => {
    const idx = nb.randint(0, 16, [2, 4]);
    const full = int32([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    const some = int32([
      [1, -1, 3, 4],
      [-1, 6, -1, 8],
    ]);
    const logits = model.forward(idx).logits.reshape(8, 16); // (B, T, V) → (B·T, V)
    const nll = logits.logSoftmax(-1).gather(1, full.reshape(8, 1)).neg().reshape(8); // (B·T)
    const kept = [0, 2, 3, 5, 7];
    const expected = kept.reduce((s, i) => s + nll.select(0, i).item(), 0) / kept.length;
    assertClose([model.forward(idx, some).loss!.item()], [expected], 1e-6, 0, 'loss');
  });

  test('clear errors for bad inputs', () => {
    assert.throws(
      () => model.forward(nb.randint(0, 16, [1, 9])),
      (e: Error) => e instanceof nb.ValueError && /length 9, blockSize is only 8/.test(e.message),
    );
    assert.throws(
      () => model.forward(int32([[1, 2, 16]])),
      (e: Error) =>
        e instanceof nb.IndexError && /token id 16 at idx\[0, 2\].*vocabSize 16/.test(e.message),
    );
    assert.throws(() => model.forward(int32([[1, -2]])), nb.IndexError);
    assert.throws(
      () => model.forward(nb.tensor([[1, 2, 3]])),
      (e: Error) =>
        e instanceof nb.DTypeError && /int32/.test(e.message) && /float32/.test(e.message),
    );
    assert.throws(() => model.forward(nb.tensor([1, 2], { dtype: 'int32' })), nb.ShapeError);
    assert.throws(
      () => model.forward(int32([[1, 2]]), int32([[1, 2, 3]])),
      (e: Error) => e instanceof nb.ShapeError && /targets/.test(e.message),
    );
    assert.throws(() => model.forward(int32([[1, 2]]), int32([[1, 99]])), nb.IndexError);
    assert.throws(() => new GPT({ ...gptPresets.tiny, nHead: 3 }), /divisible/);
    assert.throws(() => new GPT({ ...gptPresets.tiny, vocabSize: 0 }), nb.ValueError);
    assert.throws(() => new GPT({ ...gptPresets.tiny, dropout: 1 }), nb.ValueError);
  });
});

describe('GPT: KV-cache decoding', () => {
  // Dropout on, to check that eval() turns it off on both paths.
  const config = { ...gptPresets.tiny, dropout: 0.1 };
  const model = new GPT(config, { generator: new nb.Generator(5) }).eval();
  const seq = nb.randint(0, 16, [2, 8], { generator: new nb.Generator(6) }); // (B, blockSize)
  const full = (t: number): nb.Tensor => nb.noGrad(() => model.forward(seq.narrow(1, 0, t)).logits); // (B, t, V)

  test('a prompt, then one token at a time: each step matches the full forward within 1e-5', () => {
    const cache = model.createCache();
    const first = model.forwardCached(seq.narrow(1, 0, 3), cache); // (B, 3, V)
    assert.equal(cache.length, 3);
    assert.equal(first.requiresGrad, false);
    assertClose(first, full(3), 1e-5, 0, 'prompt logits');
    for (let t = 3; t < 8; t++) {
      const step = model.forwardCached(seq.narrow(1, t, 1), cache); // (B, 1, V)
      assert.deepEqual(step.shape, [2, 1, 16]);
      assertClose(step.select(1, 0), full(t + 1).select(1, t), 1e-5, 0, `step ${t}`);
    }
    assert.equal(cache.length, 8);
  });

  test('chunks of several tokens attend causally within the chunk and to the cache', () => {
    const cache = model.createCache();
    const reference = full(8);
    let start = 0;
    for (const n of [2, 3, 1, 2]) {
      const logits = model.forwardCached(seq.narrow(1, start, n), cache); // (B, n, V)
      assertClose(logits, reference.narrow(1, start, n), 1e-5, 0, `chunk at ${start}`);
      start += n;
    }
    cache.reset();
    assertClose(model.forwardCached(seq, cache), reference, 1e-5, 0, 'after reset');
  });

  test('errors: past blockSize, a different batch, a foreign cache', () => {
    const cache = model.createCache();
    model.forwardCached(seq.narrow(1, 0, 6), cache);
    assert.throws(
      () => model.forwardCached(seq.narrow(1, 0, 3), cache),
      (e: Error) =>
        e instanceof nb.ValueError && /holds 6 positions.*beyond blockSize 8/.test(e.message),
    );
    assert.equal(cache.length, 6, 'a refused call leaves the cache as it was');
    assert.throws(
      () => model.forwardCached(int32([[1], [2], [3]]), cache),
      (e: Error) => e instanceof nb.ShapeError && /batch of 2/.test(e.message),
    );
    // After reset() the cache takes any batch size.
    cache.reset();
    const three = model.forwardCached(int32([[1], [2], [3]]), cache);
    assertClose(
      three,
      nb.noGrad(() => model.forward(int32([[1], [2], [3]])).logits),
      1e-5,
    );
    const other = new GPT({ ...config, nLayer: 1 });
    assert.throws(() => model.forwardCached(seq, other.createCache()), /1 layers/);
  });
});

describe('GPT: training', () => {
  // With these seeds the loss goes from 2.76 (about log 16) to about 0.002 in 100 steps (~2 s).
  test('overfits one batch (B 4, T 8, vocab 16): loss < 0.01 after 100 Adam steps (lr 1e-2)', () => {
    const model = new GPT(gptPresets.tiny, { generator: new nb.Generator(0) });
    const data = new nb.Generator(1);
    const idx = nb.randint(0, 16, [4, 8], { generator: data });
    const targets = nb.randint(0, 16, [4, 8], { generator: data });
    const step = makeAdam(model.parameters(), 1e-2);
    let first = NaN;
    let last = NaN;
    for (let i = 0; i < 100; i++) {
      const { loss } = model.forward(idx, targets);
      if (i === 0) first = loss!.item();
      model.zeroGrad();
      loss!.backward();
      step();
    }
    last = nb.noGrad(() => model.forward(idx, targets).loss!.item());
    assert.ok(first > 2.5, `initial loss ${first} should be near log 16 = 2.77`);
    assert.ok(last < 0.01, `loss after 100 steps: ${last} (initial ${first})`);
  });
});

describe('GPT: generate', () => {
  const model = new GPT({ ...gptPresets.tiny, blockSize: 16 }, { generator: new nb.Generator(2) });
  const prompt = int32([
    [1, 2, 3],
    [4, 5, 6],
  ]);

  test('returns (B, T + N) int32 with the prompt kept; deterministic for a seed', () => {
    const a = model.generate(prompt, 10, { generator: new nb.Generator(42) });
    const b = model.generate(prompt, 10, { generator: new nb.Generator(42) });
    const c = model.generate(prompt, 10, { generator: new nb.Generator(43) });
    assert.equal(a.dtype, 'int32');
    assert.deepEqual(a.shape, [2, 13]);
    assert.deepEqual(a.narrow(1, 0, 3).toArray(), prompt.toArray());
    assert.deepEqual(a.toArray(), b.toArray());
    assert.notDeepEqual(a.toArray(), c.toArray());
    // With and without the cache: same logits (to rounding), same samples.
    const u = model.generate(prompt, 10, { generator: new nb.Generator(42), useCache: false });
    assert.deepEqual(u.toArray(), a.toArray());
  });

  test('greedy (temperature 0) picks the argmax of the full forward at every step', () => {
    const out = model.generate(prompt, 8, { temperature: 0 });
    model.eval();
    const logits = nb.noGrad(() => model.forward(out.narrow(1, 0, 10)).logits); // (B, 10, V)
    model.train();
    const picked = logits.narrow(1, 2, 8).argmax(-1); // (B, 8)
    assert.deepEqual(out.narrow(1, 3, 8).toArray(), picked.toArray());
  });

  test('topK: 1 equals greedy; topK: k samples only among the k largest logits', () => {
    const greedy = model.generate(prompt, 8, { temperature: 0 }).toArray();
    const top1 = model.generate(prompt, 8, { topK: 1, generator: new nb.Generator(9) });
    assert.deepEqual(top1.toArray(), greedy);
    const tinyP = model.generate(prompt, 8, { topP: 1e-6, generator: new nb.Generator(9) });
    assert.deepEqual(tinyP.toArray(), greedy, 'a tiny topP keeps only the most likely token');

    const k = 3;
    const out = model.generate(prompt, 12, {
      topK: k,
      temperature: 2,
      generator: new nb.Generator(1),
    });
    model.eval();
    const logits = nb.noGrad(() => model.forward(out.narrow(1, 0, 14)).logits); // (B, 14, V)
    model.train();
    const tokens = out.toArray() as number[][];
    let outsideTopK = 0;
    for (let b = 0; b < 2; b++) {
      for (let t = 3; t < 15; t++) {
        const row = logits.select(0, b).select(0, t - 1); // (V)
        const chosen = row.select(0, tokens[b]![t]!).item();
        const larger = row.gt(chosen).sum().item();
        if (larger >= k) outsideTopK++;
      }
    }
    assert.equal(outsideTopK, 0, 'every sampled token is among the top k');
  });

  test('runs in eval mode (dropout off) and restores the modules’ modes', () => {
    const noisy = new GPT(
      { ...gptPresets.tiny, blockSize: 16, dropout: 0.5 },
      { generator: new nb.Generator(2) },
    );
    noisy.train();
    noisy.transformer.h.get(0).eval();
    const trained = noisy.generate(prompt, 6, { temperature: 0 });
    assert.equal(noisy.training, true);
    assert.equal(noisy.transformer.h.get(0).training, false);
    assert.equal(noisy.transformer.h.get(1).attn.attnDropout.training, true);
    noisy.eval();
    assert.deepEqual(noisy.generate(prompt, 6, { temperature: 0 }).toArray(), trained.toArray());
  });

  test('errors beyond blockSize without cache room; useCache: false crops instead', () => {
    // 3 prompt tokens + 14 new ones need 16 cached positions: exactly blockSize.
    assert.deepEqual(model.generate(prompt, 14, { temperature: 0 }).shape, [2, 17]);
    assert.throws(
      () => model.generate(prompt, 15, { temperature: 0 }),
      (e: Error) =>
        e instanceof nb.ValueError &&
        /need 17 cached positions, beyond blockSize 16/.test(e.message) &&
        /useCache: false/.test(e.message),
    );
    const long = model.generate(prompt, 20, { temperature: 0, useCache: false });
    assert.deepEqual(long.shape, [2, 23]);
    assert.deepEqual(
      long.narrow(1, 0, 17).toArray(),
      model.generate(prompt, 14, { temperature: 0 }).toArray(),
      'identical while the sequence fits',
    );
    assert.deepEqual(model.generate(prompt, 0).toArray(), prompt.toArray());
  });

  test('option errors', () => {
    assert.throws(() => model.generate(prompt, 2, { topK: 0 }), /topK/);
    assert.throws(() => model.generate(prompt, 2, { topP: 0 }), /topP/);
    assert.throws(() => model.generate(prompt, 2, { temperature: -1 }), /temperature/);
    assert.throws(() => model.generate(prompt, -1), /maxNewTokens/);
    assert.throws(() => model.generate(nb.tensor([[1, 2]]), 2), nb.DTypeError);
  });
});

interface Packed {
  shape: number[];
  data: number[];
}
interface Fixture {
  config: nb.models.GPTConfig;
  state_dict: Record<string, Packed>;
  idx: Packed;
  targets: Packed;
  logits: Packed;
  loss: number;
  grads: Record<string, Packed>;
  ignore: { targets: Packed; loss: number };
}

describe('GPT: parity with PyTorch (nanoGPT, test/fixtures/gpt-tiny.json)', () => {
  const fx = JSON.parse(
    readFileSync(new URL('../fixtures/gpt-tiny.json', import.meta.url), 'utf8'),
  ) as Fixture;
  const floats = (p: Packed): nb.Tensor => nb.tensor(p.data, { shape: p.shape });
  const ints = (p: Packed): nb.Tensor => nb.tensor(p.data, { shape: p.shape, dtype: 'int32' });
  const [ATOL, RTOL] = [1e-5, 1e-4];

  const model = new GPT(fx.config);
  const wte = model.transformer.wte.weight;
  model.loadStateDict(
    Object.fromEntries(Object.entries(fx.state_dict).map(([k, v]) => [k, floats(v)])),
  );

  test('the checkpoint loads strictly and the head stays tied', () => {
    assert.equal(model.lmHead.weight, wte);
    assert.equal(model.transformer.wte.weight, wte);
    assertClose(wte, floats(fx.state_dict['lm_head.weight']!), 0, 0, 'tied weight');
  });

  test(`logits, loss and the gradient of every parameter (atol ${ATOL}, rtol ${RTOL})`, () => {
    model.zeroGrad();
    const { logits, loss } = model.forward(ints(fx.idx), ints(fx.targets));
    assertClose(logits, floats(fx.logits), ATOL, RTOL, 'logits');
    assertClose([loss!.item()], [fx.loss], ATOL, RTOL, 'loss');
    loss!.backward();
    const named = model.namedParameters();
    assert.deepEqual(
      named.map(([n]) => n),
      Object.keys(fx.grads),
    );
    for (const [name, p] of named) {
      assert.ok(p.grad, `${name} has a gradient`);
      assertClose(p.grad, floats(fx.grads[name]!), ATOL, RTOL, `grad of ${name}`);
    }
  });

  test('loss with ignored (-1) targets', () => {
    const { loss } = nb.noGrad(() => model.forward(ints(fx.idx), ints(fx.ignore.targets)));
    assertClose([loss!.item()], [fx.ignore.loss], ATOL, RTOL, 'loss');
  });
});
