/**
 * Fused (tiled, online-softmax) attention against the composite ops it replaces: outputs and
 * gradients on random shapes (odd lengths, L ≠ S, batch × heads, broadcast batch dims,
 * non-contiguous views), causal, boolean, float and padding masks, fully masked rows, float32 and
 * float64; float64 finite-difference gradchecks, second-order gradients, MultiheadAttention,
 * memory that grows linearly (not quadratically) with the sequence length, and the native backend's
 * kernels against the reference ones.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import type { AttentionParams, View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { getNumThreads, nativeBackend, setNumThreads } from '../../src/backend/native/index.js';
import { skipNative } from '../backend/native-helpers.js';
import { assertClose, gradcheck } from '../core/helpers.js';

/**
 * |a − b| <= tol·(1 + |b|) elementwise, same shape; one assertion per array (assertClose's
 * per-element messages cost O(n²) on large arrays).
 */
function assertNear(
  a: nb.Tensor | ArrayLike<number>,
  b: nb.Tensor | ArrayLike<number>,
  tol: number,
): void {
  if (a instanceof nb.Tensor && b instanceof nb.Tensor) assert.deepEqual(a.shape, b.shape);
  const x = a instanceof nb.Tensor ? a.dataSync() : a;
  const y = b instanceof nb.Tensor ? b.dataSync() : b;
  assert.equal(x.length, y.length);
  let worst = -1;
  let at = -1;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] === y[i] ? 0 : Math.abs(x[i]! - y[i]!) / (1 + Math.abs(y[i]!));
    if (!(d <= worst)) [worst, at] = [d, i]; // NaN differences count as worst
  }
  assert.ok(
    x.length === 0 || worst <= tol,
    `element ${at}: ${x[at]} vs ${y[at]} (tolerance ${tol})`,
  );
}

const F = nb.nn.F;
type Opts = nb.nn.ScaledDotProductAttentionOptions;

interface Case {
  name: string;
  q: number[];
  k: number[];
  v: number[];
  /** Builds the options from a generator (masks drawn at random). */
  opts?: (g: nb.Generator, dtype: 'float32' | 'float64') => Opts;
  /** Make q a non-contiguous view: drawn as (B, L, H, E) and transposed to (B, H, L, E). */
  transposedQ?: boolean;
}

const CASES: Case[] = [
  { name: 'no mask, L = S = 1', q: [1, 4], k: [1, 4], v: [1, 3] },
  { name: 'no mask, odd L ≠ S, E ≠ Ev', q: [37, 8], k: [71, 8], v: [71, 5] },
  { name: 'batch × heads', q: [2, 3, 33, 8], k: [2, 3, 65, 8], v: [2, 3, 65, 8] },
  { name: 'broadcast batch (k, v shared by heads)', q: [2, 3, 9, 4], k: [2, 1, 11, 4], v: [11, 6] },
  {
    name: 'causal, L < S',
    q: [2, 40, 8],
    k: [2, 97, 8],
    v: [2, 97, 8],
    opts: () => ({ isCausal: true }),
  },
  {
    name: 'causal, L > S',
    q: [2, 70, 8],
    k: [2, 33, 8],
    v: [2, 33, 8],
    opts: () => ({ isCausal: true }),
  },
  {
    name: 'causal, several tiles, non-contiguous q',
    q: [1, 2, 130, 16],
    k: [1, 2, 130, 16],
    v: [1, 2, 130, 16],
    transposedQ: true,
    opts: () => ({ isCausal: true }),
  },
  {
    name: 'boolean mask (L, S) broadcast over batch and heads',
    q: [2, 2, 35, 8],
    k: [2, 2, 67, 8],
    v: [2, 2, 67, 8],
    opts: (g) => ({ attnMask: nb.rand([35, 67], { generator: g }).gt(0.3) }),
  },
  {
    name: 'boolean mask of full shape with fully masked rows',
    q: [2, 13, 4],
    k: [2, 17, 4],
    v: [2, 17, 3],
    opts: (g) => {
      const m = nb.rand([2, 13, 17], { generator: g }).gt(0.5);
      // Rows 0 and 7 of batch 1 and row 12 of batch 0 see no key at all.
      const empty = nb.zeros([2, 13, 1]).bool();
      const rows = nb.tensor(
        Array.from({ length: 26 }, (_, i) => [0 * 13 + 12, 13 + 0, 13 + 7].includes(i)),
      );
      return { attnMask: nb.where(rows.reshape([2, 13, 1]), empty, m) };
    },
  },
  {
    name: 'padding mask (N, 1, 1, S)',
    q: [3, 2, 19, 8],
    k: [3, 2, 23, 8],
    v: [3, 2, 23, 8],
    opts: () => {
      const lengths = [23, 10, 1];
      const pad = nb.tensor(lengths.map((n) => Array.from({ length: 23 }, (_, j) => j < n)));
      return { attnMask: pad.reshape([3, 1, 1, 23]) };
    },
  },
  {
    name: 'float mask with -∞ entries and fully masked rows',
    q: [2, 21, 8],
    k: [2, 66, 8],
    v: [2, 66, 8],
    opts: (g, dtype) => {
      const r = nb.rand([2, 21, 66], { generator: g });
      const bias = nb.randn([2, 21, 66], { generator: g, dtype });
      const m = nb.where(r.gt(0.25), bias, -Infinity);
      // Row 4 of batch 1 fully masked.
      const row = nb
        .zeros([2, 21, 1])
        .bool()
        .logicalOr(
          nb.tensor(Array.from({ length: 42 }, (_, i) => i === 21 + 4)).reshape([2, 21, 1]),
        );
      return { attnMask: nb.where(row, -Infinity, m) };
    },
  },
  {
    name: 'float mask (S) broadcast, custom scale',
    q: [3, 9, 8],
    k: [3, 12, 8],
    v: [3, 12, 2],
    opts: (g, dtype) => ({ attnMask: nb.randn([12], { generator: g, dtype }), scale: 0.37 }),
  },
];

