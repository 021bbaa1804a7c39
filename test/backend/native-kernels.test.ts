/**
 * Every native kernel against the reference kernels (the specification), on random shapes with odd
 * sizes, non-contiguous views (permuted dims, steps, offsets), stride-0 broadcasting, float32,
 * float64, int32 and bool, at 1, 2 and 3 threads. Outputs are compared as whole arrays, so a stray
 * write outside the output view fails too. Skipped when the addon is not built.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DType } from '../../src/core/dtype.js';
import type { BinaryOp, UnaryOp, View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import {
  nativeBackend,
  nativeBackendInfo,
  setGemmKernel,
  setNumThreads,
  getNumThreads,
} from '../../src/backend/native/index.js';
import {
  Rng,
  assertArraysClose,
  cloneView,
  dataOf,
  outView,
  randomView,
  skipNative,
  tolerance,
  type Fill,
} from './native-helpers.js';

const ref = refBackend.kernels;
const nat = nativeBackend.kernels;

const FLOATS: DType[] = ['float32', 'float64'];
const ALL: DType[] = ['float32', 'float64', 'int32', 'bool'];
const THREADS = [1, 2, 3];

function fillFor(dtype: DType, fill: Fill): Fill {
  if (dtype === 'bool') return 'bool';
  if (dtype === 'int32') return 'int';
  return fill;
}

/**
 * Random shapes: `count` small odd ones, plus (when `big`) one large enough for the threaded and
 * vectorized paths.
 */
function shapes(rng: Rng, count: number, big = true): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < count; i++) out.push(rng.shape(rng.int(0, 4), 7));
  if (big) {
    out.push(
      rng.next() < 0.5 ? [rng.int(250, 300), rng.int(250, 300)] : [3, rng.int(90, 110), 257],
    );
  }
  return out;
}

/**
 * Runs `run` with the ref kernels on a clone of `out`, then with the native kernels (on fresh
 * clones) at 1, 2 and 3 threads, and compares the whole arrays.
 */
function compare(
  out: View,
  run: (k: typeof ref, o: View) => void,
  what: string,
  tol = tolerance(out.dtype),
): void {
  const oRef = cloneView(out);
  run(ref, oRef);
  const saved = getNumThreads();
  try {
    for (const t of THREADS) {
      setNumThreads(t);
      const oNat = cloneView(out);
      run(nat, oNat);
      assertArraysClose(dataOf(oNat), dataOf(oRef), tol.atol, tol.rtol, `${what} (${t} threads)`);
    }
  } finally {
    setNumThreads(saved);
  }
}

