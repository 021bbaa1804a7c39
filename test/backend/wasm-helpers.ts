/**
 * Helpers for the wasm-backend tests: outputs surrounded by junk (to catch stray writes), a
 * matmul check against the reference kernel within float32's error bound, and resident copies of
 * views (in the wasm memory: needs the shared instance, node/threads.ts).
 */
import assert from 'node:assert/strict';
import type { Kernels, View } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { ResidentStorage } from '../../src/backend/wasm/resident.js';
import { wasmBackend } from '../../src/backend/wasm/index.js';
import { Rng, cloneView, dataOf, randomStorage, randomView } from './native-helpers.js';

/** A contiguous output of `shape` at `offset` inside a storage filled with random junk. */
export function junkOut(
  rng: Rng,
  shape: readonly number[],
  offset = 0,
  dtype: 'float32' | 'float64' = 'float32',
): View {
  const size = shape.reduce((p, d) => p * d, 1);
  const strides = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= shape[d]!;
  }
  return {
    storage: randomStorage(rng, dtype, size + offset + 3, 'normal'),
    dtype,
    shape: [...shape],
    strides,
    offset,
  };
}

/** Element (i0, i1, ...) of a view. */
function at(v: View, idx: readonly number[]): number {
  let o = v.offset;
  for (let d = 0; d < idx.length; d++) o += idx[d]! * v.strides[d]!;
  return dataOf(v)[o]!;
}

/**
 * Runs wasm and ref on (batch, M, K) · (batch, K, N) and checks every element against the float32
 * error bound (K + 2)·u·Σ|a||b| (ref accumulates in float64), and the junk around `out` untouched.
 */
export function checkMatmul(
  wasm: Kernels,
  a: View,
  b: View,
  what: string,
  bias: View | null = null,
): void {
  const rng = new Rng(7);
  const [batch, M, K] = a.shape as [number, number, number];
  const N = b.shape[2]!;
  const out = junkOut(rng, [batch, M, N], 2);
  const oRef = cloneView(out);
  const oWasm = cloneView(out);
  refBackend.kernels.matmul(a, b, oRef, bias);
  wasm.matmul(a, b, oWasm, bias);
  const r = dataOf(oRef);
  const w = dataOf(oWasm);
  assert.equal(w.length, r.length);
  for (let i = 0; i < 2; i++) assert.equal(w[i], r[i], `${what}: wrote before out`);
  for (let i = 2 + batch * M * N; i < r.length; i++)
    assert.equal(w[i], r[i], `${what}: wrote after out`);
  const u = 2 ** -24;
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let mag = bias ? Math.abs(at(bias, [j])) : 0;
        for (let k = 0; k < K; k++) mag += Math.abs(at(a, [t, i, k]) * at(b, [t, k, j]));
        const p = 2 + (t * M + i) * N + j;
        const bound = (K + 2) * u * mag + 1e-30;
        if (!(Math.abs(w[p]! - r[p]!) <= bound)) {
          assert.fail(`${what}: [${t},${i},${j}] wasm ${w[p]} ref ${r[p]} (bound ${bound})`);
        }
      }
    }
  }
}

/** The same view over a resident copy of its storage. */
export function resident(v: View): View {
  const src = dataOf(v);
  const storage = wasmBackend.alloc(v.dtype, src.length, true);
  assert.ok(storage instanceof ResidentStorage, 'expected resident storage');
  storage.data.set(src as never);
  return { ...v, storage };
}

/**
 * A contiguous resident output at `offset` of a junk-filled storage (to catch stray writes; the
 * reference attention kernels write their outputs from offset 0).
 */
export function residentOut(rng: Rng, shape: readonly number[], offset = 2): View {
  const size = shape.reduce((p, d) => p * d, 1);
  const v = randomView(rng, 'float32', [size + 5], 'normal', 'contiguous');
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((p, n) => p * n, 1));
  return { ...resident(v), shape: [...shape], strides, offset };
}
