/**
 * Attention instruments for THEORY.md §1 ("Attention Is All You Need", Vaswani et al., 2017):
 * - the cost of self-attention counted exactly with {@link countOps}: Q·Kᵀ takes T²·D scalar
 *   multiplications, softmax(·)·V takes T²·M, the projections T·d·(2D + M);
 * - time and memory of the naive attention against T, with a least-squares fit a·T² + b·T + c,
 *   beside the fused (tiled, online-softmax) attention that never builds a T×T matrix;
 * - attention as a weighted average, computed by hand in float64 loops
 *   (V'_i = Σ_j exp(q_i·k_j/√D) v_j / Σ_r exp(q_i·k_r/√D)) to compare with
 *   `scaledDotProductAttention` and `MultiheadAttention`.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { ShapeError, ValueError } from '../core/errors.js';
import { Generator } from '../core/random.js';
import { memoryStats, scope } from '../memory.js';
import { tensor } from '../ops/creation.js';
import { randn } from '../ops/random.js';
import { scaledDotProductAttention } from '../nn/attention.js';
import { Linear } from '../nn/linear.js';
import { MultiheadAttention } from '../nn/multihead-attention.js';
import { normal_ } from '../nn/init.js';
import type { NestedArray, Tensor } from '../tensor.js';
import { countOps, labelOps, type KernelEvent, type OpCount } from './count-ops.js';

// ---- Cost, counted ----------------------------------------------------------------------------

export interface SelfAttentionCostOptions {
  /** Sequence length. */
  T: number;
  /** Model width (features of X). */
  d: number;
  /** Query/key size. */
  D: number;
  /** Value size. */
  M: number;
  /** Independent sequences (default 1). */
  batch?: number;
  /** Causal mask (default false): naive attention still computes every score. */
  causal?: boolean;
  /** Also count a backward pass from a random output gradient (default false). */
  backward?: boolean;
  seed?: number;
  /**
   * @internal Run the fused attention kernels instead of the composite ops (default false: the
   * counts price the naive algorithm's products).
   */
  fused?: boolean;
}

export interface SelfAttentionCost {
  T: number;
  d: number;
  D: number;
  M: number;
  batch: number;
  /** The Q·Kᵀ product. */
  qk: OpCount;
  /** The weighted sum softmax(·)·V. */
  av: OpCount;
  /** The three projections X·W_Q, X·W_K, X·W_V. */
  projections: OpCount;
  /** Everything else inside attention: scaling, masking, softmax. */
  softmaxAndMasking: OpCount;
  /** THEORY.md's multiplication counts for this configuration. */
  predicted: { qkMul: number; avMul: number; projectionMul: number };
  forward: Record<string, OpCount>;
  backward: Record<string, OpCount>;
  totals: { forward: OpCount; backward: OpCount; all: OpCount };
}

function sum(events: readonly KernelEvent[]): OpCount {
  const c: OpCount = { mul: 0, add: 0, other: 0, calls: 0 };
  for (const e of events) {
    c.mul += e.mul;
    c.add += e.add;
    c.other += e.other;
    c.calls++;
  }
  return c;
}

function checkPositiveInts(op: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ValueError(`${op}: ${name} must be a positive integer, got ${v}`);
    }
  }
}

/** Self-attention from X (B, T, d): projections, then scaledDotProductAttention. */
function selfAttentionSetup(
  op: string,
  o: SelfAttentionCostOptions,
): { x: Tensor; run: () => Tensor; batch: number } {
  const batch = o.batch ?? 1;
  checkPositiveInts(op, { T: o.T, d: o.d, D: o.D, M: o.M, batch });
  const g = new Generator(o.seed ?? 0);
  const x = randn([batch, o.T, o.d], { generator: g }); // (B, T, d)
  const [wq, wk, wv] = [o.D, o.D, o.M].map((n) => {
    const lin = new Linear(o.d, n, { bias: false });
    normal_(lin.weight, 0, 1 / Math.sqrt(o.d), g);
    return lin;
  }) as [Linear, Linear, Linear];
  const run = (): Tensor => {
    const [q, k, v] = labelOps('projections', () => [wq.forward(x), wk.forward(x), wv.forward(x)]);
    // (B, T, D), (B, T, D), (B, T, M) -> (B, T, M)
    return labelOps('attention', () =>
      scaledDotProductAttention(q!, k!, v!, {
        isCausal: o.causal ?? false,
        fused: o.fused ?? false,
      }),
    );
  };
  return { x, run, batch };
}

