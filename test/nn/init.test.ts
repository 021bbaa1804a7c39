/**
 * Initialisation (src/nn/init.ts): each initialiser's empirical mean, standard deviation and bounds
 * on a large tensor against its formula, orthogonality (WᵀW ≈ I for tall, WWᵀ ≈ I for wide),
 * seeded reproducibility, calculateGain, and the default initialisation of Linear, Embedding and
 * LayerNorm against PyTorch's (statistics from test/fixtures/nn-basic.json).
 *
 * Statistical tolerances: with n samples the sample mean is within 5·σ/√n of the true mean and the
 * sample std within 3% of the true std (its relative error is about 1/√(2n), 0.3% for n = 60 000).
 * Seeds are fixed, so the tests are deterministic anyway.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as nb from '../../src/index.js';

const init = nb.nn.init;

interface Stats {
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

function stats(t: nb.Tensor): Stats {
  const v = t.dataSync();
  const n = v.length;
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of v) {
    s += x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const mean = s / n;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  return { n, mean, std: Math.sqrt(ss / (n - 1)), min, max };
}

/** Mean and std match N(mean, std²)-like expectations; optional hard bounds [lo, hi]. */
function assertStats(t: nb.Tensor, mean: number, std: number, bounds?: [number, number]): void {
  const s = stats(t);
  assert.ok(
    Math.abs(s.mean - mean) <= (5 * std) / Math.sqrt(s.n),
    `mean ${s.mean}, expected ${mean} (std ${std}, n ${s.n})`,
  );
  assert.ok(Math.abs(s.std / std - 1) < 0.03, `std ${s.std}, expected ${std}`);
  if (bounds) {
    const [lo, hi] = bounds;
    assert.ok(s.min >= lo && s.max <= hi, `range [${s.min}, ${s.max}] outside [${lo}, ${hi}]`);
    // A large uniform sample comes close to both ends.
    const w = hi - lo;
    assert.ok(
      s.min < lo + 0.01 * w && s.max > hi - 0.01 * w,
      `range [${s.min}, ${s.max}] too narrow`,
    );
  }
}

const big = (shape = [200, 300], dtype: 'float32' | 'float64' = 'float32') =>
  nb.zeros(shape, { dtype });

