/**
 * The typed-array buffer pool (src/backend/ref/storage.ts, `nb.setBufferPooling`): arrays of
 * disposed buffers are reused, zeroed; live views, gradients and `dataSync()` results never share a
 * pooled array; the byte bound drops the oldest arrays first; and training gives bitwise the same
 * values with the pool on and off.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import type { RefStorage } from '../../src/backend/ref/storage.js';
import { residentTuning } from '../../src/backend/wasm/resident.js';

// On the wasm backend (NABLA_BACKEND=wasm) tensors may live in the wasm memory, outside this pool
// (test/backend/wasm-heap.test.ts tests that): here they are typed arrays, so the pool serves them.
residentTuning.maxBytes = 0;

/** The typed array behind a tensor (all ref/native/wasm storage is a RefStorage). */
const arrayOf = (t: nb.Tensor): RefStorage['data'] => (t.storage as RefStorage).data;
const pool = (): nb.BufferPoolStats => nb.memoryStats().pool;

const initial = pool();
beforeEach(() => {
  nb.setBufferPooling(false); // empties it
  nb.setBufferPooling(true, { maxBytes: 256 * 2 ** 20 });
  nb.memoryStats({ resetPoolCounts: true });
});
afterEach(() => nb.setBufferPooling(initial.enabled, { maxBytes: initial.maxBytes }));

