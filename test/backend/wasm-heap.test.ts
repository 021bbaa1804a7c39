/**
 * Resident storage of the wasm backend (src/backend/wasm/heap.ts, resident.ts, stage.ts): the heap
 * allocator (exact-size reuse, growth, views that outlive a grow), tensors allocated in the shared
 * wasm memory, kernels that read and write them in place (matmul with a bias and strided operands,
 * elementwise in place, attention, layer norm, Adam, reductions) against the reference kernels,
 * with no bytes copied, mixing with typed-array tensors, aliasing outputs, freeing by dispose and
 * by the garbage collector, and the bound beyond which storage falls back to typed arrays. Runs in
 * its own process (node --test runs each file separately): it starts the shared instance itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as nb from '../../src/index.js';
import type { View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { RefStorage } from '../../src/backend/ref/storage.js';
import { Heap, type GrowableMemory } from '../../src/backend/wasm/heap.js';
import { wasmBackend } from '../../src/backend/wasm/index.js';
import {
  heapF32,
  sharedMemory,
  wasmHeap,
  wasmKernelCalls,
  wasmTuning,
} from '../../src/backend/wasm/instance.js';
import { startWasmThreads } from '../../src/backend/wasm/node/threads.js';
import {
  ResidentStorage,
  residentLiveBytes,
  residentTuning,
} from '../../src/backend/wasm/resident.js';
import { stagedCopyBytes } from '../../src/backend/wasm/stage.js';
import { Rng, assertArraysClose, cloneView, dataOf, randomView } from './native-helpers.js';
import { resident, residentOut } from './wasm-helpers.js';

// The part of the WebAssembly JS API used here (not in the ES lib; the DOM lib is not loaded).
declare const WebAssembly: {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => GrowableMemory;
};

startWasmThreads(1); // the shared-memory instance, no workers
wasmTuning.minElements = 0; // small calls run in WebAssembly too
const ref = refBackend.kernels;
const wasm = wasmBackend.kernels;
const ATOL = 1e-4;
const RTOL = 1e-4;

/** Runs `call` with ref on plain copies of `outs` and wasm on `outs`; compares whole storages. */
function compare(outs: View[], call: (k: typeof ref, outs: View[]) => void, what: string): void {
  const plain = outs.map(cloneView);
  call(ref, plain);
  const calls = wasmKernelCalls();
  call(wasm, outs);
  assert.ok(wasmKernelCalls() > calls, `${what}: ran in WebAssembly`);
  outs.forEach((o, i) =>
    assertArraysClose(dataOf(o), dataOf(plain[i]!), ATOL, RTOL, `${what}: output ${i}`),
  );
}

test('the Node instance has a shared memory, and float32, int32 and bool storage is resident', () => {
  assert.equal(sharedMemory(), true);
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    const s = wasmBackend.alloc(dtype, 10);
    assert.ok(s instanceof ResidentStorage, dtype);
    assert.equal(s.ptr % 64, 0);
    assert.deepEqual([...s.data], new Array(10).fill(0));
    wasmBackend.free(s);
  }
  assert.ok(!(wasmBackend.alloc('float64', 10) instanceof ResidentStorage));
});

