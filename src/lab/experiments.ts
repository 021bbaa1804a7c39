/**
 * The lab's experiments as data: each runs its instruments and returns a {@link LabReport} — the
 * claim from THEORY.md restated, tables of measured numbers beside the predictions, and Vega-Lite
 * plot specs. Browser-safe; `src/lab/node/report.ts` writes reports to files (SVG, JSON, HTML,
 * Markdown), and `nabla lab` (src/cli/lab.ts) and `scripts/lab.ts` run them from the command line;
 * attention-maps, which needs a model, is in attention-maps.ts. References: He et al. (2016)
 * and Zhang et al. (2019, Fixup) / Bachlechner et al. (2020, ReZero) for residual-init; Vaswani
 * et al. (2017) for attention-cost and positional-encoding; Bengio et al. (1994), Pascanu et al.
 * (2013), Hochreiter & Schmidhuber (1997) and Cho et al. (2014) for gradient-flow.
 */
import { ValueError } from '../core/errors.js';
import { Generator } from '../core/random.js';
import { randn } from '../ops/random.js';
import { residualBranch, residualInitLabel, type ResidualInit } from '../nn/residual.js';
import {
  attentionIdentityCheck,
  attentionScaling,
  quadraticText,
  selfAttentionCost,
  type SelfAttentionCost,
} from './attention.js';
import type { OpCount } from './count-ops.js';
import { gradientFlowExperiment, type ElmanFlowResult, type RecallCell } from './gradient-flow.js';
import {
  attentionMemorySpec,
  attentionOpsSpec,
  attentionTimeSpec,
  gradientFlowClipSpec,
  gradientFlowGatedSpec,
  gradientFlowProfileSpec,
  gradientFlowRateSpec,
  gradientFlowSlopeSpec,
  peHeatmapSpec,
  peSimilaritySpec,
  residualDepthSpec,
  residualGradientSpec,
  residualVarianceSpec,
  type Json,
  type VegaLiteSpec,
} from './plots.js';
import { peRotationCheck, peSimilarity, peTable } from './positional.js';
import {
  branchConditionalMean,
  DEFAULT_RESIDUAL_SCHEMES,
  residualInitExperiment,
  type ResidualVarianceSeries,
} from './residual.js';

/** A table of a report: a header row and rows of cells. */
export interface LabTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  /** A sentence under the table. */
  note?: string;
}

export interface LabPlot {
  /** File-name stem (`residual-variance`). */
  id: string;
  title: string;
  spec: VegaLiteSpec;
}

/** The experiments that run from options alone (LAB_EXPERIMENTS). */
export type LabExperimentId =
  'residual-init' | 'attention-cost' | 'positional-encoding' | 'gradient-flow';

/** Every report's id: the experiments, and attention-maps, which needs a model (attention-maps.ts). */
export type LabReportId = LabExperimentId | 'attention-maps';

/** What an experiment returns: the claim, the numbers, the plots. */
export interface LabReport {
  id: LabReportId;
  title: string;
  /** The claim under test, restated from THEORY.md (paragraphs). */
  theory: string[];
  /** What the numbers show (paragraphs). */
  findings: string[];
  tables: LabTable[];
  plots: LabPlot[];
  /** Every number measured, for the JSON file. */
  data: Json;
  /** Wall time of the experiment. */
  seconds: number;
}

/**
 * Options of the experiments. The sizes override the defaults (and `quick`'s) of the experiment
 * they belong to and are ignored by the others, so one object can drive several experiments.
 */
export interface LabRunOptions {
  /** A smaller, faster configuration (tests, smoke runs). */
  quick?: boolean;
  seed?: number;
  /** residual-init: the width n of the residual MLP. */
  width?: number;
  /** residual-init: the deepest network L (depths 2, 4, 8, ... below it, and L). */
  depth?: number;
  /** residual-init: random initialisations per scheme and depth. */
  trials?: number;
  /** attention-cost: the sequence lengths T of the time and memory sweep (at least 3). */
  seqLens?: readonly number[];
  /** attention-cost: timed runs per length. */
  repeats?: number;
  /** positional-encoding: positions of the table. */
  maxLen?: number;
  /** positional-encoding: the model width d (even). */
  dModel?: number;
  /** gradient-flow: the hidden size n of the Elman RNNs. */
  hidden?: number;
  /** gradient-flow: the sequence length T. */
  steps?: number;
  /** gradient-flow: training steps per recall-task model (0: gradients at initialisation only). */
  recallSteps?: number;
}

/** A size option of {@link LabRunOptions}: its flag, the experiments it applies to, its bounds. */
export interface LabSizeOption {
  key: Exclude<keyof LabRunOptions, 'quick' | 'seed'>;
  /** The command-line flag (`--width`). */
  flag: string;
  experiments: readonly LabExperimentId[];
  /** One integer, or a comma-separated list of integers. */
  kind: 'int' | 'intList';
  /** Smallest value (each value, for a list). */
  min: number;
  /** Largest value accepted (a guard against runs that cannot finish). */
  max: number;
  /** Values must be even. */
  even?: boolean;
  /** Lists: at least this many distinct values. */
  minCount?: number;
  help: string;
}

/** The size options of the experiments, for command lines (`nabla lab`, scripts/lab.ts). */
export const LAB_SIZE_OPTIONS: readonly LabSizeOption[] = [
  {
    key: 'width',
    flag: '--width',
    experiments: ['residual-init'],
    kind: 'int',
    min: 2,
    max: 1024,
    help: 'residual MLP width n (default 64; 32 with --quick)',
  },
  {
    key: 'depth',
    flag: '--depth',
    experiments: ['residual-init'],
    kind: 'int',
    min: 1,
    max: 256,
    help: 'deepest residual network L (default 16; 8 with --quick)',
  },
  {
    key: 'trials',
    flag: '--trials',
    experiments: ['residual-init'],
    kind: 'int',
    min: 2,
    max: 100000,
    help: 'initialisations per scheme and depth (default 100; 40 with --quick)',
  },
  {
    key: 'seqLens',
    flag: '--seq-lens',
    experiments: ['attention-cost'],
    kind: 'intList',
    min: 2,
    max: 4096,
    minCount: 3,
    help: 'sequence lengths of the time/memory sweep, e.g. 64,128,256 (default 64,...,1024)',
  },
  {
    key: 'repeats',
    flag: '--repeats',
    experiments: ['attention-cost'],
    kind: 'int',
    min: 1,
    max: 1000,
    help: 'timed runs per length (default 5; 2 with --quick)',
  },
  {
    key: 'maxLen',
    flag: '--max-len',
    experiments: ['positional-encoding'],
    kind: 'int',
    min: 2,
    max: 100000,
    help: 'positions of the table (default 256; 64 with --quick)',
  },
  {
    key: 'dModel',
    flag: '--d-model',
    experiments: ['positional-encoding'],
    kind: 'int',
    min: 2,
    max: 4096,
    even: true,
    help: 'model width d, even (default 64; 16 with --quick)',
  },
  {
    key: 'hidden',
    flag: '--hidden',
    experiments: ['gradient-flow'],
    kind: 'int',
    min: 2,
    max: 1024,
    help: 'hidden size of the Elman RNNs (default 32; 16 with --quick)',
  },
  {
    key: 'steps',
    flag: '--steps',
    experiments: ['gradient-flow'],
    kind: 'int',
    min: 4,
    max: 4096,
    help: 'sequence length T (default 64; 32 with --quick)',
  },
  {
    key: 'recallSteps',
    flag: '--recall-steps',
    experiments: ['gradient-flow'],
    kind: 'int',
    min: 0,
    max: 100000,
    help: 'training steps per recall-task model (default 200; 0 with --quick)',
  },
];

