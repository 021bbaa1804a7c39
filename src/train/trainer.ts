/**
 * The training loop: one readable loop in the manner of nanoGPT's train.py (Karpathy) — learning
 * rate from a schedule, gradient accumulation over micro-batches, gradient clipping by norm,
 * periodic evaluation with best-checkpoint keeping, and a metrics log — with what a long run
 * needs on top: a guard that refuses NaN/Inf updates, checkpoints that resume bit for bit (model,
 * optimizer moments, schedule position, every RNG and the data position), hooks for the lab, and a
 * `nb.scope` around each step so that memory stays flat.
 *
 * Pure library code (runs in browsers): files are written by the sinks the caller passes, e.g.
 * `checkpointWriter` and `jsonlFileSink` from src/io/node/checkpoint.ts.
 *
 * One update (index `step`, 0-based):
 *   lr = schedule(step); optimizer.setLr(lr)
 *   for each of gradAccumSteps micro-batches: loss = lossFn(model, next batch); (loss / k).backward()
 *   norm = clipGradNorm(parameters, maxNorm)         (or just measured, without clipping)
 *   if the loss or the norm is NaN/Inf: throw NonFiniteError (or skip the update)
 *   optimizer.step()
 */
import { noGrad } from '../autograd/grad-mode.js';
import { ValueError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { scope } from '../memory.js';
import type { Module } from '../nn/module.js';
import { clipGradNorm } from '../nn/utils.js';
import type { Optimizer } from '../optim/optimizer.js';
import { Tensor } from '../tensor.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  checkModelCompatible,
  flattenOptimizerState,
  loadOptimizerState,
  tensorInfos,
  validateCheckpointState,
  type BestRecord,
  type Checkpoint,
  type JsonValue,
} from './checkpoint.js';
import { CheckpointError, NonFiniteError } from './errors.js';
import type { EvalRecord, MetricsSink, TrainRecord } from './metrics.js';