test('heap: exact-size reuse, growth, larger blocks only instead of growing', () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
  const heap = new Heap(memory, 100);
  const a = heap.alloc(1000);
  const b = heap.alloc(1000);
  assert.equal(a, 128); // 64-aligned past the base
  assert.equal(b, a + 1024); // sizes rounded up to 64
  heap.release(a);
  assert.equal(heap.alloc(1000), a, 'a freed block serves the next request of its size');
  assert.equal(heap.alloc(1000), b + 1024, 'no free block of that size: the bump pointer');
  assert.throws(() => heap.release(a + 64), /no block/);
  heap.release(a);
  assert.throws(() => heap.release(a), /no block/, 'a second free is refused');
  // A view made before the memory grows keeps its values and stays valid (the buffer is shared).
  const view = new Float32Array(memory.buffer, b, 4);
  view.set([1, 2, 3, 4]);
  const pages = memory.buffer.byteLength / 65536;
  const big = heap.alloc(300_000);
  assert.ok(big > 0 && memory.buffer.byteLength / 65536 > pages, 'the memory grew');
  assert.deepEqual([...view], [1, 2, 3, 4]);
  view[0] = 5;
  assert.equal(new Float32Array(memory.buffer)[b >> 2], 5, 'the old view aliases the new buffer');
  // With the memory full, a request takes a free block up to twice its size rather than grow.
  heap.release(big);
  assert.ok(heap.alloc(memory.buffer.byteLength - heap.extent) > 0);
  const extent = heap.extent;
  assert.equal(extent, memory.buffer.byteLength);
  const fit = heap.alloc(200_000);
  assert.equal(fit, big);
  assert.equal(heap.extent, extent);
  heap.release(fit);
  assert.equal(heap.alloc(300_000), big, 'its size is what was taken, not what was asked');
  // Beyond the memory's maximum: 0, nothing changed.
  assert.equal(heap.alloc(64 * 65536), 0);
  assert.equal(heap.extent, extent);
});

test('resident storage survives the memory growing, and is zeroed unless uninitialized', () => {
  const s = wasmBackend.alloc('float32', 1000) as ResidentStorage;
  s.data.set([1, 2, 3]);
  const before = wasmHeap()!.memory.buffer.byteLength;
  const big = wasmBackend.alloc('float32', before / 4 + 1_000_000, true);
  assert.ok(big instanceof ResidentStorage);
  assert.ok(wasmHeap()!.memory.buffer.byteLength > before, 'the memory grew');
  assert.deepEqual([...s.data.subarray(0, 4)], [1, 2, 3, 0]);
  assert.equal(heapF32()[(s.ptr >> 2) + 1], 2, 'the old array aliases the grown memory');
  wasmBackend.free(big);
  wasmBackend.free(s);
  const again = wasmBackend.alloc('float32', 1000) as ResidentStorage;
  assert.equal(again.ptr, s.ptr, 'the freed block is reused');
  assert.equal(again.data[1], 0, 'and zeroed');
  again.data[1] = 7;
  wasmBackend.free(again);
  const raw = wasmBackend.alloc('float32', 1000, true) as ResidentStorage;
  assert.equal(raw.data[1], 7, 'uninitialized: left as it was');
  wasmBackend.free(raw);
});

test('resident matmul (bias, transposed, strided and broadcast operands) matches ref, no copies', () => {
  const rng = new Rng(1);
  for (const [batch, M, K, N] of [
    [1, 33, 17, 29],
    [3, 8, 40, 12],
    [2, 65, 9, 70],
  ] as const) {
    for (const layout of ['contiguous', 'strided'] as const) {
      const a = resident(randomView(rng, 'float32', [batch, M, K], 'normal', layout));
      const b = resident(randomView(rng, 'float32', [batch, K, N], 'normal', layout, [0]));
      const bias = resident(randomView(rng, 'float32', [N], 'normal', layout));
      for (const withBias of [false, true]) {
        const out = residentOut(rng, [batch, M, N]);
        const copied = stagedCopyBytes();
        const what = `${batch}×${M}×${K}×${N} ${layout}${withBias ? ' +bias' : ''}`;
        compare([out], (k, [o]) => k.matmul(a, b, o!, withBias ? bias : null), what);
        assert.equal(stagedCopyBytes(), copied, `${what}: nothing copied in or out`);
      }
    }
  }
});

