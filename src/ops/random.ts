/** Random tensors from a seeded Generator (the global one unless given), and dropout. */
import { type DType, assertDType, isFloat } from '../core/dtype.js';
import { DTypeError, ValueError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { checkShape } from '../core/shape.js';
import type { Tensor } from '../tensor.js';
import { mul } from './elementwise.js';
import { empty } from './util.js';

export interface RandomOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  /** Draw from this generator instead of the global one. */
  generator?: Generator;
}

function fromValues(
  shape: readonly number[],
  options: RandomOptions,
  op: string,
  draw: (g: Generator) => number,
): Tensor {
  const dtype = assertDType(options.dtype ?? 'float32', op);
  const t = empty(checkShape(shape, op), dtype);
  const g = options.generator ?? defaultGenerator();
  const values = new Float64Array(t.size);
  for (let i = 0; i < values.length; i++) values[i] = draw(g);
  t._buffer.backend.write(t.storage, values);
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Uniform samples in [low, high) (default [0, 1)). */
export function rand(
  shape: readonly number[],
  options: RandomOptions & { low?: number; high?: number } = {},
): Tensor {
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  if (!(high >= low) || !Number.isFinite(low) || !Number.isFinite(high))
    throw new ValueError(`rand: invalid range [${low}, ${high})`);
  requireFloatDType(options.dtype, 'rand');
  return fromValues(shape, options, 'rand', (g) => low + (high - low) * g.nextDouble());
}

/** Normal samples with the given mean (default 0) and std (default 1). */
export function randn(
  shape: readonly number[],
  options: RandomOptions & { mean?: number; std?: number } = {},
): Tensor {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  if (!(std >= 0) || !Number.isFinite(mean) || !Number.isFinite(std))
    throw new ValueError(`randn: invalid mean ${mean} / std ${std}`);
  requireFloatDType(options.dtype, 'randn');
  return fromValues(shape, options, 'randn', (g) => mean + std * g.nextNormal());
}

/** Uniform integers in [low, high) (int32 unless a dtype is given). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  options: RandomOptions = {},
): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new ValueError(`randint: need integers low < high, got [${low}, ${high})`);
  }
  return fromValues(shape, { dtype: 'int32', ...options }, 'randint', (g) => g.nextInt(low, high));
}

/** 1 with probability p, else 0, in x's shape and dtype (float). */
export function bernoulliLike(x: Tensor, p: number, generator?: Generator): Tensor {
  return fromValues(x.shape, { dtype: x.dtype, generator }, 'bernoulli', (g) =>
    g.nextDouble() < p ? 1 : 0,
  );
}

/**
 * Zeroes each element with probability p during training and scales the rest by 1/(1 − p);
 * the identity when `training` is false or p = 0.
 */
export function dropout(x: Tensor, p = 0.5, training = true, generator?: Generator): Tensor {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    throw new ValueError(`dropout: probability p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  if (!isFloat(x.dtype)) throw new DTypeError(`dropout: expects a float tensor, got ${x.dtype}`);
  if (p === 1) return mul(x, 0);
  const keep = bernoulliLike(x, 1 - p, generator);
  return mul(x, mul(keep, 1 / (1 - p)));
}

function requireFloatDType(dtype: DType | undefined, op: string): void {
  if (dtype !== undefined && !isFloat(dtype))
    throw new DTypeError(`${op}: dtype must be float32 or float64, got ${dtype}`);
}