/**
 * Counts the scalar operations of one self-attention over X ∈ ℝ^{B×T×d} (Q = XW_Q ∈ ℝ^{T×D},
 * K = XW_K, V = XW_V ∈ ℝ^{T×M}, then `scaledDotProductAttention`), and picks out the two products
 * THEORY.md §1 prices: Q·Kᵀ (B·T²·D multiplications) and softmax(·)·V (B·T²·M), beside the
 * projections (B·T·d·(2D + M)).
 *
 * @example
 * const c = nb.lab.selfAttentionCost({ T: 16, d: 8, D: 4, M: 6 });
 * c.qk.mul === 16 * 16 * 4; // true
 * c.av.mul === 16 * 16 * 6; // true
 */
export function selfAttentionCost(options: SelfAttentionCostOptions): SelfAttentionCost {
  const op = 'selfAttentionCost';
  const { run, batch } = selfAttentionSetup(op, options);
  const { T, d, D, M } = options;
  const gen = new Generator((options.seed ?? 0) + 1);
  const report = countOps(() => {
    const y = run();
    if (options.backward) y.backward(randn(y.shape, { generator: gen }));
    return null;
  });
  const fwd = report.events.filter((e) => e.phase === 'forward');
  const products = fwd.filter((e) => e.op === 'attention/matmul');
  const [qk, av] = products;
  const ok =
    products.length === 2 &&
    qk!.shapes[2]!.slice(1).join() === `${T},${T}` &&
    qk!.shapes[0]![2] === D &&
    av!.shapes[0]![2] === T &&
    av!.shapes[2]![2] === M;
  if (!ok) {
    throw new ShapeError(
      `${op}: expected two attention products (…, T, D)·(…, D, T) and (…, T, T)·(…, T, M), found ` +
        products.map((e) => e.shapes.map((s) => `(${s.join(', ')})`).join('·')).join(' and '),
    );
  }
  const rest = fwd.filter((e) => e.op.startsWith('attention/') && e.op !== 'attention/matmul');
  return {
    T,
    d,
    D,
    M,
    batch,
    qk: sum([qk!]),
    av: sum([av!]),
    projections: sum(fwd.filter((e) => e.op.startsWith('projections/'))),
    softmaxAndMasking: sum(rest),
    predicted: {
      qkMul: batch * T * T * D,
      avMul: batch * T * T * M,
      projectionMul: batch * T * d * (2 * D + M),
    },
    forward: report.forward,
    backward: report.backward,
    totals: report.totals,
  };
}

// ---- Time and memory against T ----------------------------------------------------------------

export interface AttentionScalingOptions {
  /** Sequence lengths to measure (default 32, 64, 128, 256, 384, 512). */
  Ts?: readonly number[];
  d?: number;
  D?: number;
  M?: number;
  batch?: number;
  causal?: boolean;
  /** Timed runs per length (the fastest is kept, as timeit does; default 3, after a warm-up run). */
  repeats?: number;
  seed?: number;
  /** Also measure the fused attention at the same lengths (default true). */
  fused?: boolean;
}

export interface AttentionScalingRow {
  T: number;
  /** Multiplications counted in Q·Kᵀ, softmax·V and the projections (one forward). */
  qkMul: number;
  avMul: number;
  projectionMul: number;
  /** All counted scalar operations of one forward. */
  totalOps: number;
  /** Wall time of one forward, milliseconds: the fastest of the timed runs. */
  timeMs: number;
  /** Peak bytes of tensor buffers allocated by one forward (memoryStats, inside a scope). */
  peakBytes: number;
  /** Bytes of one B×T×T score matrix in the working dtype (float32). */
  scoreMatrixBytes: number;
}

