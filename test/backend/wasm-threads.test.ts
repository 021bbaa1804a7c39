/**
 * The wasm backend's matmul on worker threads (src/backend/wasm/node/threads.ts: the shared-memory
 * build, batches or row bands split among 3 threads) against the reference kernel: batch splits,
 * row bands with sizes that are not multiples of 4, fewer rows than threads, broadcast and strided
 * operands. The other kernels keep working on the shared instance. Runs in its own process (node
 * --test runs each file separately), so starting threads leaks into no other test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refBackend } from '../../src/backend/ref/index.js';
import { wasmBackend } from '../../src/backend/wasm/index.js';
import { gemmPool, wasmKernelCalls } from '../../src/backend/wasm/instance.js';
import { startWasmThreads } from '../../src/backend/wasm/node/threads.js';
import {
  Rng,
  assertArraysClose,
  cloneView,
  dataOf,
  outView,
  randomView,
} from './native-helpers.js';
import { checkMatmul } from './wasm-helpers.js';

const wasm = wasmBackend.kernels;
startWasmThreads(3);

test('the pool is running with 3 threads, and restarting with another count is refused', () => {
  assert.equal(gemmPool()?.threads, 3);
  startWasmThreads(3);
  assert.throws(() => startWasmThreads(2), RangeError);
  assert.throws(() => startWasmThreads(0), RangeError);
});

test('threaded matmul: batch splits and row bands, odd sizes', () => {
  const rng = new Rng(40);
  for (const [bt, M, K, N] of [
    [1, 129, 65, 70], // row bands of 44 (not a multiple of 4 at the end)
    [1, 5, 300, 200], // fewer row bands than threads: idle workers
    [2, 67, 64, 129], // batch < threads: bands per batch
    [7, 33, 40, 50], // batch ≥ threads: whole batches per thread
    [1, 1, 4096, 64], // one row
  ] as const) {
    const a = randomView(rng, 'float32', [bt, M, K], 'normal', 'contiguous');
    const b = randomView(rng, 'float32', [bt, K, N], 'normal', 'contiguous');
    checkMatmul(wasm, a, b, `${bt}x${M}x${K}x${N}`);
  }
});

test('threaded matmul: strided and broadcast operands', () => {
  const rng = new Rng(41);
  for (let i = 0; i < 6; i++) {
    const [bt, M, K, N] = [rng.int(1, 5), rng.int(40, 90), rng.int(30, 80), rng.int(40, 90)];
    const a = randomView(rng, 'float32', [bt, M, K], 'normal', 'strided', i % 2 ? [0] : []);
    const b = randomView(rng, 'float32', [bt, K, N], 'normal', 'strided', i % 2 ? [] : [0]);
    checkMatmul(wasm, a, b, `strided ${bt}x${M}x${K}x${N} ${a.strides} ${b.strides}`);
  }
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
