/**
 * Every kernel of the wasm backend against the reference kernels (the specification), on random
 * shapes with odd sizes, non-contiguous views (transposes, permuted dims, steps, offsets), stride-0
 * broadcasting and batches; float32 within float32 tolerance, other dtypes (which the wasm backend
 * leaves to ref) exactly. Outputs are compared as whole arrays, so a stray write outside the
 * output view fails too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BinaryOp, Kernels, UnaryOp, View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { wasmBackend, wasmFailure } from '../../src/backend/wasm/index.js';
import { kernelsOrNull, wasmKernelCalls, wasmTuning } from '../../src/backend/wasm/instance.js';
import { newRefStorage } from '../../src/backend/ref/storage.js';
import * as nb from '../../src/index.js';
import {
  Rng,
  assertArraysClose,
  cloneView,
  dataOf,
  outView,
  randomView,
  tolerance,
} from './native-helpers.js';
import { checkMatmul, junkOut } from './wasm-helpers.js';

const ref = refBackend.kernels;
const wasm = wasmBackend.kernels;

// Small shapes too run in WebAssembly (by default they are left to ref, faster at that size).
wasmTuning.minElements = 0;

test('the module compiles and the backend keeps every reference kernel', () => {
  assert.ok(kernelsOrNull(), `wasm kernels did not load: ${wasmFailure()}`);
  for (const name of Object.keys(ref) as (keyof Kernels)[]) {
    assert.equal(typeof wasm[name], 'function', name);
  }
  assert.equal(wasmBackend.gcManaged, true);
});

describe('matmul', () => {
  const check = (a: View, b: View, what: string): void => checkMatmul(wasm, a, b, what);

  const ODD = [1, 7, 33, 129];

  test('contiguous, odd sizes', () => {
    const rng = new Rng(1);
    for (const M of ODD) {
      for (const K of ODD) {
        const N = rng.pick(ODD);
        const a = randomView(rng, 'float32', [1, M, K], 'normal', 'contiguous');
        const b = randomView(rng, 'float32', [1, K, N], 'normal', 'contiguous');
        check(a, b, `${M}x${K}x${N}`);
      }
    }
  });

  test('sizes across the cache blocks (K > 256, M > 128, N > 1024)', () => {
    const rng = new Rng(2);
    check(
      randomView(rng, 'float32', [1, 131, 300], 'normal', 'contiguous'),
      randomView(rng, 'float32', [1, 300, 9], 'normal', 'contiguous'),
      '131x300x9',
    );
    check(
      randomView(rng, 'float32', [1, 3, 5], 'normal', 'contiguous'),
      randomView(rng, 'float32', [1, 5, 1037], 'normal', 'contiguous'),
      '3x5x1037',
    );
  });

  test('transposed and strided operands (permuted dims, steps, offsets)', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 12; i++) {
      const [bt, M, K, N] = [rng.int(1, 3), rng.pick(ODD), rng.int(1, 40), rng.int(1, 20)];
      const a = randomView(rng, 'float32', [bt, M, K], 'normal', 'strided');
      const b = randomView(rng, 'float32', [bt, K, N], 'normal', 'strided');
      check(a, b, `strided ${bt}x${M}x${K}x${N} a.strides ${a.strides} b.strides ${b.strides}`);
    }
  });

  test('batches with a stride-0 (broadcast) operand', () => {
    const rng = new Rng(4);
    const a = randomView(rng, 'float32', [5, 7, 33], 'normal', 'contiguous', [0]);
    const b = randomView(rng, 'float32', [5, 33, 12], 'normal', 'any');
    check(a, b, 'broadcast a');
    const a2 = randomView(rng, 'float32', [4, 9, 17], 'normal', 'strided');
    const b2 = randomView(rng, 'float32', [4, 17, 129], 'normal', 'contiguous', [0]);
    check(a2, b2, 'broadcast b');
  });

  test('K = 0 writes zeros; empty outputs write nothing', () => {
    const rng = new Rng(5);
    const a = {
      storage: newRefStorage('float32', 1),
      dtype: 'float32',
      shape: [2, 3, 0],
      strides: [0, 0, 1],
      offset: 0,
    } as View;
    const b = {
      storage: newRefStorage('float32', 1),
      dtype: 'float32',
      shape: [2, 0, 4],
      strides: [0, 4, 1],
      offset: 0,
    } as View;
    const out = junkOut(rng, [2, 3, 4], 1);
    wasm.matmul(a, b, out);
    const o = dataOf(out);
    for (let i = 1; i < 25; i++) assert.equal(o[i], 0);
    const e = junkOut(rng, [1, 0, 4]);
    const before = Array.from(dataOf(e));
    wasm.matmul(
      randomView(rng, 'float32', [1, 0, 3], 'normal'),
      randomView(rng, 'float32', [1, 3, 4], 'normal'),
      e,
    );
    assert.deepEqual(Array.from(dataOf(e)), before);
  });

  test('float64 runs the reference kernel (bit-identical)', () => {
    const rng = new Rng(6);
    const a = randomView(rng, 'float64', [2, 9, 13], 'normal');
    const b = randomView(rng, 'float64', [2, 13, 5], 'normal');
    const out = junkOut(rng, [2, 9, 5], 0, 'float64');
    const oRef = cloneView(out);
    ref.matmul(a, b, oRef);
    wasm.matmul(a, b, out);
    assertArraysClose(dataOf(out), dataOf(oRef), 0, 0, 'float64 matmul');
  });
});

test('through the tensor API: setBackend("wasm"), matmul forward and backward', () => {
  const prev = nb.getBackend();
  try {
    nb.setBackend('wasm');
    nb.manualSeed(0);
    const a = nb.randn([3, 37, 20], { requiresGrad: true });
    const b = nb.randn([20, 11], { requiresGrad: true });
    const y = a.matmul(b);
    assert.equal(y.device, 'wasm');
    y.square().sum().backward();
    nb.setBackend('ref');
    const a2 = a.detach().clone().requiresGrad_();
    const b2 = b.detach().clone().requiresGrad_();
    const y2 = a2.matmul(b2);
    y2.square().sum().backward();
    assertArraysClose(y.dataSync(), y2.dataSync(), 1e-5, 1e-5, 'forward');
    assertArraysClose(a.grad!.dataSync(), a2.grad!.dataSync(), 1e-4, 1e-5, 'grad a');
    assertArraysClose(b.grad!.dataSync(), b2.grad!.dataSync(), 1e-4, 1e-5, 'grad b');
  } finally {
    nb.setBackend(prev);
  }
});

/** Whether `run` made at least one call into WebAssembly (rather than only ref fallbacks). */
function ranInWasm(run: () => void): boolean {
  const before = wasmKernelCalls();
  run();
  return wasmKernelCalls() > before;
}

