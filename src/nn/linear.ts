/** Linear (fully connected) layer: y = x·Wᵀ + b, PyTorch's nn.Linear with its default init. */
import { ValueError } from '../core/errors.js';
import { empty } from '../ops/util.js';
import type { DType } from '../core/dtype.js';
import type { Tensor } from '../tensor.js';
import { linear } from './functional.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { Module, Parameter } from './module.js';

export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

/**
 * @example
 * const fc = new nb.nn.Linear(3, 2);
 * fc.forward(nb.randn([4, 3])).shape; // [4, 2]
 */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    for (const [n, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 0)
        throw new ValueError(`Linear: ${n} must be a non-negative integer, got ${v}`);
    }
    const dtype = options.dtype ?? 'float32';
    this.weight = new Parameter(empty([outFeatures, inFeatures], dtype));
    this.bias = options.bias === false ? null : new Parameter(empty([outFeatures], dtype));
    this.resetParameters();
  }

  /** PyTorch's default: W ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5), b likewise. */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const bound = this.inFeatures > 0 ? 1 / Math.sqrt(this.inFeatures) : 0;
      uniform_(this.bias, -bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
