/**
 * Fused float32 attention on the wasm backend (wasm/assembly/attention.ts): the operands' spans are
 * copied into the wasm memory (one copy per storage: q, k and v are often views of one
 * projection), a parameter block and a table of every batch entry's offsets are written beside
 * them, and the kernel runs over the batch entries, split among the threads when a pool is running.
 * Other dtypes (and a float64 bias) run the reference kernels.
 */
import type { AttentionParams, View } from '../backend.js';
import { refBackend } from '../ref/index.js';
import { isContiguousView } from '../ref/strided.js';
import { alloc, begin, heapU8, kernelsOrNull, relaxedKernels, wasmPool } from './instance.js';
import { copyInAll, copyOut, output, outputBytes, stagedBytesAll } from './stage.js';

// The parameter block's byte offsets: keep in step with wasm/assembly/attention.ts.
const P_L = 0;
const P_S = 4;
const P_E = 8;
const P_EV = 12;
const P_FLAGS = 16;
const P_TABLE = 20;
const P_Q = 24;
const P_K = 36;
const P_V = 48;
const P_A = 60;
const P_B = 72;
const P_O = 84;
const P_LSE = 96;
const P_G = 100;
const P_OUT = 112;
const P_DK = 116;
const P_DV = 120;
const P_SCALE = 128;
const P_CAUSAL = 136; // f64, after the scale
const PARAM_BYTES = 144;

const CAUSAL = 1;
const ALLOWED = 2;
const BIAS = 4;

const T_WORDS = 8; // table words per batch entry: q, k, v, allowed, bias, out, dOut
const T_SLOT: Record<'q' | 'k' | 'v' | 'a' | 'b' | 'o' | 'g', number> = {
  q: 0,
  k: 1,
  v: 2,
  a: 3,
  b: 4,
  o: 5,
  g: 6,
};

/**
 * @internal Hooks for the tests: `relaxedSimd` false runs the main module's kernels even where the
 * relaxed-SIMD companion's are available.
 */
export const attentionTuning = { relaxedSimd: true };

/** Batch entries below which the threads are not woken (per call, measured on the GPT). */
const MIN_THREADED_WORK = 64 * 64 * 64;

/** Element offsets (from the view's element 0) of every batch entry of `v`. */
function batchOffsets(v: View, count: number): Int32Array {
  const nb = v.shape.length - 2;
  const offs = new Int32Array(count);
  const idx = new Array<number>(nb).fill(0);
  let off = 0;
  for (let b = 0; b < count; b++) {
    offs[b] = off;
    for (let d = nb - 1; d >= 0; d--) {
      idx[d]!++;
      off += v.strides[d]!;
      if (idx[d]! < v.shape[d]!) break;
      off -= v.strides[d]! * v.shape[d]!;
      idx[d] = 0;
    }
  }
  return offs;
}

function isF32(v: View | null): boolean {
  return v === null || v.dtype === 'float32';
}

interface Dims {
  count: number;
  L: number;
  S: number;
  E: number;
  Ev: number;
}

/** The batch entries and the query, key and value sizes of an attention call. */
function dims(q: View, k: View, v: View): Dims {
  const nd = q.shape.length;
  let count = 1;
  for (let d = 0; d < nd - 2; d++) count *= q.shape[d]!;
  return {
    count,
    L: q.shape[nd - 2]!,
    S: k.shape[nd - 2]!,
    E: q.shape[nd - 1]!,
    Ev: v.shape[nd - 1]!,
  };
}

interface Setup extends Dims {
  params: number;
}

/** An output of the kernel: where its address goes in the parameter block, its size, its view. */
type Output = readonly [param: number, size: number, view: View];

/**
 * Stages the operands and writes the parameter block and table, with room left for `outputs`
 * (`runInto` allocates them); null (nothing written) when the memory cannot grow that far.
 */
function setup(
  q: View,
  k: View,
  v: View,
  allowed: View | null,
  bias: View | null,
  params: AttentionParams,
  extra: { o?: View; g?: View; lse?: View },
  outputs: readonly Output[],
  backward: boolean,
): (Setup & { scratch: number[]; inputs: View[] }) | null {
  const ke = kernelsOrNull()!;
  const { count, L, S, E, Ev } = dims(q, k, v);
  const views: View[] = [q, k, v];
  if (allowed) views.push(allowed);
  if (bias) views.push(bias);
  if (extra.o) views.push(extra.o);
  if (extra.g) views.push(extra.g);
  if (extra.lse) views.push(extra.lse);
  const pool = wasmPool();
  const work = count * L * S * (E + Ev);
  const threads =
    pool && pool.threads > 1 && count > 1 && work >= MIN_THREADED_WORK ? pool.threads : 1;
  const scratchBytes = ke.attentionScratchBytes(L, S, E, Ev, backward ? 1 : 0);
  const bytes =
    stagedBytesAll(views) +
    PARAM_BYTES +
    count * T_WORDS * 4 +
    outputs.reduce((b, [, size, view]) => b + outputBytes(view, size, views), 0) +
    threads * (scratchBytes + 16) +
    64;
  if (!begin(bytes)) return null;
  const staged = copyInAll(views);
  const addrs = new Map<View, number>();
  views.forEach((x, i) => addrs.set(x, staged[i]!));
  const p = alloc(PARAM_BYTES);
  const table = alloc(count * T_WORDS * 4);
  const heap = heapU8();
  const i32 = new Int32Array(heap.buffer, p, PARAM_BYTES >> 2);
  const f64 = new Float64Array(heap.buffer, p, PARAM_BYTES >> 3);
  i32[P_L >> 2] = L;
  i32[P_S >> 2] = S;
  i32[P_E >> 2] = E;
  i32[P_EV >> 2] = Ev;
  i32[P_FLAGS >> 2] =
    (params.causalOffset !== null ? CAUSAL : 0) | (allowed ? ALLOWED : 0) | (bias ? BIAS : 0);
  i32[P_TABLE >> 2] = table;
  f64[P_SCALE >> 3] = params.scale;
  f64[P_CAUSAL >> 3] = params.causalOffset ?? 0;
  const tab = new Int32Array(heap.buffer, table, count * T_WORDS);
  const put = (slot: keyof typeof T_SLOT, at: number, x: View | null | undefined): void => {
    if (!x) return;
    const n = x.shape.length;
    i32[at >> 2] = addrs.get(x)!;
    i32[(at >> 2) + 1] = x.strides[n - 2] ?? 0;
    i32[(at >> 2) + 2] = x.strides[n - 1] ?? 0;
    const offs = batchOffsets(x, count);
    const t = T_SLOT[slot];
    for (let b = 0; b < count; b++) tab[b * T_WORDS + t] = offs[b]!;
  };
  put('q', P_Q, q);
  put('k', P_K, k);
  put('v', P_V, v);
  put('a', P_A, allowed);
  put('b', P_B, bias);
  put('o', P_O, extra.o);
  put('g', P_G, extra.g);
  if (extra.lse) i32[P_LSE >> 2] = addrs.get(extra.lse)!;
  const scratch: number[] = [];
  for (let t = 0; t < threads; t++) scratch.push(alloc(scratchBytes));
  return { params: p, count, L, S, E, Ev, scratch, inputs: views };
}

