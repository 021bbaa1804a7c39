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
import { nativeBackend, setNumThreads, getNumThreads } from '../../src/backend/native/index.js';
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
