/**
 * Learning-rate schedules and a small scheduler that applies one to an optimizer.
 *
 * A schedule is a plain function `lrAt(step)` from the (0-based) step to a learning rate, so it can
 * be called directly (as nanoGPT's `get_lr(it)`) or handed to an `LRScheduler`. The shapes follow:
 * - linear warm-up and cosine decay to a floor: nanoGPT's `get_lr` (Karpathy, train.py), after
 *   Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017);
 * - inverse square root with warm-up ("Noam"): Vaswani et al., "Attention Is All You Need" (2017),
 *   §5.3, in the Annotated Transformer's form with a `factor`;
 * - step decay: PyTorch's `torch.optim.lr_scheduler.StepLR`.
 * `LRScheduler` follows PyTorch's `LRScheduler`/`LambdaLR` conventions: construction applies the
 * value for step 0, and each `step()` (called after `optimizer.step()`) advances by one.
 */
import { ValueError } from '../core/errors.js';
import type { Optimizer } from './optimizer.js';

/** A learning rate as a function of the 0-based step (or a multiplier, with `relative: true`). */
export type Schedule = (step: number) => number;

function checkNonNegative(name: string, what: string, v: number): void {
  if (!(Number.isFinite(v) && v >= 0))
    throw new ValueError(`${name}: ${what} must be a finite number >= 0, got ${v}`);
}

function checkInteger(name: string, what: string, v: number, min: number): void {
  if (!(Number.isInteger(v) && v >= min))
    throw new ValueError(`${name}: ${what} must be an integer >= ${min}, got ${v}`);
}

function checkStep(name: string, step: number): void {
  if (!(Number.isInteger(step) && step >= 0))
    throw new ValueError(`${name}: step must be an integer >= 0, got ${step}`);
}

/** A constant learning rate. */
export function constantLr(lr: number): Schedule {
  checkNonNegative('constantLr', 'lr', lr);
  return (step) => {
    checkStep('constantLr', step);
    return lr;
  };
}

export interface LinearWarmupOptions {
  /** The learning rate reached at the end of the warm-up (and kept afterwards). */
  lr: number;
  /** Number of warm-up steps (0 for none). */
  warmupIters: number;
}

/**
 * Linear warm-up then constant: `lr · (step + 1) / (warmupIters + 1)` for `step < warmupIters`
 * (nanoGPT's warm-up, which never returns 0), then `lr`.
 *
 * @example
 * const lrAt = nb.optim.linearWarmup({ lr: 1e-3, warmupIters: 100 });
 * lrAt(0); // 1e-3 / 101
 * lrAt(100); // 1e-3
 */
export function linearWarmup(options: LinearWarmupOptions): Schedule {
  const { lr, warmupIters } = options;
  checkNonNegative('linearWarmup', 'lr', lr);
  checkInteger('linearWarmup', 'warmupIters', warmupIters, 0);
  return (step) => {
    checkStep('linearWarmup', step);
    return step < warmupIters ? (lr * (step + 1)) / (warmupIters + 1) : lr;
  };
}

export interface CosineWithWarmupOptions {
  /** The peak learning rate, reached at the end of the warm-up. */
  maxLr: number;
  /** The floor the cosine decays to (and stays at after `lrDecayIters`). */
  minLr: number;
  /** Number of linear warm-up steps (0 for none). */
  warmupIters: number;
  /** The step at which the cosine reaches `minLr` (>= warmupIters). */
  lrDecayIters: number;
}

/**
 * nanoGPT's `get_lr`: linear warm-up for `warmupIters` steps (`maxLr · (step + 1) /
 * (warmupIters + 1)`), then a half cosine from `maxLr` down to `minLr` at `lrDecayIters`, and
 * `minLr` after that.
 *
 * @example
 * const lrAt = nb.optim.cosineWithWarmup({ maxLr: 6e-4, minLr: 6e-5, warmupIters: 2000, lrDecayIters: 600000 });
 * lrAt(2000); // 6e-4
 * lrAt(600000); // 6e-5
 */