/** Least-squares fit y ≈ a·T² + b·T + c. */
export interface QuadraticFit {
  a: number;
  b: number;
  c: number;
  /** Coefficient of determination of the fit. */
  r2: number;
}

/** Time and memory of one forward of the fused attention at one length. */
export interface FusedScalingRow {
  T: number;
  /** Wall time of one forward (projections + fused attention), ms: the fastest timed run. */
  timeMs: number;
  /** Peak bytes of tensor buffers allocated by one forward. */
  peakBytes: number;
}

/** The fused (tiled, online-softmax) attention measured at the same lengths as the naive one. */
export interface FusedScalingResult {
  rows: FusedScalingRow[];
  timeFit: QuadraticFit;
  memoryFit: QuadraticFit;
}

export interface AttentionScalingResult {
  d: number;
  D: number;
  M: number;
  batch: number;
  rows: AttentionScalingRow[];
  timeFit: QuadraticFit;
  memoryFit: QuadraticFit;
  /** The fused attention (`scaledDotProductAttention`'s kernels), or null when not measured. */
  fused: FusedScalingResult | null;
  note: string;
}

/**
 * Least squares y ≈ a·x² + b·x + c (normal equations on x scaled to [−1, 1], float64).
 *
 * @example
 * nb.lab.fitQuadratic([1, 2, 3, 4], [3, 9, 19, 33]); // { a: 2, b: 0, c: 1, r2: 1 } (up to rounding)
 */
export function fitQuadratic(xs: readonly number[], ys: readonly number[]): QuadraticFit {
  if (xs.length !== ys.length || xs.length < 3) {
    throw new ValueError(`fitQuadratic: needs at least 3 (x, y) pairs, got ${xs.length}`);
  }
  // Scale x to O(1) for conditioning, solve, then unscale.
  const s = Math.max(...xs.map(Math.abs)) || 1;
  const A = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const rhs = [0, 0, 0];
  xs.forEach((x0, i) => {
    const x = x0 / s;
    const row = [x * x, x, 1];
    for (let r = 0; r < 3; r++) {
      rhs[r]! += row[r]! * ys[i]!;
      for (let c = 0; c < 3; c++) A[r]![c]! += row[r]! * row[c]!;
    }
  });
  const [a, b, c] = solve3(A, rhs);
  const mean = ys.reduce((p, y) => p + y, 0) / ys.length;
  let ssRes = 0;
  let ssTot = 0;
  xs.forEach((x0, i) => {
    const x = x0 / s;
    ssRes += (ys[i]! - (a * x * x + b * x + c)) ** 2;
    ssTot += (ys[i]! - mean) ** 2;
  });
  return { a: a / (s * s), b: b / s, c, r2: ssTot > 0 ? 1 - ssRes / ssTot : 1 };
}

/**
 * A fit as text: `4.8e-5·T² + 0.0629·T − 3.06`.
 *
 * @example
 * nb.lab.quadraticText({ a: 1, b: -2, c: 0.5, r2: 1 }); // '1·T² − 2·T + 0.5'
 */
export function quadraticText(fit: Pick<QuadraticFit, 'a' | 'b' | 'c'>, variable = 'T'): string {
  const num = (x: number): string => {
    const v = Math.abs(x);
    return v !== 0 && (v < 1e-2 || v >= 1e5)
      ? v.toExponential(2)
      : String(Number(v.toPrecision(3)));
  };
  const term = (x: number, suffix: string, first: boolean): string =>
    `${first ? (x < 0 ? '−' : '') : x < 0 ? ' − ' : ' + '}${num(x)}${suffix}`;
  return (
    term(fit.a, `·${variable}²`, true) + term(fit.b, `·${variable}`, false) + term(fit.c, '', false)
  );
}