/** Compares wasm against ref on clones of `out` (whole arrays, float32 tolerance). */
function compare(out: View, run: (k: Kernels, o: View) => void, what: string): boolean {
  const oRef = cloneView(out);
  const oWasm = cloneView(out);
  run(ref, oRef);
  const used = ranInWasm(() => run(wasm, oWasm));
  const tol = tolerance(out.dtype);
  assertArraysClose(dataOf(oWasm), dataOf(oRef), tol.atol, tol.rtol, what);
  return used;
}

/** Random shapes of 0 to 4 dims with odd sizes, and one large one. */
function shapes(rng: Rng, count: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < count; i++) out.push(rng.shape(rng.int(0, 4), 9));
  out.push([rng.pick([1, 7, 33, 129]), rng.pick([33, 129, 257])]);
  return out;
}

const UNARY_WASM: UnaryOp[] = [
  'neg',
  'abs',
  'sqrt',
  'rsqrt',
  'reciprocal',
  'square',
  'relu',
  'floor',
  'exp',
  'tanh',
  'sigmoid',
  'erf',
];
const BINARY_WASM: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];

describe('elementwise', () => {
  test('unary ops with WebAssembly versions: special values, strided views', () => {
    const rng = new Rng(11);
    let wasmRuns = 0;
    for (const op of UNARY_WASM) {
      for (const shape of shapes(rng, 8)) {
        const smooth = op === 'exp' || op === 'tanh' || op === 'sigmoid' || op === 'erf';
        const fill = smooth ? 'normal' : 'special';
        const x = randomView(rng, 'float32', shape, rng.next() < 0.3 ? 'special' : fill);
        const out = outView('float32', shape);
        if (compare(out, (k, o) => k.unary(op, x, o), `${op} ${shape} ${x.strides}`)) wasmRuns++;
      }
    }
    assert.ok(wasmRuns > UNARY_WASM.length * 6, `only ${wasmRuns} runs in wasm`);
  });

  test('exp, tanh, sigmoid, erf across their range: overflow, underflow, tiny, huge inputs', () => {
    const values = [
      0,
      -0,
      1e-30,
      -1e-7,
      1e-4,
      0.3,
      -0.62,
      0.625,
      0.63,
      1,
      -2.5,
      9,
      -9,
      20,
      40,
      80,
      88,
      88.8,
      89,
      -87,
      -88,
      -100,
      -103,
      -104,
      -110,
      1e10,
      -1e10,
      Infinity,
      -Infinity,
      NaN,
    ];
    const grid = new Float32Array(values.length + 2001);
    grid.set(values);
    for (let i = 0; i <= 2000; i++) grid[values.length + i] = -100 + i * 0.1;
    const x: View = {
      storage: { dtype: 'float32', size: grid.length, data: grid } as unknown as View['storage'],
      dtype: 'float32',
      shape: [grid.length],
      strides: [1],
      offset: 0,
    };
    for (const op of ['exp', 'tanh', 'sigmoid', 'erf'] as const) {
      const used = compare(outView('float32', [grid.length]), (k, o) => k.unary(op, x, o), op);
      assert.ok(used, op);
    }
  });

  test('gelu, geluTanh and their gradients: strided views, both tails, NaN and ±Inf', () => {
    const rng = new Rng(19);
    const specials = [NaN, 0, -0, 1e-30, -1e-30, 0.5, -0.75, 3e9, -3e9, -13.9, -14.1, 20, -25];
    for (const shape of [...shapes(rng, 8), [2048, 5]]) {
      const x = randomView(rng, 'float32', shape, 'normal', 'any');
      const d = dataOf(x);
      for (let i = 0; i < d.length; i++) {
        d[i] = rng.next() < 0.1 ? rng.pick(specials) : d[i]! * 4;
      }
      const g = randomView(rng, 'float32', shape, 'normal', 'any', rng.next() < 0.3 ? [0] : []);
      for (const op of ['gelu', 'geluTanh'] as const) {
        const what = `${op} ${shape} ${x.strides}`;
        assert.ok(
          compare(outView('float32', shape), (k, o) => k.unary(op, x, o), what),
          what,
        );
      }
      for (const op of ['geluGrad', 'geluTanhGrad'] as const) {
        const what = `${op} ${shape} ${x.strides} ${g.strides}`;
        assert.ok(compare(outView('float32', shape), (k, o) => k.binary(op, x, g, o), what));
      }
    }
    // The limits at ±∞ (where ref's x·(1 + erf) formulas give ∞·0 = NaN).
    const inf = new Float32Array([-Infinity, Infinity, -Infinity, Infinity, NaN]);
    const x: View = { ...outView('float32', [5]), shape: [5] };
    dataOf(x).set(inf);
    const ones = outView('float32', [5]);
    dataOf(ones).fill(1);
    for (const [op, expected] of [
      ['gelu', [0, Infinity, 0, Infinity, NaN]],
      ['geluTanh', [0, Infinity, 0, Infinity, NaN]],
      ['geluGrad', [0, 1, 0, 1, NaN]],
      ['geluTanhGrad', [0, 1, 0, 1, NaN]],
    ] as const) {
      const out = outView('float32', [5]);
      if (op === 'gelu' || op === 'geluTanh') wasm.unary(op, x, out);
      else wasm.binary(op, x, ones, out);
      assertArraysClose(dataOf(out), expected, 0, 0, `${op} at ±Inf`);
    }
  });

  test('gelu, geluTanh and their gradients to a few ulp of float64 values across their range', () => {
    // float64 references: Φ's lower tail from erfc (ref's 1 + erf loses it below x ≈ −5).
    const n = 20001;
    const grid = new Float32Array(n);
    for (let i = 0; i < n; i++) grid[i] = -16 + (32 * i) / (n - 1);
    const x: View = { ...outView('float32', [n]) };
    dataOf(x).set(grid);
    const ones: View = { ...outView('float32', [n]) };
    dataOf(ones).fill(1);
    const phi = (v: number): number => {
      const z = Math.abs(v) * Math.SQRT1_2;
      // erfc(z) by its continued fraction (Lentz) for z ≥ 2, 1 − erf below.
      let erfc: number;
      if (z < 2) {
        let term = z;
        let sum = z;
        for (let k = 1; k < 60; k++) {
          term *= (-z * z) / k;
          sum += term / (2 * k + 1);
        }
        erfc = 1 - (2 / Math.sqrt(Math.PI)) * sum;
      } else {
        let f = z;
        let c = z;
        let dd = 0;
        for (let k = 1; k < 400; k++) {
          dd = 1 / (z + (k / 2) * dd);
          c = z + k / 2 / c;
          f *= c * dd;
        }
        erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
      }
      return v >= 0 ? 1 - erfc / 2 : erfc / 2;
    };
    const density = (v: number): number => Math.exp((-v * v) / 2) / Math.sqrt(2 * Math.PI);
    const sig = (z: number): number => 1 / (1 + Math.exp(-z));
    const K = 0.7978845608028654;
    const z = (v: number): number => 2 * K * (v + 0.044715 * v * v * v);
    const tanhSlope = (v: number): number =>
      v * sig(z(v)) * sig(-z(v)) * 2 * K * (1 + 3 * 0.044715 * v * v);
    // [value, scale]: the gradients' two terms cancel near their root (x ≈ −0.75), so their error
    // is measured in ulp of the larger term.
    const exact = {
      gelu: (v: number) => [v * phi(v), Math.abs(v * phi(v))],
      geluTanh: (v: number) => [v * sig(z(v)), Math.abs(v * sig(z(v)))],
      geluGrad: (v: number) => [
        phi(v) + v * density(v),
        Math.max(phi(v), Math.abs(v * density(v))),
      ],
      geluTanhGrad: (v: number) => [
        sig(z(v)) + tanhSlope(v),
        Math.max(sig(z(v)), Math.abs(tanhSlope(v))),
      ],
    };
    for (const op of ['gelu', 'geluTanh', 'geluGrad', 'geluTanhGrad'] as const) {
      const out = outView('float32', [n]);
      if (op === 'gelu' || op === 'geluTanh') wasm.unary(op, x, out);
      else wasm.binary(op, x, ones, out);
      const o = dataOf(out);
      for (let i = 0; i < n; i++) {
        const [e, scale] = exact[op](grid[i]!) as [number, number];
        // Results near the subnormals (whose intermediates lose bits there): absolute error only.
        if (scale < 1e-35) continue;
        const ulp = 2 ** (Math.floor(Math.log2(scale)) - 23);
        assert.ok(Math.abs(o[i]! - e) <= 8 * ulp, `${op}(${grid[i]}) = ${o[i]}, expected ${e}`);
      }
    }
  });

  test('binary ops: broadcasting (stride 0), strided views, special values', () => {
    const rng = new Rng(12);
    let wasmRuns = 0;
    for (const op of BINARY_WASM) {
      for (const shape of shapes(rng, 10)) {
        const bcast = (): number[] => shape.map((_, d) => d).filter(() => rng.next() < 0.3);
        const a = randomView(rng, 'float32', shape, 'special', 'any', bcast());
        const b = randomView(rng, 'float32', shape, 'special', 'any', bcast());
        const out = outView('float32', shape);
        const what = `${op} ${shape} a ${a.strides} b ${b.strides}`;
        if (compare(out, (k, o) => k.binary(op, a, b, o), what)) wasmRuns++;
      }
    }
    assert.ok(wasmRuns > BINARY_WASM.length * 6, `only ${wasmRuns} runs in wasm`);
  });

  test('bias-style broadcasts run in wasm: [B, N] + [N], [B, N] * [B, 1], x * scalar', () => {
    const rng = new Rng(13);
    const x = randomView(rng, 'float32', [33, 129], 'normal', 'contiguous');
    const row = randomView(rng, 'float32', [33, 129], 'normal', 'contiguous', [0]);
    const col = randomView(rng, 'float32', [33, 129], 'normal', 'contiguous', [1]);
    const s = randomView(rng, 'float32', [33, 129], 'normal', 'contiguous', [0, 1]);
    for (const [b, what] of [
      [row, 'row'],
      [col, 'col'],
      [s, 'scalar'],
    ] as const) {
      for (const op of BINARY_WASM) {
        const out = outView('float32', [33, 129]);
        assert.ok(
          compare(out, (k, o) => k.binary(op, x, b, o), `${op} ${what}`),
          what,
        );
        const out2 = outView('float32', [33, 129]);
        assert.ok(compare(out2, (k, o) => k.binary(op, b, x, o), `${op} ${what} (left)`));
      }
    }
  });

  test('where: bool condition, float32 values, broadcasting and strided views', () => {
    const rng = new Rng(15);
    let wasmRuns = 0;
    for (const shape of shapes(rng, 30)) {
      const bcast = (): number[] => shape.map((_, d) => d).filter(() => rng.next() < 0.3);
      const c = randomView(rng, 'bool', shape, 'bool', 'any', bcast());
      const a = randomView(rng, 'float32', shape, 'special', 'any', bcast());
      const b = randomView(rng, 'float32', shape, 'special', 'any', bcast());
      const out = outView('float32', shape);
      const what = `where ${shape} c ${c.strides} a ${a.strides} b ${b.strides}`;
      if (compare(out, (k, o) => k.where(c, a, b, o), what)) wasmRuns++;
    }
    assert.ok(wasmRuns > 25, `only ${wasmRuns} runs in wasm`);
  });

  test('copy: permuted and transposed float32 sources into contiguous and strided outputs', () => {
    const rng = new Rng(16);
    let wasmRuns = 0;
    for (const shape of [...shapes(rng, 30), [4, 64, 4, 32]]) {
      const src = randomView(rng, 'float32', shape, 'normal', 'strided');
      const dst =
        rng.next() < 0.7
          ? outView('float32', shape)
          : randomView(rng, 'float32', shape, 'normal', 'strided');
      if (
        compare(dst, (k, o) => k.copy(src, o), `copy ${shape} ${src.strides} -> ${dst.strides}`)
      ) {
        wasmRuns++;
      }
    }
    assert.ok(wasmRuns > 10, `only ${wasmRuns} runs in wasm`);
    // Casts run ref.
    const x = randomView(rng, 'float32', [5, 3], 'special', 'strided');
    const o1 = outView('int32', [5, 3]);
    const o2 = outView('int32', [5, 3]);
    ref.copy(x, o1);
    wasm.copy(x, o2);
    assertArraysClose(dataOf(o2), dataOf(o1), 0, 0, 'float32 -> int32 copy');
  });

  test('copy: transposes (the 4×4-tile path) with odd sizes and batches', () => {
    const rng = new Rng(18);
    for (const [B, R, C] of [
      [1, 7, 33],
      [1, 33, 7],
      [1, 129, 5],
      [1, 4, 4],
      [1, 1, 9],
      [1, 9, 1],
      [3, 9, 13],
      [2, 64, 130],
    ] as const) {
      const x = randomView(rng, 'float32', [B, R, C], 'normal', 'contiguous');
      const xt: View = { ...x, shape: [B, C, R], strides: [R * C, 1, C] };
      const out = outView('float32', [B, C, R]);
      const used = compare(out, (k, o) => k.copy(xt, o), `transpose ${B}x${R}x${C}`);
      if (R > 1 && C > 1) assert.ok(used, `${B}x${R}x${C}`);
    }
  });

  test('layouts that merge into more than two dims loop over slabs', () => {
    const rng = new Rng(17);
    // [B, T, H, D] viewed as [B, H, T, D] (attention heads) plus a [T, D] operand broadcast over
    // B and H, and a [B, H, T, 1] one.
    const x = randomView(rng, 'float32', [3, 9, 5, 7], 'normal', 'contiguous');
    const xp: View = { ...x, shape: [3, 5, 9, 7], strides: [315, 7, 35, 1] };
    const y = randomView(rng, 'float32', [3, 5, 9, 7], 'normal', 'contiguous', [0, 1]);
    const z = randomView(rng, 'float32', [3, 5, 9, 7], 'normal', 'contiguous', [3]);
    for (const [b, what] of [
      [y, 'broadcast T,D'],
      [z, 'broadcast last'],
    ] as const) {
      const out = outView('float32', [3, 5, 9, 7]);
      assert.ok(
        compare(out, (k, o) => k.binary('mul', xp, b, o), what),
        what,
      );
    }
    const out = outView('float32', [3, 5, 9, 7]);
    assert.ok(compare(out, (k, o) => k.unary('exp', xp, o), 'exp permuted'));
  });

  test('other ops and dtypes run the reference kernels (bit-identical)', () => {
    const rng = new Rng(14);
    for (const dtype of ['float64', 'int32'] as const) {
      const a = randomView(rng, dtype, [7, 5], 'normal');
      const b = randomView(rng, dtype, [7, 5], 'normal');
      const o1 = outView(dtype, [7, 5]);
      const o2 = outView(dtype, [7, 5]);
      ref.binary('add', a, b, o1);
      wasm.binary('add', a, b, o2);
      assertArraysClose(dataOf(o2), dataOf(o1), 0, 0, `${dtype} add`);
    }
    const x = randomView(rng, 'float32', [9, 4], 'normal');
    for (const op of ['sin', 'log', 'cos'] as const) {
      const o1 = outView('float32', [9, 4]);
      const o2 = outView('float32', [9, 4]);
      ref.unary(op, x, o1);
      wasm.unary(op, x, o2);
      assertArraysClose(dataOf(o2), dataOf(o1), 0, 0, op);
    }
    const y = randomView(rng, 'float32', [9, 4], 'normal');
    const o1 = outView('bool', [9, 4]);
    const o2 = outView('bool', [9, 4]);
    ref.binary('lt', x, y, o1);
    wasm.binary('lt', x, y, o2);
    assertArraysClose(dataOf(o2), dataOf(o1), 0, 0, 'lt');
  });
});