export function cosineWithWarmup(options: CosineWithWarmupOptions): Schedule {
  const { maxLr, minLr, warmupIters, lrDecayIters } = options;
  checkNonNegative('cosineWithWarmup', 'maxLr', maxLr);
  checkNonNegative('cosineWithWarmup', 'minLr', minLr);
  checkInteger('cosineWithWarmup', 'warmupIters', warmupIters, 0);
  checkInteger('cosineWithWarmup', 'lrDecayIters', lrDecayIters, 0);
  if (lrDecayIters < warmupIters) {
    throw new ValueError(
      `cosineWithWarmup: lrDecayIters (${lrDecayIters}) must be >= warmupIters (${warmupIters})`,
    );
  }
  return (step) => {
    checkStep('cosineWithWarmup', step);
    if (step < warmupIters) return (maxLr * (step + 1)) / (warmupIters + 1);
    if (step >= lrDecayIters) return minLr;
    const decayRatio = (step - warmupIters) / (lrDecayIters - warmupIters); // in [0, 1)
    const coeff = 0.5 * (1 + Math.cos(Math.PI * decayRatio)); // 1 → 0
    return minLr + coeff * (maxLr - minLr);
  };
}

export interface NoamOptions {
  /** The model width d (the schedule scales with d^-0.5). */
  dModel: number;
  /** Warm-up steps: the rate rises linearly until `warmup`, then decays as step^-0.5. */
  warmup: number;
  /** A constant multiplier (default 1). */
  factor?: number;
}

/**
 * The original Transformer's inverse-square-root schedule ("Noam"):
 * `factor · d^-0.5 · min(s^-0.5, s · warmup^-1.5)` with `s = max(step, 1)` (as the Annotated
 * Transformer, so step 0 gives the same small rate as step 1 rather than 0). The peak,
 * `factor · (d · warmup)^-0.5`, is at `step = warmup`.
 *
 * @example
 * const lrAt = nb.optim.noam({ dModel: 512, warmup: 4000, factor: 1 });
 * lrAt(4000); // 512^-0.5 · 4000^-0.5 ≈ 7.0e-4
 */
export function noam(options: NoamOptions): Schedule {
  const { dModel, warmup, factor = 1 } = options;
  checkInteger('noam', 'dModel', dModel, 1);
  checkInteger('noam', 'warmup', warmup, 1);
  checkNonNegative('noam', 'factor', factor);
  return (step) => {
    checkStep('noam', step);
    const s = Math.max(step, 1);
    return factor * (dModel ** -0.5 * Math.min(s ** -0.5, s * warmup ** -1.5));
  };
}

export interface StepDecayOptions {
  /** The initial learning rate. */
  lr: number;
  /** Decay every `stepSize` steps. */
  stepSize: number;
  /** Multiplicative factor per decay (default 0.1, as PyTorch). */
  gamma?: number;
}

/**
 * Step decay (PyTorch's StepLR): `lr · gamma^floor(step / stepSize)`.
 *
 * @example
 * const lrAt = nb.optim.stepDecay({ lr: 0.1, stepSize: 30, gamma: 0.1 });
 * lrAt(29); // 0.1
 * lrAt(30); // 0.01
 */
export function stepDecay(options: StepDecayOptions): Schedule {
  const { lr, stepSize, gamma = 0.1 } = options;
  checkNonNegative('stepDecay', 'lr', lr);
  checkInteger('stepDecay', 'stepSize', stepSize, 1);
  checkNonNegative('stepDecay', 'gamma', gamma);
  return (step) => {
    checkStep('stepDecay', step);
    return lr * gamma ** Math.floor(step / stepSize);
  };
}

export interface LRSchedulerOptions {
  /**
   * When true, the schedule returns a multiplier of each group's initial learning rate (PyTorch's
   * LambdaLR), so groups with different learning rates keep their ratio. When false (the default),
   * the schedule's value is the learning rate itself, set on every group.
   */
  relative?: boolean;
}

/** The serialisable state of an `LRScheduler` (the schedule functions themselves are not saved). */
export interface LRSchedulerStateDict {
  lastEpoch: number;
  baseLrs: number[];
  lastLr: number[];
  relative: boolean;
}

