/// <reference types="node" />
/**
 * The native backend (Node only): nabla's own C++ kernels (native/, built into
 * build/Release/nabla.node at install time) behind the same `Kernels` interface as the reference
 * backend — a packed, cache-blocked, multi-threaded GEMM with AVX-512 / AVX2+FMA micro-kernels
 * chosen at run time, vectorized float32 math (exp, log, tanh, sigmoid, erf, GELU and its
 * gradient), and strided elementwise, reduction, indexing and fused training kernels, threaded
 * above a size and with results that do not depend on the thread count.
 *
 * Storage is the reference backend's (typed arrays, reclaimed by the garbage collector), so ref and
 * native tensors mix freely. The addon runs float32 and float64 in every kernel, and int32/bool
 * where it is simple: fill, copy (all 16 casts), where, indexSelect and gather for every dtype;
 * unary ops on int32 (out int32 or bool), binary ops on every dtype (out the same or bool), and
 * reduce, argReduce, indexAdd and scatterAdd on int32. What it declines (unary ops on bool, bool
 * reductions and accumulations, other output dtypes, views of more than 32 dims) runs the
 * reference kernels.
 *
 * Not imported by the browser entry: `nabla` in Node (its "node" export condition) and `nabla/node`
 * register it, and make it the default when the addon is available.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TypedArray } from '../../core/dtype.js';
import { NablaError } from '../../core/errors.js';
import type { AttentionParams, Backend, BinaryOp, Kernels, UnaryOp, View } from '../backend.js';
import { addBiasInPlace } from '../matmul-bias.js';
import { refBackend } from '../ref/index.js';
import { arrayOf } from '../ref/storage.js';
import { getBackend, registerBackend, registerBackendLoader, setBackend } from '../registry.js';

/** The addon's functions (native/nabla.cc). Kernels return false for dtypes they leave to ref. */
interface Addon {
  fill(meta: Float64Array, out: TypedArray): boolean;
  copy(meta: Float64Array, src: TypedArray, dst: TypedArray): boolean;
  unary(meta: Float64Array, x: TypedArray, out: TypedArray): boolean;
  binary(meta: Float64Array, a: TypedArray, b: TypedArray, out: TypedArray): boolean;
  where(meta: Float64Array, c: TypedArray, a: TypedArray, b: TypedArray, o: TypedArray): boolean;
  reduce(meta: Float64Array, x: TypedArray, out: TypedArray): boolean;
  argReduce(meta: Float64Array, x: TypedArray, out: TypedArray): boolean;
  matmul(meta: Float64Array, a: TypedArray, b: TypedArray, out: TypedArray): boolean;
  indexSelect(meta: Float64Array, x: TypedArray, index: TypedArray, out: TypedArray): boolean;
  indexAdd(meta: Float64Array, out: TypedArray, index: TypedArray, src: TypedArray): boolean;
  gather(meta: Float64Array, x: TypedArray, index: TypedArray, out: TypedArray): boolean;
  scatterAdd(meta: Float64Array, out: TypedArray, index: TypedArray, src: TypedArray): boolean;
  /** Fused attention (native/attention.cc); arrays q, k, v, allowed, bias, out, lse. */
  attentionForward(meta: Float64Array, ...arrays: TypedArray[]): boolean;
  /** The same arrays, then dOut, dq, dk, dv. */
  attentionBackward(meta: Float64Array, ...arrays: TypedArray[]): boolean;
  /** The fused training kernels (native/fused.cc): meta = [kernel id, scalars..., views...]. */
  fused?(meta: Float64Array, ...arrays: TypedArray[]): boolean;
  setNumThreads(n: number): void;
  numThreads(): number;
  hardwareThreads(): number;
  gemmIsa(): string;
  setGemmIsa(name: string): string;
  cpuFeatures(): string;
  tuneMalloc(): boolean;
}

/** Raised when the native backend is asked for but its addon is not built or does not load. */
export class NativeBackendError extends NablaError {}

const BUILD_HINT =
  'build it with `npm rebuild nabla` (needs a C++17 compiler, Python 3 and make), or run ' +
  '`node scripts/build-native.mjs` in a checkout of nabla';

let addon: Addon | null = null;
let loadError: string | null = null;
let loadAttempted = false;