/** The case's leaves (q, or the tensor q is a view of; k; v), q itself and the generator. */
function draw(c: Case, dtype: 'float32' | 'float64', seed: number) {
  const g = new nb.Generator(seed);
  const mk = (shape: number[]) => nb.randn(shape, { generator: g, dtype, requiresGrad: true });
  if (c.transposedQ) {
    const [B, H, L, E] = c.q as [number, number, number, number];
    const base = mk([B, L, H, E]);
    // (B, L, H, E) -> (B, H, L, E), non-contiguous
    return { leaves: [base, mk(c.k), mk(c.v)], q: base.transpose(1, 2), g };
  }
  const q = mk(c.q);
  return { leaves: [q, mk(c.k), mk(c.v)], q, g };
}

/** Output and gradients of the leaves for sum(out · r), fused or composite. */
function run(c: Case, dtype: 'float32' | 'float64', fused: boolean): nb.Tensor[] {
  const { leaves, q, g } = draw(c, dtype, 11);
  const opts = { ...(c.opts?.(g, dtype) ?? {}), fused };
  const out = F.scaledDotProductAttention(q, leaves[1]!, leaves[2]!, opts);
  const r = nb.randn(out.shape, { generator: new nb.Generator(5), dtype });
  out.mul(r).sum().backward();
  return [out, ...leaves.map((t) => t.grad!)];
}

describe('fused attention matches the composite', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const c of CASES) {
      test(`${c.name} (${dtype})`, () => {
        const fused = run(c, dtype, true);
        const composite = run(c, dtype, false);
        const tol = dtype === 'float64' ? 1e-12 : 2e-5;
        ['output', 'dq', 'dk', 'dv'].forEach((what, i) => {
          const a = fused[i]!.dataSync();
          assert.ok(
            a.every((x) => Number.isFinite(x)),
            `${what}: non-finite values`,
          );
          assertNear(fused[i]!, composite[i]!, tol);
        });
      });
    }
  }

  test('fully masked rows give zero output and zero gradients', () => {
    const g = new nb.Generator(2);
    const q = nb.randn([5, 4], { generator: g, dtype: 'float64', requiresGrad: true });
    const k = nb.randn([6, 4], { generator: g, dtype: 'float64', requiresGrad: true });
    const v = nb.randn([6, 3], { generator: g, dtype: 'float64', requiresGrad: true });
    const mask = nb
      .ones([5, 6])
      .bool()
      .logicalAnd(nb.tensor([[true], [false], [true], [false], [true]]));
    const out = F.scaledDotProductAttention(q, k, v, { attnMask: mask });
    out.sum().backward();
    const o = out.toArray() as number[][];
    assert.deepEqual(o[1], [0, 0, 0]);
    assert.deepEqual(o[3], [0, 0, 0]);
    assert.ok(o[0]!.some((x) => x !== 0));
    const dq = q.grad!.toArray() as number[][];
    assert.deepEqual(dq[1], [0, 0, 0, 0]);
    assert.deepEqual(dq[3], [0, 0, 0, 0]);
    assert.ok(dq[0]!.some((x) => x !== 0));
  });

  test('dropout > 0 and a float mask that requires grad take the composite path', () => {
    const g = new nb.Generator(4);
    const [q, k, v] = [
      [2, 5, 4],
      [2, 7, 4],
      [2, 7, 4],
    ].map((s) => nb.randn(s, { generator: g, dtype: 'float64' }));
    const a = F.scaledDotProductAttention(q!, k!, v!, {
      dropoutP: 0.5,
      generator: new nb.Generator(9),
    });
    const b = F.scaledDotProductAttention(q!, k!, v!, {
      dropoutP: 0.5,
      generator: new nb.Generator(9),
      fused: false,
    });
    assertClose(a, b, 0);
    // Gradient reaches a float mask that requires grad (the composite differentiates the mask).
    const bias = nb.randn([5, 7], { generator: g, dtype: 'float64', requiresGrad: true });
    F.scaledDotProductAttention(q!, k!, v!, { attnMask: bias }).sum().backward();
    assert.ok(bias.grad !== null);
  });

  test('mask errors are reported on the fused path too', () => {
    const q = nb.randn([2, 5, 4]);
    const k = nb.randn([2, 7, 4]);
    assert.throws(
      () => F.scaledDotProductAttention(q, k, k, { attnMask: nb.ones([5, 6]).bool() }),
      nb.ShapeError,
    );
    assert.throws(() => F.scaledDotProductAttention(q, k, k.double()), nb.DTypeError);
  });
});

