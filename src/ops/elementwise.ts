/**
 * Elementwise ops with PyTorch broadcasting: unary maths, binary arithmetic, comparisons, logic,
 * where / maskedFill and clamp. Gradients reduce over broadcast dims (sumToShape).
 */
import type { BinaryOp, UnaryOp, View } from '../backend/backend.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import { type DType, isFloat } from '../core/dtype.js';
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import { broadcastShapes, formatShape, shapesEqual, type Shape } from '../core/shape.js';
import { Tensor } from '../tensor.js';
import { fusedKernelsEnabled } from './fused-switch.js';
import { sumToShape } from './movement.js';
import {
  castPlain,
  empty,
  emptyForKernel,
  kernelsFor,
  promoteArithmetic,
  requireFloat,
  scalarTensor,
  toTensor,
  type Scalar,
  type TensorLike,
} from './util.js';

/** A kernel-level view of `t` broadcast to `shape` (stride 0 on new or size-1 dims); no autograd. */
export function broadcastView(t: Tensor, shape: Shape): View {
  const lead = shape.length - t.ndim;
  const strides = shape.map((s, i) =>
    i < lead || t.shape[i - lead] !== s ? 0 : t.strides[i - lead]!,
  );
  return { storage: t.storage, dtype: t.dtype, shape, strides, offset: t.offset };
}

// ---- Unary ----------------------------------------------------------------------------------

/** Runs a unary kernel into a new tensor of `dtype`. */
function runUnary(op: UnaryOp, x: Tensor, dtype: DType): Tensor {
  const out = emptyForKernel(x.shape, dtype);
  kernelsFor(x).unary(op, x, out);
  return out;
}

/** A float unary op: int/bool inputs are promoted to float32, as PyTorch does for exp, log, .... */
function floatUnary(
  op: UnaryOp,
  x: Tensor,
  grad: (g: Tensor, x: Tensor, out: Tensor) => Tensor,
  saveOut: boolean,
): Tensor {
  x._check(op);
  const xf = isFloat(x.dtype) ? x : castPlain(x, 'float32');
  const out = runUnary(op, xf, xf.dtype);
  return record(out, op, [xf], (g) => [grad(g, xf, out)], saveOut ? [xf, out] : [xf]);
}

export const exp = (x: Tensor): Tensor => floatUnary('exp', x, (g, _x, out) => mul(g, out), true);
export const log = (x: Tensor): Tensor => floatUnary('log', x, (g, x) => div(g, x), false);
export const sqrt = (x: Tensor): Tensor =>
  floatUnary('sqrt', x, (g, _x, out) => div(g, mul(out, 2)), true);
export const rsqrt = (x: Tensor): Tensor =>
  floatUnary('rsqrt', x, (g, _x, out) => mul(g, mul(pow(out, 3), -0.5)), true);
export const sin = (x: Tensor): Tensor => floatUnary('sin', x, (g, x) => mul(g, cos(x)), false);
export const cos = (x: Tensor): Tensor =>
  floatUnary('cos', x, (g, x) => neg(mul(g, sin(x))), false);
export const tanh = (x: Tensor): Tensor =>
  floatUnary('tanh', x, (g, _x, out) => mul(g, sub(1, mul(out, out))), true);
export const sigmoid = (x: Tensor): Tensor =>
  floatUnary('sigmoid', x, (g, _x, out) => mul(g, mul(out, sub(1, out))), true);
export const erf = (x: Tensor): Tensor =>
  floatUnary('erf', x, (g, x) => mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))), false);
export const reciprocal = (x: Tensor): Tensor =>
  floatUnary('reciprocal', x, (g, _x, out) => neg(mul(g, mul(out, out))), true);

/** A unary op that keeps int32 inputs as int32. */
function sameTypeUnary(
  op: UnaryOp,
  x: Tensor,
  grad: ((g: Tensor, x: Tensor) => Tensor) | null,
): Tensor {
  x._check(op);
  if (x.dtype === 'bool')
    throw new DTypeError(`${op}: not defined for bool tensors; cast with .to('float32')`);
  const out = runUnary(op, x, x.dtype);
  if (grad === null) return out;
  return record(out, op, [x], (g) => [grad(g, x)], [x]);
}

