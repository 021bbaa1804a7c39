/**
 * Errors of the training loop and of checkpoints. Both are `NablaError`s; the messages name the
 * step, file or key involved and what was expected.
 */
import { NablaError, ValueError } from '../core/errors.js';

/** Where a non-finite value showed up. */
export type NonFiniteSource = 'loss' | 'gradient';

/**
 * A NaN or ±Infinity loss or gradient at a training step. Thrown before the optimizer touched
 * the weights, so the model still holds the weights from before `step`.
 *
 * @example
 * try {
 *   await trainer.run();
 * } catch (e) {
 *   if (e instanceof nb.train.NonFiniteError) console.log(`diverged at step ${e.step}`);
 * }
 */
export class NonFiniteError extends NablaError {
  constructor(
    /** The 0-based index of the update that produced the value (`trainer.step` is still it). */
    readonly step: number,
    /** What was non-finite. */
    readonly source: NonFiniteSource,
    /** The offending value (the loss, or the total gradient norm). */
    readonly value: number,
    detail = '',
  ) {
    super(
      `training step ${step}: the ${source === 'gradient' ? 'gradient norm' : source} is ${value}${detail}; ` +
        'the step was not applied, the weights are those from before it. Lower the learning rate, clip ' +
        "gradients (clipGradNorm), or pass onNonFinite: 'skip' to skip such steps",
    );
  }
}

/**
 * A checkpoint that is missing, corrupt, or does not fit the model or optimizer it is loaded into.
 * Also a `ValueError`.
 */
export class CheckpointError extends ValueError {}