/** Gaussian elimination with partial pivoting on a 3×3 system. */
function solve3(A: number[][], b: number[]): [number, number, number] {
  const m = A.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < 3; col++) {
    let p = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[p]![col]!)) p = r;
    [m[col], m[p]] = [m[p]!, m[col]!];
    const pivot = m[col]![col]!;
    if (pivot === 0)
      throw new ValueError('fitQuadratic: the x values do not determine a quadratic');
    for (let r = 0; r < 3; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / pivot;
      for (let c = col; c < 4; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  return [m[0]![3]! / m[0]![0]!, m[1]![3]! / m[1]![1]!, m[2]![3]! / m[2]![2]!];
}

const clock: () => number = (() => {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf ? () => perf.now() : () => Date.now();
})();

/** Fastest wall time of `repeats` runs (after a warm-up) and the peak bytes of one more. */
function timeAndPeak(once: () => void, repeats: number): { timeMs: number; peakBytes: number } {
  once(); // warm-up
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = clock();
    once();
    best = Math.min(best, clock() - t0);
  }
  const before = memoryStats({ resetPeak: true }).liveBytes;
  once();
  return { timeMs: best, peakBytes: memoryStats().peakBytes - before };
}

/**
 * Measures naive self-attention (projections + `scaledDotProductAttention` with the composite ops,
 * float32, no grad) against the sequence length T: counted operations, wall time (fastest run) and
 * peak buffer bytes of one forward, with least-squares fits time ≈ a·T² + b·T + c and
 * bytes ≈ a·T² + b·T + c whose T² terms are the score matrices. Beside it (`fused`, unless
 * `fused: false`) the same forward through the fused kernels: the same T²·(D + M) products, done in
 * tiles with an online softmax, so its memory has no T² term.
 *
 * @example
 * const s = nb.lab.attentionScaling({ Ts: [32, 64, 128], repeats: 1 });
 * s.timeFit.a; // ms per T²
 */
export function attentionScaling(options: AttentionScalingOptions = {}): AttentionScalingResult {
  const Ts = options.Ts ?? [32, 64, 128, 256, 384, 512];
  const d = options.d ?? 64;
  const D = options.D ?? 64;
  const M = options.M ?? 64;
  const batch = options.batch ?? 1;
  const repeats = options.repeats ?? 3;
  checkPositiveInts('attentionScaling', { d, D, M, batch, repeats });
  const rows: AttentionScalingRow[] = [];
  const fusedRows: FusedScalingRow[] = [];
  for (const T of Ts) {
    const cfg = { T, d, D, M, batch, causal: options.causal ?? false, seed: options.seed ?? 0 };
    const cost = selfAttentionCost(cfg);
    const { run } = selfAttentionSetup('attentionScaling', cfg);
    const { timeMs, peakBytes } = timeAndPeak(() => void scope(() => noGrad(run)), repeats);
    if (options.fused ?? true) {
      const fused = selfAttentionSetup('attentionScaling', { ...cfg, fused: true });
      fusedRows.push({ T, ...timeAndPeak(() => void scope(() => noGrad(fused.run)), repeats) });
    }
    rows.push({
      T,
      qkMul: cost.qk.mul,
      avMul: cost.av.mul,
      projectionMul: cost.projections.mul,
      totalOps: cost.totals.forward.mul + cost.totals.forward.add + cost.totals.forward.other,
      timeMs,
      peakBytes,
      scoreMatrixBytes: 4 * batch * T * T,
    });
  }
  const xs = rows.map((r) => r.T);
  const fits = (rs: readonly { timeMs: number; peakBytes: number }[]) => ({
    timeFit: fitQuadratic(
      xs,
      rs.map((r) => r.timeMs),
    ),
    memoryFit: fitQuadratic(
      xs,
      rs.map((r) => r.peakBytes),
    ),
  });
  return {
    d,
    D,
    M,
    batch,
    rows,
    ...fits(rows),
    fused: fusedRows.length > 0 ? { rows: fusedRows, ...fits(fusedRows) } : null,
    note:
      fusedRows.length > 0
        ? 'The naive attention materialises every (B, T, T) score matrix; the fused attention ' +
          '(tiles of queries × keys with an online softmax, as FlashAttention) keeps only the ' +
          'output and one log-sum-exp per row.'
        : 'Only the naive attention, which materialises every (B, T, T) score matrix, is measured.',
  };
}

// ---- Attention by hand ------------------------------------------------------------------------