/** Throws ValueError unless `value` satisfies the size option `key`. */
export function checkLabSize(key: LabSizeOption['key'], value: number | readonly number[]): void {
  const o = LAB_SIZE_OPTIONS.find((x) => x.key === key);
  if (!o) throw new ValueError(`lab: unknown size option '${key}'`);
  const values = typeof value === 'number' ? [value] : [...value];
  if (o.kind === 'int' && typeof value !== 'number')
    throw new ValueError(`lab: ${key} must be one integer`);
  for (const v of values) {
    if (!Number.isInteger(v) || v < o.min || v > o.max || (o.even && v % 2 !== 0))
      throw new ValueError(
        `lab: ${key} must be ${o.even ? 'an even' : 'an'} integer in [${o.min}, ${o.max}], got ${v}`,
      );
  }
  if (o.minCount !== undefined && new Set(values).size < o.minCount)
    throw new ValueError(
      `lab: ${key} needs at least ${o.minCount} distinct values, got ${new Set(values).size}`,
    );
}

/** The given size options, checked. */
function sizes(options: LabRunOptions): LabRunOptions {
  for (const o of LAB_SIZE_OPTIONS) {
    const v = options[o.key];
    if (v !== undefined) checkLabSize(o.key, v);
  }
  return options;
}

/** 2, 4, 8, ... below L, then L. */
function depthsUpTo(L: number): number[] {
  const out: number[] = [];
  for (let d = 2; d < L; d *= 2) out.push(d);
  out.push(L);
  return out;
}

/**
 * A JSON copy of measurement objects: non-finite numbers become strings ("Infinity").
 *
 * @example
 * nb.lab.toJson({ z: Infinity, v: new Float64Array([1, 2]) }); // { z: 'Infinity', v: [1, 2] }
 */
export function toJson(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map(toJson);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, toJson);
  if (typeof value === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) if (typeof v !== 'function') out[k] = toJson(v);
    return out;
  }
  return String(value);
}

/**
 * A number with `digits` significant digits (exponent form when very large or small).
 *
 * @example
 * nb.lab.fmtNum(Math.PI); // '3.142'
 */
export function fmtNum(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  if (Number.isInteger(x) && Math.abs(x) < 1e9) return String(x);
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(digits - 1) : x.toPrecision(digits);
}

/**
 * A table as aligned plain text.
 *
 * @example
 * console.log(nb.lab.formatTable({ title: 'T', columns: ['a', 'b'], rows: [[1, 2]] }));
 */
export function formatTable(table: LabTable): string {
  const cells = [table.columns, ...table.rows.map((r) => r.map((c) => String(c)))];
  const widths = table.columns.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((c, j) => c.padEnd(widths[j]!))
      .join('  ')
      .trimEnd();
  const out = [table.title, line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of cells.slice(1)) out.push(line(r));
  if (table.note) out.push(table.note);
  return out.join('\n');
}

function clock(): number {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf ? perf.now() : Date.now();
}

/** What the top of the He curve says about the closed form's finite-width excess. */
function finiteWidthFinding(s: ResidualVarianceSeries, width: number, L: number): string {
  const ratio = s.measured[L]! / s.predicted[L]!;
  const se = s.standardError[L]! / s.predicted[L]!;
  const p = s.reluRatio.reduce((a, b) => a + b, 0) / s.reluRatio.length;
  const head =
    `For He at l = ${L}, measured/closed form = ${fmtNum(ratio, 3)} ± ${fmtNum(se, 2)} (one SE), ` +
    `with mean p_l/q_l = ${fmtNum(p, 3)} against the 1/2 the closed form assumes. `;
  return ratio - 1 > 2 * se
    ? head +
        `At width ${width} the ratio drifts above 1/2 by O(1/n) (positive coordinates feed their own branch variance), so deep layers sit above the closed form by O(l/n); the one-step identity, which uses the measured ratio, stays exact.`
    : head +
        `At this width and number of trials the O(l/n) finite-width excess of the closed form is within sampling error.`;
}

// ---- residual-init ----------------------------------------------------------------------------

function schemeGain(scheme: ResidualInit, width: number, L: number): string {
  switch (scheme.kind) {
    case 'gaussian':
      return `1 + σ²n/2 = ${fmtNum(1 + (scheme.std ** 2 * width) / 2)}`;
    case 'xavier':
      return '1 + (1/n)·n/2 = 1.5';
    case 'kaiming':
      return '1 + (2/n)·n/2 = 2';
    case 'depthScaled':
      return `1 + 1/L = ${fmtNum(1 + 1 / L)}`;
    case 'zeroLast':
      return '1 (F = 0)';
    case 'pytorch':
      return `7/6, + 1/(3n) from b`;
  }
}

/**
 * THEORY.md §2: Var[u_l] against depth per initialisation scheme, E[F(u) | u], gradients.
 *
 * @example
 * const report = nb.lab.runResidualInit({ quick: true });
 */