/** Loads build/Release/nabla.node (or $NABLA_NATIVE_PATH) once; null (and a reason) if missing. */
function loadAddon(): Addon | null {
  if (loadAttempted) return addon;
  loadAttempted = true;
  const require = createRequire(import.meta.url);
  // This file is src/backend/native/index.ts or dist/backend/native/index.js: three levels below
  // the package root either way.
  const candidates = process.env.NABLA_NATIVE_PATH
    ? [process.env.NABLA_NATIVE_PATH]
    : [
        fileURLToPath(new URL('../../../build/Release/nabla.node', import.meta.url)),
        fileURLToPath(new URL('../../../build/Debug/nabla.node', import.meta.url)),
      ];
  const errors: string[] = [];
  for (const path of candidates) {
    try {
      addon = require(path) as Addon;
      return addon;
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      errors.push(
        (e as { code?: string }).code === 'MODULE_NOT_FOUND' ? `${path}: not built` : msg,
      );
    }
  }
  loadError = errors.join('; ');
  return null;
}

function need(): Addon {
  const a = loadAddon();
  if (a) return a;
  throw new NativeBackendError(
    `the native backend is not available (${loadError}); ${BUILD_HINT}. The reference backend ` +
      `('ref') works everywhere without it.`,
  );
}

// ---- Parameter block --------------------------------------------------------------------------

const MAX_DIMS = 32; // kMaxDims in native/common.h
let meta = new Float64Array(512);
let p = 0;

function put(x: number): void {
  if (p === meta.length) {
    const bigger = new Float64Array(meta.length * 2);
    bigger.set(meta);
    meta = bigger;
  }
  meta[p++] = x;
}

function putView(v: View): void {
  const nd = v.shape.length;
  put(nd);
  put(v.offset);
  for (let d = 0; d < nd; d++) put(v.shape[d]!);
  for (let d = 0; d < nd; d++) put(v.strides[d]!);
}

/** Whether the addon can take these views (its fixed dimension limit). */
function fits(...views: View[]): boolean {
  for (const v of views) if (v.shape.length > MAX_DIMS) return false;
  return true;
}

const UNARY_CODES: Record<UnaryOp, number> = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  abs: 5,
  sign: 6,
  sin: 7,
  cos: 8,
  tanh: 9,
  sigmoid: 10,
  relu: 11,
  erf: 12,
  reciprocal: 13,
  square: 14,
  floor: 15,
  logicalNot: 16,
  isFinite: 17,
  gelu: 18,
  geluTanh: 19,
};

const BINARY_CODES: Record<BinaryOp, number> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  maximum: 5,
  minimum: 6,
  eq: 7,
  ne: 8,
  lt: 9,
  le: 10,
  gt: 11,
  ge: 12,
  logicalAnd: 13,
  logicalOr: 14,
  geluGrad: 15,
  geluTanhGrad: 16,
};

const REDUCE_CODES = { sum: 0, max: 1, min: 2 } as const;

/**
 * Fills `meta` for a fused attention call: scale, causal offset (+∞: none), which masks are
 * present, then the views present, in order. False when a view has too many dims.
 */
function attentionMeta(views: (View | null)[], params: AttentionParams): boolean {
  if (!fits(...views.filter((v): v is View => v !== null))) return false;
  p = 0;
  put(params.scale);
  put(params.causalOffset ?? Infinity);
  put(views[3] ? 1 : 0);
  put(views[4] ? 1 : 0);
  for (const v of views) if (v) putView(v);
  return true;
}

// ---- Kernels ------------------------------------------------------------------------------------

const ref = refBackend.kernels;

/** Kernel ids of native/fused.cc's dispatcher. */
const FUSED = {
  layerNormForward: 0,
  layerNormBackward: 1,
  crossEntropyForward: 2,
  crossEntropyBackward: 3,
  lstmCellForward: 4,
  lstmCellBackward: 5,
  gruCellForward: 6,
  gruCellBackward: 7,
  adamUpdate: 8,
} as const;

/**
 * Runs fused kernel `id` natively: views (null: an empty placeholder, with the scalars saying which
 * are absent) after the scalars. False when the addon declines (dtype) or predates these kernels.
 */
