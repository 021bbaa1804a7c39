/**
 * Typed errors. Every message names the op, the shapes or values involved and what was expected,
 * so that a user can act on it without reading nabla's source.
 */

/** Base class of every error nabla throws on purpose. */
export class NablaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit together (broadcasting, matmul, reshape, cat, ...). */
export class ShapeError extends NablaError {}

/** A dimension argument outside [-ndim, ndim). */
export class DimError extends NablaError {}

/** An index (in a tensor of indices or an argument) outside its valid range. */
export class IndexError extends NablaError {}

/** Operands whose dtypes the op does not accept or that do not match. */
export class DTypeError extends NablaError {}

/** A bad argument value (negative size, probability outside [0, 1), ...). */
export class ValueError extends NablaError {}

/** Misuse of autograd: backward on a non-scalar without a gradient, a freed graph, ... */
export class GradError extends NablaError {}

/** Use of a tensor after `dispose()` (or after the scope that owned it ended). */
export class DisposedError extends NablaError {}

/** `gradcheck` found analytical and numerical gradients that disagree. */
export class GradcheckError extends NablaError {}