describe('init: distributions match their formulas', () => {
  test('uniform_ and normal_', () => {
    nb.manualSeed(1);
    assertStats(init.uniform_(big(), -0.5, 1.5), 0.5, 2 / Math.sqrt(12), [-0.5, 1.5]);
    assertStats(init.normal_(big(), 2, 0.3), 2, 0.3);
    assert.throws(() => init.uniform_(big(), 1, 0), nb.ValueError);
  });

  test('constant_, zeros_, ones_', () => {
    const t = big([3, 4]);
    assert.ok(
      init
        .constant_(t, 0.25)
        .dataSync()
        .every((v) => v === 0.25),
    );
    assert.ok(
      init
        .zeros_(t)
        .dataSync()
        .every((v) => v === 0),
    );
    assert.ok(
      init
        .ones_(t)
        .dataSync()
        .every((v) => v === 1),
    );
  });

  test('fans: (out, in, *k) gives fanIn = in·k, fanOut = out·k; < 2 dims is a ShapeError', () => {
    assert.deepEqual(init.fans(big([20, 30])), { fanIn: 30, fanOut: 20 });
    assert.deepEqual(init.fans(big([8, 4, 3, 3])), { fanIn: 36, fanOut: 72 });
    assert.throws(() => init.fans(big([5])), nb.ShapeError);
    assert.throws(() => init.xavierUniform_(big([5])), nb.ShapeError);
  });

  test('xavierUniform_ / xavierNormal_: gain·√(6/(fanIn+fanOut)) bound, gain·√(2/(fanIn+fanOut)) std', () => {
    nb.manualSeed(2);
    const a = 1.5 * Math.sqrt(6 / (200 + 300));
    assertStats(init.xavierUniform_(big(), 1.5), 0, a / Math.sqrt(3), [-a, a]);
    assertStats(init.xavierNormal_(big()), 0, Math.sqrt(2 / 500));
    const conv = big([30, 20, 3, 3]); // fanIn 180, fanOut 270
    const b = Math.sqrt(6 / 450);
    assertStats(init.xavierUniform_(conv), 0, b / Math.sqrt(3), [-b, b]);
  });

  test('kaimingUniform_ / kaimingNormal_: gain/√fan with the leaky-ReLU, ReLU and fanOut variants', () => {
    nb.manualSeed(3);
    // Default: leaky_relu with a = 0 → gain √2, fan = fanIn = 300.
    let bound = Math.sqrt(2) * Math.sqrt(3 / 300);
    assertStats(init.kaimingUniform_(big()), 0, bound / Math.sqrt(3), [-bound, bound]);
    // a = √5 (Linear's default) → bound 1/√fanIn.
    bound = 1 / Math.sqrt(300);
    assertStats(init.kaimingUniform_(big(), { a: Math.sqrt(5) }), 0, bound / Math.sqrt(3), [
      -bound,
      bound,
    ]);
    assertStats(init.kaimingNormal_(big(), { mode: 'fanOut' }), 0, Math.sqrt(2 / 200));
    assertStats(init.kaimingNormal_(big(), { nonlinearity: 'tanh' }), 0, 5 / 3 / Math.sqrt(300));
    assertStats(
      init.kaimingNormal_(big([30, 20, 3, 3]), { nonlinearity: 'relu', mode: 'fanOut' }),
      0,
      Math.sqrt(2 / 270),
    );
  });

  test('calculateGain matches torch.nn.init.calculate_gain', () => {
    assert.equal(init.calculateGain('linear'), 1);
    assert.equal(init.calculateGain('sigmoid'), 1);
    assert.equal(init.calculateGain('tanh'), 5 / 3);
    assert.equal(init.calculateGain('relu'), Math.sqrt(2));
    assert.equal(init.calculateGain('selu'), 0.75);
    assert.equal(init.calculateGain('leaky_relu'), Math.sqrt(2 / (1 + 0.01 ** 2)));
    assert.equal(init.calculateGain('leaky_relu', 0.2), Math.sqrt(2 / 1.04));
    assert.equal(init.calculateGain('leaky_relu', 0), Math.sqrt(2));
  });

  test('zero-element tensors are left as they are (PyTorch: a no-op), so Linear(0, n) builds', () => {
    for (const f of [init.xavierUniform_, init.xavierNormal_, init.orthogonal_])
      assert.deepEqual(f(big([0, 3])).shape, [0, 3]);
    assert.deepEqual(init.kaimingUniform_(big([4, 0])).shape, [4, 0]);
    assert.deepEqual(init.kaimingNormal_(big([0, 0])).shape, [0, 0]);
    assert.throws(() => init.kaimingUniform_(big([0])), nb.ShapeError);
    const lin = new nb.nn.Linear(0, 3);
    assert.deepEqual(lin.forward(big([2, 0])).toArray(), [
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });

  test('initialisers write in place without recording a graph', () => {
    const p = new nb.nn.Parameter(nb.zeros([4, 5]));
    assert.equal(init.xavierNormal_(p), p);
    assert.ok(p.isLeaf && p.requiresGrad && p.grad === null);
    const d = nb.zeros([3, 3], { dtype: 'float64' });
    init.kaimingUniform_(d);
    assert.equal(d.dtype, 'float64');
    assert.ok(d.dataSync().some((v) => v !== 0));
  });
});

describe('init: orthogonal_', () => {
  /** Max |A − c·I| over the entries of the n×n matrix A. */
  function offIdentity(a: nb.Tensor, c = 1): number {
    const n = a.shape[0]!;
    const v = a.dataSync();
    let worst = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        worst = Math.max(worst, Math.abs(v[i * n + j]! - (i === j ? c : 0)));
    return worst;
  }

  test('tall: WᵀW ≈ I; wide: WWᵀ ≈ I; square: both', () => {
    nb.manualSeed(4);
    const tall = init.orthogonal_(big([40, 12], 'float64'));
    assert.ok(offIdentity(tall.T.matmul(tall)) < 1e-12);
    const wide = init.orthogonal_(big([12, 40], 'float64'));
    assert.ok(offIdentity(wide.matmul(wide.T)) < 1e-12);
    const sq = init.orthogonal_(big([16, 16], 'float64'));
    assert.ok(offIdentity(sq.T.matmul(sq)) < 1e-12 && offIdentity(sq.matmul(sq.T)) < 1e-12);
    // float32 storage: orthogonal to float32 precision.
    const f = init.orthogonal_(big([30, 10]));
    assert.ok(offIdentity(f.T.matmul(f)) < 1e-5);
  });

  test('gain scales it; trailing dims are flattened (rows × rest)', () => {
    const g = init.orthogonal_(big([20, 6], 'float64'), 2);
    assert.ok(offIdentity(g.T.matmul(g), 4) < 1e-11);
    const t = init.orthogonal_(big([4, 2, 3], 'float64')).reshape(4, 6);
    assert.ok(offIdentity(t.matmul(t.T)) < 1e-12);
    assert.throws(() => init.orthogonal_(big([5], 'float64')), nb.ShapeError);
  });

  test('entries are not trivially structured (no identity or permutation)', () => {
    const q = init.orthogonal_(big([50, 50], 'float64'));
    const s = stats(q);
    // A Haar-random orthogonal matrix has entries of variance 1/n.
    assert.ok(Math.abs(s.std * Math.sqrt(50) - 1) < 0.05, `std ${s.std}`);
  });
});

describe('init: seeded reproducibility', () => {
  const draw = () => [
    init.xavierUniform_(big([6, 7])).toArray(),
    init.kaimingNormal_(big([6, 7])).toArray(),
    init.orthogonal_(big([6, 7])).toArray(),
    new nb.nn.Linear(5, 3).weight.toArray(),
  ];

  test('nb.manualSeed replays the same values; another seed gives others', () => {
    nb.manualSeed(123);
    const a = draw();
    nb.manualSeed(123);
    assert.deepEqual(draw(), a);
    nb.manualSeed(124);
    assert.notDeepEqual(draw(), a);
  });

  test('an explicit Generator is independent of the global one', () => {
    const a = init.normal_(big([4, 4]), 0, 1, new nb.Generator(9)).toArray();
    nb.manualSeed(0);
    init.normal_(big([4, 4]));
    const b = init.normal_(big([4, 4]), 0, 1, new nb.Generator(9)).toArray();
    assert.deepEqual(a, b);
    const c = init.kaimingUniform_(big([4, 4]), { generator: new nb.Generator(9) }).toArray();
    assert.deepEqual(
      c,
      init.kaimingUniform_(big([4, 4]), { generator: new nb.Generator(9) }).toArray(),
    );
  });
});

describe("default initialisation matches PyTorch's", () => {
  interface TorchStats {
    shape: number[];
    mean: number;
    std: number;
    min: number;
    max: number;
  }
  const ref = (
    JSON.parse(readFileSync(new URL('../fixtures/nn-basic.json', import.meta.url), 'utf8')) as {
      init: {
        linear_512_256: { weight: TorchStats; bias: TorchStats };
        embedding_4000_16: { weight: TorchStats };
        embedding_padding_idx_4: { padding_row: number[] };
        layernorm_8: { weight: number[]; bias: number[] };
      };
    }
  ).init;

  /**
   * Same distribution as PyTorch's sample: std within max(3%, 4/√n) (two samples' sampling error;
   * loose only for the 256 biases, whose bounds are checked exactly), mean within 7·σ/√n.
   */
  function compare(t: nb.Tensor, torch: TorchStats): void {
    assert.deepEqual(t.shape, torch.shape);
    const s = stats(t);
    const tol = Math.max(0.03, 4 / Math.sqrt(s.n));
    assert.ok(Math.abs(s.std / torch.std - 1) < tol, `std ${s.std} vs torch ${torch.std}`);
    assert.ok(Math.abs(s.mean - torch.mean) <= (7 * torch.std) / Math.sqrt(s.n), `mean ${s.mean}`);
  }

  test('Linear(512, 256): weight and bias ~ U(−1/√512, 1/√512)', () => {
    nb.manualSeed(5);
    const lin = new nb.nn.Linear(512, 256);
    const bound = 1 / Math.sqrt(512);
    compare(lin.weight, ref.linear_512_256.weight);
    compare(lin.bias!, ref.linear_512_256.bias);
    assertStats(lin.weight, 0, bound / Math.sqrt(3), [-bound, bound]);
    // PyTorch's sample sits in the same bounds.
    const tw = ref.linear_512_256.weight;
    assert.ok(tw.max <= bound + 1e-7 && tw.min >= -bound - 1e-7 && tw.max > 0.99 * bound);
    const b = stats(lin.bias!);
    assert.ok(b.min >= -bound && b.max <= bound);
  });

  test('Embedding: N(0, 1) with a zero padding row; LayerNorm: ones and zeros', () => {
    nb.manualSeed(6);
    const emb = new nb.nn.Embedding(4000, 16);
    compare(emb.weight, ref.embedding_4000_16.weight);
    assertStats(emb.weight, 0, 1);
    const pad = new nb.nn.Embedding(10, 3, { paddingIdx: 4 });
    assert.deepEqual(pad.weight.select(0, 4).toArray(), ref.embedding_padding_idx_4.padding_row);
    const ln = new nb.nn.LayerNorm(8);
    assert.deepEqual(ln.weight!.toArray(), ref.layernorm_8.weight);
    assert.deepEqual(ln.bias!.toArray(), ref.layernorm_8.bias);
  });
});