function fused(id: number, scalars: readonly number[], views: readonly (View | null)[]): boolean {
  const a = need();
  // Views of more dims than the addon takes run the reference kernels, as everywhere else here.
  if (!a.fused || !fits(...views.filter((v): v is View => v !== null))) return false;
  const first = views[0]!;
  const arrays: TypedArray[] = [];
  p = 0;
  put(id);
  put(scalars.length);
  for (const x of scalars) put(x);
  put(views.length);
  for (const v of views) {
    // Not a spread of `first`: a Tensor's storage is a getter, which a spread would drop.
    const w = v ?? {
      storage: first.storage,
      dtype: first.dtype,
      shape: [0],
      strides: [1],
      offset: 0,
    };
    putView(w);
    arrays.push(arrayOf(w));
  }
  return a.fused(meta, ...arrays);
}

const flag = (v: View | null): number => (v ? 1 : 0);

const fusedKernels: Pick<Kernels, keyof typeof FUSED> = {
  layerNormForward(x, w, b, eps, y, mean, rstd) {
    if (!fused(FUSED.layerNormForward, [eps, flag(w), flag(b)], [x, w, b, y, mean, rstd]))
      ref.layerNormForward(x, w, b, eps, y, mean, rstd);
  },
  layerNormBackward(x, w, mean, rstd, gy, gx, gw, gb) {
    const views = [x, w, mean, rstd, gy, gx, gw, gb];
    if (!fused(FUSED.layerNormBackward, [flag(w), flag(gw), flag(gb)], views))
      ref.layerNormBackward(x, w, mean, rstd, gy, gx, gw, gb);
  },
  crossEntropyForward(x, t, ignore, eps, loss, lse) {
    if (!fused(FUSED.crossEntropyForward, [ignore, eps], [x, t, loss, lse]))
      ref.crossEntropyForward(x, t, ignore, eps, loss, lse);
  },
  crossEntropyBackward(x, t, lse, g, ignore, eps, gx) {
    if (!fused(FUSED.crossEntropyBackward, [ignore, eps], [x, t, lse, g, gx]))
      ref.crossEntropyBackward(x, t, lse, g, ignore, eps, gx);
  },
  lstmCellForward(gi, gh, bias, c, out, gates) {
    if (!fused(FUSED.lstmCellForward, [flag(bias)], [gi, gh, bias, c, out, gates]))
      ref.lstmCellForward(gi, gh, bias, c, out, gates);
  },
  lstmCellBackward(gates, c, out, gH, gC, dGates, dc) {
    const views = [gates, c, out, gH, gC, dGates, dc];
    if (!fused(FUSED.lstmCellBackward, [flag(gH), flag(gC)], views))
      ref.lstmCellBackward(gates, c, out, gH, gC, dGates, dc);
  },
  gruCellForward(gi, gh, bias, h, out, saved) {
    if (!fused(FUSED.gruCellForward, [flag(bias)], [gi, gh, bias, h, out, saved]))
      ref.gruCellForward(gi, gh, bias, h, out, saved);
  },
  gruCellBackward(saved, h, gOut, dgi, dgh, dh) {
    if (!fused(FUSED.gruCellBackward, [], [saved, h, gOut, dgi, dgh, dh]))
      ref.gruCellBackward(saved, h, gOut, dgi, dgh, dh);
  },
  adamUpdate(param, grad, m, v, vmax, o) {
    const scalars = [o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.step, +o.decoupled];
    scalars.push(+o.maximize, flag(vmax));
    if (!fused(FUSED.adamUpdate, scalars, [param, grad, m, v, vmax]))
      ref.adamUpdate(param, grad, m, v, vmax, o);
  },
};

