/**
 * Parameter initialisation, in place and seeded (PyTorch's torch.nn.init). Fan-in/fan-out follow
 * PyTorch: for a weight of shape (out, in, *k), fanIn = in·k, fanOut = out·k.
 * References: Glorot & Bengio (2010); He et al. (2015); Saxe et al. (2014) for orthogonal.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { ShapeError, ValueError } from '../core/errors.js';
import type { Generator } from '../core/random.js';
import { formatShape } from '../core/shape.js';
import { tensor } from '../ops/creation.js';
import { rand, randn } from '../ops/random.js';
import type { Tensor } from '../tensor.js';

export type Nonlinearity = 'linear' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** The gain PyTorch recommends for a non-linearity (calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
  }
}

export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) {
    throw new ShapeError(
      `init: fan in and fan out need a tensor of at least 2 dimensions, got ${formatShape(t.shape)}`,
    );
  }
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** A zero-element weight (a Linear with no inputs) is left as it is, as PyTorch does. */
function isEmptyWeight(t: Tensor): boolean {
  fans(t); // still rejects tensors of fewer than 2 dims
  return t.size === 0;
}

function write(t: Tensor, values: Tensor): Tensor {
  noGrad(() => t.copy_(values));
  return t;
}

/** Fills `t` with U(a, b). */
export function uniform_(t: Tensor, a = 0, b = 1, generator?: Generator): Tensor {
  if (!(b >= a)) throw new ValueError(`init.uniform_: need a <= b, got ${a}, ${b}`);
  return write(t, rand(t.shape, { low: a, high: b, dtype: t.dtype, generator }));
}

/** Fills `t` with N(mean, std²). */
export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  return write(t, randn(t.shape, { mean, std, dtype: t.dtype, generator }));
}

export function constant_(t: Tensor, value: number): Tensor {
  noGrad(() => t.fill_(value));
  return t;
}

export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

/** Glorot uniform: U(−a, a) with a = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  if (isEmptyWeight(t)) return t;
  const { fanIn, fanOut } = fans(t);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -a, a, generator);
}

/** Glorot normal: N(0, std²) with std = gain·√(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  if (isEmptyWeight(t)) return t;
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), generator);
}

export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows (0 for ReLU). */
  a?: number;
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}

function kaimingStd(t: Tensor, options: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t);
  const fan = options.mode === 'fanOut' ? fanOut : fanIn;
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** He uniform: U(−b, b) with b = gain·√(3 / fan). */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  if (isEmptyWeight(t)) return t;
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform_(t, -bound, bound, options.generator);
}

/** He normal: N(0, (gain/√fan)²). */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  if (isEmptyWeight(t)) return t;
  return normal_(t, 0, kaimingStd(t, options), options.generator);
}

/**
 * A (semi-)orthogonal matrix scaled by `gain`, from the QR decomposition of a Gaussian matrix
 * (modified Gram–Schmidt).
 */
export function orthogonal_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  if (t.ndim < 2)
    throw new ShapeError(
      `init.orthogonal_: needs at least 2 dimensions, got ${formatShape(t.shape)}`,
    );
  if (t.size === 0) return t;
  const rows = t.shape[0]!;
  const cols = t.size / rows;
  // Orthonormalise the columns of a tall (n × k) Gaussian matrix, n >= k.
  const n = Math.max(rows, cols);
  const k = Math.min(rows, cols);
  const g = randn([n, k], { dtype: 'float64', generator }).dataSync() as Float64Array;
  const q = new Float64Array(n * k);
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < n; i++) q[i * k + j] = g[i * k + j]!;
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[i * k + p]! * q[i * k + j]!;
      for (let i = 0; i < n; i++) q[i * k + j] -= dot * q[i * k + p]!;
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * k + j]! ** 2;
    // Gram–Schmidt gives R a positive diagonal, which is what makes Q Haar-distributed.
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < n; i++) q[i * k + j] *= inv;
  }
  const values = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++)
      values[r * cols + c] = gain * (rows >= cols ? q[r * k + c]! : q[c * k + r]!);
  }
  noGrad(() => t.copy_(tensor(values, { dtype: 'float64', shape: t.shape }).to(t.dtype)));
  return t;
}