export function runResidualInit(options: LabRunOptions = {}): LabReport {
  const t0 = clock();
  const quick = sizes(options).quick ?? false;
  const width = options.width ?? (quick ? 32 : 64);
  const depths =
    options.depth !== undefined ? depthsUpTo(options.depth) : quick ? [2, 8] : [2, 4, 8, 16];
  const trials = options.trials ?? (quick ? 40 : 100);
  const result = residualInitExperiment({
    depths,
    width,
    trials,
    batch: 16,
    seed: options.seed ?? 0,
  });
  const L = Math.max(...depths);
  const top = result.series.filter((s) => s.depth === L);
  const maxZ = (s: ResidualVarianceSeries): number =>
    s.stepZ.reduce((m, z) => Math.max(m, Math.abs(z)), 0);
  const meanRatio = (s: ResidualVarianceSeries): number =>
    s.reluRatio.reduce((a, b) => a + b, 0) / s.reluRatio.length;
  const pm = (v: number, se: number): string => `${fmtNum(v)} ± ${fmtNum(se, 2)}`;
  const summary: LabTable = {
    title: `Var[u_l] at the top of a residual MLP (width n = ${width}, L = ${L}, ${trials} initialisations × 16 inputs)`,
    columns: [
      'scheme',
      'factor per block',
      'Var[u_1] measured',
      'closed form',
      `Var[u_${L}] measured`,
      'closed form',
      'measured / closed',
      'max |z| one-step identity',
      'mean p_l/q_l',
    ],
    rows: top.map((s) => [
      s.scheme,
      schemeGain(s.init, width, L),
      pm(s.measured[1]!, s.standardError[1]!),
      fmtNum(s.predicted[1]!),
      pm(s.measured[L]!, s.standardError[L]!),
      fmtNum(s.predicted[L]!),
      fmtNum(s.measured[L]! / s.predicted[L]!, 3),
      fmtNum(maxZ(s), 2),
      fmtNum(meanRatio(s), 3),
    ]),
    note:
      '± is one standard error over initialisations. z = mean/SE of d_l = m_{l+1} − m_l − s(r_l) ' +
      '(expectation exactly 0); p_l/q_l = E[ReLU(u_l)²]/E[u_l²], 1/2 for symmetric u_l.',
  };
  const perLayer: LabTable = {
    title: `Var[u_l] against l, measured (closed form), L = ${L}`,
    columns: ['l', ...top.map((s) => s.scheme)],
    rows: Array.from({ length: L + 1 }, (_, l) => [
      l,
      ...top.map((s) => `${fmtNum(s.measured[l]!, 3)} (${fmtNum(s.predicted[l]!, 3)})`),
    ]),
  };
  const schemes = [...new Set(result.series.map((s) => s.scheme))];
  const byDepth: LabTable = {
    title: 'Var[u_L] / Var[u_0] at the top against the depth L, measured (closed form)',
    columns: ['L', ...schemes],
    rows: depths.map((d) => [
      d,
      ...schemes.map((name) => {
        const s = result.series.find((x) => x.scheme === name && x.depth === d)!;
        return `${fmtNum(s.measured[d]! / s.measured[0]!, 3)} (${fmtNum(s.predicted[d]!, 3)})`;
      }),
    ]),
    note: `depth-scaled: (1 + 1/L)^L → e = ${fmtNum(Math.E)}; zero last layer: exactly 1.`,
  };
  // E[F(u) | u] over random initialisations, u fixed.
  const g = new Generator((options.seed ?? 0) + 7);
  const u = randn([width], { generator: g, dtype: 'float64' });
  const branch = residualBranch(width, 1, { dtype: 'float64' });
  const cmTrials = quick ? 300 : 2000;
  const cmSchemes: ResidualInit[] = [
    ...DEFAULT_RESIDUAL_SCHEMES,
    { kind: 'gaussian', std: 1, mean: 0.05 },
  ];
  const conditional = cmSchemes.map((scheme) => ({
    scheme: residualInitLabel(scheme),
    ...branchConditionalMean(branch, u, { scheme, trials: cmTrials, depth: L, generator: g }),
  }));
  const condTable: LabTable = {
    title: `E[F(u) | u] for one fixed u ∈ ℝ^${width}, averaged over ${cmTrials} initialisations of F(u) = W·ReLU(u) + b`,
    columns: [
      'scheme',
      'mean over i of mean F_i(u)',
      'max_i |mean F_i(u)|',
      'typical SE',
      'exact E[F(u)|u]',
      'max_i |z_i|',
    ],
    rows: conditional.map((c) => [
      c.scheme,
      fmtNum(c.mean.reduce((a, b) => a + b, 0) / c.mean.length, 3),
      fmtNum(c.maxAbsMean, 3),
      fmtNum(c.standardError.reduce((a, b) => a + b, 0) / c.standardError.length, 2),
      c.predicted ? fmtNum(c.predicted[0]!, 4) : 'n/a',
      fmtNum(c.maxAbsZ, 2),
    ]),
    note:
      'z_i = (mean_i − exact_i)/SE_i over the output coordinates. Zero-mean weights and biases give ' +
      'E[F(u)|u] = 0; a weight mean μ gives μ·Σ_j ReLU(u_j) in every coordinate.',
  };
  const kaiming = top.find((s) => s.init.kind === 'kaiming');
  const findings = [
    `Every scheme satisfies the exact one-step identity E[u_{l+1}²] = E[u_l²] + s(E[ReLU(u_l)²]) within sampling error (largest |z| over all blocks and schemes: ${fmtNum(Math.max(...result.series.map(maxZ)), 2)}).`,
    `The closed form Var[u_l] = (1 + σ²n/2)^l tracks the measurements: σ = 1 explodes by ~${fmtNum(1 + width / 2, 3)}× per block, He doubles per block, Xavier grows by 1.5×, depth-scaled branches end at ${fmtNum(top.find((s) => s.init.kind === 'depthScaled')!.measured[L]!, 3)} ≈ (1 + 1/${L})^${L} = ${fmtNum((1 + 1 / L) ** L, 3)}, and a zero last layer keeps Var[u_l] = Var[u_0] exactly.`,
    kaiming ? finiteWidthFinding(kaiming, width, L) : '',
    'The conditional mean E[F(u)|u] is 0 within sampling error for every zero-mean scheme, and equals μ·Σ_j ReLU(u_j) for weights of mean μ.',
  ].filter((s) => s.length > 0);
  return {
    id: 'residual-init',
    title: 'Residual networks and initialisation',
    theory: [
      'A residual block computes u_{l+1} = u_l + F(u_l) with F(u) = W·ReLU(u) + b (He et al., 2016). With W ~ N(0, σ²) and b = 0, E[F(u) | u] = 0, and Var[F(u)] = σ²·fan_in·E[ReLU(u)²] = σ²·fan_in·Var[u]/2 for zero-mean symmetric u, so Var[u_{l+1}] = Var[u_l]·(1 + σ²·fan_in/2).',
      'σ² = 1 explodes with depth, He scaling (σ² = 2/fan_in) still doubles the variance per block (2^L), Xavier (σ² = 1/fan_in for square layers) grows 1.5^L; scaling the branch by depth (σ² = 2/(fan_in·L)) gives (1 + 1/L)^L ≤ e, and a zero-initialised last layer (Fixup, SkipInit, ReZero) keeps Var[u_L] = Var[u_0].',
      'Exactly what is tested: q_{l+1} = q_l + σ²·n·p_l with q = E[u²] and p = E[ReLU(u)²] holds in expectation at any width (W zero-mean and independent of u_l); the closed form additionally uses p_l = q_l/2, exact at l = 0 for a Gaussian input and in the wide limit. Variances are per-coordinate second moments over inputs and initialisations.',
    ],
    findings,
    tables: [summary, byDepth, perLayer, condTable],
    plots: [
      { id: 'residual-variance', title: 'Var[u_l] against l', spec: residualVarianceSpec(result) },
      {
        id: 'residual-depth',
        title: 'Var[u_L]/Var[u_0] against L',
        spec: residualDepthSpec(result),
      },
      {
        id: 'residual-gradients',
        title: 'Gradient second moment against l',
        spec: residualGradientSpec(result),
      },
    ],
    data: toJson({ experiment: result, conditionalMean: conditional }),
    seconds: (clock() - t0) / 1000,
  };
}

