/**
 * Instruments for backpropagation through time (THEORY.md §3).
 *
 * `elmanBptt` evaluates the closed-form BPTT gradient of the Elman network
 *   u_t = W v_{t−1} + B x_t,   v_t = φ(u_t),   φ(u) = u (u ≥ 0), p·u (u < 0),
 * with a loss l_T on the last state, explicitly:
 *   ∂l_T/∂v_t = ∂l_T/∂v_T · Π_{τ=t+1..T} D_τ W   (row vectors; factors in order τ = T, T−1, …, t+1),
 *   ∂l_T/∂W  = Σ_{t=1..T} D_t (∂l_T/∂v_t)ᵀ v_{t−1}ᵀ,   ∂l_T/∂B = Σ_t D_t (∂l_T/∂v_t)ᵀ x_tᵀ,
 * with D_τ = diag(φ'(u_τ)) ∈ {1, p}. Plain loops in float64, independent of autograd, so that it
 * can be checked against it.
 *
 * `gradientNormsThroughTime` reads ‖∂l/∂h_t‖ for every step of a recurrent module during an
 * ordinary backward pass (gradient hooks on the per-step states), and `fitGrowthRate` fits the
 * per-step factor by which those norms grow (> 1, exploding) or shrink (< 1, vanishing) with the
 * distance T − t.
 */
import { ShapeError, ValueError } from '../core/errors.js';
import { tensor } from '../ops/creation.js';
import type { Module } from '../nn/module.js';
import { RNNBase } from '../nn/rnn.js';
import { Tensor } from '../tensor.js';

/** A matrix or vector as a Tensor or nested arrays. */
export type MatrixLike = Tensor | readonly (readonly number[])[];
export type VectorLike = Tensor | readonly number[];

function matrix(a: MatrixLike, name: string): number[][] {
  const m = a instanceof Tensor ? (a.toArray() as number[][]) : a.map((r) => [...r]);
  if (!Array.isArray(m) || m.some((r) => !Array.isArray(r) || r.length !== m[0]!.length))
    throw new ShapeError(`elmanBptt: ${name} must be a 2-D matrix`);
  return m;
}

function vector(a: VectorLike, name: string): number[] {
  const v = a instanceof Tensor ? Array.from(a.dataSync()) : [...a];
  if (a instanceof Tensor && a.ndim !== 1)
    throw new ShapeError(`elmanBptt: ${name} must be a vector, got ${a.ndim} dims`);
  return v;
}

/** y = M·x (column vector). */
function matVec(M: number[][], x: number[]): number[] {
  return M.map((row) => row.reduce((s, m, j) => s + m * x[j]!, 0));
}

/** A·B for dense matrices. */
function matMul(A: number[][], B: number[][]): number[][] {
  const n = B[0]!.length;
  return A.map((row) => {
    const out = new Array<number>(n).fill(0);
    row.forEach((a, k) => {
      const bk = B[k]!;
      for (let j = 0; j < n; j++) out[j] += a * bk[j]!;
    });
    return out;
  });
}

/** Row vector times matrix: y = x·M. */
function vecMat(x: number[], M: number[][]): number[] {
  const out = new Array<number>(M[0]!.length).fill(0);
  x.forEach((xi, i) => M[i]!.forEach((m, j) => (out[j] += xi * m)));
  return out;
}

export interface ElmanBpttInput {
  /** Recurrent weights (n, n). */
  W: MatrixLike;
  /** Input weights (n, m). */
  B: MatrixLike;
  /** Inputs x_1 … x_T as rows (T, m). */
  xs: MatrixLike;
  /** Initial state v_0 (n) (default zeros). */
  v0?: VectorLike;
  /** The slope p of φ for u < 0 (1: linear; 0: ReLU). */
  p: number;
  /** ∂l_T/∂v_T (n): the gradient of the loss at the last state. */
  gradLast: VectorLike;
}

export interface ElmanBpttResult {
  /** ∂l_T/∂W (n, n). */
  dW: Tensor;
  /** ∂l_T/∂B (n, m). */
  dB: Tensor;
  /** ∂l_T/∂v_t for t = 1..T, as rows (T, n). */
  dv: Tensor;
  /** ‖∂l_T/∂v_t‖ for t = 1..T. */
  gradNorms: number[];
  /** Pre-activations u_1..u_T (T, n). */
  u: Tensor;
  /** States v_0..v_T (T + 1, n). */
  v: Tensor;
}

