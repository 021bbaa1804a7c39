/**
 * A leaf keeps a gradient made by the backward pass as its `.grad` instead of a copy, when nothing
 * else can see that buffer (src/autograd/backward.ts, `ownedByPass`). Checked: the copy is really
 * skipped; gradients handed to two leaves, gradients a hook saw, a caller's seed gradient and a
 * view of a live tensor are still copied, so accumulating into `.grad` never changes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

/** Calls of the backend's copy kernel while `fn` runs (restored afterwards). */
function countCopies(fn: () => void): number {
  const kernels = nb.getBackend().kernels as { copy: (...args: never[]) => void };
  const copy = kernels.copy;
  let n = 0;
  kernels.copy = (...args) => {
    n++;
    copy(...args);
  };
  try {
    fn();
  } finally {
    kernels.copy = copy;
  }
  return n;
}

test('a weight gradient made by backward becomes .grad without a copy', () => {
  nb.manualSeed(1);
  const w = nb.randn([5, 3], { requiresGrad: true });
  const x = nb.randn([4, 5]);
  const copies = countCopies(() => x.matmul(w).sin().sum().backward());
  // Where storage must be freed explicitly (wasm's resident blocks), the gradient is copied into
  // storage the garbage collector frees (test/backend/wasm-heap.test.ts checks that case).
  const explicit = x.storage.explicitFree === true;
  assert.equal(copies, explicit ? 1 : 0);
  assert.notEqual(w.grad!.storage.explicitFree, true);
  const expected = x.mT.matmul(x.matmul(w).cos());
  assert.deepEqual(w.grad!.toArray(), expected.toArray());
  // A second backward accumulates in place, into the kept buffer.
  x.matmul(w).sin().sum().backward();
  assert.deepEqual(w.grad!.toArray(), expected.mul(2).toArray());
});

test('one gradient handed to two leaves gives each its own buffer', () => {
  const a = nb.tensor([1, 2, 3], { requiresGrad: true });
  const b = nb.tensor([4, 5, 6], { requiresGrad: true });
  // add's backward passes one gradient, made by this pass (mul's), to both leaves.
  a.add(b)
    .mul(nb.tensor([1, 1, 1]))
    .sum()
    .backward();
  assert.notEqual(a.grad!.storage, b.grad!.storage);
  a.add(b)
    .mul(nb.tensor([1, 10, 100]))
    .sum()
    .backward();
  assert.deepEqual(a.grad!.toArray(), [2, 11, 101]);
  assert.deepEqual(b.grad!.toArray(), [2, 11, 101]);
});

test('a gradient a hook saw is copied: accumulation leaves the hook\u2019s tensor alone', () => {
  const w = nb.tensor([1, 2], { requiresGrad: true });
  const seen: nb.Tensor[] = [];
  w.registerHook((g) => void seen.push(g));
  w.mul(w).sum().backward();
  w.mul(w).sum().backward();
  assert.deepEqual(w.grad!.toArray(), [4, 8]);
  assert.deepEqual(
    seen.map((g) => g.toArray()),
    [
      [2, 4],
      [2, 4],
    ],
  );
});

test('the caller\u2019s gradient for a leaf root is copied', () => {
  const x = nb.tensor([1, 2, 3], { requiresGrad: true });
  const seed = nb.tensor([1, 1, 1]);
  x.backward(seed);
  x.backward(seed);
  assert.deepEqual(x.grad!.toArray(), [2, 2, 2]);
  assert.deepEqual(seed.toArray(), [1, 1, 1]);
});

test('a gradient that views a live tensor is copied', () => {
  // reshape's backward returns a view of the incoming gradient, which the caller still holds.
  const x = nb.tensor([1, 2, 3, 4], { requiresGrad: true });
  const seed = nb.tensor([
    [1, 2],
    [3, 4],
  ]);
  x.reshape(2, 2).backward(seed);
  x.reshape(2, 2).backward(seed);
  assert.deepEqual(x.grad!.toArray(), [2, 4, 6, 8]);
  assert.deepEqual(seed.toArray(), [
    [1, 2],
    [3, 4],
  ]);
});
