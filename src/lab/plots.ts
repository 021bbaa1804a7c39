/**
 * Vega-Lite specifications of the lab's plots (Satyanarayan et al., 2017, "Vega-Lite: A Grammar
 * of Interactive Graphics"; https://vega.github.io/vega-lite/). A spec is plain JSON data, so this
 * file runs in browsers and Node alike; `src/lab/node/render.ts` turns a spec into SVG with the
 * `vega` and `vega-lite` packages, and a browser can hand it to vega-embed.
 */
import { quadraticText, type AttentionScalingResult } from './attention.js';
import type { ElmanActivation, GradientFlowExperimentResult } from './gradient-flow.js';
import type { PeSimilarityRow, PeTable } from './positional.js';
import type { ResidualInitExperimentResult } from './residual.js';

/** A JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A Vega-Lite specification (see https://vega.github.io/vega-lite/docs/spec.html). */
export type VegaLiteSpec = { [key: string]: Json };

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 420;
const HEIGHT = 280;

/** A point of a measured-versus-predicted line plot. */
export interface SeriesPoint {
  x: number;
  y: number;
  /** The curve (one colour per series). */
  series: string;
  /** Measured values are drawn solid with points, predictions dashed. */
  kind: 'measured' | 'predicted';
}

export interface LinePlotOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  xLog?: boolean;
  yLog?: boolean;
  width?: number;
  height?: number;
  /** Widest legend label in pixels before it is cut with an ellipsis (Vega-Lite's default: 160). */
  legendLabelLimit?: number;
}

/**
 * Lines per series, measured solid with points and predicted dashed, optionally on log axes.
 *
 * @example
 * const spec = nb.lab.linePlotSpec(
 *   [{ x: 1, y: 2, series: 'a', kind: 'measured' }, { x: 1, y: 2.1, series: 'a', kind: 'predicted' }],
 *   { title: 'demo', xTitle: 'x', yTitle: 'y' },
 * );
 */
export function linePlotSpec(points: readonly SeriesPoint[], o: LinePlotOptions): VegaLiteSpec {
  const scale = (log: boolean | undefined): Json => (log ? { type: 'log' } : { zero: false });
  return {
    $schema: SCHEMA,
    title: o.title,
    width: o.width ?? WIDTH,
    height: o.height ?? HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: scale(o.xLog) },
      y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: scale(o.yLog) },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        ...(o.legendLabelLimit ? { legend: { labelLimit: o.legendLabelLimit } } : {}),
      },
    },
    layer: [
      {
        transform: [{ filter: "datum.kind === 'predicted'" }],
        mark: { type: 'line', strokeDash: [6, 4], strokeWidth: 1.5, aria: false },
      },
      {
        transform: [{ filter: "datum.kind === 'measured'" }],
        mark: { type: 'line', point: { aria: false }, strokeWidth: 1.5, aria: false },
      },
    ],
  };
}

/** Drops non-positive or non-finite values (log axes cannot show them). */
function positive(points: SeriesPoint[]): SeriesPoint[] {
  return points.filter((p) => Number.isFinite(p.y) && p.y > 0);
}

/**
 * Var[u_l] against l per scheme (log scale), measured solid, THEORY.md's closed form dashed, for
 * the experiment's depth `depth` (default: the largest).
 *
 * @example
 * nb.lab.residualVarianceSpec(nb.lab.residualInitExperiment({ depths: [8] }));
 */
export function residualVarianceSpec(
  result: ResidualInitExperimentResult,
  depth?: number,
): VegaLiteSpec {
  const L = depth ?? Math.max(...result.series.map((s) => s.depth));
  const points: SeriesPoint[] = [];
  for (const s of result.series.filter((x) => x.depth === L)) {
    s.measured.forEach((y, l) => points.push({ x: l, y, series: s.scheme, kind: 'measured' }));
    s.predicted.forEach((y, l) => points.push({ x: l, y, series: s.scheme, kind: 'predicted' }));
  }
  return linePlotSpec(positive(points), {
    title: `Var[u_l] through a residual MLP (width ${result.width}, L = ${L})`,
    xTitle: 'block l',
    yTitle: 'Var[u_l] (log scale)',
    yLog: true,
  });
}

/** E[g_l²] of the gradient reaching u_l against l (log scale), mean-field prediction dashed. *
 * @example
 * nb.lab.residualGradientSpec(result);
 */