// Every browser and Node has `performance` (Node ≥ 16 as a global), but the library compiles
// without DOM or Node types, so declare what is used here.
declare const performance: { now(): number } | undefined;

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** A learning rate as a function of the 0-based update index (nb.optim's schedules are these). */
export type LrSchedule = (step: number) => number;

/**
 * Where training batches come from. `getState`/`setState` (optional) save and restore the
 * source's position for exact resumption; a source that draws from a Generator can instead
 * register that generator in `TrainerOptions.generators`.
 */
export interface BatchSource<B> {
  next(): B;
  getState?(): JsonValue;
  setState?(state: JsonValue): void;
}

/** Any optimizer (SGD, Adam, AdamW, or your own subclass of nb.optim.Optimizer). */
export type AnyOptimizer = Optimizer<{ lr: number }>;

/** What `onStep` receives after every update. */
export interface StepInfo {
  /** The metrics line of the step (also passed to onMetrics). */
  record: TrainRecord;
  /** Updates completed (record.step + 1). */
  step: number;
}

/** What `onEval` receives after every evaluation. */
export interface EvalInfo {
  /** Updates completed when the evaluation ran. */
  step: number;
  metrics: Record<string, number>;
  /** Whether this evaluation set a new best. */
  improved: boolean;
  best: BestRecord | null;
}

/** Why a checkpoint is handed to `onCheckpoint`. */
export interface CheckpointInfo {
  /** 'best': a new best evaluation; 'last': the periodic (checkpointEvery) save. */
  kind: 'best' | 'last';
  /** Updates completed. */
  step: number;
}

export type Hook<T> = (info: T) => void | Promise<void>;

/**
 * Everything a training run needs. Only `model`, `optimizer`, `data`, `loss` and `maxSteps` are
 * required.
 */
export interface TrainerOptions<M extends Module, B> {
  model: M;
  optimizer: AnyOptimizer;
  /** The next training batch: a function, or a BatchSource with a saveable position. */
  data: (() => B) | BatchSource<B>;
  /** The scalar loss of one (micro-)batch, e.g. `(m, b) => m.forward(b.x, b.y).loss!`. */
  loss: (model: M, batch: B) => Tensor;
  /** Train until this many updates have been made in total (a resumed run counts the earlier ones). */
  maxSteps: number;
  /** Micro-batches per update, their gradients averaged (default 1). */
  gradAccumSteps?: number;
  /** Clip the total 2-norm of the gradients to this value (nb.nn.utils.clipGradNorm); default off. */
  gradClip?: number | null;
  /** A fixed learning rate, or a schedule called with each update's index (default: leave the optimizer's). */
  lr?: number | LrSchedule;
  /** Evaluate after every `evalEvery` updates (needs `evalFn`). */
  evalEvery?: number;
  /** Metrics on held-out data, e.g. `{ valLoss }`. Runs in eval mode, without autograd, in a scope. */
  evalFn?: (model: M) => Record<string, number>;
  /** The metric that decides the best checkpoint (default 'valLoss'); null turns best-keeping off. */
  bestMetric?: string | null;
  /** 'min' (default): lower is better; 'max': higher is better. */
  bestMode?: 'min' | 'max';
  /** Hand a 'last' checkpoint to onCheckpoint after every `checkpointEvery` updates. */
  checkpointEvery?: number;
  /** Receives checkpoints ('best' on a new best evaluation, 'last' periodically). */
  onCheckpoint?: (checkpoint: Checkpoint, info: CheckpointInfo) => void | Promise<void>;
  /** Receives every metrics line (JSONL record). */
  onMetrics?: MetricsSink;
  /** Send a training line every `logEvery` updates (default 1; skipped updates always). */
  logEvery?: number;
  /**
   * Called after every update. The parameters' `.grad` still hold the step's (clipped)
   * gradients; they are freed when the next step starts, so clone what you keep.
   */
  onStep?: Hook<StepInfo>;
  /** Called after every evaluation. */
  onEval?: Hook<EvalInfo>;
  /** What a NaN/Inf loss or gradient does: 'throw' a NonFiniteError (default) or 'skip' the update. */
  onNonFinite?: 'throw' | 'skip';
  /**
   * Generators besides the global one whose state belongs to the run (the batch source's, the
   * model's dropout generator): saved in checkpoints and restored on resume.
   */
  generators?: Record<string, Generator>;
  /** Tokens in a batch, for tokens/s (default: the element count of the batch's first tensor). */
  countTokens?: (batch: B) => number;
  /** Stored in every checkpoint's state.json. */
  config?: JsonValue;
  /** The tokenizer's JSON form, stored in every checkpoint. */
  tokenizer?: JsonValue;
  /** Free-form JSON stored in every checkpoint. */
  extra?: JsonValue;
  /** Resume from this checkpoint (same as calling `loadCheckpoint` after construction). */
  resume?: Checkpoint;
}

/** What `run()` returns. */
export interface TrainResult {
  /** Updates completed. */
  step: number;
  /** The loss of the last update (NaN when none ran). */
  lastLoss: number;
  best: BestRecord | null;
  /** True when `stop()` ended the run before maxSteps. */
  stopped: boolean;
}

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!Number.isInteger(x) || x < 1)
    throw new ValueError(`Trainer: ${name} must be a positive integer, got ${String(v)}`);
  return x;
}

/** Element count of the first tensor in a batch (a tensor, an array or a plain object of them). */
function defaultTokenCount(batch: unknown): number {
  if (batch instanceof Tensor) return batch.size;
  const values = Array.isArray(batch)
    ? batch
    : typeof batch === 'object' && batch !== null
      ? Object.values(batch)
      : [];
  const first = values.find((v): v is Tensor => v instanceof Tensor);
  return first?.size ?? 0;
}

/** Total 2-norm of the gradients of `params` (0 when none has a gradient). */
function gradNorm(params: readonly Tensor[]): number {
  return noGrad(() =>
    scope(() => {
      let sum = 0;
      for (const p of params) if (p.grad) sum += p.grad.square().sum().item();
      return Math.sqrt(sum);
    }),
  );
}

