/**
 * Gradient flow through time (THEORY.md §3): how ‖∂l_T/∂v_t‖ shrinks or grows as it travels back
 * from the loss at the last step T to step t, for Elman networks whose recurrent matrix has a
 * chosen spectral radius ρ, for LSTM and GRU cells, and under gradient clipping and truncated BPTT.
 *
 * Why the rate is what it is. With u_t = W v_{t−1} + B x_t and v_t = φ(u_t), BPTT gives
 * ∂l_T/∂v_{t−1} = ∂l_T/∂v_t · D_t W with D_t = diag(φ'(u_t)) (row vectors). Take W = ρ·Q with Q
 * orthogonal: then ‖g D W‖ = ρ‖g D‖, so every step back multiplies the norm by a factor in
 * [ρ·min φ'(u_t), ρ·max φ'(u_t)]:
 * - linear φ (leaky slope p = 1): exactly ρ, whatever the inputs;
 * - leaky ReLU with slope p: within [p·ρ, ρ]; exactly ρ when every pre-activation is positive and
 *   exactly p·ρ when every one is negative (with W = ρ·P for a permutation P, which is orthogonal
 *   and maps positive vectors to positive vectors, and inputs of one sign, the pre-activations
 *   keep one sign for ever);
 * - ReLU: within [0, ρ]; tanh: within (0, ρ] (tanh' = 1 − tanh² ≤ 1).
 * A least-squares slope of log ‖g‖ against the distance T − t is a weighted average, with
 * non-negative weights summing to 1, of the per-step log-factors, so the fitted rate
 * (`fitGrowthRate`) lies in the same interval. When Q mixes the coordinates, ‖g D‖² ≈ ‖g‖²·mean
 * φ'(u)², which gives the mean-field estimate ρ·rms φ'(u) for the mixed cases (exact when φ' is one
 * constant, as in the linear and one-signed cases).
 *
 * Clipping (`clipGradNorm`) multiplies the whole parameter gradient, ∂l/∂W = Σ_t D_t (∂l/∂v_t)ᵀ
 * v_{t−1}ᵀ, by one factor c = min(1, maxNorm/‖∂l/∂θ‖): every step's term is scaled by c, so the
 * per-step profile keeps its shape (and its fitted rate) and a vanishing gradient stays vanishing.
 * Truncated BPTT with a window of k steps (`truncatedBptt`) detaches the state k steps before the
 * loss: ∂l_T/∂v_t is exactly zero for t ≤ T − k and unchanged inside the window.
 *
 * References: Bengio, Simard & Frasconi (1994), "Learning long-term dependencies with gradient
 * descent is difficult"; Pascanu, Mikolov & Bengio (2013), "On the difficulty of training
 * recurrent neural networks"; Williams & Peng (1990) for truncated BPTT; Hochreiter & Schmidhuber
 * (1997) for the LSTM, Gers, Schmidhuber & Cummins (2000) for its forget gate and Jozefowicz,
 * Zaremba & Sutskever (2015) for a forget-gate bias of 1; Cho et al. (2014) for the GRU.
 */
