/** Embedding table (PyTorch's nn.Embedding): row i of the weight is the vector of token i. */
import { noGrad } from '../autograd/grad-mode.js';
import type { DType } from '../core/dtype.js';
import { ValueError } from '../core/errors.js';
import { where } from '../ops/elementwise.js';
import { embedding } from '../ops/indexing.js';
import { empty } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { normal_ } from './init.js';
import { Module, Parameter } from './module.js';

export interface EmbeddingOptions {
  /** This index's row is zero-initialised and gets no gradient (a padding token). */
  paddingIdx?: number;
  dtype?: DType;
}

/**
 * @example
 * const emb = new nb.nn.Embedding(100, 16, { paddingIdx: 0 });
 * emb.forward(nb.tensor([[1, 2, 0]], { dtype: 'int32' })).shape; // [1, 3, 16]
 */
export class Embedding extends Module {
  weight: Parameter;
  readonly paddingIdx: number | null;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    if (
      !Number.isInteger(numEmbeddings) ||
      numEmbeddings <= 0 ||
      !Number.isInteger(embeddingDim) ||
      embeddingDim <= 0
    ) {
      throw new ValueError(
        `Embedding: sizes must be positive integers, got (${numEmbeddings}, ${embeddingDim})`,
      );
    }
    let pad = options.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings) {
        throw new ValueError(
          `Embedding: paddingIdx ${pad} must be within [-${numEmbeddings}, ${numEmbeddings})`,
        );
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.weight = new Parameter(empty([numEmbeddings, embeddingDim], options.dtype ?? 'float32'));
    this.resetParameters();
  }

  /** PyTorch's default: N(0, 1), with the padding row zeroed. */
  resetParameters(): void {
    normal_(this.weight);
    if (this.paddingIdx !== null) noGrad(() => this.weight.select(0, this.paddingIdx!).zero_());
  }

  forward(indices: Tensor): Tensor {
    const out = embedding(indices, this.weight);
    if (this.paddingIdx === null || !out.requiresGrad) return out;
    // The padding row receives no gradient (PyTorch's padding_idx contract).
    const isPad = indices.eq(this.paddingIdx).unsqueeze(-1);
    return where(isPad, out.detach(), out);
  }
}
