/**
 * The tape: each differentiable op that ran with grad enabled leaves a GradNode on its output,
 * holding its inputs, the tensors its backward reads (with their in-place versions), and a backward
 * closure written in Tensor ops (micrograd's design, so every backend gets gradients for free).
 */
import { GradError } from '../core/errors.js';
import type { Tensor } from '../tensor.js';
import { isGradEnabled } from './grad-mode.js';

/** Gradients of the inputs, in order; null/undefined where an input gets none. */
export type BackwardFn = (grad: Tensor) => readonly (Tensor | null | undefined)[];

export class GradNode {
  private readonly savedVersions: number[];
  private released = false;

  constructor(
    readonly name: string,
    readonly inputs: readonly Tensor[],
    private backwardFn: BackwardFn | null,
    readonly saved: readonly Tensor[],
  ) {
    this.savedVersions = saved.map((t) => t._buffer.version);
  }

  /** Runs the backward closure after checking that nothing it reads was modified in place. */
  apply(grad: Tensor): readonly (Tensor | null | undefined)[] {
    if (this.released || this.backwardFn === null) {
      throw new GradError(
        `backward through '${this.name}' a second time: its saved values were freed after the first ` +
          `backward. Pass { retainGraph: true } to the first backward() if you need to do this.`,
      );
    }
    this.saved.forEach((t, i) => {
      if (t._buffer.version !== this.savedVersions[i]) {
        throw new GradError(
          `backward through '${this.name}': a tensor of shape [${t.shape.join(', ')}] it saved for ` +
            `the gradient was modified by an in-place operation afterwards (version ` +
            `${t._buffer.version}, expected ${this.savedVersions[i]}). Clone it before changing it.`,
        );
      }
    });
    return this.backwardFn(grad);
  }

  /** Frees the closure (and what it captured) once backward has used it. */
  release(): void {
    this.released = true;
    this.backwardFn = null;
  }
}

/**
 * Attaches a GradNode to `out` when grad mode is on and some input requires grad. `saved` lists the
 * tensors the backward closure reads (besides gradients), for the in-place check and for `scope`.
 */
export function record(
  out: Tensor,
  name: string,
  inputs: readonly Tensor[],
  backward: BackwardFn,
  saved: readonly Tensor[] = [],
): Tensor {
  if (!isGradEnabled()) return out;
  if (!inputs.some((t) => t.requiresGrad)) return out;
  out._setGradFn(new GradNode(name, inputs, backward, saved));
  return out;
}