// ---- attention-cost ---------------------------------------------------------------------------

function countRow(name: string, c: OpCount): (string | number)[] {
  return [name, c.mul, c.add, c.other, c.calls];
}

/**
 * THEORY.md §1: exact operation counts of attention, time and memory against T, the identity.
 *
 * @example
 * const report = nb.lab.runAttentionCost({ quick: true });
 */
export function runAttentionCost(options: LabRunOptions = {}): LabReport {
  const t0 = clock();
  const quick = sizes(options).quick ?? false;
  const seed = options.seed ?? 0;
  const configs: { T: number; d: number; D: number; M: number }[] = [
    { T: 8, d: 16, D: 4, M: 6 },
    { T: 16, d: 32, D: 8, M: 16 },
    { T: 32, d: 64, D: 16, M: 8 },
    { T: 64, d: 64, D: 64, M: 64 },
    { T: 128, d: 64, D: 32, M: 48 },
  ];
  const costs = configs.map((c) => selfAttentionCost({ ...c, seed }));
  const check = (a: number, b: number): string => (a === b ? '✓' : `✗ (${a - b})`);
  const countsTable: LabTable = {
    title: 'Multiplications counted by countOps in one self-attention, against the formulas',
    columns: [
      'T',
      'd',
      'D',
      'M',
      'Q·Kᵀ',
      'T²·D',
      '',
      'softmax·V',
      'T²·M',
      '',
      'projections',
      'T·d·(2D+M)',
      '',
    ],
    rows: costs.map((c) => [
      c.T,
      c.d,
      c.D,
      c.M,
      c.qk.mul,
      c.predicted.qkMul,
      check(c.qk.mul, c.predicted.qkMul),
      c.av.mul,
      c.predicted.avMul,
      check(c.av.mul, c.predicted.avMul),
      c.projections.mul,
      c.predicted.projectionMul,
      check(c.projections.mul, c.predicted.projectionMul),
    ]),
    note: 'Additions of a product with inner size K are (K − 1) per output: T²·(D − 1) for Q·Kᵀ.',
  };
  const detailCfg = { T: 32, d: 64, D: 16, M: 8, causal: true, backward: true, seed };
  const detail: SelfAttentionCost = selfAttentionCost(detailCfg);
  const perOp: LabTable = {
    title: `countOps table for causal self-attention (T = ${detailCfg.T}, d = ${detailCfg.d}, D = ${detailCfg.D}, M = ${detailCfg.M}), forward then backward`,
    columns: ['phase', 'op', 'mul', 'add', 'other', 'kernel calls'],
    rows: [
      ...Object.entries(detail.forward).map(([op, c]) => ['forward', ...countRow(op, c)]),
      ['forward', ...countRow('total', detail.totals.forward)],
      ...Object.entries(detail.backward).map(([op, c]) => ['backward', ...countRow(op, c)]),
      ['backward', ...countRow('total', detail.totals.backward)],
    ],
    note:
      'Backward rows are named after the op whose gradient they compute. The causal mask does not ' +
      'reduce the work of naive attention: all T² scores are computed, then masked.',
  };
  const scaling = attentionScaling({
    Ts: options.seqLens
      ? [...new Set(options.seqLens)].sort((a, b) => a - b)
      : quick
        ? [32, 64, 128, 192]
        : [64, 128, 256, 384, 512, 768, 1024],
    D: 64,
    M: 32,
    repeats: options.repeats ?? (quick ? 2 : 5),
    seed,
  });
  const scalingTable: LabTable = {
    title: `Self-attention forward against T, naive and fused (d = ${scaling.d}, D = ${scaling.D}, M = ${scaling.M}, float32, reference backend)`,
    columns: [
      'T',
      'Q·Kᵀ mul',
      'softmax·V mul',
      'projection mul',
      'all ops',
      'time (ms)',
      'peak KiB',
      'one T×T matrix (KiB)',
      'fused time (ms)',
      'fused peak KiB',
    ],
    rows: scaling.rows.map((r, i) => [
      r.T,
      r.qkMul,
      r.avMul,
      r.projectionMul,
      r.totalOps,
      fmtNum(r.timeMs, 3),
      fmtNum(r.peakBytes / 1024, 4),
      fmtNum(r.scoreMatrixBytes / 1024, 4),
      scaling.fused ? fmtNum(scaling.fused.rows[i]!.timeMs, 3) : '—',
      scaling.fused ? fmtNum(scaling.fused.rows[i]!.peakBytes / 1024, 4) : '—',
    ]),
    note:
      `Least squares: time ≈ ${quadraticText(scaling.timeFit)} ms (R² = ${fmtNum(scaling.timeFit.r2, 4)}); ` +
      `peak bytes ≈ ${quadraticText(scaling.memoryFit)} (R² = ${fmtNum(scaling.memoryFit.r2, 4)}). ` +
      scaling.note,
  };
  const identity = attentionIdentityCheck({ seed });
  const identityTable: LabTable = {
    title:
      'Attention output against Σ_j softmax_j(q_i·k_j/√D)·v_j computed by hand (float64 loops)',
    columns: ['API', 'mask', 'max |library − by hand|'],
    rows: identity.map((r) => [r.api, r.mask, r.maxAbsError.toExponential(2)]),
  };
  // Growth of the time when T doubles, at the largest measured pair (T² → ×4, T → ×2).
  const byT = new Map(scaling.rows.map((r) => [r.T, r.timeMs]));
  const doubled = scaling.rows.filter((r) => byT.has(2 * r.T)).pop();
  const growth = doubled
    ? `doubling T from ${doubled.T} to ${2 * doubled.T} multiplies the forward time by ${fmtNum(byT.get(2 * doubled.T)! / doubled.timeMs, 3)} (×4 for a pure T² cost, ×2 for T)`
    : 'see the table';
  return {
    id: 'attention-cost',
    title: 'The cost of attention',
    theory: [
      'With X ∈ ℝ^{T×d}, Q = XW_Q ∈ ℝ^{T×D}, K = XW_K ∈ ℝ^{T×D}, V = XW_V ∈ ℝ^{T×M}: Q·Kᵀ takes T²·D scalar multiplications and softmax(Q·Kᵀ/√D)·V takes T²·M, so attention proper costs T²·(D + M) multiplications; the projections cost T·d·(2D + M); naive attention stores a T×T matrix (Vaswani et al., 2017).',
      'Attention is a weighted average: with sim(q, k) = exp(q·k/√D), V′_i = Σ_j sim(Q_i, K_j)·V_j / Σ_r sim(Q_i, K_r) = Σ_j softmax_j(Q_i·K_jᵀ/√D)·V_j; masks set sim to 0 for excluded pairs.',
      'How it is counted: nb.lab.countOps wraps the backend kernels while the code runs and counts each call with the formula of its shapes (a (Bt, M, K)·(Bt, K, N) product is Bt·M·N·K multiplications), attributing it to the op that issued it, like PyTorch’s FlopCounterMode.',
    ],
    findings: [
      `The counted multiplications equal T²·D, T²·M and T·d·(2D + M) exactly in every configuration (${costs.length} shapes above; the tests check many more).`,
      `Time grows quadratically: ${growth}; the least-squares fit is ${quadraticText(scaling.timeFit)} ms. Peak memory is quadratic too: ${fmtNum(scaling.memoryFit.a / 4, 3)} float32 T×T matrices' worth of bytes per T² in the fit (scores, shifted scores, exponentials, weights; on the reference backend nothing is freed before the scope ends, so the peak is everything one forward allocates).`,
      scaling.fused
        ? `The fused attention (tiles with an online softmax) does the same T²·(D + M) multiplications but drops the T² memory term: its peak memory fits ${quadraticText(scaling.fused.memoryFit)} bytes, against ${quadraticText(scaling.memoryFit)} for the naive one, and at T = ${scaling.rows.at(-1)!.T} it peaks at ${fmtNum(scaling.fused.rows.at(-1)!.peakBytes / 1024, 4)} KiB against ${fmtNum(scaling.rows.at(-1)!.peakBytes / 1024, 4)} KiB; its time fit is ${quadraticText(scaling.fused.timeFit)} ms (the T² term shows where the timings rise above the noise).`
        : `${scaling.note} A tiled kernel with an online softmax would keep the T²·(D + M) multiplications but drop the T² memory term.`,
      `The library's scaledDotProductAttention and MultiheadAttention agree with the hand-computed weighted average to ${fmtNum(Math.max(...identity.map((r) => r.maxAbsError)), 2)} in float64, with causal and padding masks.`,
    ],
    tables: [countsTable, perOp, scalingTable, identityTable],
    plots: [
      {
        id: 'attention-ops',
        title: 'Counted multiplications against T',
        spec: attentionOpsSpec(scaling),
      },
      { id: 'attention-time', title: 'Time against T', spec: attentionTimeSpec(scaling) },
      {
        id: 'attention-memory',
        title: 'Peak memory against T',
        spec: attentionMemorySpec(scaling),
      },
    ],
    data: toJson({ counts: costs, detail, scaling, identity }),
    seconds: (clock() - t0) / 1000,
  };
}