/**
 * The closed-form BPTT gradient of the Elman network with the leaky activation (see the file
 * header), computed with explicit products of D_τ W. float64 results.
 *
 * @example
 * const { dW, dB, gradNorms } = nb.lab.elmanBptt({ W, B, xs, p: 0.5, gradLast: [1, 0, 0] });
 */
export function elmanBptt(input: ElmanBpttInput): ElmanBpttResult {
  const W = matrix(input.W, 'W');
  const Bm = matrix(input.B, 'B');
  const xs = matrix(input.xs, 'xs');
  const n = W.length;
  const m = Bm[0]!.length;
  const T = xs.length;
  const p = input.p;
  if (W[0]!.length !== n || Bm.length !== n)
    throw new ShapeError(
      `elmanBptt: W must be (n, n) and B (n, m); got W ${n}×${W[0]!.length}, B ${Bm.length}×${m}`,
    );
  if (xs.some((x) => x.length !== m))
    throw new ShapeError(`elmanBptt: every x_t must have ${m} entries`);
  if (T < 1) throw new ValueError('elmanBptt: need at least one step');
  if (!Number.isFinite(p)) throw new ValueError(`elmanBptt: p must be finite, got ${p}`);
  const v0 = input.v0 ? vector(input.v0, 'v0') : new Array<number>(n).fill(0);
  const gT = vector(input.gradLast, 'gradLast');
  if (v0.length !== n || gT.length !== n)
    throw new ShapeError(`elmanBptt: v0 and gradLast must have n = ${n} entries`);

  // Forward: u_t = W v_{t−1} + B x_t, v_t = φ(u_t). Index t = 1..T (arrays hold v_0 at 0).
  const v: number[][] = [v0];
  const u: number[][] = [[]];
  for (let t = 1; t <= T; t++) {
    const Wv = matVec(W, v[t - 1]!);
    const Bx = matVec(Bm, xs[t - 1]!);
    const ut = Wv.map((a, i) => a + Bx[i]!);
    u.push(ut);
    v.push(ut.map((a) => (a >= 0 ? a : p * a)));
  }
  // D_t = diag(φ'(u_t)), entries 1 (u ≥ 0) or p.
  const d = u.map((ut) => ut.map((a) => (a >= 0 ? 1 : p)));
  const DW = (tau: number): number[][] => W.map((row, i) => row.map((w) => d[tau]![i]! * w));

  // ∂l_T/∂v_t = g_T · Π_{τ=t+1..T} D_τ W, the product accumulated from τ = T downwards:
  // P_T = I, P_t = P_{t+1} · D_{t+1} W.
  const dv: number[][] = new Array<number[]>(T + 1);
  let P: number[][] = W.map((_, i) => W.map((__, j) => (i === j ? 1 : 0)));
  for (let t = T; t >= 1; t--) {
    if (t < T) P = matMul(P, DW(t + 1));
    dv[t] = vecMat(gT, P);
  }

  // ∂l_T/∂W = Σ_t D_t (∂l_T/∂v_t)ᵀ v_{t−1}ᵀ and ∂l_T/∂B = Σ_t D_t (∂l_T/∂v_t)ᵀ x_tᵀ.
  const dW = W.map(() => new Array<number>(n).fill(0));
  const dB = W.map(() => new Array<number>(m).fill(0));
  for (let t = 1; t <= T; t++) {
    for (let i = 0; i < n; i++) {
      const delta = d[t]![i]! * dv[t]![i]!;
      for (let j = 0; j < n; j++) dW[i]![j] += delta * v[t - 1]![j]!;
      for (let k = 0; k < m; k++) dB[i]![k] += delta * xs[t - 1]![k]!;
    }
  }
  const rows = dv.slice(1);
  const f64 = { dtype: 'float64' } as const;
  return {
    dW: tensor(dW, f64),
    dB: tensor(dB, f64),
    dv: tensor(rows, f64),
    gradNorms: rows.map((g) => Math.sqrt(g.reduce((s, x) => s + x * x, 0))),
    u: tensor(u.slice(1), f64),
    v: tensor(v, f64),
  };
}

export interface GradientNormsOptions {
  /** The recurrent module to instrument (default: the first one found in `model`). */
  module?: RNNBase;
  /** Which layer's states (default: the last). */
  layer?: number;
  /** Which direction (default 0, forward). */
  direction?: 0 | 1;
  /**
   * Keep the gradients this backward pass adds to the parameters (default false: every
   * parameter's `.grad` is restored afterwards, so the instrument has no side effect).
   */
  keepGrads?: boolean;
}

