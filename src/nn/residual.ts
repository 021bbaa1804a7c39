/**
 * Residual networks, u_{l+1} = u_l + F(u_l) ("Deep Residual Learning for Image Recognition",
 * He et al., 2016), with the pre-activation branch F(u) = W·ReLU(u) + b ("Identity Mappings in
 * Deep Residual Networks", He et al., 2016) or a deeper stack of such layers, and the
 * initialisation schemes THEORY.md §2 compares:
 * - Gaussian N(μ, σ²) with a chosen σ (σ = 1 is the exercise's proposal), zero biases;
 * - Xavier/Glorot (Glorot & Bengio, 2010): σ² = 2/(fan_in + fan_out), zero biases;
 * - Kaiming/He (He et al., 2015): σ² = 2/fan_in, zero biases;
 * - a zero-initialised last layer of each branch, Kaiming elsewhere (Fixup, Zhang et al., 2019;
 *   SkipInit, De & Smith, 2020; ReZero's zero-initialised residual gate, Bachlechner et al.,
 *   2020, has the same effect at initialisation): each block starts as the identity;
 * - depth-scaled branches: σ² = 2/(fan_in·L) on the last layer of each branch, Kaiming
 *   elsewhere, so the variance grows by (1 + 1/L) per block and (1 + 1/L)^L ≤ e overall;
 * - PyTorch's nn.Linear default (U(±1/√fan_in) for weights and biases), for comparison.
 */
import { ValueError } from '../core/errors.js';
import type { DType } from '../core/dtype.js';
import type { Generator } from '../core/random.js';
import { add } from '../ops/elementwise.js';
import type { Tensor } from '../tensor.js';
import { constant_, normal_, uniform_ } from './init.js';
import { Linear } from './linear.js';
import { ReLU } from './activation.js';
import { Module, ModuleList, Sequential, type UnaryModule } from './module.js';

/**
 * A residual block u ↦ u + F(u) around any branch F whose output has its input's shape.
 *
 * @example
 * const block = new nb.nn.ResidualBlock(new nb.nn.Sequential(new nb.nn.ReLU(), new nb.nn.Linear(8, 8)));
 * block.forward(nb.randn([4, 8])).shape; // [4, 8]
 */
export class ResidualBlock<F extends Module & UnaryModule = Module & UnaryModule> extends Module {
  constructor(readonly branch: F) {
    super();
  }

  /** u + F(u). */
  forward(u: Tensor): Tensor {
    return add(u, this.branch.forward(u));
  }
}

export interface ResidualMLPOptions {
  /** Features of u (every layer is width × width). */
  width: number;
  /** Number of residual blocks L. */
  depth: number;
  /** Linear layers per branch (default 1: F(u) = W·ReLU(u) + b). */
  branchDepth?: number;
  /** Biases in the branch layers (default true). */
  bias?: boolean;
  dtype?: DType;
}

/**
 * The branch F(u) = W_k·ReLU(… W_1·ReLU(u) + b_1 …) + b_k as a Sequential of alternating ReLU and
 * Linear(width, width) modules (k = `branchDepth`).
 *
 * @example
 * const f = nb.nn.residualBranch(8); // ReLU, Linear(8, 8)
 */
export function residualBranch(
  width: number,
  branchDepth = 1,
  options: { bias?: boolean; dtype?: DType } = {},
): Sequential {
  for (const [name, v] of [
    ['width', width],
    ['branchDepth', branchDepth],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new ValueError(`residualBranch: ${name} must be a positive integer, got ${v}`);
    }
  }
  const layers: (Module & UnaryModule)[] = [];
  for (let i = 0; i < branchDepth; i++) {
    layers.push(new ReLU(), new Linear(width, width, { bias: options.bias, dtype: options.dtype }));
  }
  return new Sequential(...layers);
}

/**
 * A residual MLP: L blocks u_{l+1} = u_l + F_l(u_l) of width `width`, with F_l =
 * {@link residualBranch}. Its parameters are PyTorch's nn.Linear defaults until
 * {@link initResidual_} applies a scheme. State-dict keys: `blocks.{l}.branch.{2i+1}.weight`.
 *
 * @example
 * const net = new nb.nn.ResidualMLP({ width: 64, depth: 10 });
 * nb.nn.initResidual_(net, { kind: 'kaiming' });
 * net.forward(nb.randn([32, 64])).shape; // [32, 64]
 */
export class ResidualMLP extends Module {
  blocks: ModuleList<ResidualBlock<Sequential>>;
  readonly width: number;
  readonly depth: number;
  readonly branchDepth: number;

  constructor(options: ResidualMLPOptions) {
    super();
    const { width, depth } = options;
    const branchDepth = options.branchDepth ?? 1;
    if (!Number.isInteger(depth) || depth < 0) {
      throw new ValueError(`ResidualMLP: depth must be a non-negative integer, got ${depth}`);
    }
    this.width = width;
    this.depth = depth;
    this.branchDepth = branchDepth;
    this.blocks = new ModuleList(
      Array.from(
        { length: depth },
        () =>
          new ResidualBlock(
            residualBranch(width, branchDepth, { bias: options.bias, dtype: options.dtype }),
          ),
      ),
    );
  }

  /** u_L from u_0 (…, width). */
  forward(u: Tensor): Tensor {
    for (const block of this.blocks) u = block.forward(u);
    return u;
  }
}