export function residualGradientSpec(
  result: ResidualInitExperimentResult,
  depth?: number,
): VegaLiteSpec {
  const L = depth ?? Math.max(...result.series.map((s) => s.depth));
  const points: SeriesPoint[] = [];
  for (const s of result.series.filter((x) => x.depth === L)) {
    s.gradMeasured?.forEach((y, l) => points.push({ x: l, y, series: s.scheme, kind: 'measured' }));
    s.gradPredicted?.forEach((y, l) =>
      points.push({ x: l, y, series: s.scheme, kind: 'predicted' }),
    );
  }
  return linePlotSpec(positive(points), {
    title: `Gradient second moment E[g_l²] (width ${result.width}, L = ${L})`,
    xTitle: 'block l',
    yTitle: 'E[g_l²] (log scale)',
    yLog: true,
  });
}

/** Var[u_L]/Var[u_0] at the top of networks of each depth L, per scheme. *
 * @example
 * nb.lab.residualDepthSpec(nb.lab.residualInitExperiment({ depths: [2, 4, 8] }));
 */
export function residualDepthSpec(result: ResidualInitExperimentResult): VegaLiteSpec {
  const points: SeriesPoint[] = [];
  for (const s of result.series) {
    const L = s.depth;
    points.push({ x: L, y: s.measured[L]! / s.measured[0]!, series: s.scheme, kind: 'measured' });
    points.push({
      x: L,
      y: s.predicted[L]! / s.predicted[0]!,
      series: s.scheme,
      kind: 'predicted',
    });
  }
  points.sort((a, b) => a.x - b.x);
  return linePlotSpec(positive(points), {
    title: 'Var[u_L] / Var[u_0] against depth L',
    xTitle: 'depth L',
    yTitle: 'Var[u_L] / Var[u_0] (log scale)',
    xLog: true,
    yLog: true,
  });
}

/** Counted multiplications of Q·Kᵀ, softmax·V and the projections against T (log-log). *
 * @example
 * nb.lab.attentionOpsSpec(nb.lab.attentionScaling({ Ts: [32, 64, 128] }));
 */
export function attentionOpsSpec(scaling: AttentionScalingResult): VegaLiteSpec {
  const { d, D, M, batch } = scaling;
  const points: SeriesPoint[] = [];
  const add = (T: number, series: string, counted: number, formula: number): void => {
    points.push({ x: T, y: counted, series, kind: 'measured' });
    points.push({ x: T, y: formula, series, kind: 'predicted' });
  };
  for (const r of scaling.rows) {
    add(r.T, 'Q·Kᵀ', r.qkMul, batch * r.T * r.T * D);
    add(r.T, 'softmax·V', r.avMul, batch * r.T * r.T * M);
    add(r.T, 'projections', r.projectionMul, batch * r.T * d * (2 * D + M));
  }
  return linePlotSpec(points, {
    title: 'Multiplications counted (solid) and T²·D, T²·M, T·d·(2D+M) (dashed)',
    xTitle: 'sequence length T (log)',
    yTitle: 'scalar multiplications (log)',
    xLog: true,
    yLog: true,
  });
}

/** Measured forward time against T with the fitted a·T² + b·T + c dashed. *
 * @example
 * nb.lab.attentionTimeSpec(scaling);
 */
export function attentionTimeSpec(scaling: AttentionScalingResult): VegaLiteSpec {
  const { a, b, c } = scaling.timeFit;
  const points: SeriesPoint[] = [];
  for (const r of scaling.rows) {
    points.push({ x: r.T, y: r.timeMs, series: 'naive attention', kind: 'measured' });
    points.push({
      x: r.T,
      y: a * r.T ** 2 + b * r.T + c,
      series: 'naive attention',
      kind: 'predicted',
    });
  }
  for (const r of scaling.fused?.rows ?? []) {
    points.push({ x: r.T, y: r.timeMs, series: 'fused attention', kind: 'measured' });
  }
  return linePlotSpec(points, {
    title: `Forward time; dashed: ${quadraticText(scaling.timeFit)} ms`,
    xTitle: 'sequence length T',
    yTitle: 'time per forward (ms)',
  });
}

/** Peak buffer bytes of one forward against T with the fitted quadratic dashed. *
 * @example
 * nb.lab.attentionMemorySpec(scaling);
 */
export function attentionMemorySpec(scaling: AttentionScalingResult): VegaLiteSpec {
  const { a, b, c } = scaling.memoryFit;
  const points: SeriesPoint[] = [];
  for (const r of scaling.rows) {
    points.push({ x: r.T, y: r.peakBytes / 1024, series: 'naive attention', kind: 'measured' });
    points.push({
      x: r.T,
      y: (a * r.T ** 2 + b * r.T + c) / 1024,
      series: 'naive attention',
      kind: 'predicted',
    });
  }
  for (const r of scaling.fused?.rows ?? []) {
    points.push({ x: r.T, y: r.peakBytes / 1024, series: 'fused attention', kind: 'measured' });
  }
  return linePlotSpec(points, {
    title: `Peak tensor memory; dashed: ${quadraticText(scaling.memoryFit)} bytes`,
    xTitle: 'sequence length T',
    yTitle: 'peak KiB',
  });
}