export const neg = (x: Tensor): Tensor => sameTypeUnary('neg', x, (g) => neg(g));
export const abs = (x: Tensor): Tensor => sameTypeUnary('abs', x, (g, x) => mul(g, sign(x)));
export const square = (x: Tensor): Tensor =>
  sameTypeUnary('square', x, (g, x) => mul(g, mul(x, 2)));
export const relu = (x: Tensor): Tensor =>
  sameTypeUnary('relu', x, (g, x) => mul(g, castPlain(gt(x, 0), g.dtype)));
/** sign(x) and floor(x) are piecewise constant: their gradient is zero. */
export const sign = (x: Tensor): Tensor => sameTypeUnary('sign', x, (g) => zerosOf(g));
export const floor = (x: Tensor): Tensor => sameTypeUnary('floor', x, (g) => zerosOf(g));

function zerosOf(g: Tensor): Tensor {
  return empty(g.shape, g.dtype);
}

/** True where x is neither infinite nor NaN. */
export function isFinite(x: Tensor): Tensor {
  x._check('isFinite');
  return runUnary('isFinite', x, 'bool');
}

// ---- Binary arithmetic ----------------------------------------------------------------------

function operands(op: string, a: TensorLike, b: TensorLike, allowBool = false): [Tensor, Tensor] {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : scalarTensor(0, 'float32');
  return promoteArithmetic(op, a, b, toTensor(a, like, op), toTensor(b, like, op), allowBool);
}

function runBinary(op: BinaryOp, a: Tensor, b: Tensor, dtype: DType, name: string): Tensor {
  const shape = broadcastShapes(name, a.shape, b.shape);
  const out = emptyForKernel(shape, dtype);
  kernelsFor(a).binary(op, broadcastView(a, shape), broadcastView(b, shape), out);
  return out;
}

/** a + alpha·b */
export function add(a: TensorLike, b: TensorLike, alpha?: number): Tensor {
  if (alpha !== undefined && alpha !== 1) return add(a, mul(b, alpha));
  const [x, y] = operands('add', a, b);
  const out = runBinary('add', x, y, x.dtype, 'add');
  return record(out, 'add', [x, y], (g) => [sumToShape(g, x.shape), sumToShape(g, y.shape)]);
}

/** a − alpha·b */
export function sub(a: TensorLike, b: TensorLike, alpha?: number): Tensor {
  if (alpha !== undefined && alpha !== 1) return sub(a, mul(b, alpha));
  const [x, y] = operands('sub', a, b);
  const out = runBinary('sub', x, y, x.dtype, 'sub');
  return record(out, 'sub', [x, y], (g) => [sumToShape(g, x.shape), sumToShape(neg(g), y.shape)]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = operands('mul', a, b);
  const out = runBinary('mul', x, y, x.dtype, 'mul');
  return record(
    out,
    'mul',
    [x, y],
    (g) => [sumToShape(mul(g, y), x.shape), sumToShape(mul(g, x), y.shape)],
    [x, y],
  );
}

/** True division: int32 operands give float32, as in PyTorch. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  let [x, y] = operands('div', a, b);
  if (!isFloat(x.dtype)) {
    x = castPlain(x, 'float32');
    y = castPlain(y, 'float32');
  }
  const out = runBinary('div', x, y, x.dtype, 'div');
  return record(
    out,
    'div',
    [x, y],
    (g) => [sumToShape(div(g, y), x.shape), sumToShape(neg(mul(g, div(out, y))), y.shape)],
    [x, y, out],
  );
}

/** base ** exponent. The exponent's gradient uses log(base), defined for base > 0. */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = operands('pow', a, b);
  const out = runBinary('pow', x, y, x.dtype, 'pow');
  return record(
    out,
    'pow',
    [x, y],
    (g) => {
      // d/dx x^y = y·x^(y−1); where y == 0 the gradient is 0 even at x == 0.
      const dx = where(eq(y, 0), 0, mul(y, pow(x, sub(y, 1))));
      const gx = sumToShape(mul(g, dx), x.shape);
      if (!y.requiresGrad) return [gx, null];
      // d/dy x^y = x^y·log(x), taken as 0 where x == 0 and y >= 0 (PyTorch's convention).
      const dy = where(logicalAnd(eq(x, 0), ge(y, 0)), 0, mul(out, log(x)));
      return [gx, sumToShape(mul(g, dy), y.shape)];
    },
    [x, y, out],
  );
}

