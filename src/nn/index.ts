/** nb.nn: modules, initialisation and the functional API. */
export { Module, Parameter, ModuleList, Sequential, toSnakeCase } from './module.js';
export type {
  ForwardHook,
  LoadStateDictOptions,
  LoadStateDictResult,
  UnaryModule,
} from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { LayerNorm, type LayerNormOptions } from './layer-norm.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { Dropout } from './dropout.js';
export { ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Identity } from './activation.js';
export * as init from './init.js';
export * as F from './functional.js';
export {
  CrossEntropyLoss,
  NLLLoss,
  MSELoss,
  L1Loss,
  BCEWithLogitsLoss,
  type Reduction,
} from './losses.js';
export {
  scaledDotProductAttention,
  scaledDotProductAttentionWithWeights,
  type ScaledDotProductAttentionOptions,
} from './attention.js';
export {
  MultiheadAttention,
  type MultiheadAttentionOptions,
  type MultiheadAttentionForwardOptions,
  type MultiheadAttentionCachedOptions,
} from './multihead-attention.js';
export { KVCache, DecoderLayerCache, DecoderCache } from './kv-cache.js';
export {
  sinusoidalPositionalEncoding,
  SinusoidalPositionalEncoding,
  LearnedPositionalEncoding,
  type PositionalEncodingOptions,
} from './positional-encoding.js';
export {
  TransformerEncoderLayer,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerDecoder,
  Transformer,
  type TransformerActivation,
  type TransformerLayerOptions,
  type TransformerOptions,
  type TransformerForwardOptions,
  type EncoderLayerForwardOptions,
  type EncoderForwardOptions,
  type DecoderLayerForwardOptions,
  type DecoderIncrementalOptions,
} from './transformer.js';
export * from './rnn-exports.js';
export {
  ResidualBlock,
  ResidualMLP,
  residualBranch,
  initResidual_,
  initBranch_,
  branchLinears,
  residualLayerVariance,
  residualInitLabel,
  type ResidualMLPOptions,
  type ResidualInit,
  type LayerInitVariance,
} from './residual.js';
