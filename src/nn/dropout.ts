/** Dropout (Srivastava et al., 2014) as a module: active in training mode only. */
import { ValueError } from '../core/errors.js';
import type { Generator } from '../core/random.js';
import type { Tensor } from '../tensor.js';
import { dropout } from './functional.js';
import { Module } from './module.js';

/**
 * @example
 * const drop = new nb.nn.Dropout(0.1);
 * drop.eval(); // now the identity
 */
export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    /** Draw masks from this generator instead of the global one. */
    readonly generator?: Generator,
  ) {
    super();
    if (!(p >= 0 && p <= 1))
      throw new ValueError(`Dropout: probability p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.generator);
  }
}