describe('native kernels against ref', { skip: skipNative }, () => {
  test('fill: every dtype, strided outputs, values that need casting', () => {
    const rng = new Rng(1);
    for (const dtype of ALL) {
      for (const shape of shapes(rng, 6)) {
        for (const value of [0, 2.7, -3.5, NaN, Infinity, 3e9, -0]) {
          const out = randomView(rng, dtype, shape, fillFor(dtype, 'normal'));
          compare(out, (k, o) => k.fill(o, value), `fill ${dtype} [${shape}] ${value}`);
        }
      }
    }
  });

  test('copy: all 16 dtype pairs, strided and broadcast sources, strided destinations', () => {
    const rng = new Rng(2);
    for (const from of ALL) {
      for (const to of ALL) {
        for (const shape of shapes(rng, 5)) {
          const bc = shape.length > 0 && rng.next() < 0.3 ? [rng.int(0, shape.length - 1)] : [];
          const src = randomView(rng, from, shape, fillFor(from, 'special'), 'any', bc);
          const dst = randomView(rng, to, shape, fillFor(to, 'normal'));
          compare(dst, (k, o) => k.copy(src, o), `copy ${from}→${to} [${shape}]`);
        }
      }
    }
  });

  test('copy: overlapping source and destination in one storage behaves as ref', () => {
    const rng = new Rng(3);
    for (const n of [10, 100, 70000]) {
      const base = randomView(rng, 'float32', [n + 3], 'normal', 'contiguous');
      const src: View = { ...base, shape: [n], strides: [1], offset: 0 };
      const dst: View = { ...base, shape: [n], strides: [1], offset: 3 };
      const a = cloneView(base);
      const b = cloneView(base);
      ref.copy({ ...src, storage: a.storage }, { ...dst, storage: a.storage });
      nat.copy({ ...src, storage: b.storage }, { ...dst, storage: b.storage });
      assert.deepEqual(dataOf(b), dataOf(a));
    }
  });

  const UNARY: UnaryOp[] = [
    'neg',
    'exp',
    'log',
    'sqrt',
    'rsqrt',
    'abs',
    'sign',
    'sin',
    'cos',
    'tanh',
    'sigmoid',
    'relu',
    'erf',
    'reciprocal',
    'square',
    'floor',
    'logicalNot',
    'isFinite',
  ];

  test('unary: every op, float32 and float64, special values, strided views', () => {
    const rng = new Rng(4);
    for (const op of UNARY) {
      for (const dtype of FLOATS) {
        const outType: DType = op === 'logicalNot' || op === 'isFinite' ? 'bool' : dtype;
        for (const shape of shapes(rng, 4)) {
          const fill: Fill =
            op === 'log' || op === 'sqrt' || op === 'rsqrt' ? 'positive' : 'special';
          const x = randomView(rng, dtype, shape, rng.next() < 0.5 ? fill : 'special');
          const out = outView(outType, shape);
          const tol =
            dtype === 'float32'
              ? { atol: 1e-6, rtol: 4e-6 }
              : op === 'erf'
                ? { atol: 1e-15, rtol: 1e-14 }
                : tolerance(dtype);
          compare(out, (k, o) => k.unary(op, x, o), `unary ${op} ${dtype} [${shape}]`, tol);
        }
      }
    }
  });

  /**
   * The vectorized paths each CPU may take (AVX-512, AVX2, none), forced one after the other: the
   * GEMM kernel setting steers the vectorized math too.
   */
  function mathPaths(): string[] {
    const features = nativeBackendInfo().cpuFeatures ?? '';
    const paths = ['scalar'];
    if (features.includes('avx2') && features.includes('fma')) paths.push('avx2');
    if (features.includes('avx512f')) paths.push('avx512');
    return paths;
  }

  function withPath(path: string, run: () => void): void {
    setGemmKernel(path as 'avx2');
    try {
      run();
    } finally {
      setGemmKernel('auto');
    }
  }

  /**
   * A GELU input: magnitudes spread log-uniformly over [1e-30, 1e3] (both signs), values where the
   * float32 code switches formulas (0.8, 14.5, 20, …), the root of gelu′ near −0.75, and NaN, ±0,
   * ±Infinity and huge values (the limits, which ref defines too).
   */
  function geluInput(rng: Rng, dtype: DType, shape: number[]): View {
    const v = randomView(rng, dtype, shape, 'normal');
    const d = dataOf(v);
    const edges = [0.8, 4, 14.5, 20, 0.7518, 5.5, 10.5, 13.3, 1e-7];
    for (let i = 0; i < d.length; i++) {
      const r = rng.next();
      if (r < 0.4) d[i] = rng.normal() * 3;
      else if (r < 0.8) d[i] = (rng.next() < 0.5 ? -1 : 1) * 10 ** (rng.next() * 33 - 30);
      else if (r < 0.95)
        d[i] = (rng.next() < 0.5 ? -1 : 1) * rng.pick(edges) * (1 + (rng.next() - 0.5) * 1e-3);
      else d[i] = rng.pick([NaN, 0, -0, Infinity, -Infinity, 1e30, -1e30, 3e9, -1e10]);
    }
    return v;
  }

  test('gelu, geluTanh and erf: float32 and float64, wide ranges, strided views, each SIMD path', () => {
    const rng = new Rng(20);
    for (const path of mathPaths()) {
      withPath(path, () => {
        for (const op of ['gelu', 'geluTanh', 'erf'] as UnaryOp[]) {
          for (const dtype of FLOATS) {
            for (const shape of [...shapes(rng, 4), [5000], [3, 70000]]) {
              const x = geluInput(rng, dtype, shape);
              const tol =
                dtype === 'float32'
                  ? { atol: 1e-6, rtol: 4e-6 }
                  : op === 'erf'
                    ? { atol: 1e-15, rtol: 1e-14 }
                    : tolerance(dtype);
              compare(
                outView(dtype, shape),
                (k, o) => k.unary(op, x, o),
                `unary ${op} ${dtype} [${shape}] (${path})`,
                tol,
              );
            }
          }
        }
      });
    }
  });

  test('geluGrad and geluTanhGrad: b·gelu′(a), broadcasting, strides, each SIMD path', () => {
    const rng = new Rng(21);
    for (const path of mathPaths()) {
      withPath(path, () => {
        for (const op of ['geluGrad', 'geluTanhGrad'] as BinaryOp[]) {
          for (const dtype of FLOATS) {
            for (const shape of [...shapes(rng, 4), [5000], [3, 70000]]) {
              const nd = shape.length;
              const pickBc = (): number[] =>
                nd > 0 && rng.next() < 0.3 ? [rng.int(0, nd - 1)] : [];
              const a = geluInput(rng, dtype, shape);
              const b = randomView(rng, dtype, shape, 'normal', 'any', pickBc());
              const special = rng.next() < 0.5;
              if (special) {
                // Non-finite upstream gradients, with a where gelu′(a) is not tiny (inf·0 is NaN
                // either way, but ref's tiny values and float32's zeros differ far out in the tail).
                const da = dataOf(a);
                for (let i = 0; i < da.length; i++) da[i] = Math.max(-5, Math.min(5, da[i]!));
                const db = dataOf(b);
                for (let i = 0; i < db.length; i++) {
                  if (rng.next() < 0.05) db[i] = rng.pick([NaN, Infinity, -Infinity, 0, -0]);
                }
              }
              const tol = dtype === 'float32' ? { atol: 1e-6, rtol: 4e-6 } : tolerance(dtype);
              compare(
                outView(dtype, shape),
                (k, o) => k.binary(op, a, b, o),
                `binary ${op} ${dtype} [${shape}]${special ? ' special' : ''} (${path})`,
                tol,
              );
            }
          }
        }
      });
    }
  });

  test('GELU at ±Infinity, NaN and ±0: the limits (gelu(−∞) = 0, gelu′(±∞) = 1 and 0)', () => {
    const xs = [-Infinity, Infinity, NaN, 0, -0, -1e30, 1e30, -3e9, 3e9];
    const want: Record<string, number[]> = {
      gelu: [0, Infinity, NaN, 0, 0, 0, 1e30, 0, 3e9],
      geluTanh: [0, Infinity, NaN, 0, 0, 0, 1e30, 0, 3e9],
      geluGrad: [0, 1, NaN, 0.5, 0.5, 0, 1, 0, 1],
      geluTanhGrad: [0, 1, NaN, 0.5, 0.5, 0, 1, 0, 1],
    };
    for (const path of mathPaths()) {
      withPath(path, () => {
        for (const dtype of FLOATS) {
          const x = outView(dtype, [xs.length]);
          dataOf(x).set(xs);
          const ones = outView(dtype, [xs.length]);
          dataOf(ones).fill(1);
          for (const op of Object.keys(want)) {
            const o = outView(dtype, [xs.length]);
            if (op === 'gelu' || op === 'geluTanh') nat.unary(op, x, o);
            else nat.binary(op as BinaryOp, x, ones, o);
            const got = [...dataOf(o)].map((v) => (v === 0 ? 0 : v)); // −0 and 0 alike
            const exp = want[op]!.map((v) => (dtype === 'float32' ? Math.fround(v) : v));
            assert.deepEqual(got, exp, `${op} ${dtype} (${path})`);
          }
        }
      });
    }
  });

  test('unary: int32 and bool inputs (native or fallback) match ref', () => {
    const rng = new Rng(5);
    for (const op of [
      'neg',
      'abs',
      'sign',
      'square',
      'logicalNot',
      'isFinite',
      'exp',
    ] as UnaryOp[]) {
      for (const dtype of ['int32', 'bool'] as DType[]) {
        const outType: DType =
          op === 'logicalNot' || op === 'isFinite' ? 'bool' : op === 'exp' ? 'float32' : dtype;
        for (const shape of shapes(rng, 3)) {
          const x = randomView(rng, dtype, shape, fillFor(dtype, 'int'));
          compare(outView(outType, shape), (k, o) => k.unary(op, x, o), `unary ${op} ${dtype}`);
        }
      }
    }
  });

  const ARITH: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'];
  const COMPARE: BinaryOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr'];

  test('binary: every op, every dtype, broadcasting and strides', () => {
    const rng = new Rng(6);
    for (const op of [...ARITH, ...COMPARE]) {
      for (const dtype of ALL) {
        if (dtype === 'bool' && ARITH.includes(op)) continue; // ops reject bool arithmetic
        const outType: DType = COMPARE.includes(op) ? 'bool' : dtype;
        for (const shape of shapes(rng, 4)) {
          const nd = shape.length;
          const pickBc = (): number[] => (nd > 0 && rng.next() < 0.5 ? [rng.int(0, nd - 1)] : []);
          const fill: Fill = op === 'pow' ? 'small-int' : 'special';
          const a = randomView(rng, dtype, shape, fillFor(dtype, fill), 'any', pickBc());
          const b = randomView(rng, dtype, shape, fillFor(dtype, fill), 'any', pickBc());
          compare(
            outView(outType, shape),
            (k, o) => k.binary(op, a, b, o),
            `binary ${op} ${dtype} [${shape}]`,
          );
        }
      }
    }
  });

  test('binary: scalar operands (all strides 0), as ops pass a JS number', () => {
    const rng = new Rng(7);
    for (const op of [...ARITH, ...COMPARE]) {
      for (const dtype of FLOATS) {
        const shape = [rng.int(1, 40), rng.int(1, 40)];
        const a = randomView(rng, dtype, shape, 'special');
        const s = randomView(rng, dtype, [], 'special');
        const b: View = { ...s, shape, strides: [0, 0] };
        const outType: DType = COMPARE.includes(op) ? 'bool' : dtype;
        compare(outView(outType, shape), (k, o) => k.binary(op, a, b, o), `${op} x·scalar`);
        compare(outView(outType, shape), (k, o) => k.binary(op, b, a, o), `${op} scalar·x`);
      }
    }
  });

  test('where: bool condition, every value dtype, broadcasting', () => {
    const rng = new Rng(8);
    for (const dtype of ALL) {
      for (const shape of shapes(rng, 5)) {
        const nd = shape.length;
        const bc = (): number[] => (nd > 0 && rng.next() < 0.4 ? [rng.int(0, nd - 1)] : []);
        const c = randomView(rng, 'bool', shape, 'bool', 'any', bc());
        const a = randomView(rng, dtype, shape, fillFor(dtype, 'special'), 'any', bc());
        const b = randomView(rng, dtype, shape, fillFor(dtype, 'special'), 'any', bc());
        compare(outView(dtype, shape), (k, o) => k.where(c, a, b, o), `where ${dtype}`);
      }
    }
  });

  test('reduce: sum/max/min over random axis sets, strided inputs, NaN propagation', () => {
    const rng = new Rng(9);
    for (const op of ['sum', 'max', 'min'] as const) {
      for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
        for (const shape of [...shapes(rng, 6), [70000], [5, 30000], [40000, 3]]) {
          const nd = shape.length;
          const axes = Array.from({ length: nd }, (_, i) => i).filter(() => rng.next() < 0.5);
          if (rng.next() < 0.2)
            axes.splice(0, axes.length, ...Array.from({ length: nd }, (_, i) => i));
          const fill: Fill = op === 'sum' ? 'normal' : rng.next() < 0.3 ? 'special' : 'normal';
          const x = randomView(rng, dtype, shape, fillFor(dtype, fill));
          const outShape = shape.map((s, i) => (axes.includes(i) ? 1 : s));
          const tol =
            dtype === 'float32' && op === 'sum' ? { atol: 1e-5, rtol: 1e-6 } : tolerance(dtype);
          compare(
            outView(dtype, outShape),
            (k, o) => k.reduce(op, x, axes, o),
            `${op} ${dtype} [${shape}] axes [${axes}]`,
            dtype === 'float64' && op === 'sum' ? { atol: 1e-10, rtol: 1e-12 } : tol,
          );
        }
      }
    }
  });

  test('reduce: the same bits at 1, 2 and 3 threads, for every axis layout', () => {
    const rng = new Rng(22);
    const saved = getNumThreads();
    try {
      for (const op of ['sum', 'max', 'min'] as const) {
        for (const dtype of FLOATS) {
          for (const [shape, axes] of [
            [[300000], [0]],
            [[2048, 512], [0]],
            [[2048, 512], [1]],
            [
              [100, 32, 1024],
              [0, 1],
            ],
            [[7, 50000], [0]],
            [[50000, 3], [0]],
            [[40, 30, 70], [1]],
            [
              [40, 30, 70],
              [0, 2],
            ],
            [
              [3, 100000],
              [0, 1],
            ],
          ] as [number[], number[]][]) {
            const x = randomView(rng, dtype, shape, 'normal');
            const outShape = shape.map((s, i) => (axes.includes(i) ? 1 : s));
            let first: ArrayLike<number> | null = null;
            for (const t of THREADS) {
              setNumThreads(t);
              const o = outView(dtype, outShape);
              nat.reduce(op, x, axes, o);
              if (first === null) first = dataOf(o);
              else assert.deepEqual(dataOf(o), first, `${op} ${dtype} [${shape}] [${axes}] ${t}t`);
            }
          }
        }
      }
    } finally {
      setNumThreads(saved);
    }
  });

  test('argReduce: argmax/argmin along each axis, ties and NaN', () => {
    const rng = new Rng(10);
    for (const op of ['argmax', 'argmin'] as const) {
      for (const dtype of ['float32', 'float64', 'int32'] as DType[]) {
        for (const shape of [...shapes(rng, 6), [3, 40000]]) {
          if (shape.length === 0) continue;
          const axis = rng.int(0, shape.length - 1);
          const fill: Fill = rng.pick(['small-int', 'special', 'normal'] as Fill[]);
          const x = randomView(rng, dtype, shape, fillFor(dtype, fill));
          const outShape = shape.map((s, i) => (i === axis ? 1 : s));
          compare(
            outView('int32', outShape),
            (k, o) => k.argReduce(op, x, axis, o),
            `${op} ${dtype} [${shape}] axis ${axis}`,
          );
        }
      }
    }
  });

  /** A 1-D int32 index view (possibly strided) of `n` values in [0, size). */
  function indexView(rng: Rng, n: number, size: number): View {
    const v = randomView(rng, 'int32', [n], 'int');
    const d = dataOf(v);
    for (let i = 0; i < d.length; i++) d[i] = rng.int(0, size - 1);
    return v;
  }

  test('indexSelect and indexAdd: random axis, repeated indices, strided operands', () => {
    const rng = new Rng(11);
    for (const dtype of ALL) {
      for (const shape of [...shapes(rng, 6), [300, 257]]) {
        if (shape.length === 0) continue;
        const axis = rng.int(0, shape.length - 1);
        const n = rng.int(1, 12);
        const index = indexView(rng, n, shape[axis]!);
        const x = randomView(rng, dtype, shape, fillFor(dtype, 'normal'));
        const outShape = shape.map((s, i) => (i === axis ? n : s));
        compare(
          outView(dtype, outShape),
          (k, o) => k.indexSelect(x, axis, index, o),
          `indexSelect ${dtype} [${shape}] axis ${axis}`,
        );
        if (dtype === 'bool') continue;
        const src = randomView(rng, dtype, outShape, fillFor(dtype, 'normal'));
        compare(
          outView(dtype, shape, dtype === 'int32' ? undefined : rng),
          (k, o) => k.indexAdd(o, axis, index, src),
          `indexAdd ${dtype} [${shape}] axis ${axis}`,
          dtype === 'float32' ? { atol: 1e-6, rtol: 1e-6 } : tolerance(dtype),
        );
      }
    }
  });

  test('gather and scatterAdd: index shapes smaller than the operands, strided views', () => {
    const rng = new Rng(12);
    for (const dtype of ALL) {
      for (const shape of [...shapes(rng, 6), [260, 300]]) {
        if (shape.length === 0) continue;
        const axis = rng.int(0, shape.length - 1);
        const ishape = shape.map((s, i) => (i === axis ? rng.int(1, 6) : rng.int(1, s)));
        const index = randomView(rng, 'int32', ishape, 'int');
        const d = dataOf(index);
        for (let i = 0; i < d.length; i++) d[i] = rng.int(0, shape[axis]! - 1);
        const x = randomView(rng, dtype, shape, fillFor(dtype, 'normal'));
        compare(
          outView(dtype, ishape),
          (k, o) => k.gather(x, axis, index, o),
          `gather ${dtype} [${shape}] idx [${ishape}] axis ${axis}`,
        );
        if (dtype === 'bool') continue;
        const src = randomView(rng, dtype, ishape, fillFor(dtype, 'normal'));
        compare(
          outView(dtype, shape, dtype === 'int32' ? undefined : rng),
          (k, o) => k.scatterAdd(o, axis, index, src),
          `scatterAdd ${dtype} [${shape}] axis ${axis}`,
          dtype === 'float32' ? { atol: 1e-6, rtol: 1e-6 } : tolerance(dtype),
        );
      }
    }
  });

  test('views outside their storage and out-of-range indices throw instead of corrupting memory', () => {
    const rng = new Rng(13);
    const x = randomView(rng, 'float32', [4, 4], 'normal', 'contiguous');
    const bad: View = { ...x, shape: [5, 4] };
    assert.throws(() => nat.unary('neg', bad, outView('float32', [5, 4])), RangeError);
    const idx = outView('int32', [2]);
    dataOf(idx)[1] = 4;
    assert.throws(
      () => nat.indexSelect(x, 0, idx, outView('float32', [2, 4])),
      /index out of range/,
    );
    dataOf(idx)[1] = -1;
    assert.throws(
      () =>
        nat.gather(x, 1, { ...idx, shape: [1, 2], strides: [2, 1] }, outView('float32', [1, 2])),
      RangeError,
    );
  });
});