// ---- positional-encoding ----------------------------------------------------------------------

/**
 * THEORY.md §1: the sinusoidal table, relative position as rotations, similarity against k.
 *
 * @example
 * const report = nb.lab.runPositionalEncoding({ quick: true });
 */
export function runPositionalEncoding(options: LabRunOptions = {}): LabReport {
  const t0 = clock();
  const quick = sizes(options).quick ?? false;
  const maxLen = options.maxLen ?? (quick ? 64 : 256);
  const d = options.dModel ?? (quick ? 16 : 64);
  const maxOffset = Math.floor(maxLen / 2);
  const rotation = peRotationCheck(maxLen, d);
  const similarity = peSimilarity(maxLen, d, maxOffset);
  const heat = peTable(Math.min(64, maxLen), Math.min(d, quick ? 16 : 32));
  const dims = [...new Set([...(quick ? [8, 16] : [16, 32, 64, 128]), d])].sort((a, b) => a - b);
  const rotationTable: LabTable = {
    title: `PE[pos + k] = R_k·PE[pos] on nabla's float64 table (every k = 1 … maxLen − 1, every pos)`,
    columns: ['maxLen', 'd', 'offsets k', 'max residual', 'max |R_kᵀR_k − I|'],
    rows: dims.map((dm) => {
      const r = dm === d ? rotation : peRotationCheck(quick ? 64 : 128, dm);
      return [
        dm === d ? maxLen : quick ? 64 : 128,
        dm,
        r.perOffset.length,
        r.maxResidual.toExponential(2),
        r.maxOrthogonalityError.toExponential(2),
      ];
    }),
    note: 'R_k is block-diagonal with one rotation [[cos kω_i, sin kω_i], [−sin kω_i, cos kω_i]] per (sin, cos) pair, the same for every pos.',
  };
  const shown = similarity.filter((r) => r.k <= 8 || r.k % 16 === 0);
  const similarityTable: LabTable = {
    title: `PE[pos]·PE[pos + k] over every pos (maxLen = ${maxLen}, d = ${d})`,
    columns: ['k', 'mean over pos', 'max − min over pos', 'Σ_i cos(k·ω_i)'],
    rows: shown.map((r) => [
      r.k,
      fmtNum(r.mean, 6),
      r.spread.toExponential(2),
      fmtNum(r.predicted, 6),
    ]),
  };
  const maxSpread = Math.max(...similarity.map((r) => r.spread));
  return {
    id: 'positional-encoding',
    title: 'Sinusoidal positional encoding',
    theory: [
      'Attention is permutation-equivariant, so position is added to each token embedding: PE[pos, 2i] = sin(pos/10000^(2i/d)), PE[pos, 2i+1] = cos(pos/10000^(2i/d)) (Vaswani et al., 2017, §3.5).',
      'For every offset k, PE[pos + k] is a fixed linear map of PE[pos] — a rotation by k·ω_i in each (sin, cos) pair, ω_i = 10000^(−2i/d) — so attention can express relative position; and PE[pos]·PE[pos + k] = Σ_i cos(k·ω_i) depends only on k.',
    ],
    findings: [
      `The rotation identity holds to rounding: max residual ${rotation.maxResidual.toExponential(2)} over every k and pos (d = ${d}, maxLen = ${maxLen}).`,
      `The dot product depends only on k: its spread over pos is at most ${maxSpread.toExponential(2)}, and its mean matches Σ_i cos(k·ω_i).`,
      'The similarity decays from d/2 at k = 0 and oscillates: nearby positions look alike, far ones do not.',
    ],
    tables: [rotationTable, similarityTable],
    plots: [
      { id: 'pe-table', title: 'The sinusoidal table', spec: peHeatmapSpec(heat) },
      {
        id: 'pe-similarity',
        title: 'Similarity against offset',
        spec: peSimilaritySpec(similarity, d),
      },
    ],
    data: toJson({ rotation, similarity, table: { maxLen: heat.maxLen, dModel: heat.dModel } }),
    seconds: (clock() - t0) / 1000,
  };
}

