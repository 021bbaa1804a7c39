/**
 * Residual-network instruments for THEORY.md §2: the conditional mean E[F(u) | u] of a residual
 * branch over random initialisations, and the growth of Var[u_l] with depth l under each
 * initialisation scheme beside its prediction. References: He et al. (2016), "Deep Residual
 * Learning for Image Recognition"; He et al. (2015) for the ReLU variance argument; Fixup
 * (Zhang et al., 2019), SkipInit (De & Smith, 2020) and ReZero (Bachlechner et al., 2020) for
 * branches that start at zero.
 *
 * The variance argument, and exactly what is tested. Take u_{l+1} = u_l + F(u_l) with
 * F(u) = W_k·ReLU(h_{k−1}) + b_k, h_0 = u, every W_m of independent zero-mean entries of variance
 * σ_m² (fan-in n) and b_m zero-mean of variance β_m², all independent of u_l. Write
 * q_l = E[u_l²] and p_l = E[ReLU(u_l)²] (per coordinate). Then, at any width and exactly in
 * expectation over the weights,
 *     q_{l+1} = q_l + s(p_l),  s(p) = s_k,  s_1 = σ_1²·n·p + β_1²,  s_{m+1} = σ_{m+1}²·n·s_m/2 + β_{m+1}²
 * (the cross term E[u·F(u)] vanishes because W_k and b_k have zero mean; the halvings inside the
 * branch are exact because each h_m is symmetric given u). For one layer and b = 0:
 * q_{l+1} = q_l + σ²·n·p_l. With p_l = q_l/2 — exact for a symmetric input at l = 0, and in the
 * wide limit — this is THEORY.md's closed form Var[u_{l+1}] = Var[u_l]·(1 + σ²·fan_in/2), hence
 * (1 + σ²n/2)^l: (1 + n/2)^l for σ = 1, 2^l for He, 1.5^l for Xavier (σ² = 1/n), (1 + 1/L)^l
 * for depth-scaled branches ((1 + 1/L)^L ≤ e at the top), and 1 for a zero last layer. At finite
 * width p_l/q_l drifts above 1/2 by O(1/n) (positive coordinates feed their own branch variance),
 * so the closed form under-predicts deep layers slightly; the experiment reports both the closed
 * form and the exact one-step identity, and the tests check the identity within sampling error.
 */
import { ValueError } from '../core/errors.js';
import { Generator } from '../core/random.js';
import { randn } from '../ops/random.js';
import type { Module, UnaryModule } from '../nn/module.js';
import {
  branchLinears,
  initBranch_,
  initResidual_,
  ResidualBlock,
  residualInitLabel,
  residualLayerVariance,
  ResidualMLP,
  type ResidualInit,
} from '../nn/residual.js';
import { noGrad } from '../autograd/grad-mode.js';
import type { Tensor } from '../tensor.js';
import { activationStats } from './stats.js';

// ---- E[F(u) | u] ------------------------------------------------------------------------------

export interface BranchConditionalMeanOptions {
  scheme: ResidualInit;
  /** Random initialisations to average over (default 1000). */
  trials?: number;
  /** Blocks in the network the branch belongs to (for `depthScaled`; default 1). */
  depth?: number;
  generator?: Generator;
}

export interface BranchConditionalMeanResult {
  /** Per output coordinate: the average of F(u) over the initialisations. */
  mean: number[];
  /** Per coordinate: the standard error of that average (sample std / √trials). */
  standardError: number[];
  /** The exact E[F(u) | u] of the scheme, where known: 0 for zero-mean weights and biases; μ·Σ_j ReLU(u_j) for a one-layer Gaussian branch with weight mean μ. */
  predicted: number[] | null;
  /** max_i |mean_i − predicted_i| / SE_i (0 where SE is 0 and the difference too). */
  maxAbsZ: number;
  /** max_i |mean_i|. */
  maxAbsMean: number;
  trials: number;
}

/**
 * The empirical E[F(u) | u] of a residual branch: keeps `u` fixed, re-initialises the branch
 * `trials` times with `scheme` and averages F(u), with standard errors. THEORY.md §2: ≈ 0 when
 * weights and biases have zero mean.
 *
 * @example
 * const f = nb.nn.residualBranch(16);
 * const r = nb.lab.branchConditionalMean(f, nb.randn([16]), { scheme: { kind: 'kaiming' } });
 * r.maxAbsZ < 4; // the average is 0 within sampling error
 */
