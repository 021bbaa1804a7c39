/**
 * The training metrics log: one JSON object per line (JSON Lines, https://jsonlines.org), one line
 * per training step and one per evaluation, as nanoGPT prints them and as wandb/TensorBoard
 * scalars would hold them. The trainer hands each record to a sink callback; the Node adapter
 * (`jsonlFileSink` in src/io/node/checkpoint.ts) appends them to a file, a browser can keep them in
 * memory (`memorySink`) or post them to the page.
 */

/** One training step's line. */
export interface TrainRecord {
  kind: 'train';
  /** Index of the update (0-based; also the number of updates before it). */
  step: number;
  /** Mean loss over the step's micro-batches (null in JSON when it was NaN or infinite). */
  loss: number;
  /** Learning rate applied at this step. */
  lr: number;
  /** Total gradient norm (2-norm over all parameters, before clipping). */
  gradNorm: number;
  /** Tokens (or examples, see `countTokens`) processed in this step. */
  tokens: number;
  /** tokens / stepTime. */
  tokensPerSec: number;
  /** Wall-clock seconds of this step. */
  stepTime: number;
  /** Seconds of training since the run began (continued across resumes). */
  time: number;
  /** True when a non-finite loss or gradient made the trainer skip the update. */
  skipped?: boolean;
}

/** One evaluation's line: the metrics returned by `evalFn` (e.g. valLoss), flattened in. */
export interface EvalRecord {
  kind: 'eval';
  /** Updates completed when the evaluation ran. */
  step: number;
  time: number;
  /** True when this evaluation set a new best (and a 'best' checkpoint was handed out). */
  best: boolean;
  [metric: string]: number | string | boolean;
}

export type MetricsRecord = TrainRecord | EvalRecord;

/** Receives every metrics record; may return a promise, which the trainer awaits. */
export type MetricsSink = (record: MetricsRecord) => void | Promise<void>;

/**
 * One JSON Lines line (with its newline). NaN and ±Infinity, which JSON cannot hold, become null.
 *
 * @example
 * nb.train.toJsonLine({ kind: 'eval', step: 100, time: 3.2, best: true, valLoss: 1.5 });
 * // '{"kind":"eval","step":100,"time":3.2,"best":true,"valLoss":1.5}\n'
 */
export function toJsonLine(record: MetricsRecord): string {
  return JSON.stringify(record) + '\n';
}

/**
 * A sink that keeps the records in an array (tests, browsers, the lab).
 *
 * @example
 * const log = nb.train.memorySink();
 * await nb.train.trainLoop({ ...options, onMetrics: log.sink });
 * log.records.filter((r) => r.kind === 'eval');
 */
export function memorySink(): { records: MetricsRecord[]; sink: MetricsSink } {
  const records: MetricsRecord[] = [];
  return { records, sink: (r) => void records.push(r) };
}