import { noGrad } from '../autograd/grad-mode.js';
import type { DType } from '../core/dtype.js';
import { ValueError } from '../core/errors.js';
import { Generator } from '../core/random.js';
import { tensor } from '../ops/creation.js';
import { randn } from '../ops/random.js';
import { orthogonal_, uniform_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { GRU, LSTM, RNN } from '../nn/rnn.js';
import { truncatedBptt } from '../nn/tbptt.js';
import { clipGradNorm } from '../nn/utils.js';
import { Adam } from '../optim/adam.js';
import { scope } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { fitGrowthRate, gradientNormsThroughTime } from './bptt.js';

function clock(): number {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf ? perf.now() : Date.now();
}

function checkPositiveInt(v: number, name: string, owner: string): void {
  if (!Number.isInteger(v) || v < 1)
    throw new ValueError(`${owner}: ${name} must be a positive integer, got ${v}`);
}

// ---- Recurrent matrices of a chosen spectral radius ------------------------------------------

export interface ScaledOrthogonalOptions {
  generator?: Generator;
  /** Default 'float64'. */
  dtype?: DType;
  /** A random permutation matrix (orthogonal, and non-negative) instead of a Haar-random Q. */
  permutation?: boolean;
}

/**
 * ρ·Q for a random orthogonal (n, n) matrix Q: every singular value and every eigenvalue modulus
 * is ρ, so ρ is both the spectral radius and the norm ‖W‖.
 *
 * @example
 * const W = nb.lab.scaledOrthogonal(32, 0.9, { generator: new nb.Generator(0) });
 */
export function scaledOrthogonal(
  n: number,
  rho: number,
  options: ScaledOrthogonalOptions = {},
): Tensor {
  checkPositiveInt(n, 'n', 'scaledOrthogonal');
  if (!(rho >= 0) || !Number.isFinite(rho))
    throw new ValueError(`scaledOrthogonal: rho must be finite and >= 0, got ${rho}`);
  const dtype = options.dtype ?? 'float64';
  const g = options.generator ?? new Generator(0);
  if (!options.permutation)
    return orthogonal_(tensor(new Float64Array(n * n), { shape: [n, n], dtype }), rho, g);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = g.nextInt(0, i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const values = new Float64Array(n * n);
  perm.forEach((j, i) => (values[i * n + j] = rho));
  return tensor(values, { shape: [n, n], dtype });
}

// ---- Elman networks ---------------------------------------------------------------------------

/** φ of the Elman network: 'linear' is the leaky ReLU with slope p = 1. */
export type ElmanActivation = 'linear' | 'tanh' | 'relu' | 'leaky_relu';

/** Inputs of random sign, or all ≥ 0 / ≤ 0 (with non-negative input weights and W = ρ·P). */
export type InputSigns = 'mixed' | 'positive' | 'negative';

export interface ElmanFlowOptions {
  activation: ElmanActivation;
  /** The slope p of 'leaky_relu' for u < 0 (default 0.5). */
  slope?: number;
  /** Spectral radius of the recurrent matrix W_hh = ρ·Q. */
  rho: number;
  /** Hidden units n (default 32). */
  hiddenSize?: number;
  /** Input features (default 4). */
  inputSize?: number;
  /** Sequence length T (default 64). */
  steps?: number;
  /** Independent sequences (default 8); norms are taken over the whole batch. */
  batch?: number;
  /** Standard deviation of the input weights (default 0.1: the recurrent part dominates). */
  inputStd?: number;
  /**
   * 'mixed' (default): x ~ N(0, 1), W_ih ~ N(0, inputStd²). 'positive' / 'negative': x = ±|N(0, 1)|,
   * W_ih = |N(0, inputStd²)| and W_hh = ρ·P, so that every pre-activation keeps that sign.
   */
  signs?: InputSigns;
  /** 'orthogonal' (Haar Q) or 'permutation' (default: permutation for one-signed inputs). */
  recurrent?: 'orthogonal' | 'permutation';
  seed?: number;
  /** Also clip the parameter gradient to this total norm and report the effect. */
  clip?: number;
  /** Also run truncated BPTT with windows of this many steps and report the effect. */
  truncate?: number;
}

/** Statistics of φ'(u_τ) over every unit, sequence and step τ = 2..T (those in ∂l_T/∂v_t). */
export interface DerivativeStats {
  min: number;
  max: number;
  /** Root mean square. */
  rms: number;
}

export interface ClipEffect {
  maxNorm: number;
  /** ‖∂l/∂θ‖ over every parameter before clipping (clipGradNorm's return value). */
  totalNorm: number;
  /** min(1, maxNorm/(total + 1e-6)), PyTorch's factor. */
  coefficient: number;
  /** max over every parameter entry of |clipped − c·unclipped| / max |c·unclipped|. */
  maxScaleDeviation: number;
  /**
   * ‖Σ_t G_t − ∂l/∂W_hh‖ / ‖∂l/∂W_hh‖ for the per-step terms G_t = D_t (∂l/∂v_t)ᵀ v_{t−1}ᵀ (summed
   * over the batch): the parameter gradient that is clipped is exactly the sum of the steps' terms.
   */
  decompositionError: number;
  /** ‖G_t‖ for t = 1..T before clipping. */
  stepTerms: number[];
  /** c·‖∂l_T/∂v_t‖: the profile each step contributes with after clipping. */
  norms: number[];
  /** The fitted rate of the clipped profile. */
  rate: number;
}

export interface TruncationEffect {
  /** The chunk length k of truncatedBptt. */
  k: number;
  /** Steps in the last chunk, the one holding the loss (k when k divides T). */
  window: number;
  /** ‖∂l_T/∂v_t‖ under truncation, t = 1..T. */
  norms: number[];
  /** Steps with a non-zero gradient. */
  nonZero: number;
  /** max |truncated − full| / full over the window. */
  maxWindowDiff: number;
}

export interface ElmanFlowResult {
  label: string;
  activation: ElmanActivation;
  /** The slope p for u < 0: 1 (linear), 0 (ReLU), p (leaky), null (tanh). */
  slope: number | null;
  rho: number;
  signs: InputSigns;
  recurrent: 'orthogonal' | 'permutation';
  /** ‖∂l_T/∂v_t‖ for t = 1..T (array index t − 1), over the batch. */
  norms: number[];
  /** fitGrowthRate(norms): the fitted factor per step back. */
  rate: number;
  /** ‖∂l_T/∂v_{t−1}‖ / ‖∂l_T/∂v_t‖ for t = T down to 2 (index 0: one step back from T). */
  stepFactors: number[];
  derivative: DerivativeStats;
  /** THEORY.md's interval for the per-step factor: [ρ, ρ], [p·ρ, ρ], [0, ρ] or (0, ρ]. */
  bounds: [number, number];
  /** ρ·rms φ'(u): the mean-field estimate of the rate. */
  estimate: number;
  /** ρ·φ' when φ' is one constant over every unit and step (linear, one-signed leaky), else null. */
  exact: number | null;
  /** `exact` where there is one, else `estimate`. */
  predicted: number;
  clip?: ClipEffect;
  truncation?: TruncationEffect;
}

/**
 * A short description of an Elman configuration: 'linear', 'leaky p=0.5, u>0', 'tanh'.
 *
 * @example
 * nb.lab.elmanFlowLabel('leaky_relu', 0.5, 'negative'); // 'leaky p=0.5, u<0'
 */
export function elmanFlowLabel(
  activation: ElmanActivation,
  slope: number,
  signs: InputSigns = 'mixed',
): string {
  const name =
    activation === 'leaky_relu' ? `leaky p=${slope}` : activation === 'relu' ? 'ReLU' : activation;
  return signs === 'mixed' ? name : `${name}, u${signs === 'positive' ? '>' : '<'}0`;
}

/** φ'(u) read from v = φ(u) (v and u have the same sign for p > 0; ReLU: v > 0 ⇔ u > 0). */
function derivativeOf(activation: ElmanActivation, p: number): (v: number) => number {
  switch (activation) {
    case 'linear':
      return () => 1;
    case 'tanh':
      return (v) => 1 - v * v;
    case 'relu':
      return (v) => (v > 0 ? 1 : 0);
    case 'leaky_relu':
      return (v) => (v >= 0 ? 1 : p);
  }
}

/**
 * Per-step gradient norms ‖∂l_T/∂v_t‖ of an Elman RNN (nb.nn.RNN, float64, no biases, h_0 = 0)
 * with W_hh = ρ·Q and small input weights, for the loss l_T = Σ_b c·v_T^(b) on the last state
 * (c ~ N(0, I), the same for every sequence): the fitted rate beside THEORY.md's prediction, and
 * optionally the effect of clipping and of truncated BPTT on the same network and inputs.
 *
 * @example
 * const r = nb.lab.elmanGradientFlow({ activation: 'linear', rho: 0.9 });
 * r.rate; // 0.9 up to rounding
 */
export function elmanGradientFlow(options: ElmanFlowOptions): ElmanFlowResult {
  const owner = 'elmanGradientFlow';
  const { activation, rho } = options;
  const n = options.hiddenSize ?? 32;
  const m = options.inputSize ?? 4;
  const T = options.steps ?? 64;
  const B = options.batch ?? 8;
  const inputStd = options.inputStd ?? 0.1;
  const signs = options.signs ?? 'mixed';
  const recurrent = options.recurrent ?? (signs === 'mixed' ? 'orthogonal' : 'permutation');
  const p =
    activation === 'linear'
      ? 1
      : activation === 'relu'
        ? 0
        : activation === 'leaky_relu'
          ? (options.slope ?? 0.5)
          : NaN;
  for (const [v, name] of [
    [n, 'hiddenSize'],
    [m, 'inputSize'],
    [T, 'steps'],
    [B, 'batch'],
  ] as const)
    checkPositiveInt(v, name, owner);
  if (T < 2) throw new ValueError(`${owner}: need at least 2 steps, got ${T}`);
  if (activation === 'leaky_relu' && !(p >= 0 && p <= 1))
    throw new ValueError(`${owner}: slope must be in [0, 1], got ${p}`);
  if (!['linear', 'tanh', 'relu', 'leaky_relu'].includes(activation))
    throw new ValueError(`${owner}: unknown activation '${String(activation)}'`);
  if (!(rho >= 0) || !Number.isFinite(rho))
    throw new ValueError(`${owner}: rho must be finite and >= 0, got ${rho}`);
  if (options.clip !== undefined && !(options.clip > 0))
    throw new ValueError(`${owner}: clip must be a positive number, got ${options.clip}`);
  if (options.truncate !== undefined) checkPositiveInt(options.truncate, 'truncate', owner);
  if (signs === 'negative' && p === 0)
    throw new ValueError(
      `${owner}: with every pre-activation negative a slope of 0 passes no gradient back`,
    );
  const g = new Generator(options.seed ?? 0);
  const f64 = { dtype: 'float64', generator: g } as const;

  const rnn = new RNN(m, n, {
    nonlinearity: activation === 'tanh' ? 'tanh' : activation === 'relu' ? 'relu' : 'leaky_relu',
    negativeSlope: activation === 'linear' ? 1 : activation === 'leaky_relu' ? p : 0.01,
    bias: false,
    dtype: 'float64',
  });
  const W = scaledOrthogonal(n, rho, { generator: g, permutation: recurrent === 'permutation' });
  let Wih = randn([n, m], { ...f64, std: inputStd });
  let x = randn([T, B, m], f64);
  if (signs !== 'mixed') {
    Wih = Wih.abs();
    x = signs === 'positive' ? x.abs() : x.abs().neg();
  }
  const c = randn([n], f64);
  rnn.loadStateDict({ weight_ih_l0: Wih, weight_hh_l0: W });
  const lossFn = ([, hN]: [Tensor, Tensor]): Tensor => hN.select(0, 0).mul(c).sum();

  // One forward/backward: the instrument reads the norms; this hook keeps v_t and ∂l_T/∂v_t.
  const states: Float64Array[] = new Array<Float64Array>(T);
  const grads: Float64Array[] = new Array<Float64Array>(T);
  const handle = rnn.registerStepHook((s) => {
    states[s.t] = Float64Array.from(s.h.dataSync());
    s.h.registerHook((gt) => {
      grads[s.t] = Float64Array.from(gt.dataSync());
    });
  });
  let norms: number[];
  try {
    norms = gradientNormsThroughTime(rnn, x, lossFn, { keepGrads: options.clip !== undefined });
  } finally {
    handle.remove();
  }

  // φ'(u_τ) for τ = 2..T: the D_τ that enter ∂l_T/∂v_t.
  const dphi = derivativeOf(activation, p);
  let min = Infinity;
  let max = -Infinity;
  let sq = 0;
  let count = 0;
  for (let t = 1; t < T; t++) {
    for (const v of states[t]!) {
      const d = dphi(v);
      min = Math.min(min, d);
      max = Math.max(max, d);
      sq += d * d;
      count++;
    }
  }
  const derivative: DerivativeStats = { min, max, rms: Math.sqrt(sq / count) };
  const estimate = rho * derivative.rms;
  const exact = min === max ? rho * min : null;
  const lo = activation === 'linear' ? rho : activation === 'tanh' ? 0 : p * rho;
  const stepFactors: number[] = [];
  for (let t = T - 1; t >= 1; t--) stepFactors.push(norms[t - 1]! / norms[t]!);
  const result: ElmanFlowResult = {
    label: elmanFlowLabel(activation, p, signs),
    activation,
    slope: Number.isNaN(p) ? null : p,
    rho,
    signs,
    recurrent,
    norms,
    rate: fitGrowthRate(norms),
    stepFactors,
    derivative,
    bounds: [lo, rho],
    estimate,
    exact,
    predicted: exact ?? estimate,
  };

  if (options.clip !== undefined) {
    const params = rnn.parameters();
    const before = params.map((q) => Float64Array.from(q.grad!.dataSync()));
    // G_t = Σ_b δ_t,b ⊗ v_{t−1},b with δ_t = ∂l_T/∂v_t ⊙ φ'(u_t): ∂l/∂W_hh = Σ_t G_t.
    const sum = new Float64Array(n * n);
    const stepTerms: number[] = [];
    for (let t = 0; t < T; t++) {
      const G = new Float64Array(n * n);
      if (t > 0) {
        const v = states[t]!;
        const prev = states[t - 1]!;
        const gt = grads[t]!;
        for (let b = 0; b < B; b++) {
          for (let i = 0; i < n; i++) {
            const delta = gt[b * n + i]! * dphi(v[b * n + i]!);
            if (delta === 0) continue;
            for (let j = 0; j < n; j++) G[i * n + j] += delta * prev[b * n + j]!;
          }
        }
      } // t = 0 (the first step): v_0 = 0, so its term is zero.
      let s = 0;
      G.forEach((a, i) => {
        s += a * a;
        sum[i] += a;
      });
      stepTerms.push(Math.sqrt(s));
    }
    const whh = before[params.indexOf(rnn.weightHhL0)]!;
    let diff = 0;
    let ref = 0;
    whh.forEach((a, i) => {
      diff += (a - sum[i]!) ** 2;
      ref += a * a;
    });
    const totalNorm = clipGradNorm(params, options.clip);
    const coefficient = Math.min(1, options.clip / (totalNorm + 1e-6));
    let dev = 0;
    let scale = 0;
    params.forEach((q, k) => {
      const after = q.grad!.dataSync();
      before[k]!.forEach((a, i) => {
        dev = Math.max(dev, Math.abs(after[i]! - coefficient * a));
        scale = Math.max(scale, Math.abs(coefficient * a));
      });
    });
    for (const q of params) q.grad = null;
    const clipped = norms.map((v) => coefficient * v);
    result.clip = {
      maxNorm: options.clip,
      totalNorm,
      coefficient,
      maxScaleDeviation: dev / scale,
      decompositionError: Math.sqrt(diff / ref),
      stepTerms,
      norms: clipped,
      rate: fitGrowthRate(clipped),
    };
  }

  if (options.truncate !== undefined) {
    const k = options.truncate;
    const truncated = new Array<number>(T).fill(0);
    let start = 0;
    const h = rnn.registerStepHook((s) => {
      const t = start + s.t;
      s.h.registerHook((gt) => {
        truncated[t] = Math.sqrt(gt.square().sum().item());
      });
    });
    try {
      truncatedBptt<Tensor>(
        x,
        (chunk) => {
          start = chunk.start;
          const [out, hN] = rnn.forward(chunk.x, chunk.state);
          // The loss sits on the last state; earlier chunks backpropagate a zero loss.
          const last = chunk.start + chunk.length === T;
          return { loss: last ? lossFn([out, hN]) : hN.sum().mul(0), state: hN };
        },
        { k, params: rnn.parameters() },
      );
    } finally {
      h.remove();
      for (const q of rnn.parameters()) q.grad = null;
    }
    const window = T - Math.floor((T - 1) / k) * k;
    let maxWindowDiff = 0;
    for (let t = T - window; t < T; t++)
      maxWindowDiff = Math.max(maxWindowDiff, Math.abs(truncated[t]! - norms[t]!) / norms[t]!);
    result.truncation = {
      k,
      window,
      norms: truncated,
      nonZero: truncated.filter((v) => v !== 0).length,
      maxWindowDiff,
    };
  }
  return result;
}

// ---- Gated cells on a long-memory task -------------------------------------------------------

/** The recurrent cell of a recall-task model. */
export type RecallCell =
  | { kind: 'rnn'; recurrent?: 'default' | 'orthogonal' }
  | { kind: 'lstm'; forgetBias?: number }
  | { kind: 'gru' };

export interface RecallFlowOptions {
  cell: RecallCell;
  /** Hidden units (default 16). */
  hiddenSize?: number;
  /** Distractors between the symbol and the query: T = distance + 1 (default 40). */
  distance?: number;
  /** Alphabet size K (default 8). */
  symbols?: number;
  /** Sequences per batch (default 32). */
  batch?: number;
  seed?: number;
  /** Adam steps of training before measuring the accuracy (default 0: no training). */
  trainSteps?: number;
  /** Adam learning rate (default 0.02). */
  lr?: number;
  /** Gradient-norm clipping during training (default 1). */
  maxNorm?: number;
  /** Fresh sequences to measure the accuracy on (default 1000). */
  testSize?: number;
}

export interface RecallFlowResult {
  label: string;
  cell: RecallCell;
  /** ‖∂l/∂h_t‖ at initialisation for t = 1..T, l the cross-entropy at the last step. */
  norms: number[];
  /** fitGrowthRate(norms). */
  rate: number;
  /** ‖∂l/∂h_1‖ / ‖∂l/∂h_T‖: how much of the gradient reaches the step holding the symbol. */
  reach: number;
  /** Accuracy at the last step on fresh sequences after training (null without training). */
  accuracy: number | null;
  /** ‖∂l/∂h_t‖ on the same batch after training (null without training). */
  trainedNorms: number[] | null;
  /** fitGrowthRate(trainedNorms) (null without training). */
  trainedRate: number | null;
  trainSteps: number;
  seconds: number;
}

/**
 * A batch of the recall task of test/nn/rnn-train.test.ts: x (T, n, K + 1) of one-hot symbols
 * from an alphabet of K, the marker channel K set at t = 0, T = distance + 1; y (n, 1) the first
 * symbol, which the model must output at the last step.
 *
 * @example
 * const { x, y } = nb.lab.recallBatch(new nb.Generator(0), 32, 40, 8);
 */
export function recallBatch(
  g: Generator,
  n: number,
  distance: number,
  symbols = 8,
): { x: Tensor; y: Tensor } {
  const K = symbols;
  const T = distance + 1;
  const x = new Float32Array(T * n * (K + 1));
  const y = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    for (let t = 0; t < T; t++) {
      const s = g.nextInt(0, K);
      if (t === 0) {
        y[b] = s;
        x[b * (K + 1) + K] = 1;
      }
      x[(t * n + b) * (K + 1) + s] = 1;
    }
  }
  return {
    x: tensor(x, { shape: [T, n, K + 1] }),
    y: tensor(y, { shape: [n, 1], dtype: 'int32' }),
  };
}

/**
 * A label for a recall-task cell: 'LSTM (forget bias 1)', 'tanh RNN (W_hh orthogonal)'.
 *
 * @example
 * nb.lab.recallCellLabel({ kind: 'lstm', forgetBias: 1 });
 */
export function recallCellLabel(cell: RecallCell): string {
  if (cell.kind === 'rnn')
    return cell.recurrent === 'orthogonal' ? 'tanh RNN (W_hh orthogonal)' : 'tanh RNN';
  if (cell.kind === 'gru') return 'GRU';
  return cell.forgetBias === undefined ? 'LSTM' : `LSTM (forget bias ${cell.forgetBias})`;
}

/** A recurrent module read at its last step through a linear head. */
class RecallModel extends Module {
  constructor(
    readonly rnn: RNN | LSTM | GRU,
    readonly head: Linear,
  ) {
    super();
  }
  /** Logits (T, B, K) at every step. */
  all(x: Tensor): Tensor {
    // Two branches because the LSTM's forward has another signature (its state is [h, c]).
    const out = this.rnn instanceof LSTM ? this.rnn.forward(x)[0] : this.rnn.forward(x)[0];
    return this.head.forward(out);
  }
  /** Logits (B, K) at the last step. */
  forward(x: Tensor): Tensor {
    return this.all(x).select(0, -1);
  }
}

/**
 * The gradient profile ‖∂l/∂h_t‖ at initialisation of a tanh RNN, LSTM or GRU on the recall task
 * (l: cross-entropy at the last step), with PyTorch's initialisation U(−1/√H, 1/√H) drawn from
 * the seed (optionally W_hh orthogonal for the RNN, or the LSTM's forget-gate bias set to b_f:
 * b_ih = b_f, b_hh = 0 on the forget rows); then, with `trainSteps`, the accuracy at the last step
 * after that many Adam steps on the loss at every step after the first (as the test does), and
 * the gradient profile again, on the same batch, after training.
 *
 * @example
 * const r = nb.lab.recallGradientFlow({ cell: { kind: 'lstm', forgetBias: 1 }, distance: 20 });
 * r.rate; // the factor per step back at initialisation
 */
export function recallGradientFlow(options: RecallFlowOptions): RecallFlowResult {
  const t0 = clock();
  const owner = 'recallGradientFlow';
  const H = options.hiddenSize ?? 16;
  const D = options.distance ?? 40;
  const K = options.symbols ?? 8;
  const batch = options.batch ?? 32;
  const steps = options.trainSteps ?? 0;
  const seed = options.seed ?? 0;
  for (const [v, name] of [
    [H, 'hiddenSize'],
    [D, 'distance'],
    [K, 'symbols'],
    [batch, 'batch'],
  ] as const)
    checkPositiveInt(v, name, owner);
  if (!Number.isInteger(steps) || steps < 0)
    throw new ValueError(`${owner}: trainSteps must be an integer >= 0, got ${steps}`);
  const T = D + 1;
  const cell = options.cell;
  const rnn =
    cell.kind === 'lstm'
      ? new LSTM(K + 1, H)
      : cell.kind === 'gru'
        ? new GRU(K + 1, H)
        : new RNN(K + 1, H);
  const head = new Linear(H, K);
  const g = new Generator(seed);
  const bound = 1 / Math.sqrt(H);
  for (const q of [...rnn.parameters(), ...head.parameters()]) uniform_(q, -bound, bound, g);
  noGrad(() => {
    if (cell.kind === 'rnn' && cell.recurrent === 'orthogonal') orthogonal_(rnn.weightHhL0, 1, g);
    if (cell.kind === 'lstm' && cell.forgetBias !== undefined) {
      rnn.biasIhL0!.narrow(0, H, H).fill_(cell.forgetBias);
      rnn.biasHhL0!.narrow(0, H, H).fill_(0);
    }
  });
  const model = new RecallModel(rnn, head);
  const probe = recallBatch(new Generator(seed + 1), batch, D, K);
  const probeLoss = (logits: Tensor): Tensor =>
    logits.logSoftmax(-1).gather(1, probe.y).mean().neg();
  const norms = gradientNormsThroughTime(model, probe.x, probeLoss);
  let accuracy: number | null = null;
  let trainedNorms: number[] | null = null;
  if (steps > 0) {
    const params = model.parameters();
    const opt = new Adam(params, { lr: options.lr ?? 0.02 });
    const data = new Generator(seed + 2);
    for (let s = 0; s < steps; s++) {
      const { x, y } = recallBatch(data, batch, D, K);
      scope(() => {
        opt.zeroGrad();
        const logits = model.all(x).narrow(0, 1, T - 1); // (T − 1, B, K)
        const target = y.reshape([1, batch, 1]).expand([T - 1, batch, 1]);
        logits.logSoftmax(-1).gather(2, target).mean().neg().backward();
        clipGradNorm(params, options.maxNorm ?? 1);
        opt.step();
      });
    }
    const nTest = options.testSize ?? 1000;
    const test = recallBatch(new Generator(seed + 1000), nTest, D, K);
    accuracy = noGrad(() =>
      model
        .forward(test.x)
        .argmax(-1)
        .eq(test.y.reshape([nTest]))
        .float()
        .mean()
        .item(),
    );
    trainedNorms = gradientNormsThroughTime(model, probe.x, probeLoss);
  }
  return {
    label: recallCellLabel(cell),
    cell,
    norms,
    rate: fitGrowthRate(norms),
    reach: norms[0]! / norms[T - 1]!,
    accuracy,
    trainedNorms,
    trainedRate: trainedNorms ? fitGrowthRate(trainedNorms) : null,
    trainSteps: steps,
    seconds: (clock() - t0) / 1000,
  };
}

// ---- The experiment ---------------------------------------------------------------------------

export interface GradientFlowExperimentOptions {
  /** Spectral radii of the Elman sweep (default 0.5, 0.8, 0.9, 1, 1.1, 1.25, 1.5). */
  rhos?: number[];
  /** The leaky ReLU's slope p (default 0.5). */
  slope?: number;
  hiddenSize?: number;
  inputSize?: number;
  steps?: number;
  batch?: number;
  inputStd?: number;
  /** Radii of the clipping / truncation runs (linear φ; default 0.9 and 1.1). */
  clipRhos?: number[];
  /** clipGradNorm's maxNorm (default 1). */
  maxNorm?: number;
  /** truncatedBptt's k (default 16). */
  window?: number;
  /** The recall-task comparison: cells (default tanh RNN, orthogonal RNN, LSTM b_f ∈ {·, 1, 3}, GRU). */
  recallCells?: RecallCell[];
  recallDistance?: number;
  recallHidden?: number;
  /** Training steps per recall model (default 200; 0: gradient profiles only). */
  recallSteps?: number;
  seed?: number;
}

export interface GradientFlowExperimentResult {
  config: {
    hiddenSize: number;
    inputSize: number;
    steps: number;
    batch: number;
    inputStd: number;
    slope: number;
    rhos: number[];
    maxNorm: number;
    window: number;
    recallDistance: number;
    recallHidden: number;
    recallSteps: number;
    seed: number;
  };
  /** Every Elman run of the sweep: per ρ, linear, leaky (mixed, u > 0, u < 0), ReLU, tanh. */
  rates: ElmanFlowResult[];
  /** Linear runs with clipping and truncation. */
  clipping: ElmanFlowResult[];
  recall: RecallFlowResult[];
}

export const DEFAULT_RECALL_CELLS: readonly RecallCell[] = [
  { kind: 'rnn' },
  { kind: 'rnn', recurrent: 'orthogonal' },
  { kind: 'lstm' },
  { kind: 'lstm', forgetBias: 1 },
  { kind: 'lstm', forgetBias: 3 },
  { kind: 'gru' },
];

/**
 * The gradient-flow experiment: the Elman sweep over ρ and φ, the clipping and truncation runs,
 * and the gated cells on the recall task.
 *
 * @example
 * const r = nb.lab.gradientFlowExperiment({ rhos: [0.9, 1.1], recallSteps: 0 });
 */
export function gradientFlowExperiment(
  options: GradientFlowExperimentOptions = {},
): GradientFlowExperimentResult {
  const config = {
    hiddenSize: options.hiddenSize ?? 32,
    inputSize: options.inputSize ?? 4,
    steps: options.steps ?? 64,
    batch: options.batch ?? 8,
    inputStd: options.inputStd ?? 0.1,
    slope: options.slope ?? 0.5,
    rhos: options.rhos ?? [0.5, 0.8, 0.9, 1, 1.1, 1.25, 1.5],
    maxNorm: options.maxNorm ?? 1,
    window: options.window ?? 16,
    recallDistance: options.recallDistance ?? 40,
    recallHidden: options.recallHidden ?? 16,
    recallSteps: options.recallSteps ?? 200,
    seed: options.seed ?? 0,
  };
  const base = {
    hiddenSize: config.hiddenSize,
    inputSize: config.inputSize,
    steps: config.steps,
    batch: config.batch,
    inputStd: config.inputStd,
    slope: config.slope,
  };
  const rates: ElmanFlowResult[] = [];
  config.rhos.forEach((rho, i) => {
    const seed = config.seed + 101 * i;
    rates.push(elmanGradientFlow({ ...base, activation: 'linear', rho, seed }));
    for (const signs of ['mixed', 'positive', 'negative'] as const)
      rates.push(elmanGradientFlow({ ...base, activation: 'leaky_relu', rho, signs, seed }));
    rates.push(elmanGradientFlow({ ...base, activation: 'relu', rho, seed }));
    rates.push(elmanGradientFlow({ ...base, activation: 'tanh', rho, seed }));
  });
  const clipping = (options.clipRhos ?? [0.9, 1.1]).map((rho) =>
    elmanGradientFlow({
      ...base,
      activation: 'linear',
      rho,
      seed: config.seed + 7,
      clip: config.maxNorm,
      truncate: config.window,
    }),
  );
  const recall = (options.recallCells ?? DEFAULT_RECALL_CELLS).map((cell) =>
    recallGradientFlow({
      cell,
      hiddenSize: config.recallHidden,
      distance: config.recallDistance,
      trainSteps: config.recallSteps,
      seed: config.seed,
    }),
  );
  return { config, rates, clipping, recall };
}