/**
 * A training run: owns the step counter, the best record and the elapsed time, and drives model,
 * optimizer and data. `run()` trains to maxSteps; `trainStep()` makes one update (for callers
 * that drive the loop themselves, e.g. a Web Worker); `checkpoint()` / `loadCheckpoint()` save
 * and resume.
 *
 * @example
 * const model = new nb.models.GPT(nb.models.gptPresets.tiny);
 * const optimizer = new nb.optim.AdamW(model.parameters(), { lr: 1e-3 });
 * const trainer = new nb.train.Trainer({
 *   model,
 *   optimizer,
 *   data: () => batchOf(8), // { x: (B, T) int32, y: (B, T) int32 }
 *   loss: (m, b) => m.forward(b.x, b.y).loss!,
 *   maxSteps: 200,
 *   lr: nb.optim.cosineWithWarmup({ maxLr: 1e-3, minLr: 1e-4, warmupIters: 20, lrDecayIters: 200 }),
 *   gradClip: 1,
 *   evalEvery: 50,
 *   evalFn: (m) => ({ valLoss: m.forward(valX, valY).loss!.item() }),
 *   onMetrics: (r) => console.log(JSON.stringify(r)),
 * });
 * const { best } = await trainer.run();
 */
export class Trainer<M extends Module, B> {
  readonly model: M;
  readonly optimizer: AnyOptimizer;
  readonly options: Readonly<TrainerOptions<M, B>>;
  private readonly source: BatchSource<B>;
  private readonly accum: number;
  private readonly evalEvery: number | null;
  private readonly checkpointEvery: number | null;
  private readonly logEvery: number;
  private stepCount = 0;
  private elapsedMs = 0;
  private lastLr: number | null = null;
  private bestRecord: BestRecord | null = null;
  private stopRequested = false;

  constructor(options: TrainerOptions<M, B>) {
    this.options = options;
    this.model = options.model;
    this.optimizer = options.optimizer;
    this.source = typeof options.data === 'function' ? { next: options.data } : options.data;
    if (!this.source || typeof this.source.next !== 'function')
      throw new ValueError('Trainer: data must be a function or a { next() } batch source');
    if (typeof options.loss !== 'function')
      throw new ValueError('Trainer: loss must be a function (model, batch) => scalar Tensor');
    if (!Number.isInteger(options.maxSteps) || options.maxSteps < 0)
      throw new ValueError(
        `Trainer: maxSteps must be a non-negative integer, got ${options.maxSteps}`,
      );
    this.accum = positiveInt('gradAccumSteps', options.gradAccumSteps, 1);
    this.logEvery = positiveInt('logEvery', options.logEvery, 1);
    this.evalEvery =
      options.evalEvery === undefined ? null : positiveInt('evalEvery', options.evalEvery, 1);
    if (this.evalEvery !== null && typeof options.evalFn !== 'function')
      throw new ValueError('Trainer: evalEvery needs an evalFn returning { metric: number }');
    this.checkpointEvery =
      options.checkpointEvery === undefined
        ? null
        : positiveInt('checkpointEvery', options.checkpointEvery, 1);
    const clip = options.gradClip;
    if (clip != null && !(typeof clip === 'number' && clip > 0))
      throw new ValueError(`Trainer: gradClip must be a positive number, got ${String(clip)}`);
    if (options.resume) this.loadCheckpoint(options.resume);
  }

  /** Updates completed so far; the next update has this index. */
  get step(): number {
    return this.stepCount;
  }

  /** The best evaluation so far (by `bestMetric`), or null. */
  get best(): BestRecord | null {
    return this.bestRecord;
  }

  /** Seconds spent in training steps (and evaluations), continued across resumes. */
  get elapsed(): number {
    return this.elapsedMs / 1000;
  }