/** Elementwise maximum; on ties the gradient is split evenly (as PyTorch). */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return extremum('maximum', a, b);
}

export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return extremum('minimum', a, b);
}

function extremum(op: 'maximum' | 'minimum', a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = operands(op, a, b);
  const out = runBinary(op, x, y, x.dtype, op);
  return record(
    out,
    op,
    [x, y],
    (g) => {
      const xWins = castPlain(op === 'maximum' ? gt(x, y) : lt(x, y), g.dtype);
      const tie = mul(castPlain(eq(x, y), g.dtype), 0.5);
      const wx = add(xWins, tie);
      return [sumToShape(mul(g, wx), x.shape), sumToShape(mul(g, sub(1, wx)), y.shape)];
    },
    [x, y],
  );
}

// ---- Comparison and logic -------------------------------------------------------------------

function compare(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : scalarTensor(0, 'float32');
  let x = toTensor(a, like, op);
  let y = toTensor(b, like, op);
  if (x.dtype !== y.dtype) {
    if (x.dtype === 'bool' || y.dtype === 'bool') {
      // Allow comparing masks with numbers: promote the bool side.
      x = castPlain(x, x.dtype === 'bool' ? y.dtype : x.dtype);
      y = castPlain(y, y.dtype === 'bool' ? x.dtype : y.dtype);
    } else {
      [x, y] = promoteArithmetic(op, a, b, x, y);
    }
  }
  return runBinary(op, x, y, 'bool', op);
}

