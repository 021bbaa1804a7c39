/**
 * The wasm backend's kernels on worker threads (src/backend/wasm/node/threads.ts: the shared-memory
 * build, work split among 3 threads) against the reference kernels: matmul's batch splits, row
 * bands and column bands (the plain and the relaxed-SIMD GEMM, with the size threshold lowered to
 * 0) with sizes that are not multiples of the tile, fewer rows or columns than threads, broadcast
 * and strided operands; attention's batch entries; heavy elementwise ops' rows or columns; the same
 * on tensors resident in the shared memory, written in place. The other kernels keep working on the
 * shared instance. Runs in its own process (node --test runs each file
 * separately), so starting threads leaks into no other test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { wasmBackend } from '../../src/backend/wasm/index.js';
import { wasmFeatures, wasmPool, wasmKernelCalls } from '../../src/backend/wasm/instance.js';
import { gemmTuning } from '../../src/backend/wasm/matmul.js';
import { startWasmThreads } from '../../src/backend/wasm/node/threads.js';
import {
  Rng,
  assertArraysClose,
  cloneView,
  dataOf,
  outView,
  randomView,
} from './native-helpers.js';
import { checkMatmul, resident, residentOut } from './wasm-helpers.js';
import { stagedCopyBytes } from '../../src/backend/wasm/stage.js';

const wasm = wasmBackend.kernels;
startWasmThreads(3);

/** Runs `fn` with every product threaded, on the plain and on the relaxed-SIMD GEMM. */
function eachGemm(fn: (what: string) => void): void {
  const saved = { ...gemmTuning };
  try {
    gemmTuning.minThreadedMacs = 0;
    for (const relaxedSimd of [false, true]) {
      gemmTuning.relaxedSimd = relaxedSimd;
      fn(relaxedSimd ? 'relaxed' : 'plain');
    }
  } finally {
    Object.assign(gemmTuning, saved);
  }
}