/** The numbers of a tensor in float64, row-major. */
function float64Values(t: Tensor): Float64Array {
  return Float64Array.from(t.dataSync() as ArrayLike<number>);
}

export interface AttentionByHandOptions {
  /** Whether query i of batch entry b may attend key j (default: always). */
  allowed?: (b: number, i: number, j: number) => boolean;
  /** Also require j <= i. */
  causal?: boolean;
  /** Factor on q·k (default 1/√E). */
  scale?: number;
}

/**
 * Attention as a weighted average, by hand: for q (B, L, E) or (L, E), k (B, S, E), v (B, S, Ev),
 * V'_i = Σ_j sim(q_i, k_j) v_j / Σ_r sim(q_i, k_r) with sim(q, k) = exp(scale·q·k) over the allowed
 * keys (explicit loops in float64, no max-shift: the formula as written). A query with no
 * allowed key gives zeros, as nabla's attention does.
 *
 * @example
 * const y = nb.lab.attentionByHand(q, k, v, { causal: true }); // { values, shape: [B, L, Ev] }
 */
export function attentionByHand(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionByHandOptions = {},
): { values: Float64Array; shape: number[] } {
  const op = 'attentionByHand';
  const batched = q.ndim === 3;
  if ((q.ndim !== 2 && q.ndim !== 3) || k.ndim !== q.ndim || v.ndim !== q.ndim) {
    throw new ShapeError(`${op}: expected q, k, v all (L, E) or all (B, L, E)`);
  }
  const [B, L, E] = batched ? (q.shape as number[]) : [1, ...q.shape];
  const [, S, E2] = batched ? (k.shape as number[]) : [1, ...k.shape];
  const [, S2, Ev] = batched ? (v.shape as number[]) : [1, ...v.shape];
  if (E2 !== E || S2 !== S || (batched && (k.shape[0] !== B || v.shape[0] !== B))) {
    throw new ShapeError(
      `${op}: shapes do not fit: q [${q.shape.join(', ')}], k [${k.shape.join(', ')}], v [${v.shape.join(', ')}]`,
    );
  }
  const qv = float64Values(q);
  const kv = float64Values(k);
  const vv = float64Values(v);
  const scale = options.scale ?? 1 / Math.sqrt(E!);
  const out = new Float64Array(B! * L! * Ev!);
  const sims = new Float64Array(S!);
  for (let b = 0; b < B!; b++) {
    for (let i = 0; i < L!; i++) {
      let z = 0;
      for (let j = 0; j < S!; j++) {
        const visible =
          (!options.causal || j <= i) && (options.allowed ? options.allowed(b, i, j) : true);
        let dot = 0;
        for (let e = 0; e < E!; e++) dot += qv[(b * L! + i) * E! + e]! * kv[(b * S! + j) * E! + e]!;
        sims[j] = visible ? Math.exp(scale * dot) : 0;
        z += sims[j]!;
      }
      if (z === 0) continue;
      for (let j = 0; j < S!; j++) {
        const w = sims[j]! / z;
        for (let e = 0; e < Ev!; e++)
          out[(b * L! + i) * Ev! + e]! += w * vv[(b * S! + j) * Ev! + e]!;
      }
    }
  }
  return { values: out, shape: batched ? [B!, L!, Ev!] : [L!, Ev!] };
}

export interface MultiheadByHandOptions {
  /** (N, S): true marks a padding key (PyTorch's key_padding_mask convention). */
  keyPaddingMask?: readonly (readonly boolean[])[];
  /** Query i attends keys j <= i only. */
  causal?: boolean;
}

/**
 * MultiheadAttention's output computed by hand from its parameters: per batch entry n and head h,
 * q_i = W_Q^h x_i + b_Q^h (likewise k, v), o_i^h = Σ_j softmax_j(q_i·k_j/√D) v_j over the allowed
 * keys, then out_i = W_O [o_i^1; …; o_i^H] + b_O. Self-attention with packed projections only
 * (kdim = vdim = embedDim); x is (N, T, E) when `mha.batchFirst`, else (T, N, E).
 *
 * @example
 * const mha = new nb.nn.MultiheadAttention({ embedDim: 8, numHeads: 2, batchFirst: true });
 * const ref = nb.lab.multiheadAttentionByHand(mha, x, { causal: true }); // { values, shape }
 */