export function branchConditionalMean(
  branch: Module & UnaryModule,
  u: Tensor,
  options: BranchConditionalMeanOptions,
): BranchConditionalMeanResult {
  const trials = options.trials ?? 1000;
  if (!Number.isInteger(trials) || trials < 2) {
    throw new ValueError(`branchConditionalMean: trials must be an integer >= 2, got ${trials}`);
  }
  const generator = options.generator ?? new Generator(0);
  // Sums of F(u) and F(u)² per output coordinate over the initialisations.
  const [s, s2] = noGrad(() => {
    let sum = new Float64Array(0);
    let sum2 = new Float64Array(0);
    for (let t = 0; t < trials; t++) {
      initBranch_(branch, options.scheme, { depth: options.depth, generator });
      const f = branch.forward(u).dataSync();
      if (t === 0) {
        sum = new Float64Array(f.length);
        sum2 = new Float64Array(f.length);
      }
      for (let i = 0; i < f.length; i++) {
        sum[i]! += f[i]!;
        sum2[i]! += f[i]! * f[i]!;
      }
    }
    return [sum, sum2];
  });
  const mean = Array.from(s, (v) => v / trials);
  const standardError = Array.from(s2, (v, i) => {
    const variance = Math.max((v - trials * mean[i]! ** 2) / (trials - 1), 0);
    return Math.sqrt(variance / trials);
  });
  const predicted = predictedConditionalMean(branch, u, options.scheme, mean.length);
  let maxAbsZ = 0;
  mean.forEach((m, i) => {
    const diff = Math.abs(m - (predicted ? predicted[i]! : 0));
    const se = standardError[i]!;
    maxAbsZ = Math.max(maxAbsZ, se > 0 ? diff / se : diff > 0 ? Infinity : 0);
  });
  return {
    mean,
    standardError,
    predicted,
    maxAbsZ,
    maxAbsMean: mean.reduce((m, v) => Math.max(m, Math.abs(v)), 0),
    trials,
  };
}

function predictedConditionalMean(
  branch: Module,
  u: Tensor,
  scheme: ResidualInit,
  outputs: number,
): number[] | null {
  const weightMean = scheme.kind === 'gaussian' ? (scheme.mean ?? 0) : 0;
  if (weightMean === 0) return new Array<number>(outputs).fill(0);
  const linears = branchLinears(branch);
  if (linears.length !== 1 || u.ndim !== 1) return null;
  // E[W·ReLU(u) + 0] = μ·Σ_j ReLU(u_j) for every output coordinate.
  const a = Array.from(u.dataSync(), (v) => Math.max(v, 0)).reduce((p, v) => p + v, 0);
  return new Array<number>(outputs).fill(weightMean * a);
}

// ---- Var[u_l] against l -----------------------------------------------------------------------

/**
 * s(p): the per-coordinate variance a branch adds, E[F(u)²], given p = E[ReLU(u)²] (exact in
 * expectation; see the file header), for a scheme with zero-mean weights.
 *
 * @example
 * nb.lab.branchVarianceGain({ kind: 'kaiming' }, 64, 1, 10, 0.5); // 2/64 · 64 · 0.5 = 1
 */
export function branchVarianceGain(
  scheme: ResidualInit,
  width: number,
  branchDepth: number,
  depth: number,
  p: number,
): number {
  let s = p;
  for (let m = 0; m < branchDepth; m++) {
    const v = residualLayerVariance(scheme, m, branchDepth, width, width, depth);
    // Layer 0 reads ReLU(u): E = p. Later layers read ReLU(h) of a symmetric h: E = s/2.
    s = v.weightVar * width * (m === 0 ? s : s / 2) + v.biasVar;
  }
  return s;
}

/**
 * THEORY.md's closed form: q_0, q_{l+1} = q_l + s(q_l/2) for l < L (q_{l+1} = q_l·(1 + σ²n/2)
 * for one zero-bias layer per branch).
 *
 * @example
 * nb.lab.residualVariancePrediction({ kind: 'kaiming' }, { width: 64, depth: 4 }); // [1, 2, 4, 8, 16]
 */
export function residualVariancePrediction(
  scheme: ResidualInit,
  options: { width: number; depth: number; branchDepth?: number; inputVariance?: number },
): number[] {
  const q = [options.inputVariance ?? 1];
  for (let l = 0; l < options.depth; l++) {
    const ql = q[l]!;
    q.push(
      ql +
        branchVarianceGain(scheme, options.width, options.branchDepth ?? 1, options.depth, ql / 2),
    );
  }
  return q;
}

