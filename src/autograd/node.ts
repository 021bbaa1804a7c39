/**
 * The tape: each differentiable op that ran with grad enabled leaves a GradNode on its output,
 * holding its inputs, the tensors its backward reads (with their in-place versions), and a backward
 * closure written in Tensor ops (micrograd's design, so every backend gets gradients for free).
 */
import { GradError } from '../core/errors.js';
import type { Tensor } from '../tensor.js';
import { isGradEnabled } from './grad-mode.js';
import type { SliceInfo } from './slice-grads.js';

/** Gradients of the inputs, in order; null/undefined where an input gets none. */
export type BackwardFn = (grad: Tensor) => readonly (Tensor | null | undefined)[];

export class GradNode {
  private readonly savedVersions: number[];
  private released = false;
  /**
   * Set on a slice's node: where its output sits in its input, so that the engine can gather the
   * gradients of several slices into one buffer (src/autograd/slice-grads.ts).
   */
  sliceOf: SliceInfo | null = null;

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
    const l = listener;
    if (l === null) return this.backwardFn(grad);
    l.backwardStep(this, true);
    try {
      return this.backwardFn(grad);
    } finally {
      l.backwardStep(this, false);
    }
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
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out._setGradFn(new GradNode(name, inputs, backward, saved));
  }
  listener?.op(name, out);
  return out;
}

/**
 * Observes the tape for instruments (nb.lab.countOps attributes backend kernel calls to ops with
 * it): every op that reaches `record`, recorded or not (grad mode off, no input requiring grad),
 * after its kernels ran; each backward step; each backward pass. One listener at a time.
 */
export interface TapeListener {
  /** Op `name` computed `out`; `out.gradFn` is its node when the op was recorded. */
  op(name: string, out: Tensor): void;
  /** The backward closure of `node` starts (`entering` true) or returns. */
  backwardStep(node: GradNode, entering: boolean): void;
  /** A `backward()` pass starts or ends (seeding and accumulation happen between steps). */
  backwardPass(entering: boolean): void;
}

let listener: TapeListener | null = null;

/** Installs `l` (null removes it); returns the previous listener so that callers can restore it. */
export function setTapeListener(l: TapeListener | null): TapeListener | null {
  const previous = listener;
  listener = l;
  return previous;
}

/** The installed tape listener, if any. */
export function tapeListener(): TapeListener | null {
  return listener;
}