/**
 * Applies a schedule to an optimizer, one step at a time. Construction sets the learning rate for
 * step 0; call `step()` after each `optimizer.step()`.
 *
 * @example
 * const opt = new nb.optim.AdamW(model.parameters(), { lr: 6e-4 });
 * const sched = new nb.optim.LRScheduler(
 *   opt,
 *   nb.optim.cosineWithWarmup({ maxLr: 6e-4, minLr: 6e-5, warmupIters: 100, lrDecayIters: 5000 }),
 * );
 * for (let it = 0; it < 5000; it++) {
 *   // ... loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 *   sched.step();
 * }
 */
export class LRScheduler {
  /** The number of `step()` calls so far (PyTorch's `last_epoch`). */
  lastEpoch = 0;
  /** Each group's learning rate when the scheduler was created. */
  baseLrs: number[];
  readonly relative: boolean;
  private readonly schedules: Schedule[];
  private lastLr: number[] = [];

  constructor(
    readonly optimizer: Optimizer<{ lr: number }>,
    schedule: Schedule | readonly Schedule[],
    options: LRSchedulerOptions = {},
  ) {
    const groups = optimizer.paramGroups.length;
    if (Array.isArray(schedule)) {
      if (schedule.length !== groups)
        throw new ValueError(
          `LRScheduler: got ${schedule.length} schedules for ${groups} parameter group(s)`,
        );
      this.schedules = [...(schedule as readonly Schedule[])];
    } else if (typeof schedule === 'function') {
      this.schedules = optimizer.paramGroups.map(() => schedule as Schedule);
    } else {
      throw new ValueError('LRScheduler: expected a schedule function or one per parameter group');
    }
    this.relative = options.relative ?? false;
    this.baseLrs = optimizer.paramGroups.map((g) => g.options.lr);
    this.apply();
  }

  /** The learning rate (or rates) the schedule gives at `step`, without changing anything. */
  lrAt(step: number): number[] {
    return this.schedules.map((f, i) => {
      const v = f(step);
      const lr = this.relative ? this.baseLrs[i]! * v : v;
      if (!Number.isFinite(lr))
        throw new ValueError(`LRScheduler: the schedule gave ${v} at step ${step}`);
      return lr;
    });
  }

  /** Advances one step and sets the learning rate of every group. */
  step(): void {
    this.lastEpoch += 1;
    this.apply();
  }

  /** The learning rate of each group as last set by this scheduler. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  stateDict(): LRSchedulerStateDict {
    return {
      lastEpoch: this.lastEpoch,
      baseLrs: [...this.baseLrs],
      lastLr: [...this.lastLr],
      relative: this.relative,
    };
  }

  /** Restores the step count and base rates, and sets the optimizer's rates to the saved ones. */
  loadStateDict(sd: LRSchedulerStateDict): void {
    const n = this.optimizer.paramGroups.length;
    if (
      !sd ||
      !Number.isInteger(sd.lastEpoch) ||
      !Array.isArray(sd.baseLrs) ||
      !Array.isArray(sd.lastLr) ||
      sd.baseLrs.length !== n ||
      sd.lastLr.length !== n
    ) {
      throw new ValueError(
        `LRScheduler.loadStateDict: expected { lastEpoch, baseLrs, lastLr } for ${n} parameter group(s)`,
      );
    }
    if (sd.relative !== undefined && sd.relative !== this.relative) {
      throw new ValueError(
        `LRScheduler.loadStateDict: the state was saved with relative=${sd.relative}, this scheduler has relative=${this.relative}`,
      );
    }
    this.lastEpoch = sd.lastEpoch;
    this.baseLrs = [...sd.baseLrs];
    this.lastLr = [...sd.lastLr];
    this.optimizer.paramGroups.forEach((g, i) => (g.options.lr = this.lastLr[i]!));
  }

  private apply(): void {
    this.lastLr = this.lrAt(this.lastEpoch);
    this.optimizer.paramGroups.forEach((g, i) => (g.options.lr = this.lastLr[i]!));
  }
}