export interface ResidualInitExperimentOptions {
  /** Network depths L to run (default [16]); each gives one curve per scheme. */
  depths?: readonly number[];
  /** Width n = fan_in (default 64). */
  width?: number;
  /** Linear layers per branch (default 1). */
  branchDepth?: number;
  /** Schemes (default: Gaussian σ = 1, Xavier, Kaiming, depth-scaled, zero last layer, PyTorch). */
  schemes?: readonly ResidualInit[];
  /** Independent initialisations per scheme and depth (default 100). */
  trials?: number;
  /** Inputs per trial, x ~ N(0, I) (default 16). */
  batch?: number;
  /** Also measure gradients (backward from ⟨g, u_L⟩, g ~ N(0, I)); default true. */
  gradients?: boolean;
  seed?: number;
}

/** The measurements of one scheme at one depth L; arrays are indexed by l = 0 … L. */
export interface ResidualVarianceSeries {
  scheme: string;
  init: ResidualInit;
  depth: number;
  /** Mean over trials of the empirical E[u_l²] (over batch and units). */
  measured: number[];
  /** Standard error of `measured` (std over trials / √trials). */
  standardError: number[];
  /** THEORY.md's closed form (1 + σ²n/2)^l (with q_0 = 1, the input variance). */
  predicted: number[];
  /**
   * The exact one-step identity evaluated on the measurements: [measured_0, then
   * measured_l + s(p_l) for l < L] where p_l is the measured E[ReLU(u_l)²].
   */
  stepPredicted: number[];
  /** For l < L: mean/SE over trials of d_l = m_{l+1} − m_l − s(r_l), whose expectation is exactly 0. */
  stepZ: number[];
  /** p_l / q_l measured for l < L (1/2 for symmetric u_l). */
  reluRatio: number[];
  /** Mean over trials of the empirical E[g_l²] of the gradient reaching u_l (null without gradients). */
  gradMeasured: number[] | null;
  /** Mean-field prediction of E[g_l²]: E[g_L²]·(1 + σ²n/2)^{L−l} (gradient independence assumed). */
  gradPredicted: number[] | null;
}

export interface ResidualInitExperimentResult {
  width: number;
  branchDepth: number;
  trials: number;
  batch: number;
  series: ResidualVarianceSeries[];
}

/** The default schemes of {@link residualInitExperiment}. */
export const DEFAULT_RESIDUAL_SCHEMES: readonly ResidualInit[] = [
  { kind: 'gaussian', std: 1 },
  { kind: 'xavier' },
  { kind: 'kaiming' },
  { kind: 'depthScaled' },
  { kind: 'zeroLast' },
  { kind: 'pytorch' },
];

function meanAndSe(values: readonly number[]): [number, number] {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(n - 1, 1);
  return [mean, Math.sqrt(variance / n)];
}

/**
 * Measures Var[u_l] (the per-coordinate second moment E[u_l²]; the mean is 0 by symmetry) against
 * the block index l of a residual MLP ({@link ResidualMLP}) of width n, for each scheme and each
 * depth L, averaged over independent initialisations and N(0, I) inputs, beside THEORY.md's
 * closed form and the exact one-step identity (see the file header), with standard errors.
 *
 * @example
 * const r = nb.lab.residualInitExperiment({ depths: [8], width: 32, trials: 20 });
 * r.series.map((s) => [s.scheme, s.measured.at(-1), s.predicted.at(-1)]);
 */
