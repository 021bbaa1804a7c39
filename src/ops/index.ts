/** Every op, defined once; re-exported for Tensor methods and the public functional API. */
export * from './creation.js';
export * from './elementwise.js';
export * from './indexing.js';
export * from './inplace.js';
export * from './join.js';
export * from './matmul.js';
export * from './movement.js';
export * from './random.js';
export * from './reduce.js';
export * from './triangular.js';
export { normalizeDimArg, toTensor, type Scalar, type TensorLike } from './util.js';