test('the copy counter counts what typed-array operands cost (so the check above can fail)', () => {
  const rng = new Rng(2);
  const a = randomView(rng, 'float32', [1, 20, 30], 'normal', 'contiguous');
  const b = resident(randomView(rng, 'float32', [1, 30, 10], 'normal', 'contiguous'));
  const out = residentOut(rng, [1, 20, 10]);
  let copied = stagedCopyBytes();
  compare([out], (k, [o]) => k.matmul(a, b, o!), 'typed-array a');
  assert.equal(stagedCopyBytes() - copied, 20 * 30 * 4, 'a copied in, the rest in place');
  const plainOut = cloneView(out);
  copied = stagedCopyBytes();
  wasm.matmul(resident(a), b, plainOut);
  assert.equal(stagedCopyBytes() - copied, 20 * 10 * 4, 'a typed-array output copied out');
});

test('resident elementwise ops, in place too, and reductions match ref', () => {
  const rng = new Rng(3);
  const shape = [7, 33, 5];
  for (const layout of ['contiguous', 'strided'] as const) {
    const a = resident(randomView(rng, 'float32', shape, 'normal', layout));
    const b = resident(randomView(rng, 'float32', shape, 'normal', layout, [1]));
    compare([residentOut(rng, shape)], (k, [o]) => k.binary('mul', a, b, o!), 'mul');
    compare([residentOut(rng, shape)], (k, [o]) => k.unary('gelu', a, o!), 'gelu');
    compare([residentOut(rng, [7, 5])], (k, [o]) => k.reduce('sum', a, [1], o!), 'sum');
    const cond = resident(randomView(rng, 'bool', shape, 'bool', layout));
    compare([residentOut(rng, shape)], (k, [o]) => k.where(cond, a, b, o!), 'where');
  }
  // out === a: each element is read before it is written.
  const x = residentOut(rng, shape);
  const y = resident(randomView(rng, 'float32', shape, 'normal', 'strided'));
  const copied = stagedCopyBytes();
  compare([x], (k, [o]) => k.binary('add', o!, y, o!), 'add in place');
  assert.equal(stagedCopyBytes(), copied, 'in place, nothing copied');
  compare([x], (k, [o]) => k.unary('exp', o!, o!), 'exp in place');
});

test('an output that shares its storage with an input otherwise is staged, not written early', () => {
  const rng = new Rng(4);
  const n = 24;
  const x = residentOut(rng, [n, n]);
  const original = Float32Array.from(dataOf(x));
  const xT: View = { ...x, strides: [1, n] };
  wasm.copy(xT, x); // ref would overwrite elements before reading them
  const d = dataOf(x);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) assert.equal(d[2 + i * n + j], original[2 + j * n + i]);
  }
});