/** The sinusoidal table as a heat map: position down, feature across. *
 * @example
 * nb.lab.peHeatmapSpec(nb.lab.peTable(64, 32));
 */
export function peHeatmapSpec(table: PeTable): VegaLiteSpec {
  const values: Json[] = [];
  table.rows.forEach((row, pos) => row.forEach((v, j) => values.push({ pos, j, v })));
  return {
    $schema: SCHEMA,
    title: `Sinusoidal positional encoding PE[pos, j] (d = ${table.dModel})`,
    width: 360,
    height: 360,
    data: { values },
    mark: { type: 'rect', aria: false }, // no per-cell aria-label: keeps the SVG small
    encoding: {
      x: { field: 'j', type: 'ordinal', title: 'feature j', axis: { labelOverlap: true } },
      y: { field: 'pos', type: 'ordinal', title: 'position', axis: { labelOverlap: true } },
      color: {
        field: 'v',
        type: 'quantitative',
        title: 'PE',
        scale: { scheme: 'redblue', domain: [-1, 1] },
      },
    },
    config: { view: { strokeWidth: 0 } },
  };
}

/** PE[pos]·PE[pos+k] against k (mean over pos) with Σ_i cos(k·ω_i) dashed. *
 * @example
 * nb.lab.peSimilaritySpec(nb.lab.peSimilarity(128, 32, 64), 32);
 */
export function peSimilaritySpec(rows: readonly PeSimilarityRow[], dModel: number): VegaLiteSpec {
  const points: SeriesPoint[] = [];
  for (const r of rows) {
    points.push({ x: r.k, y: r.mean, series: 'PE[pos]·PE[pos+k]', kind: 'measured' });
    points.push({ x: r.k, y: r.predicted, series: 'PE[pos]·PE[pos+k]', kind: 'predicted' });
  }
  return linePlotSpec(points, {
    title: `Dot-product similarity against offset k (d = ${dModel}); dashed: Σ cos(k·ω_i)`,
    xTitle: 'offset k',
    yTitle: 'PE[pos]·PE[pos+k]',
  });
}

// ---- gradient-flow ----------------------------------------------------------------------------

const rhoText = (rho: number): string => `ρ = ${rho}`;

/**
 * ‖∂l_T/∂v_t‖ against t (log scale) for the Elman runs of one activation (default linear), one
 * line per ρ, with the prediction ‖∂l_T/∂v_T‖·rate^(T−t) dashed (rate = ρ for linear φ).
 *
 * @example
 * nb.lab.gradientFlowProfileSpec(nb.lab.gradientFlowExperiment({ recallSteps: 0 }));
 */
export function gradientFlowProfileSpec(
  result: GradientFlowExperimentResult,
  options: { activation?: ElmanActivation; rhos?: readonly number[] } = {},
): VegaLiteSpec {
  const activation = options.activation ?? 'linear';
  const runs = result.rates.filter(
    (r) =>
      r.activation === activation &&
      r.signs === 'mixed' &&
      (!options.rhos || options.rhos.includes(r.rho)),
  );
  const points: SeriesPoint[] = [];
  for (const r of runs) {
    const T = r.norms.length;
    const last = r.norms[T - 1]!;
    r.norms.forEach((y, i) => {
      const series = rhoText(r.rho);
      points.push({ x: i + 1, y, series, kind: 'measured' });
      points.push({ x: i + 1, y: last * r.predicted ** (T - 1 - i), series, kind: 'predicted' });
    });
  }
  const name = runs[0]?.label ?? activation;
  return linePlotSpec(positive(points), {
    title: `‖∂l_T/∂v_t‖ of a ${name} RNN, W_hh = ρ·Q (n = ${result.config.hiddenSize}); dashed: ‖∂l_T/∂v_T‖·${activation === 'linear' ? 'ρ' : 'rate'}^(T−t)`,
    xTitle: `time step t (loss at T = ${result.config.steps})`,
    yTitle: '‖∂l_T/∂v_t‖ (log scale)',
    yLog: true,
    legendLabelLimit: 280,
  });
}

/**
 * The fitted rate per step back against ρ for each activation (solid), with THEORY.md's bounds ρ
 * and p·ρ (dashed): linear φ and one-signed leaky runs sit on them, the rest between.
 *
 * @example
 * nb.lab.gradientFlowRateSpec(nb.lab.gradientFlowExperiment({ recallSteps: 0 }));
 */