describe('fused attention gradients (float64 finite differences)', () => {
  const g = new nb.Generator(21);
  const [q, k, v] = [
    [2, 7, 4],
    [2, 9, 4],
    [2, 9, 3],
  ].map((s) => nb.randn(s, { generator: g, dtype: 'float64', requiresGrad: true })) as [
    nb.Tensor,
    nb.Tensor,
    nb.Tensor,
  ];
  const boolMask = nb.rand([7, 9], { generator: g }).gt(0.3).logicalOr(nb.eye(7, 9).bool());
  const floatMask = nb.randn([2, 1, 9], { generator: g, dtype: 'float64' });

  test('no mask', () => gradcheck((q, k, v) => F.scaledDotProductAttention(q!, k!, v!), [q, k, v]));
  test('causal', () =>
    gradcheck((q, k, v) => F.scaledDotProductAttention(q!, k!, v!, { isCausal: true }), [q, k, v]));
  test('boolean mask', () =>
    gradcheck(
      (q, k, v) => F.scaledDotProductAttention(q!, k!, v!, { attnMask: boolMask }),
      [q, k, v],
    ));
  test('float mask, scale 0.8', () =>
    gradcheck(
      (q, k, v) => F.scaledDotProductAttention(q!, k!, v!, { attnMask: floatMask, scale: 0.8 }),
      [q, k, v],
    ));

  test('second-order gradients (createGraph) match the composite', () => {
    const second = (fused: boolean): number[][] => {
      const [a, b, c] = [q, k, v].map((t) => t.detach().requiresGrad_()) as nb.Tensor[];
      const out = F.scaledDotProductAttention(a!, b!, c!, { isCausal: true, fused });
      out.square().sum().backward(undefined, { createGraph: true });
      const gn = a!.grad!.square().sum().add(b!.grad!.square().sum()).add(c!.grad!.square().sum());
      for (const t of [a, b, c]) t!.grad = null;
      gn.backward();
      return [a, b, c].map((t) => Array.from(t!.grad!.dataSync()));
    };
    const f = second(true);
    const ref = second(false);
    f.forEach((x, i) => assertNear(x, ref[i]!, 1e-10));
    assert.ok(f[0]!.some((x) => x !== 0));
  });
});

describe('MultiheadAttention uses the fused kernels without weights', () => {
  test('needWeights false agrees with the weights path, output and gradients', () => {
    nb.manualSeed(3);
    const mha = new nb.nn.MultiheadAttention(16, 4, { batchFirst: true, dtype: 'float64' });
    const x = nb.randn([2, 11, 16], { dtype: 'float64' });
    const kpm = nb.tensor([Array.from({ length: 11 }, (_, j) => j >= 8), Array(11).fill(false)]);
    const grads = (needWeights: boolean) => {
      mha.zeroGrad();
      const [y] = mha.forward(x, x, x, { keyPaddingMask: kpm, needWeights, isCausal: false });
      y.square().sum().backward();
      return [y, ...mha.parameters().map((p) => p.grad!)];
    };
    const a = grads(false);
    const b = grads(true);
    a.forEach((t, i) => assertNear(t, b[i]!, 1e-12));
  });
});

/** Bytes allocated at the peak of forward + backward, beyond what was live before. */
function peakExtra(T: number, fused: boolean): number {
  const g = new nb.Generator(1);
  const [q, k, v] = [0, 1, 2].map(() =>
    nb.keep(nb.randn([1, 1, T, 8], { generator: g, requiresGrad: true })),
  );
  const before = nb.memoryStats({ resetPeak: true }).liveBytes;
  nb.scope(() => {
    const out = F.scaledDotProductAttention(q!, k!, v!, { isCausal: true, fused });
    out.sum().backward();
  });
  const extra = nb.memoryStats().peakBytes - before;
  for (const t of [q, k, v]) t!.dispose();
  return extra;
}

