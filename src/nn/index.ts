/** nb.nn: modules, initialisation and the functional API. */
export { Module, Parameter, ModuleList, Sequential, toSnakeCase } from './module.js';
export type { LoadStateDictOptions, LoadStateDictResult, UnaryModule } from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { LayerNorm, type LayerNormOptions } from './layer-norm.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { Dropout } from './dropout.js';
export { ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Identity } from './activation.js';
export * as init from './init.js';
export * as F from './functional.js';