test('the pool is running with 3 threads, and restarting with another count is refused', async () => {
  assert.equal(wasmPool()?.threads, 3);
  // The workers start on their own (the kernels run on this thread until then).
  for (let i = 0; i < 500 && !wasmPool()!.ready(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(wasmPool()!.ready(), 'the workers started');
  assert.deepEqual(wasmFeatures(), {
    ready: true,
    relaxedSimd: true,
    threads: 3,
    threadsUnavailable: null,
  });
  startWasmThreads(3);
  assert.throws(() => startWasmThreads(2), RangeError);
  assert.throws(() => startWasmThreads(0), RangeError);
});

test('threaded matmul: batch splits, row and column bands, odd sizes', () => {
  const rng = new Rng(40);
  eachGemm((gemm) => {
    for (const [bt, M, K, N] of [
      [1, 129, 65, 70], // row bands of 44 (not a multiple of 4 at the end)
      [1, 70, 65, 131], // column bands of 48 (not a multiple of 8 at the end)
      [1, 5, 300, 200], // column bands: fewer rows than threads
      [1, 200, 40, 5], // row bands: fewer columns than threads
      [1, 9, 20, 12], // fewer column bands than threads: idle workers
      [2, 67, 64, 129], // batch < threads: bands per batch
      [7, 33, 40, 50], // batch ≥ threads: whole batches per thread
      [1, 1, 4096, 64], // one row
    ] as const) {
      const a = randomView(rng, 'float32', [bt, M, K], 'normal', 'contiguous');
      const b = randomView(rng, 'float32', [bt, K, N], 'normal', 'contiguous');
      checkMatmul(wasm, a, b, `${gemm} ${bt}x${M}x${K}x${N}`);
    }
  });
});

test('threaded matmul: strided, transposed and broadcast operands', () => {
  const rng = new Rng(41);
  eachGemm((gemm) => {
    for (let i = 0; i < 6; i++) {
      const [bt, M, K, N] = [rng.int(1, 5), rng.int(20, 90), rng.int(30, 80), rng.int(20, 90)];
      const a = randomView(rng, 'float32', [bt, M, K], 'normal', 'strided', i % 2 ? [0] : []);
      const b = randomView(rng, 'float32', [bt, K, N], 'normal', 'strided', i % 2 ? [] : [0]);
      checkMatmul(wasm, a, b, `${gemm} strided ${bt}x${M}x${K}x${N} ${a.strides} ${b.strides}`);
    }
  });
});

test('threaded matmul with a bias (a linear layer): added once to every row of every band', () => {
  const rng = new Rng(42);
  eachGemm((gemm) => {
    for (const [bt, M, K, N] of [
      [1, 129, 65, 70],
      [1, 70, 65, 131],
      [7, 33, 40, 50],
    ] as const) {
      const a = randomView(rng, 'float32', [bt, M, K], 'normal', 'contiguous');
      const b = randomView(rng, 'float32', [bt, K, N], 'normal', 'strided');
      const bias = randomView(rng, 'float32', [N], 'normal', 'strided');
      checkMatmul(wasm, a, b, `${gemm} bias ${bt}x${M}x${K}x${N}`, bias);
    }
  });
});

test('other kernels run on the shared instance', () => {
  const rng = new Rng(42);
  const x = randomView(rng, 'float32', [33, 129], 'normal', 'strided');
  const o1 = outView('float32', [33, 129]);
  const o2 = cloneView(o1);
  refBackend.kernels.unary('tanh', x, o1);
  const before = wasmKernelCalls();
  wasm.unary('tanh', x, o2);
  assert.ok(wasmKernelCalls() > before);
  assertArraysClose(dataOf(o2), dataOf(o1), 1e-6, 2e-6, 'tanh');
});

test('threaded elementwise: heavy ops split rows (or the columns of one row) among the threads', () => {
  const rng = new Rng(43);
  for (const [shape, layout, bcast] of [
    [[300, 257], 'contiguous', []], // one merged row: column bands
    [[2, 70000], 'strided', []], // fewer rows than threads
    [[513, 129], 'strided', [1]], // a broadcast input
    [[3, 5, 9000], 'strided', []], // slabs
  ] as const) {
    const x = randomView(rng, 'float32', shape, 'normal', layout, bcast);
    const g = randomView(rng, 'float32', shape, 'normal', 'contiguous');
    for (const op of ['gelu', 'exp', 'tanh'] as const) {
      const o1 = outView('float32', shape);
      const o2 = cloneView(o1);
      refBackend.kernels.unary(op, x, o1);
      wasm.unary(op, x, o2);
      assertArraysClose(dataOf(o2), dataOf(o1), 1e-6, 2e-6, `${op} ${shape}`);
    }
    const o1 = outView('float32', shape);
    const o2 = cloneView(o1);
    refBackend.kernels.binary('geluGrad', x, g, o1);
    wasm.binary('geluGrad', x, g, o2);
    assertArraysClose(dataOf(o2), dataOf(o1), 1e-6, 2e-6, `geluGrad ${shape}`);
  }
});

test('threaded attention: batch entries split among the threads, forward and backward', () => {
  const rng = new Rng(44);
  for (const [batch, L, S, E, causal] of [
    [[8], 40, 40, 16, 0],
    [[2, 3], 70, 33, 8, null],
    [[5], 64, 64, 32, 2],
  ] as const) {
    const q = randomView(rng, 'float32', [...batch, L, E], 'normal', 'strided');
    const k = randomView(rng, 'float32', [...batch, S, E], 'normal', 'any');
    const v = randomView(rng, 'float32', [...batch, S, E], 'normal', 'any');
    const params = { scale: 0.3, causalOffset: causal };
    const o1 = outView('float32', [...batch, L, E]);
    const l1 = outView('float32', [...batch, L]);
    const o2 = cloneView(o1);
    const l2 = cloneView(l1);
    refBackend.kernels.attentionForward(q, k, v, null, null, params, o1, l1);
    wasm.attentionForward(q, k, v, null, null, params, o2, l2);
    assertArraysClose(dataOf(o2), dataOf(o1), 2e-5, 2e-4, `forward ${batch} ${L}x${S}`);
    assertArraysClose(dataOf(l2), dataOf(l1), 2e-5, 2e-4, `lse ${batch} ${L}x${S}`);
    const g = randomView(rng, 'float32', [...batch, L, E], 'normal', 'any');
    const refGrads = [L, S, S].map((n) => outView('float32', [...batch, n, E]));
    const wasmGrads = refGrads.map(cloneView);
    refBackend.kernels.attentionBackward(
      q,
      k,
      v,
      null,
      null,
      params,
      o1,
      l1,
      g,
      ...(refGrads as [View, View, View]),
    );
    wasm.attentionBackward(
      q,
      k,
      v,
      null,
      null,
      params,
      o1,
      l1,
      g,
      ...(wasmGrads as [View, View, View]),
    );
    refGrads.forEach((r, i) =>
      assertArraysClose(dataOf(wasmGrads[i]!), dataOf(r), 2e-5, 2e-4, `backward ${i} ${batch}`),
    );
  }
});

test('threaded kernels on resident operands write resident outputs in place, nothing copied', () => {
  const rng = new Rng(45);
  const saved = { ...gemmTuning };
  gemmTuning.minThreadedMacs = 0;
  try {
    for (const [bt, M, K, N] of [
      [1, 129, 65, 70], // row bands
      [1, 70, 65, 131], // column bands
      [7, 33, 40, 50], // whole batches
    ] as const) {
      const a = resident(randomView(rng, 'float32', [bt, M, K], 'normal', 'strided'));
      const b = resident(randomView(rng, 'float32', [bt, K, N], 'normal', 'strided'));
      const bias = resident(randomView(rng, 'float32', [N], 'normal', 'strided'));
      const out = residentOut(rng, [bt, M, N]);
      const expected = cloneView(out);
      refBackend.kernels.matmul(a, b, expected, bias);
      const copied = stagedCopyBytes();
      wasm.matmul(a, b, out, bias);
      assert.equal(stagedCopyBytes(), copied, `matmul ${bt}x${M}x${K}x${N}: nothing copied`);
      assertArraysClose(dataOf(out), dataOf(expected), 1e-4, 1e-4, `matmul ${bt}x${M}x${K}x${N}`);
    }
  } finally {
    Object.assign(gemmTuning, saved);
  }
  // A heavy op in place (out === x), split among the threads.
  const x = residentOut(rng, [300, 257]);
  const expected = cloneView(x);
  refBackend.kernels.unary('gelu', expected, expected);
  const copied = stagedCopyBytes();
  wasm.unary('gelu', x, x);
  assert.equal(stagedCopyBytes(), copied, 'gelu in place: nothing copied');
  assertArraysClose(dataOf(x), dataOf(expected), 1e-6, 2e-6, 'gelu in place');
  // Attention over 8 batch entries.
  const [q, k, v] = [0, 1, 2].map(() =>
    resident(randomView(rng, 'float32', [8, 40, 16], 'normal', 'any')),
  ) as [View, View, View];
  const params = { scale: 0.3, causalOffset: 0 };
  const [o, l] = [residentOut(rng, [8, 40, 16], 0), residentOut(rng, [8, 40], 0)];
  const [o1, l1] = [cloneView(o), cloneView(l)];
  refBackend.kernels.attentionForward(q, k, v, null, null, params, o1, l1);
  const before = stagedCopyBytes();
  wasm.attentionForward(q, k, v, null, null, params, o, l);
  assert.equal(stagedCopyBytes(), before, 'attention: nothing copied');
  assertArraysClose(dataOf(o), dataOf(o1), 2e-5, 2e-4, 'attention forward');
  assertArraysClose(dataOf(l), dataOf(l1), 2e-5, 2e-4, 'attention lse');
});