/** An initialisation scheme for residual branches (THEORY.md §2). */
export type ResidualInit =
  /** W ~ N(mean, std²) in every branch layer (mean 0 unless given), zero biases. */
  | { kind: 'gaussian'; std: number; mean?: number }
  /** Xavier/Glorot normal, σ² = 2/(fan_in + fan_out); zero biases. */
  | { kind: 'xavier' }
  /** Kaiming/He normal, σ² = 2/fan_in; zero biases. */
  | { kind: 'kaiming' }
  /** Kaiming on every branch layer but the last, which is all zeros (weights and bias). */
  | { kind: 'zeroLast' }
  /** Kaiming on every branch layer but the last, which gets σ² = 2/(fan_in·L); zero biases. */
  | { kind: 'depthScaled' }
  /** PyTorch's nn.Linear default: W and b ~ U(±1/√fan_in). */
  | { kind: 'pytorch' };

/** The weight and bias variances a scheme gives to one branch layer. */
export interface LayerInitVariance {
  weightMean: number;
  weightVar: number;
  biasVar: number;
}

/**
 * The distribution a scheme gives to layer `index` (0-based) of a branch of `branchDepth` layers,
 * for a (fanOut × fanIn) weight, in a network of `depth` blocks.
 *
 * @example
 * nb.nn.residualLayerVariance({ kind: 'depthScaled' }, 0, 1, 64, 64, 10).weightVar; // 2 / (64·10)
 */
export function residualLayerVariance(
  scheme: ResidualInit,
  index: number,
  branchDepth: number,
  fanIn: number,
  fanOut: number,
  depth: number,
): LayerInitVariance {
  const last = index === branchDepth - 1;
  const he = { weightMean: 0, weightVar: 2 / fanIn, biasVar: 0 };
  switch (scheme.kind) {
    case 'gaussian':
      if (!(scheme.std >= 0)) {
        throw new ValueError(`initResidual_: gaussian std must be >= 0, got ${scheme.std}`);
      }
      return { weightMean: scheme.mean ?? 0, weightVar: scheme.std ** 2, biasVar: 0 };
    case 'xavier':
      return { weightMean: 0, weightVar: 2 / (fanIn + fanOut), biasVar: 0 };
    case 'kaiming':
      return he;
    case 'zeroLast':
      return last ? { weightMean: 0, weightVar: 0, biasVar: 0 } : he;
    case 'depthScaled':
      if (!(depth > 0)) throw new ValueError(`initResidual_: depthScaled needs depth >= 1`);
      return last ? { weightMean: 0, weightVar: 2 / (fanIn * depth), biasVar: 0 } : he;
    case 'pytorch':
      // U(−a, a) has variance a²/3, with a = 1/√fan_in.
      return { weightMean: 0, weightVar: 1 / (3 * fanIn), biasVar: 1 / (3 * fanIn) };
  }
}

/** A short label for a scheme: `gaussian(σ=1)`, `kaiming`, .... */
export function residualInitLabel(scheme: ResidualInit): string {
  if (scheme.kind === 'gaussian') {
    return `gaussian(σ=${scheme.std}${scheme.mean ? `, μ=${scheme.mean}` : ''})`;
  }
  return scheme.kind;
}

/** The Linear layers of a branch, in order. */
export function branchLinears(branch: Module): Linear[] {
  return [...branch.modules()].filter((m): m is Linear => m instanceof Linear);
}

/**
 * Re-initialises the Linear layers of one branch in place with `scheme` (layer order = the
 * order of `branch.modules()`), for a network of `depth` blocks (used by `depthScaled`).
 *
 * @example
 * nb.nn.initBranch_(block.branch, { kind: 'zeroLast' }, { depth: 10 });
 */
export function initBranch_(
  branch: Module,
  scheme: ResidualInit,
  options: { depth?: number; generator?: Generator } = {},
): Module {
  const linears = branchLinears(branch);
  linears.forEach((lin, i) => {
    const v = residualLayerVariance(
      scheme,
      i,
      linears.length,
      lin.inFeatures,
      lin.outFeatures,
      options.depth ?? 1,
    );
    if (scheme.kind === 'pytorch') {
      const a = Math.sqrt(3 * v.weightVar);
      uniform_(lin.weight, -a, a, options.generator);
      if (lin.bias) uniform_(lin.bias, -a, a, options.generator);
      return;
    }
    if (v.weightVar === 0 && v.weightMean === 0) constant_(lin.weight, 0);
    else normal_(lin.weight, v.weightMean, Math.sqrt(v.weightVar), options.generator);
    if (lin.bias) constant_(lin.bias, 0);
  });
  return branch;
}

/**
 * Re-initialises every block of a residual network in place with `scheme`; L is the number of
 * blocks. Returns the model.
 *
 * @example
 * const net = nb.nn.initResidual_(new nb.nn.ResidualMLP({ width: 64, depth: 10 }), { kind: 'depthScaled' });
 */
export function initResidual_<M extends ResidualMLP | Iterable<ResidualBlock>>(
  model: M,
  scheme: ResidualInit,
  options: { generator?: Generator } = {},
): M {
  const source: Iterable<ResidualBlock> =
    model instanceof ResidualMLP ? model.blocks : (model as Iterable<ResidualBlock>);
  const blocks = [...source];
  for (const block of blocks) {
    initBranch_(block.branch, scheme, { depth: blocks.length, generator: options.generator });
  }
  return model;
}