export function multiheadAttentionByHand(
  mha: MultiheadAttention,
  x: Tensor,
  options: MultiheadByHandOptions = {},
): { values: Float64Array; shape: number[] } {
  const op = 'multiheadAttentionByHand';
  if (!mha.inProjWeight) {
    throw new ValueError(`${op}: needs packed projections (kdim = vdim = embedDim)`);
  }
  if (x.ndim !== 3 || x.shape[2] !== mha.embedDim) {
    throw new ShapeError(`${op}: x must be 3-D with ${mha.embedDim} features`);
  }
  const E = mha.embedDim;
  const H = mha.numHeads;
  const D = mha.headDim;
  const [N, T] = mha.batchFirst ? [x.shape[0]!, x.shape[1]!] : [x.shape[1]!, x.shape[0]!];
  const xs = float64Values(x);
  const at = (n: number, t: number, e: number): number =>
    xs[mha.batchFirst ? (n * T + t) * E + e : (t * N + n) * E + e]!;
  const W = float64Values(mha.inProjWeight); // (3E, E)
  const bIn = mha.inProjBias ? float64Values(mha.inProjBias) : new Float64Array(3 * E);
  const Wo = float64Values(mha.outProj.weight); // (E, E)
  const bo = mha.outProj.bias ? float64Values(mha.outProj.bias) : new Float64Array(E);
  const out = new Float64Array(N * T * E);
  const proj = (n: number, t: number, row: number): number => {
    let s = bIn[row]!;
    for (let e = 0; e < E; e++) s += W[row * E + e]! * at(n, t, e);
    return s;
  };
  for (let n = 0; n < N; n++) {
    // Projected q, k, v: (T, 3E).
    const p = new Float64Array(T * 3 * E);
    for (let t = 0; t < T; t++) for (let r = 0; r < 3 * E; r++) p[t * 3 * E + r] = proj(n, t, r);
    const concat = new Float64Array(T * E);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const sims = new Float64Array(T);
        let z = 0;
        for (let j = 0; j < T; j++) {
          const padded = options.keyPaddingMask?.[n]?.[j] ?? false;
          if (padded || (options.causal && j > i)) continue;
          let dot = 0;
          for (let e = 0; e < D; e++)
            dot += p[i * 3 * E + h * D + e]! * p[j * 3 * E + E + h * D + e]!;
          sims[j] = Math.exp(dot / Math.sqrt(D));
          z += sims[j]!;
        }
        if (z === 0) continue;
        for (let j = 0; j < T; j++) {
          for (let e = 0; e < D; e++)
            concat[i * E + h * D + e]! += (sims[j]! / z) * p[j * 3 * E + 2 * E + h * D + e]!;
        }
      }
    }
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < E; r++) {
        let s = bo[r]!;
        for (let e = 0; e < E; e++) s += Wo[r * E + e]! * concat[t * E + e]!;
        out[mha.batchFirst ? (n * T + t) * E + r : (t * N + n) * E + r] = s;
      }
    }
  }
  return { values: out, shape: [...x.shape] };
}

/**
 * max |a − b| over two equally long arrays.
 *
 * @example
 * nb.lab.maxAbsDiff(y.dataSync(), nb.lab.attentionByHand(q, k, v).values);
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new ShapeError(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  }
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export interface AttentionIdentityOptions {
  /** Sequence length (default 6). */
  T?: number;
  /** Query/key size of scaledDotProductAttention (default 4). */
  D?: number;
  /** Value size of scaledDotProductAttention (default 5). */
  M?: number;
  /** Batch (default 2; the last `pad` keys of every entry but the first are padding). */
  batch?: number;
  pad?: number;
  /** MultiheadAttention width and heads (default 8 and 2). */
  embedDim?: number;
  numHeads?: number;
  seed?: number;
}

export interface AttentionIdentityRow {
  api: 'scaledDotProductAttention' | 'MultiheadAttention';
  mask: 'none' | 'causal' | 'padding' | 'causal+padding';
  /** max |library − by hand| in float64. */
  maxAbsError: number;
}