describe('buffer pool', () => {
  test('a disposed buffer serves the next allocation of its dtype and length, zeroed', () => {
    const a = nb.full([7, 11], 3.5);
    const data = arrayOf(a);
    a.dispose();
    assert.equal(pool().buffers, 1);
    assert.equal(pool().bytes, 7 * 11 * 4);

    const other = nb.zeros([77], { dtype: 'float64' }); // another dtype: not served from it
    assert.notEqual(arrayOf(other), data);
    assert.equal(pool().hits, 0);

    const b = nb.zeros([11, 7]);
    assert.equal(arrayOf(b), data, 'the same array, reused');
    assert.equal(pool().hits, 1);
    assert.equal(pool().buffers, 0);
    assert.deepEqual(Array.from(b.dataSync()), new Array(77).fill(0));
  });

  test('op outputs reuse disposed arrays and are correct', () => {
    const x = nb.arange(100).float();
    const c = nb.full([100], 2);
    nb.scope(() => void x.mul(c).add(c)); // two (100) arrays back to the pool
    assert.equal(pool().buffers, 2);
    const before = pool().hits;
    const y = x.mul(c).add(c);
    assert.equal(pool().hits - before, 2);
    assert.deepEqual(
      Array.from(y.dataSync()),
      Array.from({ length: 100 }, (_, i) => 2 * i + 2),
    );
  });

  test('int32 and bool buffers are pooled by dtype and zeroed', () => {
    const i = nb.full([5], 9, { dtype: 'int32' });
    const b = nb.ones([5], { dtype: 'bool' });
    const [di, db] = [arrayOf(i), arrayOf(b)];
    i.dispose();
    b.dispose();
    const b2 = nb.zeros([5], { dtype: 'bool' });
    const i2 = nb.zeros([5], { dtype: 'int32' });
    assert.equal(arrayOf(b2), db);
    assert.equal(arrayOf(i2), di);
    assert.deepEqual(b2.toArray(), [false, false, false, false, false]);
    assert.deepEqual(i2.toArray(), [0, 0, 0, 0, 0]);
  });

  test('a live view keeps its buffer out of the pool until the view is disposed too', () => {
    const base = nb.arange(12).float();
    const rows = base.reshape(3, 4);
    const view = rows.narrow(0, 1, 2);
    base.dispose();
    base.dispose(); // a second dispose must not release it again
    rows.dispose();
    assert.equal(pool().buffers, 0);
    const fresh = nb.full([12], 5);
    assert.notEqual(arrayOf(fresh), arrayOf(view));
    assert.deepEqual(view.toArray(), [
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ]);
    view.dispose();
    assert.equal(pool().buffers, 1);
  });

  test('dataSync() returns a copy: writes through a reused array never reach it', () => {
    const t = nb.full([64], 2);
    const read = t.dataSync();
    assert.notEqual(read, arrayOf(t));
    t.dispose();
    const u = nb.full([64], 8); // takes t's array and overwrites it
    assert.equal(pool().hits, 1);
    assert.deepEqual(Array.from(read), new Array(64).fill(2));
    assert.equal(u.dataSync()[0], 8);
  });

  test('a scope pools its intermediates, never its result, kept tensors or gradients', () => {
    const w = nb.randn([8, 8], { requiresGrad: true });
    const x = nb.randn([4, 8]);
    const kept: nb.Tensor[] = [];
    const loss = nb.scope(() => {
      const h = x.matmul(w).tanh();
      kept.push(nb.keep(h.mul(3)));
      const l = h.square().mean();
      l.backward();
      return l;
    });
    const grad = w.grad!;
    const gradData = arrayOf(grad);
    const gradValues = Array.from(grad.dataSync());
    const keptValues = Array.from(kept[0]!.dataSync());
    const lossValue = loss.item();
    assert.ok(pool().buffers > 0, 'the intermediates went back to the pool');
    // Allocate every pooled shape again (and overwrite it) to flush the pool.
    const junk = nb.scope(() => {
      const out: nb.Tensor[] = [];
      for (let i = 0; i < 50; i++) out.push(nb.full([4, 8], 1e6), nb.full([8, 8], 1e6));
      out.push(nb.full([], 1e6), nb.full([1], 1e6));
      return out;
    });
    assert.ok(junk.every((t) => arrayOf(t) !== gradData));
    assert.deepEqual(Array.from(grad.dataSync()), gradValues);
    assert.deepEqual(Array.from(kept[0]!.dataSync()), keptValues);
    assert.equal(loss.item(), lossValue);
  });

  test('the byte bound holds, dropping the oldest arrays first; newest are reused first', () => {
    nb.setBufferPooling(true, { maxBytes: 2 * 400 + 100 }); // room for two (100) float32 arrays
    const ts = [0, 1, 2].map((i) => nb.full([100], i));
    const arrays = ts.map(arrayOf);
    for (const t of ts) t.dispose();
    nb.memoryStats({ resetPoolCounts: true });
    assert.equal(pool().buffers, 2);
    assert.ok(pool().bytes <= pool().maxBytes);
    const a = nb.zeros([100]);
    const b = nb.zeros([100]);
    const c = nb.zeros([100]);
    assert.equal(arrayOf(a), arrays[2], 'the newest first');
    assert.equal(arrayOf(b), arrays[1]);
    assert.ok(
      arrays.every((d) => d !== arrayOf(c)),
      'the oldest was dropped',
    );
    assert.deepEqual([pool().hits, pool().misses], [2, 1]);

    nb.full([300], 1).dispose(); // larger than the bound: never pooled
    assert.equal(pool().buffers, 0);
  });

  test('a lowered bound trims the pool; turning pooling off empties it and stops counting', () => {
    for (let i = 0; i < 4; i++) nb.zeros([256]).dispose();
    assert.equal(pool().bytes, 1024); // the same array, released four times
    nb.scope(() => void [0, 1, 2, 3].map(() => nb.zeros([256])));
    assert.equal(pool().bytes, 4 * 1024);
    nb.setBufferPooling(true, { maxBytes: 2048 });
    assert.equal(pool().bytes, 2048);
    nb.setBufferPooling(false);
    assert.deepEqual([pool().enabled, pool().buffers, pool().bytes], [false, 0, 0]);
    const counts = [pool().hits, pool().misses];
    nb.zeros([256]).dispose();
    nb.zeros([256]).dispose();
    assert.deepEqual([pool().hits, pool().misses, pool().buffers], [...counts, 0]);
  });

  test('random allocations and disposals: live tensors never share an array, all start zeroed', () => {
    nb.setBufferPooling(true, { maxBytes: 3000 });
    const gen = new nb.Generator(5);
    const live: nb.Tensor[] = [];
    let allocations = 0;
    for (let i = 0; i < 600; i++) {
      const rt = nb.randint(0, 1000, [2], { generator: gen });
      const r = rt.dataSync();
      rt.dispose();
      if (r[0]! < 550 || live.length === 0) {
        const size = 1 + (r[1]! % 7) * 50; // a few lengths, some larger than others' buckets
        const t = nb.zeros([size], { dtype: r[1]! % 2 ? 'float32' : 'float64' });
        allocations++;
        assert.ok(
          t.dataSync().every((v) => v === 0),
          'zeroed',
        );
        t.fill_(i + 1); // dirty it for whoever gets it next
        live.push(t);
      } else {
        live.splice(r[1]! % live.length, 1)[0]!.dispose();
      }
      const s = pool();
      assert.ok(s.bytes <= s.maxBytes && s.bytes >= 0);
    }
    const arrays = new Set(live.map(arrayOf));
    assert.equal(arrays.size, live.length, 'each live tensor has its own array');
    // Each step's randint result is an allocation too.
    const { hits, misses } = pool();
    assert.ok(hits > 50, `reuse happened (${hits} hits)`);
    assert.equal(hits + misses, allocations + 600);
  });

  test('bad bounds are a ValueError', () => {
    assert.throws(() => nb.setBufferPooling(true, { maxBytes: -1 }), nb.ValueError);
    assert.throws(() => nb.setBufferPooling(true, { maxBytes: NaN }), nb.ValueError);
  });
});

