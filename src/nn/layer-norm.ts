/** Layer normalisation (Ba, Kiros & Hinton, 2016), PyTorch's nn.LayerNorm. */
import type { DType } from '../core/dtype.js';
import { ones, zeros } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { layerNorm } from './functional.js';
import { Module, Parameter } from './module.js';

export interface LayerNormOptions {
  eps?: number;
  /** Learn a per-element scale and shift (default true). */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, learn the shift too (default true). */
  bias?: boolean;
  dtype?: DType;
}

/**
 * @example
 * const ln = new nb.nn.LayerNorm([8]);
 * ln.forward(nb.randn([2, 5, 8])); // each 8-vector normalised
 */
export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: readonly number[];
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape =
      typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    const dtype = options.dtype ?? 'float32';
    this.weight = affine ? new Parameter(ones(this.normalizedShape, { dtype })) : null;
    this.bias =
      affine && options.bias !== false
        ? new Parameter(zeros(this.normalizedShape, { dtype }))
        : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}