describe('fused attention memory', () => {
  test('peak extra memory grows linearly in T, never holding a T×T matrix', () => {
    const small = peakExtra(256, true);
    const large = peakExtra(1024, true);
    const square = 1024 * 1024 * 4; // one float32 (T, T) matrix at T = 1024
    assert.ok(large < square / 8, `fused peak ${large} B should be far below ${square} B`);
    // 4× the length: linear memory grows about 4×, quadratic 16×.
    assert.ok(large < 5 * small, `peak grew from ${small} B to ${large} B`);
    // The check can fail: the composite holds (T, T) scores.
    assert.ok(peakExtra(1024, false) > square);
  });
});

// ---- Kernels: native against reference ----------------------------------------------------------

function kview(
  data: Float32Array | Float64Array | Uint8Array,
  dtype: View['dtype'],
  shape: number[],
  strides?: number[],
): View {
  const st = strides ?? shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const storage = refBackend.alloc(dtype, data.length);
  refBackend.write(storage, data);
  return { storage, dtype, shape, strides: st, offset: 0 };
}

describe('native attention kernels match the reference kernels', { skip: skipNative }, () => {
  const layouts = ['dense', 'strided rows', 'inner stride 2'] as const;
  for (const dtype of ['float32', 'float64'] as const) {
    for (const causal of [null, 0, -3] as const) {
      for (const layout of layouts) {
        test(`${dtype}, causalOffset ${causal}, ${layout}, masks broadcast`, () => {
          const g = new nb.Generator(7);
          const [B, L, S, E, Ev] = [3, 45, 77, 16, 12];
          const rnd = (n: number) =>
            nb.randn([n], { generator: g, dtype: 'float64' }).dataSync() as Float64Array;
          const Arr = dtype === 'float32' ? Float32Array : Float64Array;
          // 'strided rows': q and dOut are column windows (offset 3) of wider matrices, as heads
          // split from (B, L, H·E) are; 'inner stride 2': v's features are every other element
          // (the native kernel hands that layout to the reference one).
          const wide = layout === 'strided rows';
          const q = wide
            ? {
                ...kview(Arr.from(rnd(B * L * 2 * E)), dtype, [B, L, E], [L * 2 * E, 2 * E, 1]),
                offset: 3,
              }
            : kview(Arr.from(rnd(B * L * E)), dtype, [B, L, E]);
          const k = kview(Arr.from(rnd(S * E)), dtype, [B, S, E], [0, E, 1]); // shared by the batch
          const v =
            layout === 'inner stride 2'
              ? kview(Arr.from(rnd(B * S * Ev * 2)), dtype, [B, S, Ev], [S * Ev * 2, Ev * 2, 2])
              : kview(Arr.from(rnd(B * S * Ev)), dtype, [B, S, Ev]);
          const allowed = kview(
            Uint8Array.from(rnd(L * S), (x) => (x > -1 ? 1 : 0)),
            'bool',
            [B, L, S],
            [0, S, 1],
          );
          const bias = kview(Arr.from(rnd(B * S)), dtype, [B, L, S], [S, 0, 1]);
          const params: AttentionParams = { scale: 0.3, causalOffset: causal };
          const dOut = wide
            ? {
                ...kview(Arr.from(rnd(B * L * 2 * Ev)), dtype, [B, L, Ev], [L * 2 * Ev, 2 * Ev, 1]),
                offset: 1,
              }
            : kview(Arr.from(rnd(B * L * Ev)), dtype, [B, L, Ev]);
          const threads = getNumThreads();
          setNumThreads(wide ? 3 : 1);
          try {
            const outs = [refBackend, nativeBackend].map((be) => {
              const out = kview(new Arr(B * L * Ev), dtype, [B, L, Ev]);
              const lse = kview(new Arr(B * L), dtype, [B, L]);
              be.kernels.attentionForward(q, k, v, allowed, bias, params, out, lse);
              const dq = kview(new Arr(B * L * E), dtype, [B, L, E]);
              const dk = kview(new Arr(B * S * E), dtype, [B, S, E]);
              const dv = kview(new Arr(B * S * Ev), dtype, [B, S, Ev]);
              be.kernels.attentionBackward(
                q,
                k,
                v,
                allowed,
                bias,
                params,
                out,
                lse,
                dOut,
                dq,
                dk,
                dv,
              );
              return [out, lse, dq, dk, dv].map((x) => Array.from(refBackend.read(x.storage)));
            });
            const tol = dtype === 'float32' ? 2e-5 : 1e-12;
            outs[0]!.forEach((r, i) => assertNear(outs[1]![i]!, r, tol));
            assert.ok(outs[0]![2]!.some((x) => x !== 0)); // dq is not trivially zero
          } finally {
            setNumThreads(threads);
          }
        });
      }
    }
  }
});