export function residualInitExperiment(
  options: ResidualInitExperimentOptions = {},
): ResidualInitExperimentResult {
  const depths = options.depths ?? [16];
  const width = options.width ?? 64;
  const branchDepth = options.branchDepth ?? 1;
  const schemes = options.schemes ?? DEFAULT_RESIDUAL_SCHEMES;
  const trials = options.trials ?? 100;
  const batch = options.batch ?? 16;
  const gradients = options.gradients ?? true;
  for (const [name, v] of Object.entries({ width, branchDepth, trials, batch })) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ValueError(`residualInitExperiment: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (trials < 2) throw new ValueError('residualInitExperiment: needs at least 2 trials');
  const generator = new Generator(options.seed ?? 0);
  const series: ResidualVarianceSeries[] = [];
  for (const scheme of schemes) {
    if (scheme.kind === 'gaussian' && (scheme.mean ?? 0) !== 0) {
      throw new ValueError(
        'residualInitExperiment: the variance predictions assume zero-mean weights; use branchConditionalMean for a non-zero mean',
      );
    }
    for (const L of depths) {
      if (!Number.isInteger(L) || L < 1) {
        throw new ValueError(`residualInitExperiment: depths must be positive integers, got ${L}`);
      }
      series.push(
        runSeries(scheme, L, { width, branchDepth, trials, batch, gradients }, generator),
      );
    }
  }
  return { width, branchDepth, trials, batch, series };
}

function runSeries(
  scheme: ResidualInit,
  L: number,
  o: { width: number; branchDepth: number; trials: number; batch: number; gradients: boolean },
  generator: Generator,
): ResidualVarianceSeries {
  const model = new ResidualMLP({
    width: o.width,
    depth: L,
    branchDepth: o.branchDepth,
    dtype: 'float64',
  });
  const isBlock = (m: Module): boolean => m instanceof ResidualBlock;
  // Per trial: m[l] = E[u_l²], r[l] = E[ReLU(u_l)²], g[l] = E[g_l²].
  const m: number[][] = [];
  const r: number[][] = [];
  const g: number[][] = [];
  for (let t = 0; t < o.trials; t++) {
    initResidual_(model, scheme, { generator });
    const x = randn([o.batch, o.width], { dtype: 'float64', generator }); // (B, n)
    const stats = activationStats(model, x, {
      backward: o.gradients,
      generator,
      // u_0 is the input; each block's output is u_{l+1}; the first ReLU of a branch is ReLU(u_l).
      filter: (name, mod) => isBlock(mod) || /^blocks\.\d+\.branch\.0$/.test(name),
    });
    const us = stats.layers.filter((s) => s.type === 'input' || s.type === ResidualBlock.name);
    const relus = stats.layers.filter((s) => s.type !== 'input' && s.type !== ResidualBlock.name);
    m.push(us.map((s) => s.forward.meanSquare));
    r.push(relus.map((s) => s.forward.meanSquare));
    if (o.gradients) g.push(us.map((s) => s.backward?.meanSquare ?? NaN));
  }
  const gain = (p: number): number => branchVarianceGain(scheme, o.width, o.branchDepth, L, p);
  const measured: number[] = [];
  const standardError: number[] = [];
  for (let l = 0; l <= L; l++) {
    const [mean, se] = meanAndSe(m.map((row) => row[l]!));
    measured.push(mean);
    standardError.push(se);
  }
  const stepPredicted = [measured[0]!];
  const stepZ: number[] = [];
  const reluRatio: number[] = [];
  for (let l = 0; l < L; l++) {
    const pMean = meanAndSe(r.map((row) => row[l]!))[0];
    stepPredicted.push(measured[l]! + gain(pMean));
    reluRatio.push(pMean / measured[l]!);
    const [dMean, dSe] = meanAndSe(m.map((row, t) => row[l + 1]! - row[l]! - gain(r[t]![l]!)));
    stepZ.push(
      dSe > 0 ? dMean / dSe : Math.abs(dMean) < 1e-12 * (measured[l + 1]! + 1) ? 0 : Infinity,
    );
  }
  const predicted = residualVariancePrediction(scheme, {
    width: o.width,
    depth: L,
    branchDepth: o.branchDepth,
    inputVariance: 1,
  });
  let gradMeasured: number[] | null = null;
  let gradPredicted: number[] | null = null;
  if (o.gradients) {
    gradMeasured = Array.from({ length: L + 1 }, (_, l) => meanAndSe(g.map((row) => row[l]!))[0]);
    // Mean-field backward: g_l = g_{l+1}·(I + ∂F/∂u) multiplies E[g²] by 1 + Π_m σ_m²·n/2 per
    // block (each ReLU passes half the coordinates; biases play no part).
    let factor = 1;
    for (let k = 0; k < o.branchDepth; k++) {
      factor *= residualLayerVariance(scheme, k, o.branchDepth, o.width, o.width, L).weightVar;
      factor *= o.width / 2;
    }
    const top = gradMeasured[L]!;
    gradPredicted = gradMeasured.map((_, l) => top * (1 + factor) ** (L - l));
  }
  return {
    scheme: residualInitLabel(scheme),
    init: scheme,
    depth: L,
    measured,
    standardError,
    predicted,
    stepPredicted,
    stepZ,
    reluRatio,
    gradMeasured,
    gradPredicted,
  };
}