/**
 * Runs `kernel` over the batch entries, split in ranges among the scratch blocks' threads: the
 * relaxed-SIMD companion's (fused multiply-adds, measured 1.1–1.2× faster) where the runtime has it.
 */
function run(
  kernel: 'attentionForward' | 'attentionBackward',
  s: Setup & { scratch: number[] },
): void {
  const relaxed = attentionTuning.relaxedSimd ? relaxedKernels() : null;
  const ke = relaxed ?? kernelsOrNull()!;
  const t = s.scratch.length;
  if (t === 1) {
    ke[kernel](s.params, 0, s.count, s.scratch[0]!);
    return;
  }
  const tasks: number[][] = [];
  for (let i = 0; i < t; i++) {
    const b0 = Math.floor((s.count * i) / t);
    const b1 = Math.floor((s.count * (i + 1)) / t);
    tasks.push([s.params, b0, b1, s.scratch[i]!]);
  }
  wasmPool()!.run(tasks, relaxed ? `${kernel}Relaxed` : kernel);
}

/**
 * Finds the float32 outputs (resident views themselves, else staging blocks), writes their
 * addresses into the parameter block, runs `kernel` and copies each staged output into its view.
 */
function runInto(
  kernel: 'attentionForward' | 'attentionBackward',
  s: Setup & { scratch: number[]; inputs: View[] },
  outputs: readonly Output[],
): void {
  const ptrs = outputs.map(([, size, view]) => output(view, size, s.inputs));
  const i32 = new Int32Array(heapU8().buffer, s.params, 32);
  outputs.forEach(([param], i) => {
    i32[param >> 2] = ptrs[i]!;
  });
  run(kernel, s);
  outputs.forEach(([, size, view], i) => copyOut(ptrs[i]!, size, view));
}

function supported(q: View, k: View, v: View, allowed: View | null, bias: View | null): boolean {
  const nd = q.shape.length;
  for (const d of q.shape) if (d === 0) return false;
  return (
    kernelsOrNull() !== null &&
    isF32(q) &&
    isF32(k) &&
    isF32(v) &&
    isF32(bias) &&
    (allowed === null || allowed.dtype === 'bool') &&
    k.shape[nd - 2]! > 0 &&
    v.shape[nd - 1]! > 0
  );
}

export function attentionForward(
  q: View,
  k: View,
  v: View,
  allowed: View | null,
  bias: View | null,
  params: AttentionParams,
  out: View,
  lse: View,
): void {
  const ok =
    supported(q, k, v, allowed, bias) && out.dtype === 'float32' && lse.dtype === 'float32';
  const { count, L, Ev } = dims(q, k, v);
  const outputs: Output[] = [
    [P_OUT, count * L * Ev, out],
    [P_LSE, count * L, lse],
  ];
  // Unsupported operands, or a memory that cannot grow that far: the reference kernel.
  const s = ok ? setup(q, k, v, allowed, bias, params, {}, outputs, false) : null;
  if (s) runInto('attentionForward', s, outputs);
  else refBackend.kernels.attentionForward(q, k, v, allowed, bias, params, out, lse);
}

export function attentionBackward(
  q: View,
  k: View,
  v: View,
  allowed: View | null,
  bias: View | null,
  params: AttentionParams,
  out: View,
  lse: View,
  dOut: View,
  dq: View,
  dk: View,
  dv: View,
): void {
  const ok =
    supported(q, k, v, allowed, bias) &&
    [out, lse, dOut, dq, dk, dv].every((x) => x.dtype === 'float32') &&
    isContiguousView(lse);
  const { count, L, S, E, Ev } = dims(q, k, v);
  const outputs: Output[] = [
    [P_OUT, count * L * E, dq],
    [P_DK, count * S * E, dk],
    [P_DV, count * S * Ev, dv],
  ];
  // Unsupported operands, or a memory that cannot grow that far: the reference kernel.
  const s = ok
    ? setup(q, k, v, allowed, bias, params, { o: out, g: dOut, lse }, outputs, true)
    : null;
  if (s) runInto('attentionBackward', s, outputs);
  else
    refBackend.kernels.attentionBackward(
      q,
      k,
      v,
      allowed,
      bias,
      params,
      out,
      lse,
      dOut,
      dq,
      dk,
      dv,
    );
}