const kernels: Kernels = {
  fill(out, value) {
    const a = need();
    if (fits(out)) {
      p = 0;
      put(value);
      putView(out);
      if (a.fill(meta, arrayOf(out))) return;
    }
    ref.fill(out, value);
  },
  copy(src, dst) {
    const a = need();
    if (fits(src, dst)) {
      p = 0;
      putView(src);
      putView(dst);
      if (a.copy(meta, arrayOf(src), arrayOf(dst))) return;
    }
    ref.copy(src, dst);
  },
  unary(op, x, out) {
    const a = need();
    if (fits(x, out)) {
      p = 0;
      put(UNARY_CODES[op]);
      putView(x);
      putView(out);
      if (a.unary(meta, arrayOf(x), arrayOf(out))) return;
    }
    ref.unary(op, x, out);
  },
  binary(op, x, y, out) {
    const a = need();
    if (fits(x, y, out)) {
      p = 0;
      put(BINARY_CODES[op]);
      putView(x);
      putView(y);
      putView(out);
      if (a.binary(meta, arrayOf(x), arrayOf(y), arrayOf(out))) return;
    }
    ref.binary(op, x, y, out);
  },
  where(cond, x, y, out) {
    const a = need();
    if (fits(cond, x, y, out)) {
      p = 0;
      putView(cond);
      putView(x);
      putView(y);
      putView(out);
      if (a.where(meta, arrayOf(cond), arrayOf(x), arrayOf(y), arrayOf(out))) return;
    }
    ref.where(cond, x, y, out);
  },
  reduce(op, x, axes, out) {
    const a = need();
    if (fits(x, out)) {
      p = 0;
      put(REDUCE_CODES[op]);
      put(axes.length);
      for (const ax of axes) put(ax);
      putView(x);
      putView(out);
      if (a.reduce(meta, arrayOf(x), arrayOf(out))) return;
    }
    ref.reduce(op, x, axes, out);
  },
  argReduce(op, x, axis, out) {
    const a = need();
    if (fits(x, out)) {
      p = 0;
      put(op === 'argmax' ? 1 : 0);
      put(axis);
      putView(x);
      putView(out);
      if (a.argReduce(meta, arrayOf(x), arrayOf(out))) return;
    }
    ref.argReduce(op, x, axis, out);
  },
  matmul(x, y, out, bias) {
    const a = need();
    p = 0;
    putView(x);
    putView(y);
    putView(out);
    if (!a.matmul(meta, arrayOf(x), arrayOf(y), arrayOf(out))) ref.matmul(x, y, out);
    if (bias) addBiasInPlace(kernels.binary, out, bias);
  },
  indexSelect(x, axis, index, out) {
    const a = need();
    if (fits(x, out)) {
      p = 0;
      put(axis);
      putView(x);
      putView(index);
      putView(out);
      if (a.indexSelect(meta, arrayOf(x), arrayOf(index), arrayOf(out))) return;
    }
    ref.indexSelect(x, axis, index, out);
  },
  indexAdd(out, axis, index, src) {
    const a = need();
    if (fits(out, src)) {
      p = 0;
      put(axis);
      putView(out);
      putView(index);
      putView(src);
      if (a.indexAdd(meta, arrayOf(out), arrayOf(index), arrayOf(src))) return;
    }
    ref.indexAdd(out, axis, index, src);
  },
  gather(x, axis, index, out) {
    const a = need();
    if (fits(x, index, out)) {
      p = 0;
      put(axis);
      putView(x);
      putView(index);
      putView(out);
      if (a.gather(meta, arrayOf(x), arrayOf(index), arrayOf(out))) return;
    }
    ref.gather(x, axis, index, out);
  },
  scatterAdd(out, axis, index, src) {
    const a = need();
    if (fits(out, index, src)) {
      p = 0;
      put(axis);
      putView(out);
      putView(index);
      putView(src);
      if (a.scatterAdd(meta, arrayOf(out), arrayOf(index), arrayOf(src))) return;
    }
    ref.scatterAdd(out, axis, index, src);
  },
  attentionForward(q, k, v, allowed, bias, params, out, lse) {
    const a = need();
    if (attentionMeta([q, k, v, allowed, bias, out, lse], params)) {
      const arrays = [q, k, v, allowed ?? q, bias ?? q, out, lse].map(arrayOf);
      if (a.attentionForward(meta, ...arrays)) return;
    }
    ref.attentionForward(q, k, v, allowed, bias, params, out, lse);
  },
  attentionBackward(q, k, v, allowed, bias, params, out, lse, dOut, dq, dk, dv) {
    const a = need();
    if (attentionMeta([q, k, v, allowed, bias, out, lse, dOut, dq, dk, dv], params)) {
      const views = [q, k, v, allowed ?? q, bias ?? q, out, lse, dOut, dq, dk, dv];
      if (a.attentionBackward(meta, ...views.map(arrayOf))) return;
    }
    ref.attentionBackward(q, k, v, allowed, bias, params, out, lse, dOut, dq, dk, dv);
  },
  ...fusedKernels,
};

/**
 * The native backend object. Its storage is the reference backend's; its kernels throw
 * NativeBackendError if the addon is not available (check `nativeBackendInfo().available`).
 */
export const nativeBackend: Backend = {
  ...refBackend,
  name: 'native',
  kernels,
};

// ---- Public API (re-exported by `nabla/node`) -----------------------------------------------------