test('resident attention (q, k, v views of one projection), layer norm and Adam match ref', () => {
  const rng = new Rng(5);
  const [B, L, H, E] = [2, 19, 3, 8];
  // One projection (B, L, 3, H, E), split and permuted to (B, H, L, E) as self-attention does.
  const qkv = resident(randomView(rng, 'float32', [B, L, 3, H, E], 'normal', 'contiguous'));
  const part = (i: number): View => ({
    ...qkv,
    shape: [B, H, L, E],
    strides: [L * 3 * H * E, E, 3 * H * E, 1],
    offset: i * H * E,
  });
  const [q, k, v] = [part(0), part(1), part(2)];
  const params = { scale: 1 / Math.sqrt(E), causalOffset: 0 };
  const out = residentOut(rng, [B, H, L, E], 0);
  const lse = residentOut(rng, [B, H, L], 0);
  let copied = stagedCopyBytes();
  compare(
    [out, lse],
    (kk, [o, l]) => kk.attentionForward(q, k, v, null, null, params, o!, l!),
    'attention forward',
  );
  assert.equal(stagedCopyBytes(), copied, 'attention forward: nothing copied');
  // Backward on the outputs wasm computed (the same in both: inputs only).
  const fixedOut = cloneView(out);
  const fixedLse = cloneView(lse);
  const dOut = resident(randomView(rng, 'float32', [B, H, L, E], 'normal', 'contiguous'));
  const grads = [0, 1, 2].map(() => residentOut(rng, [B, H, L, E], 0));
  compare(
    grads,
    (kk, [dq, dk, dv]) =>
      kk.attentionBackward(q, k, v, null, null, params, fixedOut, fixedLse, dOut, dq!, dk!, dv!),
    'attention backward',
  );

  const [R, N] = [37, 24];
  const x = resident(randomView(rng, 'float32', [R, N], 'normal', 'strided'));
  const w = resident(randomView(rng, 'float32', [N], 'normal', 'contiguous'));
  const b = resident(randomView(rng, 'float32', [N], 'normal', 'contiguous'));
  const [y, mean, rstd] = [residentOut(rng, [R, N]), residentOut(rng, [R]), residentOut(rng, [R])];
  copied = stagedCopyBytes();
  compare(
    [y, mean, rstd],
    (kk, [o, m, r]) => kk.layerNormForward(x, w, b, 1e-5, o!, m!, r!),
    'layer norm forward',
  );
  assert.equal(stagedCopyBytes(), copied, 'layer norm: nothing copied');
  const gy = resident(randomView(rng, 'float32', [R, N], 'normal', 'contiguous'));
  compare(
    [residentOut(rng, [R, N]), residentOut(rng, [N]), residentOut(rng, [N])],
    (kk, [gx, gw, gb]) =>
      kk.layerNormBackward(x, w, cloneView(mean), cloneView(rstd), gy, gx!, gw!, gb!),
    'layer norm backward',
  );

  // Adam updates its operands in place.
  const n = 300;
  const p = residentOut(rng, [n]);
  const m = residentOut(rng, [n]);
  const vv = resident(randomView(rng, 'float32', [n + 5], 'positive', 'contiguous'));
  const sq: View = { ...vv, shape: [n], strides: [1], offset: 2 };
  const g = resident(randomView(rng, 'float32', [n], 'normal', 'contiguous'));
  const o = {
    lr: 1e-2,
    beta1: 0.9,
    beta2: 0.99,
    eps: 1e-8,
    weightDecay: 0.1,
    step: 3,
    decoupled: true,
    maximize: false,
  };
  copied = stagedCopyBytes();
  compare([p, m, sq], (kk, [pp, mm, ss]) => kk.adamUpdate(pp!, g, mm!, ss!, null, o), 'adam');
  assert.equal(stagedCopyBytes(), copied, 'adam: nothing copied');
});

test('tensors: wasm tensors mix with ref ones, and ref reads them after setBackend', () => {
  nb.setBackend(wasmBackend);
  try {
    nb.manualSeed(0);
    const x = nb.randn([16, 24]);
    const w = nb.randn([24, 8]);
    const y = x.matmul(w).add(1).relu();
    assert.ok(y._buffer.handle instanceof ResidentStorage);
    nb.setBackend('ref');
    const plain = nb.randn([16, 8]);
    assert.ok(!(plain._buffer.handle instanceof ResidentStorage));
    const expected = x.matmul(w).add(1).relu();
    assertArraysClose(y.dataSync(), expected.dataSync(), 1e-5, 1e-5, 'ref on resident tensors');
    nb.setBackend(wasmBackend);
    const mixed = y.add(plain).sub(plain); // wasm kernels, a typed-array operand copied in
    assertArraysClose(mixed.dataSync(), expected.dataSync(), 1e-5, 1e-5, 'mixed');
  } finally {
    nb.setBackend('ref');
  }
});

test('parameter gradients live in collected storage: dropping them (zeroGrad) holds no blocks', () => {
  nb.setBackend(wasmBackend);
  try {
    nb.manualSeed(0);
    const layer = new nb.nn.Linear(24, 8);
    const opt = new nb.optim.SGD(layer.parameters(), { lr: 0.01 });
    const x = nb.randn([16, 24]);
    const step = (): void => {
      nb.scope(() => layer.forward(x).square().mean().backward());
      opt.step();
      opt.zeroGrad();
    };
    step();
    const base = residentLiveBytes();
    for (let i = 0; i < 20; i++) step(); // synchronous: no finalizer can run in between
    assert.equal(residentLiveBytes(), base, 'dropped gradients held resident blocks');
    nb.scope(() => layer.forward(x).square().mean().backward());
    for (const p of layer.parameters()) {
      assert.ok(!(p.grad!._buffer.handle instanceof ResidentStorage), 'a gradient was resident');
    }
    assert.ok(layer.weight._buffer.handle instanceof ResidentStorage, 'the weight is resident');
  } finally {
    nb.setBackend('ref');
  }
});