export function gradientFlowRateSpec(result: GradientFlowExperimentResult): VegaLiteSpec {
  const p = result.config.slope;
  const points: SeriesPoint[] = [];
  for (const r of result.rates)
    points.push({ x: r.rho, y: r.rate, series: r.label, kind: 'measured' });
  for (const rho of [...new Set(result.rates.map((r) => r.rho))]) {
    points.push({ x: rho, y: rho, series: 'ρ (bound; linear: exact)', kind: 'predicted' });
    points.push({ x: rho, y: p * rho, series: `p·ρ (bound, p = ${p})`, kind: 'predicted' });
  }
  points.sort((a, b) => a.x - b.x);
  return linePlotSpec(points, {
    title: 'Fitted growth rate of ‖∂l_T/∂v_t‖ per step back against ρ (dashed: ρ and p·ρ)',
    xTitle: 'spectral radius ρ of W_hh',
    yTitle: 'measured rate (fitGrowthRate)',
    legendLabelLimit: 280,
  });
}

/**
 * The fitted rate against ρ·rms φ'(u), the spectral radius times the activation's effective slope
 * (solid, per activation), with the diagonal dashed.
 *
 * @example
 * nb.lab.gradientFlowSlopeSpec(nb.lab.gradientFlowExperiment({ recallSteps: 0 }));
 */
export function gradientFlowSlopeSpec(result: GradientFlowExperimentResult): VegaLiteSpec {
  const points: SeriesPoint[] = [];
  for (const r of result.rates) {
    points.push({ x: r.estimate, y: r.rate, series: r.label, kind: 'measured' });
    points.push({ x: r.estimate, y: r.estimate, series: 'rate = ρ·rms φ′', kind: 'predicted' });
  }
  points.sort((a, b) => a.x - b.x);
  return linePlotSpec(points, {
    title: 'Measured rate against ρ × the slope of φ (rms of φ′(u) over units and steps)',
    xTitle: 'ρ·rms φ′(u)',
    yTitle: 'measured rate (fitGrowthRate)',
    legendLabelLimit: 280,
  });
}

/**
 * ‖∂l_T/∂v_t‖ against t for full BPTT, after clipping (c·‖∂l_T/∂v_t‖: every step's term scaled
 * by the same c) and under truncated BPTT (exactly 0 beyond the window, not drawn on the log
 * axis), for each ρ of the clipping runs.
 *
 * @example
 * nb.lab.gradientFlowClipSpec(nb.lab.gradientFlowExperiment({ recallSteps: 0 }));
 */
export function gradientFlowClipSpec(result: GradientFlowExperimentResult): VegaLiteSpec {
  const points: SeriesPoint[] = [];
  for (const r of result.clipping) {
    const add = (name: string, ys: readonly number[]): void =>
      ys.forEach((y, i) =>
        points.push({ x: i + 1, y, series: `${rhoText(r.rho)}: ${name}`, kind: 'measured' }),
      );
    add('full BPTT', r.norms);
    if (r.clip) add(`clipped to ‖∂l/∂θ‖ ≤ ${r.clip.maxNorm}`, r.clip.norms);
    if (r.truncation) add(`truncated, k = ${r.truncation.k}`, r.truncation.norms);
  }
  return linePlotSpec(positive(points), {
    title: 'Clipping shifts the whole profile; truncation cuts it at k steps back (linear φ)',
    xTitle: `time step t (loss at T = ${result.config.steps})`,
    yTitle: '‖∂l_T/∂v_t‖ (log scale)',
    yLog: true,
    legendLabelLimit: 280,
  });
}

/**
 * ‖∂l/∂h_t‖ at initialisation on the recall task, per cell (tanh RNN, LSTM with forget-gate
 * biases, GRU), log scale.
 *
 * @example
 * nb.lab.gradientFlowGatedSpec(nb.lab.gradientFlowExperiment({ recallSteps: 0 }));
 */
export function gradientFlowGatedSpec(result: GradientFlowExperimentResult): VegaLiteSpec {
  const points: SeriesPoint[] = [];
  for (const r of result.recall)
    r.norms.forEach((y, i) => points.push({ x: i + 1, y, series: r.label, kind: 'measured' }));
  return linePlotSpec(positive(points), {
    title: `‖∂l/∂h_t‖ at initialisation on the recall task (H = ${result.config.recallHidden}, loss at T = ${result.config.recallDistance + 1})`,
    xTitle: 'time step t',
    yTitle: '‖∂l/∂h_t‖ (log scale)',
    yLog: true,
    legendLabelLimit: 280,
  });
}