/**
 * Runs `model.forward(x)`, `lossFn` on its result and `backward()`, and returns ‖∂l/∂h_t‖ (the
 * norm over the whole batch) for t = 1..T (array index t − 1), read by gradient hooks on the
 * per-step states of one recurrent module of `model` (an RNN, LSTM or GRU, or any module that
 * contains one). For an LSTM these are the gradients of h_t (not c_t). With `lengths`, steps past a
 * sequence's end carry its final state.
 *
 * @example
 * const rnn = new nb.nn.RNN(1, 16);
 * const x = nb.randn([50, 8, 1]);
 * const norms = nb.lab.gradientNormsThroughTime(rnn, x, ([out]) => out.select(0, -1).square().sum());
 * // norms[49] is the gradient at the last step; norms[0] how much of it reaches the first
 */
export function gradientNormsThroughTime<R>(
  model: Module & { forward(x: Tensor): R },
  x: Tensor,
  lossFn: (out: R) => Tensor,
  options: GradientNormsOptions = {},
): number[] {
  const rnn =
    options.module ??
    (model instanceof RNNBase
      ? model
      : ([...model.modules()].find((m) => m instanceof RNNBase) as RNNBase | undefined));
  if (!rnn)
    throw new ValueError('gradientNormsThroughTime: the model contains no RNN, LSTM or GRU module');
  const layer = options.layer ?? rnn.numLayers - 1;
  const direction = options.direction ?? 0;
  if (!Number.isInteger(layer) || layer < 0 || layer >= rnn.numLayers)
    throw new ValueError(
      `gradientNormsThroughTime: layer ${layer} is out of range for ${rnn.numLayers} layers`,
    );
  if (direction === 1 && !rnn.bidirectional)
    throw new ValueError('gradientNormsThroughTime: direction 1 needs a bidirectional module');

  const states = new Map<number, Tensor>();
  const handle = rnn.registerStepHook((s) => {
    if (s.layer === layer && s.direction === direction) states.set(s.t, s.h);
  });
  let loss: Tensor;
  try {
    loss = lossFn(model.forward(x));
  } finally {
    handle.remove();
  }
  if (states.size === 0)
    throw new ValueError(
      'gradientNormsThroughTime: the forward pass did not run the recurrent module',
    );
  const T = Math.max(...states.keys()) + 1;
  const norms = new Array<number>(T).fill(0);
  for (const [t, h] of states) {
    if (!h.requiresGrad)
      throw new ValueError(
        'gradientNormsThroughTime: the hidden states do not require grad (parameters frozen or noGrad)',
      );
    h.registerHook((g) => {
      norms[t] = Math.sqrt(g.square().sum().item());
    });
  }
  const params = model.parameters();
  const saved = params.map((p) => p.grad);
  const savedX = x.grad;
  loss.backward();
  if (!options.keepGrads) {
    params.forEach((p, i) => (p.grad = saved[i]!));
    if (x.requiresGrad) x.grad = savedX;
  }
  return norms;
}

/**
 * Fits ‖g_t‖ ≈ C · r^(T−t) by least squares on log ‖g_t‖ and returns r, the per-step factor by
 * which the gradient norm grows as it travels back in time (r < 1: vanishing, r > 1: exploding).
 * `norms[t − 1]` is ‖∂l_T/∂v_t‖; zeros are skipped.
 *
 * @example
 * nb.lab.fitGrowthRate([8, 4, 2, 1]); // 2: each step back doubles the gradient
 */
export function fitGrowthRate(norms: readonly number[]): number {
  const T = norms.length;
  const pts = norms
    .map((g, i) => [T - (i + 1), g] as const)
    .filter(([, g]) => g > 0 && Number.isFinite(g))
    .map(([k, g]) => [k, Math.log(g)] as const);
  if (pts.length < 2)
    throw new ValueError('fitGrowthRate: need at least two positive finite norms');
  const mk = pts.reduce((s, [k]) => s + k, 0) / pts.length;
  const ml = pts.reduce((s, [, l]) => s + l, 0) / pts.length;
  let num = 0;
  let den = 0;
  for (const [k, l] of pts) {
    num += (k - mk) * (l - ml);
    den += (k - mk) ** 2;
  }
  return Math.exp(num / den);
}