// ---- gradient-flow ----------------------------------------------------------------------------

function elmanTheoryText(r: ElmanFlowResult): string {
  if (r.activation === 'linear' || r.signs === 'positive') return 'exactly ρ';
  if (r.signs === 'negative') return 'exactly p·ρ';
  const interval =
    r.activation === 'tanh' ? '(0, ρ]' : r.activation === 'relu' ? '[0, ρ]' : '[p·ρ, ρ]';
  return `${interval}; ≈ ρ·rms φ′`;
}

/** Whether the fitted rate and every per-step factor lie in the run's theoretical interval. */
function withinBounds(r: ElmanFlowResult): boolean {
  const [lo, hi] = r.bounds;
  const eps = 1e-9;
  return [r.rate, ...r.stepFactors].every((f) => f >= lo * (1 - eps) && f <= hi * (1 + eps));
}

const relDiff = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

function recallInit(cell: RecallCell): string {
  if (cell.kind === 'lstm')
    return cell.forgetBias === undefined
      ? 'U(±1/√H), forget bias ≈ 0'
      : `U(±1/√H), forget bias ${cell.forgetBias}`;
  if (cell.kind === 'rnn' && cell.recurrent === 'orthogonal') return 'U(±1/√H), W_hh orthogonal';
  return 'U(±1/√H)';
}

/**
 * THEORY.md §3: ‖∂l_T/∂v_t‖ against t for Elman RNNs of chosen spectral radius and activation,
 * fitted rates beside the predicted ones, clipping and truncation, LSTM/GRU against the RNN.
 *
 * @example
 * const report = nb.lab.runGradientFlow({ quick: true });
 */