test('by default, elementwise ops on small tensors run the reference kernels', () => {
  const rng = new Rng(30);
  const saved = wasmTuning.minElements;
  try {
    wasmTuning.minElements = 256;
    const a = randomView(rng, 'float32', [7, 9], 'normal');
    const b = randomView(rng, 'float32', [7, 9], 'normal');
    assert.ok(!ranInWasm(() => wasm.binary('add', a, b, outView('float32', [7, 9]))));
    const big = randomView(rng, 'float32', [17, 33], 'normal');
    assert.ok(ranInWasm(() => wasm.unary('exp', big, outView('float32', [17, 33]))));
  } finally {
    wasmTuning.minElements = saved;
  }
});

describe('reduce', () => {
  /** Random subsets of axes (sorted), none or all included. */
  function axesOf(rng: Rng, nd: number): number[] {
    const out: number[] = [];
    for (let d = 0; d < nd; d++) if (rng.next() < 0.5) out.push(d);
    return out;
  }

  test('sum, max, min over random axes of strided and broadcast views', () => {
    const rng = new Rng(21);
    let wasmRuns = 0;
    for (const op of ['sum', 'max', 'min'] as const) {
      for (let i = 0; i < 40; i++) {
        const shape = rng.shape(rng.int(1, 4), 9);
        const bcast = shape.map((_, d) => d).filter(() => rng.next() < 0.2);
        const x = randomView(rng, 'float32', shape, 'special', 'any', bcast);
        const axes = i % 5 === 0 ? shape.map((_, d) => d) : axesOf(rng, shape.length);
        const outShape = shape.map((d, j) => (axes.includes(j) ? 1 : d));
        const out = outView('float32', outShape);
        if (
          compare(
            out,
            (k, o) => k.reduce(op, x, axes, o),
            `${op} ${shape} ${x.strides} axes ${axes}`,
          )
        ) {
          wasmRuns++;
        }
      }
    }
    assert.ok(wasmRuns > 60, `only ${wasmRuns} runs in wasm`);
  });

  test('rows, columns and everything of large matrices (each vector path), NaN included', () => {
    const rng = new Rng(22);
    for (const [M, N] of [
      [129, 257],
      [7, 33],
      [1, 1000],
      [1000, 3],
    ] as const) {
      for (const layout of ['contiguous', 'strided'] as const) {
        const x = randomView(rng, 'float32', [M, N], 'normal', layout);
        if (M > 5) dataOf(x)[x.offset + 2 * x.strides[0]! + 3 * x.strides[1]!] = NaN;
        for (const op of ['sum', 'max', 'min'] as const) {
          for (const axes of [[0], [1], [0, 1]]) {
            const outShape = [axes.includes(0) ? 1 : M, axes.includes(1) ? 1 : N];
            const out = outView('float32', outShape);
            const what = `${op} ${M}x${N} ${layout} axes ${axes}`;
            const used = compare(out, (k, o) => k.reduce(op, x, axes, o), what);
            // Both axes of a strided view do not merge into one: that one runs ref.
            if (layout === 'contiguous' || axes.length === 1) assert.ok(used, what);
          }
        }
      }
    }
  });

  test('float32 sums accumulate in float64, like ref', () => {
    // 1 followed by a million 2^-24: a float32 accumulator would stay at 1.
    const n = 1 << 20;
    const data = new Float32Array(n + 1).fill(2 ** -24);
    data[0] = 1;
    const x: View = {
      storage: { dtype: 'float32', size: n + 1, data } as unknown as View['storage'],
      dtype: 'float32',
      shape: [n + 1],
      strides: [1],
      offset: 0,
    };
    const out = outView('float32', [1]);
    assert.ok(ranInWasm(() => wasm.reduce('sum', x, [0], out)));
    assert.equal(dataOf(out)[0], Math.fround(1 + n * 2 ** -24));
  });
});