let mallocTuned = false;

/** What the native backend found: whether the addon loaded, and how it runs. */
export interface NativeBackendInfo {
  available: boolean;
  /** Why it is not available (null when it is). */
  reason: string | null;
  /** The GEMM micro-kernel in use: 'avx512', 'avx2' or 'scalar'. */
  gemmKernel: string | null;
  /** Threads a kernel uses (the calling thread included). */
  numThreads: number | null;
  /** Logical CPUs this process may run on. */
  hardwareThreads: number | null;
  /** SIMD features the CPU reports. */
  cpuFeatures: string | null;
  /** Whether glibc's malloc was asked to keep freed memory mapped (see `useNativeBackend`). */
  mallocTuned: boolean;
}

/**
 * Whether the native addon is built and loads, and how it runs.
 *
 * @example
 * import { nativeBackendInfo } from 'nabla/node';
 * console.log(nativeBackendInfo()); // { available: true, gemmKernel: 'avx2', numThreads: 8, ... }
 */
export function nativeBackendInfo(): NativeBackendInfo {
  const a = loadAddon();
  return {
    available: a !== null,
    reason: a ? null : loadError,
    gemmKernel: a ? a.gemmIsa() : null,
    numThreads: a ? a.numThreads() : null,
    hardwareThreads: a ? a.hardwareThreads() : null,
    cpuFeatures: a ? a.cpuFeatures() : null,
    mallocTuned,
  };
}

function tuneMalloc(a: Addon): void {
  if (!mallocTuned && process.env.NABLA_MALLOC_TUNING !== '0') mallocTuned = a.tuneMalloc();
}

/**
 * Makes native the current backend. On glibc it first asks malloc to keep freed memory mapped
 * (native/nabla.cc, TuneMalloc): tensors are typed arrays allocated and dropped at a high rate, and
 * glibc's defaults return that memory to the OS and fault it in again on every allocation, which
 * costs more than many kernels. NABLA_MALLOC_TUNING=0 leaves malloc alone.
 */
function select(a: Addon): Backend {
  tuneMalloc(a);
  registerBackend(nativeBackend);
  return setBackend(nativeBackend);
}

/**
 * Registers the native backend and makes it current; throws NativeBackendError (saying why and how
 * to build it) when the addon is missing.
 *
 * @example
 * import { useNativeBackend } from 'nabla/node';
 * useNativeBackend({ numThreads: 4 });
 */
export function useNativeBackend(options: { numThreads?: number } = {}): Backend {
  const a = need();
  if (options.numThreads !== undefined) setNumThreads(options.numThreads);
  return select(a);
}

/**
 * Sets how many threads native kernels use (the calling thread included; default: one per
 * physical core, or $NABLA_NUM_THREADS).
 *
 * @example
 * import { setNumThreads } from 'nabla/node';
 * setNumThreads(1); // deterministic timing, no worker threads
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new NativeBackendError(`setNumThreads: expected a positive integer, got ${n}`);
  }
  need().setNumThreads(n);
}

/** The number of threads native kernels use. */
export function getNumThreads(): number {
  return need().numThreads();
}

/**
 * @internal Forces the GEMM micro-kernel ('avx512', 'avx2', 'scalar', or 'auto' for the best the
 * CPU has), and the vectorized float32 math (exp, tanh, erf, GELU, …) with it; returns the GEMM's.
 * For tests and benchmarks.
 */
export function setGemmKernel(name: 'avx512' | 'avx2' | 'scalar' | 'auto'): string {
  return need().setGemmIsa(name);
}

let installed = false;

/**
 * @internal Called by the Node entry points: makes 'native' available to `setBackend` and, when
 * the addon loads and $NABLA_BACKEND does not name another backend, makes it the default (once,
 * and only while the reference backend is still the current one).
 */
export function installNativeBackend(): void {
  if (installed) return;
  installed = true;
  registerBackendLoader('native', () => {
    tuneMalloc(need());
    return nativeBackend;
  });
  const wanted = process.env.NABLA_BACKEND;
  if (wanted !== undefined && wanted !== '' && wanted !== 'native') return;
  if (getBackend().name !== 'ref') return;
  const a = loadAddon();
  if (a) {
    select(a);
  } else if (wanted === 'native') {
    process.emitWarning(
      `NABLA_BACKEND=native, but ${loadError}; using the reference backend (${BUILD_HINT})`,
    );
  }
}