test('dispose and the garbage collector give blocks back', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  nb.setBackend(wasmBackend);
  try {
    await settle(); // tensors the tests above dropped
    const base = residentLiveBytes();
    const t = nb.zeros([1000]);
    assert.equal(residentLiveBytes(), base + 4000);
    t.dispose();
    assert.equal(residentLiveBytes(), base);
    // Dropped without dispose: the FinalizationRegistry of src/memory.ts frees it.
    (() => void nb.ones([1000]).sum().item())();
    assert.ok(residentLiveBytes() > base);
    for (let i = 0; i < 10 && residentLiveBytes() > base; i++) await settle();
    assert.equal(residentLiveBytes(), base, 'dropped tensors freed once collected');
  } finally {
    nb.setBackend('ref');
  }
});

test('beyond the resident bound, storage is typed arrays, and kernels mix both', () => {
  const saved = residentTuning.maxBytes;
  const rng = new Rng(6);
  try {
    residentTuning.maxBytes = residentLiveBytes() + 10_000;
    const small = wasmBackend.alloc('float32', 1000);
    assert.ok(small instanceof ResidentStorage);
    const over = wasmBackend.alloc('float32', 2000);
    assert.ok(over instanceof RefStorage && !(over instanceof ResidentStorage));
    wasmBackend.free(over);
    wasmBackend.free(small);
    const a = resident(randomView(rng, 'float32', [1, 10, 20], 'normal', 'contiguous'));
    const b: View = {
      storage: wasmBackend.alloc('float32', 2000),
      dtype: 'float32',
      shape: [1, 20, 9],
      strides: [180, 9, 1],
      offset: 0,
    };
    assert.ok(b.storage instanceof ResidentStorage, 'still under the bound');
    residentTuning.maxBytes = 0;
    const out: View = { ...b, storage: wasmBackend.alloc('float32', 90), shape: [1, 10, 9] };
    assert.ok(!(out.storage instanceof ResidentStorage));
    dataOf(b).set(Float32Array.from({ length: 2000 }, () => rng.normal()));
    compare([out], (k, [o]) => k.matmul(a, b, o!), 'resident operands, typed-array output');
  } finally {
    residentTuning.maxBytes = saved;
  }
});

test('outputs in reused blocks, allocated without zero-fill, are overwritten whole', () => {
  nb.setBackend(wasmBackend);
  try {
    nb.manualSeed(3);
    const x = nb.randn([5, 6]);
    const y = nb.randn([6]);
    const a = nb.randn([5, 3]);
    const b = nb.randn([3, 6]);
    const ops: Record<string, () => nb.Tensor> = {
      exp: () => x.exp(),
      add: () => x.add(y),
      gt: () => x.gt(y),
      where: () => nb.where(x.gt(0), x, y),
      matmul: () => a.matmul(b),
      'matmul, K = 0': () => nb.zeros([5, 0]).matmul(nb.zeros([0, 6])),
    };
    for (const [name, f] of Object.entries(ops)) {
      const expected = f().toArray();
      // Stale contents in free blocks of the outputs' sizes (30 float32s, 30 bools).
      for (let i = 0; i < 4; i++) {
        nb.full([30], Number.NaN).dispose();
        nb.ones([30], { dtype: 'bool' }).dispose();
      }
      const got = f();
      assert.ok(got._buffer.handle instanceof ResidentStorage);
      assert.deepEqual(got.toArray(), expected, name);
    }
  } finally {
    nb.setBackend('ref');
  }
});