  /** Asks `run()` to return after the current update (and its evaluation and checkpoint). */
  stop(): void {
    this.stopRequested = true;
  }

  /** The learning rate of update `step`, applied to the optimizer. */
  private applyLr(step: number): number {
    const lr = this.options.lr;
    if (lr === undefined) return this.optimizer.paramGroups[0]!.options.lr;
    const value = typeof lr === 'number' ? lr : lr(step);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw new ValueError(
        `Trainer: the learning rate for step ${step} is ${value}; expected a finite number >= 0`,
      );
    this.optimizer.setLr(value);
    return value;
  }

  /** Drops every parameter's gradient (disposing it, so non-GC backends free it now). */
  private clearGrads(): void {
    for (const p of this.model.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * Makes one update and returns its metrics line. Gradients are cleared at the start of the
   * step (not the end), so that `onStep` hooks can still read them. Throws NonFiniteError (with
   * `onNonFinite: 'throw'`) without changing the weights or the step counter.
   */
  trainStep(): TrainRecord {
    const step = this.stepCount;
    const lr = this.applyLr(step);
    this.model.train();
    this.clearGrads();
    const params = this.model.parameters();
    const t0 = now();
    let tokens = 0;
    let lossSum = 0;
    // Everything created here (activations, graph, batch) is freed at the end of the step; the
    // gradients and the optimizer's moments are kept by autograd and the optimizer.
    const outcome = scope((): { bad: NonFiniteError | null; norm: number } => {
      for (let micro = 0; micro < this.accum; micro++) {
        const batch = this.source.next();
        tokens += (this.options.countTokens ?? defaultTokenCount)(batch);
        const loss = this.options.loss(this.model, batch);
        if (!(loss instanceof Tensor) || loss.size !== 1)
          throw new ValueError(
            `Trainer: the loss function must return a one-element Tensor, got ${loss instanceof Tensor ? `shape [${loss.shape.join(', ')}]` : typeof loss}`,
          );
        const value = loss.item();
        if (!Number.isFinite(value)) {
          const where = this.accum > 1 ? ` (micro-batch ${micro} of ${this.accum})` : '';
          return { bad: new NonFiniteError(step, 'loss', value, where), norm: NaN };
        }
        lossSum += value;
        // Autograd would sum into .grad by replacing it with old + new without freeing the old
        // tensor; setting the gradients aside and adding them back in place keeps memory flat.
        const held = micro > 0 ? params.map((p) => [p, p.grad] as const) : [];
        for (const [p] of held) p.grad = null;
        (this.accum === 1 ? loss : loss.div(this.accum)).backward();
        noGrad(() => {
          for (const [p, g] of held) {
            if (g === null) continue;
            if (p.grad === null) p.grad = g;
            else {
              p.grad.add_(g); // new + old, the same sum (IEEE addition commutes)
              g.dispose();
            }
          }
        });
      }
      const clip = this.options.gradClip;
      const norm = clip != null ? clipGradNorm(params, clip) : gradNorm(params);
      if (!Number.isFinite(norm)) return { bad: new NonFiniteError(step, 'gradient', norm), norm };
      this.optimizer.step();
      return { bad: null, norm };
    });
    const dt = now() - t0;
    this.elapsedMs += dt;
    this.lastLr = lr;
    if (outcome.bad) {
      this.clearGrads();
      if ((this.options.onNonFinite ?? 'throw') === 'throw') throw outcome.bad;
    }
    this.stepCount = step + 1;
    const record: TrainRecord = {
      kind: 'train',
      step,
      loss: outcome.bad ? outcome.bad.value : lossSum / this.accum,
      lr,
      gradNorm: outcome.norm,
      tokens,
      tokensPerSec: dt > 0 ? (tokens * 1000) / dt : 0,
      stepTime: dt / 1000,
      time: this.elapsed,
    };
    if (outcome.bad) record.skipped = true;
    return record;
  }

  /**
   * Runs `evalFn` in eval mode (dropout off), without autograd, inside a scope; restores each
   * module's mode afterwards. Does not touch the best record (see `run`).
   */
  evaluate(): Record<string, number> {
    const fn = this.options.evalFn;
    if (!fn) throw new ValueError('Trainer.evaluate: no evalFn was given');
    const modes = [...this.model.modules()].map((m) => [m, m.training] as const);
    const t0 = now();
    this.model.eval();
    let metrics: Record<string, number>;
    try {
      metrics = noGrad(() => scope(() => fn(this.model)));
    } finally {
      for (const [m, training] of modes) m.training = training;
      this.elapsedMs += now() - t0;
    }
    if (typeof metrics !== 'object' || metrics === null)
      throw new ValueError('Trainer: evalFn must return an object of numbers, e.g. { valLoss }');
    for (const [k, v] of Object.entries(metrics)) {
      if (typeof v !== 'number')
        throw new ValueError(`Trainer: evalFn returned ${k} = ${String(v)}, not a number`);
      if (k === 'kind' || k === 'step' || k === 'time' || k === 'best')
        throw new ValueError(`Trainer: evalFn metric name '${k}' is reserved for the log line`);
    }
    return metrics;
  }

  /** Whether `value` beats the best so far. */
  private improves(value: number): boolean {
    if (Number.isNaN(value)) return false;
    if (this.bestRecord === null) return true;
    return (this.options.bestMode ?? 'min') === 'min'
      ? value < this.bestRecord.value
      : value > this.bestRecord.value;
  }

  /** Evaluates, logs, updates the best record and hands out a 'best' checkpoint if it improved. */
  private async evalAndKeepBest(): Promise<void> {
    const metrics = this.evaluate();
    const metric = this.options.bestMetric === undefined ? 'valLoss' : this.options.bestMetric;
    let improved = false;
    if (metric !== null) {
      const value = metrics[metric];
      if (value === undefined)
        throw new ValueError(
          `Trainer: bestMetric '${metric}' is not among the metrics evalFn returned (${Object.keys(metrics).join(', ') || 'none'}); ` +
            'set bestMetric to one of them, or to null to keep no best checkpoint',
        );
      improved = this.improves(value);
      if (improved)
        this.bestRecord = {
          metric,
          mode: this.options.bestMode ?? 'min',
          value,
          step: this.stepCount,
        };
    }
    const record: EvalRecord = {
      kind: 'eval',
      step: this.stepCount,
      time: this.elapsed,
      best: improved,
      ...metrics,
    };
    await this.options.onMetrics?.(record);
    if (improved && this.options.onCheckpoint)
      await this.options.onCheckpoint(this.checkpoint(), { kind: 'best', step: this.stepCount });
    await this.options.onEval?.({
      step: this.stepCount,
      metrics,
      improved,
      best: this.bestRecord,
    });
  }

  /**
   * Trains until `maxSteps` updates have been made (or `stop()` is called): after each update it
   * logs, calls onStep, evaluates every `evalEvery` updates and hands out checkpoints.
   */
  async run(): Promise<TrainResult> {
    this.stopRequested = false;
    let lastLoss = NaN;
    const o = this.options;
    while (this.stepCount < o.maxSteps && !this.stopRequested) {
      const record = this.trainStep();
      lastLoss = record.loss;
      const done = this.stepCount;
      if (o.onMetrics && (record.step % this.logEvery === 0 || record.skipped))
        await o.onMetrics(record);
      await o.onStep?.({ record, step: done });
      if (this.evalEvery !== null && done % this.evalEvery === 0) await this.evalAndKeepBest();
      if (o.onCheckpoint && this.checkpointEvery !== null && done % this.checkpointEvery === 0)
        await o.onCheckpoint(this.checkpoint(), { kind: 'last', step: done });
    }
    return {
      step: this.stepCount,
      lastLoss,
      best: this.bestRecord,
      stopped: this.stepCount < o.maxSteps,
    };
  }

  /**
   * A snapshot of the run: copies of the model's state dict and the optimizer's moments (so that
   * later updates do not change it), and the JSON state (step, schedule position, RNG states,
   * data position, best record, config and tokenizer).
   */
  checkpoint(): Checkpoint {
    const copy = (ts: Record<string, Tensor>): Record<string, Tensor> =>
      noGrad(() => {
        const out: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(ts)) out[k] = t.clone();
        return out;
      });
    const model = copy(this.model.stateDict());
    const opt = flattenOptimizerState(this.optimizer);
    const generators: Record<string, ReturnType<Generator['getState']>> = {};
    for (const [name, g] of Object.entries(this.options.generators ?? {}))
      generators[name] = g.getState();
    const dataState = this.source.getState?.() ?? null;
    return {
      model,
      optimizer: copy(opt.tensors),
      state: {
        format: CHECKPOINT_FORMAT,
        version: CHECKPOINT_VERSION,
        step: this.stepCount,
        elapsed: this.elapsed,
        schedule: { step: this.stepCount, lr: this.lastLr },
        rng: { global: defaultGenerator().getState(), generators },
        optimizer: opt.json,
        model: tensorInfos(model),
        best: this.bestRecord && { ...this.bestRecord },
        // Round trips make the JSON parts snapshots too.
        data: JSON.parse(JSON.stringify(dataState)) as JsonValue,
        config: JSON.parse(JSON.stringify(this.options.config ?? null)) as JsonValue,
        tokenizer: JSON.parse(JSON.stringify(this.options.tokenizer ?? null)) as JsonValue,
        extra: JSON.parse(JSON.stringify(this.options.extra ?? null)) as JsonValue,
      },
    };
  }

  /**
   * Restores a run from `ckpt`: weights, optimizer state, step, elapsed time, best record, the
   * global generator, the named generators and the data position. The next update is then the
   * one the checkpointed run would have made. Throws CheckpointError (naming keys and shapes) for
   * a checkpoint of another model, optimizer or set of generators; nothing is changed then.
   */
  loadCheckpoint(ckpt: Checkpoint, where = 'checkpoint'): void {
    const state = validateCheckpointState(ckpt?.state, `${where} (state)`);
    checkModelCompatible(this.model, ckpt.model, where);
    const named = this.options.generators ?? {};
    const missing = Object.keys(named).filter((k) => !(k in state.rng.generators));
    if (missing.length)
      throw new CheckpointError(
        `${where}: no state for the generator(s) ${missing.join(', ')}; it was saved by a run with generators ` +
          `[${Object.keys(state.rng.generators).join(', ')}], so the run cannot resume exactly`,
      );
    if (state.data !== null && !this.source.setState)
      throw new CheckpointError(
        `${where}: the checkpoint holds a data position but this batch source has no setState()`,
      );
    loadOptimizerState(this.optimizer, ckpt.optimizer, state.optimizer, where);
    this.model.loadStateDict(ckpt.model);
    this.clearGrads();
    defaultGenerator().setState(state.rng.global);
    for (const [name, g] of Object.entries(named)) g.setState(state.rng.generators[name]!);
    if (state.data !== null) this.source.setState!(state.data);
    this.stepCount = state.step;
    this.elapsedMs = state.elapsed * 1000;
    this.lastLr = state.schedule.lr;
    this.bestRecord = state.best && { ...state.best };
  }
}

/**
 * Trains `options.model` with `options.optimizer` and returns when `maxSteps` updates are done:
 * `new Trainer(options).run()`.
 *
 * @example
 * const log = nb.train.memorySink();
 * await nb.train.trainLoop({
 *   model, optimizer, data: () => batch, loss: (m, b) => lossOf(m, b), maxSteps: 100,
 *   onMetrics: log.sink,
 * });
 */
export function trainLoop<M extends Module, B>(
  options: TrainerOptions<M, B>,
): Promise<TrainResult> {
  return new Trainer(options).run();
}