/** A few AdamW steps of a tiny GPT, each in a scope; the losses and final parameters' bytes. */
function train(pooling: boolean): { losses: number[]; params: Uint8Array[]; hits: number } {
  nb.setBufferPooling(pooling);
  nb.memoryStats({ resetPoolCounts: true });
  nb.manualSeed(0);
  const model = new nb.models.GPT({
    vocabSize: 11,
    blockSize: 8,
    nLayer: 2,
    nHead: 2,
    nEmbd: 16,
    dropout: 0.1, // exercises the generator too
  });
  const opt = new nb.optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.1 });
  const idx = nb.randint(0, 11, [3, 8]);
  const targets = nb.randint(0, 11, [3, 8]);
  const losses: number[] = [];
  for (let s = 0; s < 4; s++) {
    nb.scope(() => {
      opt.zeroGrad();
      const { loss } = model.forward(idx, targets);
      loss!.backward();
      opt.step();
      losses.push(loss!.item());
    });
  }
  const params = model.parameters().map((p) => {
    const d = p.dataSync();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  });
  return { losses, params, hits: pool().hits };
}

describe('training with the pool', () => {
  test('a tiny GPT trains to bitwise the same values with pooling on and off', () => {
    const off = train(false);
    const on = train(true);
    assert.ok(on.hits > 100, `the pool served allocations (${on.hits} hits)`);
    assert.equal(off.hits, 0);
    assert.deepEqual(on.losses, off.losses);
    assert.equal(on.params.length, off.params.length);
    on.params.forEach((p, i) => assert.deepEqual(p, off.params[i], `parameter ${i}`));
    assert.ok(on.losses[3]! < on.losses[0]!, 'it trains');
  });
});

describe('outputs allocated without zero-fill', () => {
  /** Leaves `count` arrays of `size` float32 NaNs (and bool 1s) in the pool, as stale contents. */
  function poison(size: number, count = 4): void {
    for (let i = 0; i < count; i++) {
      nb.full([size], Number.NaN).dispose();
      nb.ones([size], { dtype: 'bool' }).dispose();
    }
  }

  test('unary, binary, comparison, where and matmul outputs overwrite a reused array whole', () => {
    nb.manualSeed(3);
    const x = nb.randn([5, 6]);
    const y = nb.randn([6]);
    const a = nb.randn([5, 3]);
    const b = nb.randn([3, 6]);
    const ops: Record<string, () => nb.Tensor> = {
      exp: () => x.exp(),
      add: () => x.add(y),
      mul: () => x.mul(2),
      gt: () => x.gt(y),
      where: () => nb.where(x.gt(0), x, y),
      matmul: () => a.matmul(b),
    };
    for (const [name, f] of Object.entries(ops)) {
      nb.setBufferPooling(false);
      const expected = f().toArray();
      nb.setBufferPooling(true);
      poison(30);
      const hitsBefore = pool().hits;
      const got = f();
      assert.ok(pool().hits > hitsBefore, `${name}: its output came from the pool`);
      assert.deepEqual(got.toArray(), expected, name);
    }
  });

  test('a matmul with K = 0 still gives zeros from a reused array', () => {
    poison(12);
    const out = nb.zeros([3, 0]).matmul(nb.zeros([0, 4]));
    assert.deepEqual(Array.from(out.dataSync()), new Array(12).fill(0));
  });
});
