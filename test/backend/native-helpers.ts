/**
 * Helpers for the native-backend tests: a seeded generator, random strided views over reference
 * storage (permuted dims, steps, offsets, stride-0 broadcasting), and element comparison.
 */
import assert from 'node:assert/strict';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import type { View } from '../../src/backend/backend.js';
import { newRefStorage, type RefStorage } from '../../src/backend/ref/storage.js';
import { nativeBackendInfo } from '../../src/backend/native/index.js';

const info = nativeBackendInfo();

/** `skip` option for node:test: a reason when the addon is not built. */
export const skipNative: string | false = info.available
  ? false
  : `native addon not built (${info.reason}); run \`node scripts/build-native.mjs\``;

/** mulberry32: a small seeded PRNG, so that failures reproduce. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  shape(ndim: number, max = 9): number[] {
    return Array.from({ length: ndim }, () => this.int(1, max));
  }
  perm(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }
}

export type Fill = 'normal' | 'special' | 'positive' | 'int' | 'bool' | 'small-int';

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -2.5, 1e-30, 88, -100, 3e9, -1e10];

/** A storage of `size` random elements. */
export function randomStorage(rng: Rng, dtype: DType, size: number, fill: Fill): RefStorage {
  const s = newRefStorage(dtype, size);
  const d = s.data;
  for (let i = 0; i < size; i++) {
    let v: number;
    switch (fill) {
      case 'special':
        v = rng.next() < 0.2 ? rng.pick(SPECIALS) : rng.normal() * 3;
        break;
      case 'positive':
        v = rng.next() * 4 + 0.01;
        break;
      case 'int':
        v = rng.int(-5, 5);
        break;
      case 'small-int':
        v = rng.int(-2, 2) * 0.5;
        break;
      case 'bool':
        v = rng.next() < 0.5 ? 1 : 0;
        break;
      default:
        v = rng.normal();
    }
    if (dtype === 'bool') v = v !== 0 && !Number.isNaN(v) ? 1 : 0;
    else if (dtype === 'int32') v = Number.isFinite(v) ? Math.trunc(v) : 0;
    d[i] = v;
  }
  return s;
}

export type Layout = 'contiguous' | 'strided' | 'any';

/**
 * A view of `shape` laid out over a fresh storage: contiguous, or with permuted dims, steps and an
 * offset ('strided'); 'any' picks one. `broadcast` dims get stride 0.
 */
export function randomView(
  rng: Rng,
  dtype: DType,
  shape: readonly number[],
  fill: Fill,
  layout: Layout = 'any',
  broadcast: readonly number[] = [],
): View {
  const nd = shape.length;
  const strided = layout === 'strided' || (layout === 'any' && rng.next() < 0.6);
  const perm = strided ? rng.perm(nd) : Array.from({ length: nd }, (_, i) => i);
  const steps = shape.map(() => (strided ? rng.pick([1, 1, 2, 3]) : 1));
  const offset = strided ? rng.int(0, 5) : 0;
  // Lay the dims out in `perm` order (perm[0] outermost), each spaced by its step.
  const strides = new Array<number>(nd).fill(0);
  let acc = 1;
  for (let i = nd - 1; i >= 0; i--) {
    const d = perm[i]!;
    strides[d] = acc * steps[d]!;
    acc *= shape[d]! * steps[d]!;
  }
  for (const d of broadcast) strides[d] = 0;
  let extent = offset + 1;
  for (let d = 0; d < nd; d++) extent += Math.max(0, shape[d]! - 1) * strides[d]!;
  const size = extent + (strided ? rng.int(0, 3) : 0);
  return {
    storage: randomStorage(rng, dtype, Math.max(size, 1), fill),
    dtype,
    shape: [...shape],
    strides,
    offset,
  };
}

/** A contiguous zero-filled (or random) output view. */
export function outView(dtype: DType, shape: readonly number[], fillWith?: Rng): View {
  let size = 1;
  for (const d of shape) size *= d;
  const storage = fillWith
    ? randomStorage(fillWith, dtype, size, 'normal')
    : newRefStorage(dtype, size);
  const strides = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= shape[d]!;
  }
  return { storage, dtype, shape: [...shape], strides, offset: 0 };
}

/** The same view over a copy of its storage (so that ref and native write separate arrays). */
export function cloneView(v: View): View {
  const src = (v.storage as RefStorage).data;
  const storage = newRefStorage(v.dtype, src.length);
  storage.data.set(src as never);
  return { ...v, storage };
}

export function dataOf(v: View): TypedArray {
  return (v.storage as RefStorage).data;
}

/**
 * Asserts element-wise closeness of two whole arrays: |a − e| ≤ atol + rtol·|e|, NaN matching NaN
 * and infinities exact. `what` labels the failure.
 */
export function assertArraysClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}: element ${i}: expected NaN, got ${a}`);
    } else if (!Number.isFinite(e)) {
      assert.equal(a, e, `${what}: element ${i}: expected ${e}, got ${a}`);
    } else {
      const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e);
      if (!ok)
        assert.fail(`${what}: element ${i}: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Tolerances for a dtype: float32 ulp-level, float64 tight, exact for int32/bool. */
export function tolerance(dtype: DType): { atol: number; rtol: number } {
  if (dtype === 'float32') return { atol: 1e-6, rtol: 2e-6 };
  if (dtype === 'float64') return { atol: 1e-13, rtol: 1e-13 };
  return { atol: 0, rtol: 0 };
}