/**
 * Compares `scaledDotProductAttention` and `MultiheadAttention` (float64) with the weighted-average
 * formula computed by hand ({@link attentionByHand}, {@link multiheadAttentionByHand}) without a
 * mask, with a causal mask, with key padding and with both.
 *
 * @example
 * nb.lab.attentionIdentityCheck().every((r) => r.maxAbsError < 1e-12); // true
 */
export function attentionIdentityCheck(
  options: AttentionIdentityOptions = {},
): AttentionIdentityRow[] {
  const { T = 6, D = 4, M = 5, batch = 2, pad = 2, embedDim = 8, numHeads = 2 } = options;
  checkPositiveInts('attentionIdentityCheck', { T, D, M, batch, embedDim, numHeads });
  if (!Number.isInteger(pad) || pad < 0 || pad >= T) {
    throw new ValueError(`attentionIdentityCheck: pad must be an integer in [0, T), got ${pad}`);
  }
  const g = new Generator(options.seed ?? 0);
  const dtype = 'float64' as const;
  const q = randn([batch, T, D], { generator: g, dtype });
  const k = randn([batch, T, D], { generator: g, dtype });
  const v = randn([batch, T, M], { generator: g, dtype });
  const padded = (b: number, j: number): boolean => b > 0 && j >= T - pad;
  const paddingRows = Array.from({ length: batch }, (_, b) =>
    Array.from({ length: T }, (_, j) => padded(b, j)),
  );
  // SDPA's bool mask: true where a query MAY attend, (B, 1, S) broadcast over queries.
  const mayAttend = tensorFromBools(paddingRows.map((row) => [row.map((p) => !p)]));
  const keyPadding = tensorFromBools(paddingRows); // MHA's convention: true = padding
  const rows: AttentionIdentityRow[] = [];
  const masks = ['none', 'causal', 'padding', 'causal+padding'] as const;
  for (const mask of masks) {
    const causal = mask === 'causal' || mask === 'causal+padding';
    const usePad = mask === 'padding' || mask === 'causal+padding';
    let lib: Tensor;
    if (usePad && causal) {
      const tri = Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => j <= i));
      const both = paddingRows.map((row) => tri.map((r) => r.map((ok, j) => ok && !row[j])));
      lib = scaledDotProductAttention(q, k, v, { attnMask: tensorFromBools(both) });
    } else {
      lib = scaledDotProductAttention(q, k, v, {
        isCausal: causal,
        attnMask: usePad ? mayAttend : null,
      });
    }
    const hand = attentionByHand(q, k, v, {
      causal,
      allowed: usePad ? (b, _i, j) => !padded(b, j) : undefined,
    });
    rows.push({
      api: 'scaledDotProductAttention',
      mask,
      maxAbsError: maxAbsDiff(lib.dataSync(), hand.values),
    });
  }
  const mha = new MultiheadAttention({ embedDim, numHeads, batchFirst: true, dtype });
  noGrad(() => {
    // Non-zero biases, so that the check covers them.
    if (mha.inProjBias) normal_(mha.inProjBias, 0, 0.5, g);
    if (mha.outProj.bias) normal_(mha.outProj.bias, 0, 0.5, g);
  });
  const x = randn([batch, T, embedDim], { generator: g, dtype });
  for (const mask of masks) {
    const causal = mask === 'causal' || mask === 'causal+padding';
    const usePad = mask === 'padding' || mask === 'causal+padding';
    const [lib] = mha.forward(x, x, x, {
      isCausal: causal,
      keyPaddingMask: usePad ? keyPadding : null,
      needWeights: false,
    });
    const hand = multiheadAttentionByHand(mha, x, {
      causal,
      keyPaddingMask: usePad ? paddingRows : undefined,
    });
    rows.push({
      api: 'MultiheadAttention',
      mask,
      maxAbsError: maxAbsDiff(lib.dataSync(), hand.values),
    });
  }
  return rows;
}

function tensorFromBools(values: NestedArray[]): Tensor {
  return tensor(values, { dtype: 'bool' });
}