export function runGradientFlow(options: LabRunOptions = {}): LabReport {
  const t0 = clock();
  const quick = sizes(options).quick ?? false;
  const base = quick
    ? {
        hiddenSize: 16,
        steps: 32,
        batch: 4,
        rhos: [0.5, 0.9, 1, 1.1, 1.5],
        window: 8,
        recallDistance: 20,
        recallSteps: 0,
      }
    : { steps: 64, window: 16 };
  const steps = options.steps ?? base.steps;
  const result = gradientFlowExperiment({
    ...base,
    ...(options.hidden !== undefined ? { hiddenSize: options.hidden } : {}),
    ...(options.recallSteps !== undefined ? { recallSteps: options.recallSteps } : {}),
    steps,
    // Truncation needs steps beyond its window to show the cut.
    window: Math.min(base.window, Math.floor(steps / 2)),
    seed: options.seed ?? 0,
  });
  const { config } = result;
  const p = config.slope;
  const T = config.steps;
  const order = [
    'linear',
    `leaky p=${p}, u>0`,
    `leaky p=${p}, u<0`,
    `leaky p=${p}`,
    'ReLU',
    'tanh',
  ];
  const runs = [...result.rates].sort(
    (a, b) => order.indexOf(a.label) - order.indexOf(b.label) || a.rho - b.rho,
  );
  const rateTable: LabTable = {
    title: `Fitted rate of ‖∂l_T/∂v_t‖ per step back against the prediction (Elman RNN, n = ${config.hiddenSize}, T = ${T}, batch ${config.batch}, input weights N(0, ${config.inputStd}²), float64)`,
    columns: [
      'φ',
      'p',
      'W_hh',
      'pre-activations',
      'ρ',
      'theory (factor per step)',
      'predicted rate',
      'measured rate',
      '|measured − predicted| / predicted',
      'rate and every step factor in the interval',
    ],
    rows: runs.map((r) => [
      r.activation,
      r.slope ?? '—',
      r.recurrent === 'orthogonal' ? 'ρ·Q' : 'ρ·P',
      r.signs === 'mixed' ? 'mixed signs' : r.signs === 'positive' ? 'all > 0' : 'all < 0',
      r.rho,
      elmanTheoryText(r),
      fmtNum(r.predicted, 6),
      fmtNum(r.rate, 6),
      relDiff(r.rate, r.predicted).toExponential(1),
      withinBounds(r) ? '✓' : '✗',
    ]),
    note:
      'Q: Haar-random orthogonal; P: random permutation (orthogonal and non-negative), used with ' +
      'inputs and input weights of one sign so that every pre-activation keeps that sign. The ' +
      'predicted rate is exact where φ′ is one constant (linear; one-signed leaky) and otherwise ' +
      'the mean-field estimate ρ·rms φ′(u) over units, sequences and steps; the interval is ' +
      'THEORY.md’s: [ρ, ρ], [p·ρ, ρ], [0, ρ] (ReLU), (0, ρ] (tanh).',
  };
  const clipTable: LabTable = {
    title: `Clipping (clipGradNorm, maxNorm = ${config.maxNorm}) and truncation (truncatedBptt, k = ${config.window}) on the linear RNN`,
    columns: [
      'ρ',
      '‖∂l/∂θ‖ before',
      'c',
      'max |clipped − c·unclipped| / |c·unclipped|',
      '‖Σ_t G_t − ∂l/∂W_hh‖ / ‖∂l/∂W_hh‖',
      'rate full',
      'rate clipped',
      '‖∂l/∂v_1‖ / ‖∂l/∂v_T‖',
      'non-zero steps, truncated',
      'max rel. diff in the window',
    ],
    rows: result.clipping.map((r) => [
      r.rho,
      fmtNum(r.clip!.totalNorm),
      fmtNum(r.clip!.coefficient),
      r.clip!.maxScaleDeviation.toExponential(1),
      r.clip!.decompositionError.toExponential(1),
      fmtNum(r.rate, 6),
      fmtNum(r.clip!.rate, 6),
      fmtNum(r.norms[0]! / r.norms[T - 1]!),
      `${r.truncation!.nonZero} of ${T}`,
      r.truncation!.maxWindowDiff.toExponential(1),
    ]),
    note:
      'G_t = D_t (∂l_T/∂v_t)ᵀ v_{t−1}ᵀ summed over the batch is step t’s term of ∂l/∂W_hh; clipping ' +
      'multiplies every parameter gradient by c = min(1, maxNorm/(‖∂l/∂θ‖ + 1e−6)), hence every ' +
      'term. The ratio ‖∂l/∂v_1‖/‖∂l/∂v_T‖ is the same before and after clipping.',
  };
  const trained = config.recallSteps > 0;
  const gatedTable: LabTable = {
    title: `Recall task (a symbol out of 8, then ${config.recallDistance} distractors; H = ${config.recallHidden}, batch 32): gradient reach at initialisation${trained ? ` and accuracy after ${config.recallSteps} Adam steps` : ''}`,
    columns: [
      'cell',
      'initialisation',
      'fitted rate at init',
      '‖∂l/∂h_1‖ / ‖∂l/∂h_T‖',
      ...(trained ? ['accuracy (chance 12.5%)', 'fitted rate after training', 'seconds'] : []),
    ],
    rows: result.recall.map((r) => [
      r.label.replace(/ \(.*\)$/, ''),
      recallInit(r.cell),
      fmtNum(r.rate, 4),
      fmtNum(r.reach, 3),
      ...(trained
        ? [`${(100 * r.accuracy!).toFixed(1)}%`, fmtNum(r.trainedRate!, 4), r.seconds.toFixed(1)]
        : []),
    ]),
    note:
      'l: cross-entropy of the prediction at the last step; the gradient profile is read with ' +
      'gradientNormsThroughTime (for the LSTM, ∂l/∂h_t, not ∂l/∂c_t). Training: Adam lr 0.02, ' +
      'gradient norm clipped to 1, loss at every step after the first, as in test/nn/rnn-train.test.ts; ' +
      'one seed, accuracy on 1000 fresh sequences.',
  };

  // Findings from the numbers.
  const of = (label: string): ElmanFlowResult[] => runs.filter((r) => r.label === label);
  const maxBy = (rs: ElmanFlowResult[], f: (r: ElmanFlowResult) => number): number =>
    rs.reduce((m, r) => Math.max(m, f(r)), 0);
  const linear = of('linear');
  const lo = linear[0]!;
  const hi = linear[linear.length - 1]!;
  const reach = (r: ElmanFlowResult): number => r.norms[0]! / r.norms[T - 1]!;
  const pos = of(`leaky p=${p}, u>0`);
  const neg = of(`leaky p=${p}, u<0`);
  const mixed = of(`leaky p=${p}`);
  const relu = of('ReLU');
  const tanh = of('tanh');
  const mixedAll = [...mixed, ...relu, ...tanh];
  const allIn = runs.every(withinBounds);
  const tanhTop = tanh[tanh.length - 1]!;
  const tanhLow = tanh.filter((r) => r.rho < 1);
  const nonZero = [...new Set(result.clipping.map((r) => r.truncation!.nonZero))];
  const findings = [
    `Linear φ (p = 1), W_hh = ρ·Q: the fitted rate equals ρ to ${maxBy(linear, (r) => relDiff(r.rate, r.rho)).toExponential(1)} (relative, worst over ρ), and every single step back multiplies ‖∂l_T/∂v_t‖ by ρ to ${maxBy(linear, (r) => Math.max(...r.stepFactors.map((f) => relDiff(f, r.rho)))).toExponential(1)}: from t = T back to t = 1 the gradient shrinks to ${fmtNum(reach(lo), 3)} of itself at ρ = ${lo.rho} and grows ${fmtNum(reach(hi), 3)}-fold at ρ = ${hi.rho}.`,
    `Leaky ReLU (p = ${p}) with every pre-activation positive: rate ρ to ${maxBy(pos, (r) => relDiff(r.rate, r.rho)).toExponential(1)}; with every one negative: p·ρ to ${maxBy(neg, (r) => relDiff(r.rate, p * r.rho)).toExponential(1)} — the two ends of THEORY.md's interval [p·ρ, ρ], attained.`,
    `With mixed signs ${allIn ? 'every' : 'not every'} run's rate — and every per-step factor — lies in its interval ([p·ρ, ρ] leaky, [0, ρ] ReLU, (0, ρ] tanh). The mean-field estimate ρ·rms φ′(u) predicts the mixed rates within ${fmtNum(100 * maxBy(mixedAll, (r) => relDiff(r.rate, r.estimate)), 2)}% (leaky: ${fmtNum(100 * maxBy(mixed, (r) => relDiff(r.rate, r.estimate)), 2)}%; ReLU, where about half the units pass the gradient: ${fmtNum(100 * maxBy(relu, (r) => relDiff(r.rate, r.estimate)), 2)}%).`,
    `tanh saturates: at ρ = ${tanhTop.rho} the states grow until tanh′ shrinks (rms ${fmtNum(tanhTop.derivative.rms, 3)}), and the rate is ${fmtNum(tanhTop.rate, 4)} instead of ${tanhTop.rho}: from t = T back to t = 1 the gradient grows ${fmtNum(reach(tanhTop), 3)}-fold, not ρ^(T−1) = ${fmtNum(tanhTop.rho ** (T - 1), 3)}-fold; below ρ = 1 the rate is ρ·rms tanh′ to within ${fmtNum(100 * maxBy(tanhLow, (r) => relDiff(r.rate, r.estimate)), 2)}% (${tanhLow.map((r) => `${fmtNum(r.rate, 3)} at ρ = ${r.rho}`).join(', ')}).`,
    `Clipping scales the parameter gradient, and with it every step's term, by one factor c (${result.clipping.map((r) => `c = ${fmtNum(r.clip!.coefficient, 3)} at ρ = ${r.rho}`).join(', ')}; largest deviation from c·unclipped ${maxBy(result.clipping, (r) => r.clip!.maxScaleDeviation).toExponential(1)}): the rate of the profile is unchanged (largest change ${maxBy(result.clipping, (r) => relDiff(r.clip!.rate, r.rate)).toExponential(1)}), so clipping tames explosion in size but leaves a vanishing gradient exactly as vanishing, ‖∂l/∂v_1‖/‖∂l/∂v_T‖ = ρ^(T−1) in both cases.`,
    `Truncated BPTT (k = ${config.window}): ${nonZero.join(' and ')} of ${T} steps receive a gradient — exactly 0 further back — and inside the window the gradients equal full BPTT's to ${maxBy(result.clipping, (r) => r.truncation!.maxWindowDiff).toExponential(1)}.`,
  ];
  const rec = (pred: (c: RecallCell) => boolean) => result.recall.find((r) => pred(r.cell));
  const rnn0 = rec((c) => c.kind === 'rnn' && c.recurrent !== 'orthogonal');
  const lstms = result.recall.filter((r) => r.cell.kind === 'lstm');
  const gru = rec((c) => c.kind === 'gru');
  if (rnn0 && lstms.length > 0) {
    findings.push(
      `At initialisation on the recall task the tanh RNN passes back ${fmtNum(rnn0.rate, 3)} of its gradient per step (${fmtNum(rnn0.reach, 2)} of it reaches the symbol ${config.recallDistance} steps back); the LSTM's rate grows with the forget-gate bias (${lstms.map((r) => `${fmtNum(r.rate, 3)} for ${recallInit(r.cell).replace('U(±1/√H), ', '')}`).join(', ')}), up to a reach of ${fmtNum(Math.max(...lstms.map((r) => r.reach)), 2)}${gru ? `; the GRU at its default initialisation: rate ${fmtNum(gru.rate, 3)}` : ''}.`,
    );
  }
  if (trained) {
    const acc = (r: (typeof result.recall)[number]): string =>
      `${r.label} ${(100 * r.accuracy!).toFixed(1)}%`;
    const plain = result.recall.filter((r) => r.cell.kind === 'rnn');
    const byBias = [...lstms].sort(
      (a, b) =>
        (a.cell.kind === 'lstm' ? (a.cell.forgetBias ?? 0) : 0) -
        (b.cell.kind === 'lstm' ? (b.cell.forgetBias ?? 0) : 0),
    );
    const monotone = byBias.every((r, i) => i === 0 || r.accuracy! >= byBias[i - 1]!.accuracy!);
    const parts = [
      `After ${config.recallSteps} Adam steps (one seed): ${result.recall.map(acc).join(', ')} (chance 12.5%).`,
    ];
    if (plain.length > 0 && plain.every((r) => r.accuracy! < 0.25))
      parts.push('The plain tanh RNNs stay near chance.');
    if (byBias.length > 1)
      parts.push(
        monotone
          ? 'The LSTM’s accuracy within this budget rises with its forget-gate bias.'
          : 'The LSTM’s accuracy within this budget does not follow its forget-gate bias.',
      );
    if (gru && gru.accuracy! >= 0.95)
      parts.push(
        `The GRU solves the task although its gradient at initialisation vanishes at a rate of ${fmtNum(gru.rate, 3)} per step: after training the rate on the same batch is ${fmtNum(gru.trainedRate!, 3)}, so the query's gradient reaches the symbol.`,
      );
    findings.push(parts.join(' '));
  }

  return {
    id: 'gradient-flow',
    title: 'Gradient flow through time',
    theory: [
      'Elman network u_t = W v_{t−1} + B x_t, v_t = φ(u_t), loss l_T on the last state. BPTT: ∂l_T/∂v_t = ∂l_T/∂v_T · Π_{τ=t+1..T} D_τ W with D_τ = diag(φ′(u_τ)) (row vectors). With W = ρ·Q, Q orthogonal (so ρ is the spectral radius and the norm), ‖g·D W‖ = ρ‖g·D‖: each step back multiplies ‖∂l_T/∂v_t‖ by a factor between ρ·min φ′ and ρ·max φ′ (Bengio, Simard & Frasconi, 1994; Pascanu, Mikolov & Bengio, 2013).',
      'Linear φ (leaky slope p = 1): exactly ρ, so gradients vanish like ρ^(T−t) below ρ = 1 and explode above it. Leaky ReLU with slope p: between p·ρ and ρ — ρ when every pre-activation is positive, p·ρ when every one is negative; ReLU between 0 and ρ; tanh (tanh′ = 1 − tanh² ≤ 1) at most ρ. The fitted rate (a least-squares slope of log‖∂l_T/∂v_t‖ against T − t, a weighted average of the per-step log-factors) lies in the same interval; when Q mixes the coordinates, ‖g·D‖² ≈ ‖g‖²·mean φ′², which gives the estimate ρ·rms φ′(u).',
      'Gradient clipping rescales the whole gradient Σ_t D_t (∂l_T/∂v_t)ᵀ v_{t−1}ᵀ by c = min(1, maxNorm/‖∂l/∂θ‖): it bounds an exploding gradient but scales every step’s term alike, so the profile’s shape — and a vanishing gradient — is untouched. Truncated BPTT with window k (Williams & Peng, 1990) detaches the state k steps before the loss: the gradient is exactly zero beyond k steps back, unchanged within.',
      'Gated cells add an additive memory path: the LSTM’s c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t passes gradient back through diag(f_t), and f_t ≈ σ(b_f) at initialisation — 0.5 for b_f = 0, 0.73 for b_f = 1, 0.95 for b_f = 3 (Hochreiter & Schmidhuber, 1997; Gers et al., 2000; Jozefowicz et al., 2015); the GRU’s h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1} through diag(z_t) (Cho et al., 2014). Measured: ‖∂l/∂h_t‖ at initialisation on a task that needs long memory, and what each cell learns on it with the same budget.',
    ],
    findings,
    tables: [rateTable, clipTable, gatedTable],
    plots: [
      {
        id: 'gradient-flow-profiles',
        title: '‖∂l_T/∂v_t‖ against t for several ρ (linear φ)',
        spec: gradientFlowProfileSpec(result, {
          rhos: config.rhos.filter((r) => r >= 0.75 && r <= 1.3),
        }),
      },
      {
        id: 'gradient-flow-rates',
        title: 'Fitted rate against ρ, with the bounds ρ and p·ρ',
        spec: gradientFlowRateSpec(result),
      },
      {
        id: 'gradient-flow-slope',
        title: 'Fitted rate against ρ × slope of φ',
        spec: gradientFlowSlopeSpec(result),
      },
      {
        id: 'gradient-flow-clip-truncate',
        title: 'Clipping and truncated BPTT',
        spec: gradientFlowClipSpec(result),
      },
      {
        id: 'gradient-flow-gated',
        title: 'Tanh RNN, LSTM and GRU at initialisation on the recall task',
        spec: gradientFlowGatedSpec(result),
      },
    ],
    data: toJson(result),
    seconds: (clock() - t0) / 1000,
  };
}

/** The experiments by id. */
export const LAB_EXPERIMENTS: Readonly<
  Record<LabExperimentId, (options?: LabRunOptions) => LabReport>
> = {
  'residual-init': runResidualInit,
  'attention-cost': runAttentionCost,
  'positional-encoding': runPositionalEncoding,
  'gradient-flow': runGradientFlow,
};

/**
 * Runs one experiment by id.
 *
 * @example
 * const report = nb.lab.runLabExperiment('positional-encoding', { quick: true });
 * console.log(report.tables.map(nb.lab.formatTable).join('\n\n'));
 */
export function runLabExperiment(id: string, options: LabRunOptions = {}): LabReport {
  const run = (LAB_EXPERIMENTS as Record<string, (o?: LabRunOptions) => LabReport>)[id];
  if (id === 'attention-maps')
    throw new ValueError(
      'lab: attention-maps needs a model: nb.lab.attentionMapsReport(nb.lab.attentionMaps(model, tokens))',
    );
  if (!run) {
    throw new ValueError(
      `lab: unknown experiment '${id}'; available: ${Object.keys(LAB_EXPERIMENTS).join(', ')}`,
    );
  }
  return run(options);
}