export const eq = (a: TensorLike, b: TensorLike): Tensor => compare('eq', a, b);
export const ne = (a: TensorLike, b: TensorLike): Tensor => compare('ne', a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => compare('lt', a, b);
export const le = (a: TensorLike, b: TensorLike): Tensor => compare('le', a, b);
export const gt = (a: TensorLike, b: TensorLike): Tensor => compare('gt', a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => compare('ge', a, b);

function logical(op: 'logicalAnd' | 'logicalOr', a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : scalarTensor(0, 'bool');
  return runBinary(op, toTensor(a, like, op), toTensor(b, like, op), 'bool', op);
}

/** Elementwise AND of truth values (non-zero is true); result is bool. */
export const logicalAnd = (a: TensorLike, b: TensorLike): Tensor => logical('logicalAnd', a, b);
export const logicalOr = (a: TensorLike, b: TensorLike): Tensor => logical('logicalOr', a, b);
export function logicalNot(x: Tensor): Tensor {
  x._check('logicalNot');
  return runUnary('logicalNot', x, 'bool');
}

// ---- Selection ------------------------------------------------------------------------------

/** Elementwise `cond ? a : b` with broadcasting; cond must be bool. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  cond._check('where');
  if (cond.dtype !== 'bool') {
    throw new DTypeError(
      `where: condition must be a bool tensor, got ${cond.dtype}; build it with a comparison such as x.gt(0)`,
    );
  }
  const [x, y] = operands('where', a, b, true);
  const shape = broadcastShapes('where', cond.shape, x.shape, y.shape);
  const out = emptyForKernel(shape, x.dtype);
  kernelsFor(cond).where(
    broadcastView(cond, shape),
    broadcastView(x, shape),
    broadcastView(y, shape),
    out,
  );
  return record(
    out,
    'where',
    [x, y],
    (g) => {
      const zero = scalarTensor(0, g.dtype);
      return [sumToShape(where(cond, g, zero), x.shape), sumToShape(where(cond, zero, g), y.shape)];
    },
    [cond],
  );
}

/** x with `value` wherever `mask` (bool, broadcastable to x) is true. */
export function maskedFill(x: Tensor, mask: Tensor, value: Scalar): Tensor {
  mask._check('maskedFill');
  if (mask.dtype !== 'bool')
    throw new DTypeError(`maskedFill: mask must be a bool tensor, got ${mask.dtype}`);
  // The mask may broadcast to x, not x to the mask: a shape problem, checked before any work.
  if (!shapesEqual(broadcastShapes('maskedFill', x.shape, mask.shape), x.shape)) {
    throw new ShapeError(
      `maskedFill: mask of shape ${formatShape(mask.shape)} must broadcast to the tensor's shape ${formatShape(x.shape)}`,
    );
  }
  return where(mask, scalarTensor(typeof value === 'boolean' ? +value : value, x.dtype), x);
}

/** Limits values to [min, max]; the gradient passes where min <= x <= max. */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  x._check('clamp');
  const lo = min ?? null;
  const hi = max ?? null;
  if (lo === null && hi === null)
    throw new ValueError('clamp: at least one of min and max must be given');
  if ((lo !== null && Number.isNaN(lo)) || (hi !== null && Number.isNaN(hi)))
    throw new ValueError('clamp: min and max must not be NaN');
  let out = x;
  const k = kernelsFor(x);
  if (lo !== null) {
    const next = empty(x.shape, x.dtype);
    k.binary('maximum', out, broadcastView(toTensor(lo, x), x.shape), next);
    out = next;
  }
  if (hi !== null) {
    const next = empty(x.shape, x.dtype);
    k.binary('minimum', out, broadcastView(toTensor(hi, x), x.shape), next);
    out = next;
  }
  if (out === x) return x;
  if (!isFloat(x.dtype)) return out;
  return record(
    out,
    'clamp',
    [x],
    (g) => {
      let pass = lo !== null ? ge(x, lo) : null;
      if (hi !== null) pass = pass ? logicalAnd(pass, le(x, hi)) : le(x, hi);
      return [mul(g, castPlain(pass!, g.dtype))];
    },
    [x],
  );
}

/** max(x, 0) + negativeSlope·min(x, 0); the gradient at 0 is negativeSlope (as PyTorch). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  requireFloat(x, 'leakyRelu');
  if (!Number.isFinite(negativeSlope))
    throw new ValueError(`leakyRelu: negativeSlope must be finite, got ${negativeSlope}`);
  return where(gt(x, 0), x, mul(x, negativeSlope));
}

/**
 * GELU (Hendrycks & Gimpel, 2016): x·Φ(x) exactly, or the tanh approximation
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  requireFloat(x, 'gelu');
  if (approximate !== 'none' && approximate !== 'tanh')
    throw new ValueError(`gelu: approximate must be 'none' or 'tanh', got ${String(approximate)}`);
  if (!fusedKernelsEnabled()) return geluComposite(x, approximate);
  // One kernel each way (instead of five composite ops): GELU sits on every MLP's hot path.
  const [op, gradOp] =
    approximate === 'tanh'
      ? (['geluTanh', 'geluTanhGrad'] as const)
      : (['gelu', 'geluGrad'] as const);
  return floatUnary(op, x, (g, x) => geluBackward(gradOp, approximate, x, g), false);
}

/** GELU from elementwise ops: the oracle of the fused kernels (`F.setFusedKernels(false)`). */
function geluComposite(x: Tensor, approximate: 'none' | 'tanh'): Tensor {
  if (approximate === 'tanh') {
    const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/** g·gelu′(x): one kernel, or (when the backward itself is being recorded) differentiable ops. */
function geluBackward(
  op: 'geluGrad' | 'geluTanhGrad',
  approximate: 'none' | 'tanh',
  x: Tensor,
  g: Tensor,
): Tensor {
  if (isGradEnabled() && (x.requiresGrad || g.requiresGrad)) {
    if (approximate === 'tanh') {
      const c = Math.sqrt(2 / Math.PI);
      const t = tanh(mul(add(x, mul(pow(x, 3), 0.044715)), c));
      const dt = mul(sub(1, mul(t, t)), mul(add(mul(mul(x, x), 3 * 0.044715), 1), c));
      return mul(g, add(mul(add(t, 1), 0.5), mul(mul(x, 0.5), dt)));
    }
    const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return mul(g, add(cdf, mul(x, pdf)));
  }
  return runBinary(op, x, g, x.dtype, 'gelu');
}
