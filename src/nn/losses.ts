/**
 * Loss functions with PyTorch's semantics (torch.nn.functional's cross_entropy, nll_loss, mse_loss,
 * l1_loss, binary_cross_entropy_with_logits) and their modules. They are compositions of
 * differentiable ops (logSoftmax, gather, where, ...), so autograd derives every backward pass;
 * the common cross-entropy case ((N, C) or (C) logits, class-index targets, no class weights) runs
 * a fused softmax-cross-entropy kernel pair instead when fused kernels are on (F.setFusedKernels).
 *
 * One deliberate difference from PyTorch: a 'mean' reduction with nothing to average over (every
 * target equal to ignoreIndex, an empty batch, or class weights that sum to 0 over the targets)
 * throws ValueError, where PyTorch silently returns NaN.
 */
import { fusedKernelsEnabled } from '../ops/fused-switch.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import { type DType, isFloat } from '../core/dtype.js';
import { DTypeError, IndexError, ShapeError, ValueError } from '../core/errors.js';
import { broadcastShapes, formatShape, shapesEqual } from '../core/shape.js';
import { arange, tensor, zerosLike } from '../ops/creation.js';
import { abs, add, div, eq, mul, neg, sub, where } from '../ops/elementwise.js';
import { gather, indexSelect } from '../ops/indexing.js';
import { stack } from '../ops/join.js';
import { cast, reshape, squeeze, unsqueeze } from '../ops/movement.js';
import { logSoftmax, logsumexp, mean, softmax, sum } from '../ops/reduce.js';
import { empty, kernelsFor } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

/** How per-element losses are combined: averaged, summed, or returned as they are. */
export type Reduction = 'mean' | 'sum' | 'none';

export interface ReductionOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
}

export interface NllLossOptions extends ReductionOptions {
  /** A rescaling weight per class, float of shape (C). */
  weight?: Tensor | null;
  /** Targets equal to this value add nothing to the loss or its gradient (default −100). */
  ignoreIndex?: number;
}

export interface CrossEntropyOptions extends NllLossOptions {
  /** ε in [0, 1]: the target becomes (1 − ε)·one-hot + ε/C (default 0). */
  labelSmoothing?: number;
}

export interface BceWithLogitsOptions extends ReductionOptions {
  /** A rescaling weight per element, broadcastable to the input. */
  weight?: Tensor | null;
  /** A weight of the positive term per class (broadcast along the last dim), as PyTorch's pos_weight. */
  posWeight?: Tensor | null;
}

// ---- Argument checks --------------------------------------------------------------------------

function checkReduction(reduction: unknown, op: string): Reduction {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none')
    throw new ValueError(
      `${op}: reduction must be 'mean', 'sum' or 'none', got ${String(reduction)}`,
    );
  return reduction;
}

function checkFloat(t: Tensor, what: string, op: string): void {
  t._check(op);
  if (!isFloat(t.dtype))
    throw new DTypeError(
      `${op}: ${what} must be a float32 or float64 tensor, got ${t.dtype}; cast with .to('float32')`,
    );
}

function checkSameDType(t: Tensor, dtype: DType, what: string, op: string): void {
  if (t.dtype !== dtype)
    throw new DTypeError(
      `${op}: ${what} is ${t.dtype} but the input is ${dtype}; cast it with .to('${dtype}')`,
    );
}

function checkSmoothing(eps: unknown, op: string): number {
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1))
    throw new ValueError(`${op}: labelSmoothing must be in [0, 1], got ${String(eps)}`);
  return eps;
}

function checkIgnoreIndex(ignoreIndex: unknown, op: string): number {
  if (typeof ignoreIndex !== 'number' || !Number.isInteger(ignoreIndex))
    throw new ValueError(`${op}: ignoreIndex must be an integer, got ${String(ignoreIndex)}`);
  return ignoreIndex;
}

/** The (C) class weight, checked against the input. */
function checkWeight(weight: Tensor, numClasses: number, dtype: DType, op: string): Tensor {
  checkFloat(weight, 'weight', op);
  if (weight.ndim !== 1 || weight.shape[0] !== numClasses)
    throw new ShapeError(
      `${op}: weight must have shape [${numClasses}] (one value per class), got ${formatShape(weight.shape)}`,
    );
  checkSameDType(weight, dtype, 'weight', op);
  return weight;
}

/** Σ or mean of a per-element loss; a mean over zero elements is an error, not NaN. */
function reduceElementwise(loss: Tensor, reduction: Reduction, op: string): Tensor {
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return sum(loss);
  if (loss.size === 0)
    throw new ValueError(`${op}: 'mean' reduction of an empty input is undefined (no elements)`);
  return mean(loss);
}

// ---- Class-index targets ----------------------------------------------------------------------

/**
 * The input viewed as batched (N, C, d1, ...) and the target as (N, d1, ...): an unbatched (C)
 * input becomes (1, C), its 0-d target (1). `unbatched` tells the caller to undo it.
 */
function batchInput(
  input: Tensor,
  target: Tensor,
  op: string,
): { x: Tensor; t: Tensor; unbatched: boolean } {
  checkFloat(input, 'input', op);
  target._check(op);
  if (input.ndim === 0)
    throw new ShapeError(
      `${op}: input must be (C), (N, C) or (N, C, d1, ...) class scores, got a 0-d tensor`,
    );
  if (input.ndim === 1)
    return { x: unsqueeze(input, 0), t: reshape(target, [1, ...target.shape]), unbatched: true };
  return { x: input, t: target, unbatched: false };
}

/** The shape that class indices for `input` must have: the input's without the class dim. */
function indexShape(input: Tensor): number[] {
  return input.ndim === 1 ? [] : input.shape.filter((_, i) => i !== 1);
}

function checkIndexTarget(input: Tensor, target: Tensor, op: string): void {
  if (target.dtype !== 'int32') {
    throw new DTypeError(
      `${op}: class-index targets must be int32, got ${target.dtype} ${formatShape(target.shape)}` +
        (isFloat(target.dtype)
          ? `; class-probability targets must have the input's shape ${formatShape(input.shape)}`
          : ''),
    );
  }
  const expected = indexShape(input);
  if (!shapesEqual(target.shape, expected))
    throw new ShapeError(
      `${op}: for an input of shape ${formatShape(input.shape)} the target must have shape ` +
        `${formatShape(expected)} (class indices) or ${formatShape(input.shape)} (probabilities), got ${formatShape(target.shape)}`,
    );
}

/**
 * Reads the int32 targets once: checks every non-ignored one against [0, C), and returns them with
 * ignored entries replaced by class 0 (a safe gather index), the keep mask and the kept count.
 */
function classTargets(
  target: Tensor,
  numClasses: number,
  ignoreIndex: number,
  op: string,
): { safe: Tensor; keep: Tensor; count: number } {
  const values = target.dataSync();
  const count = countTargets(values, numClasses, ignoreIndex, op);
  const safe = new Int32Array(values.length);
  const keep = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    if (values[i] === ignoreIndex) continue;
    safe[i] = values[i]!;
    keep[i] = 1;
  }
  const shape = target.shape;
  return { safe: tensor(safe, { shape }), keep: tensor(keep, { shape }), count };
}

/** The error of a 'mean' reduction over no counted target (PyTorch's NaN). */
function noTargetsError(op: string, ignoreIndex: number): ValueError {
  return new ValueError(
    `${op}: 'mean' reduction with every target ignored (ignoreIndex ${ignoreIndex}) or no targets ` +
      `is undefined (PyTorch returns NaN); use reduction 'sum' or filter such batches out`,
  );
}

/** Checks every target that is not ignoreIndex against [0, C); returns how many there are. */
function countTargets(
  values: ArrayLike<number>,
  numClasses: number,
  ignoreIndex: number,
  op: string,
): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === ignoreIndex) continue;
    if (v < 0 || v >= numClasses) {
      throw new IndexError(
        `${op}: target ${v} (at flat position ${i}) is out of range for ${numClasses} classes ` +
          `(valid: 0..${numClasses - 1}, or ignoreIndex ${ignoreIndex})`,
      );
    }
    count++;
  }
  return count;
}

/**
 * Fused softmax-cross-entropy of (R, C) logits at (R) int32 targets: per-row losses (0 where
 * ignored), reduced as the composite version reduces them. One kernel computes log-softmax and
 * the loss and saves each row's log-sum-exp; the backward kernel forms softmax − target from the
 * logits and that, never storing an (R, C) log-probability matrix.
 */
function crossEntropyFused(
  x: Tensor,
  t: Tensor,
  ignoreIndex: number,
  reduction: Reduction,
  eps: number,
  op: string,
): Tensor {
  const [R, C] = x.shape as [number, number];
  const count = countTargets(t.dataSync(), C, ignoreIndex, op);
  if (reduction === 'mean' && count === 0) throw noTargetsError(op, ignoreIndex);
  const k = kernelsFor(x);
  const loss = empty([R], x.dtype);
  const lse = empty([R], x.dtype);
  k.crossEntropyForward(x, t, ignoreIndex, eps, loss, lse);
  const rows = record(
    loss,
    'crossEntropy',
    [x],
    (g) => {
      if (isGradEnabled()) return [crossEntropyGradOps(x, t, ignoreIndex, eps, g)];
      const gx = empty([R, C], x.dtype);
      k.crossEntropyBackward(x, t, lse, g, ignoreIndex, eps, gx);
      return [gx];
    },
    [x, t, lse],
  );
  return reduction === 'none' ? rows : reduction === 'sum' ? sum(rows) : div(sum(rows), count);
}

/** The fused backward in differentiable Tensor ops (for createGraph). */
function crossEntropyGradOps(
  x: Tensor,
  t: Tensor,
  ignoreIndex: number,
  eps: number,
  g: Tensor,
): Tensor {
  const C = x.shape[1]!;
  const tc = unsqueeze(t, 1); // (R, 1)
  const onehot = cast(eq(arange(0, C, 1, { dtype: 'int32' }), tc), x.dtype); // (R, C)
  const q = add(mul(onehot, 1 - eps), eps / C);
  const keep = unsqueeze(t.ne(ignoreIndex), 1);
  return where(keep, mul(unsqueeze(g, 1), sub(softmax(x, 1), q)), 0);
}

/**
 * Negative log-likelihood of batched log-probabilities (N, C, d...) at int32 targets (N, d...),
 * with PyTorch's label-smoothing term; see crossEntropy for the formulas.
 */
function nllCore(
  logp: Tensor,
  target: Tensor,
  weight: Tensor | null,
  ignoreIndex: number,
  reduction: Reduction,
  labelSmoothing: number,
  op: string,
): Tensor {
  const C = logp.shape[1]!;
  const { safe, keep, count } = classTargets(target, C, ignoreIndex, op);
  const picked = squeeze(gather(logp, 1, unsqueeze(safe, 1)), 1);
  const w = weight ? reshape(indexSelect(weight, 0, reshape(safe, [safe.size])), safe.shape) : null;
  // where() rather than a 0/1 product: an ignored row contributes exactly 0 even if its
  // log-probability is −∞, and gets a zero gradient.
  const nll = where(keep, neg(w ? mul(picked, w) : picked), 0);

  let denom: Tensor | number = count;
  if (reduction === 'mean') {
    if (count === 0) throw noTargetsError(op, ignoreIndex);
    if (w) {
      denom = sum(where(keep, w, 0));
      if (denom.item() === 0)
        throw new ValueError(
          `${op}: 'mean' reduction divides by the total class weight of the targets, which is 0`,
        );
    }
  }
  const reduce = (loss: Tensor): Tensor =>
    reduction === 'none' ? loss : reduction === 'sum' ? sum(loss) : div(sum(loss), denom);

  if (labelSmoothing === 0) return reduce(nll);
  // PyTorch's smoothing term: −Σ_c w_c·log p_c per position, zero where the target is ignored,
  // reduced with the same denominator as the nll term.
  const wc = weight
    ? reshape(
        weight,
        logp.shape.map((s, i) => (i === 1 ? s : 1)),
      )
    : null;
  const smooth = where(keep, neg(sum(wc ? mul(logp, wc) : logp, 1)), 0);
  return add(mul(reduce(nll), 1 - labelSmoothing), mul(reduce(smooth), labelSmoothing / C));
}

// ---- Public functions -------------------------------------------------------------------------

/**
 * Negative log-likelihood loss (PyTorch's F.nll_loss): loss_i = −w[t_i]·logProbs[i, t_i], zero
 * where t_i = ignoreIndex. logProbs is (C), (N, C) or (N, C, d1, ...), the target int32 class
 * indices of shape (), (N) or (N, d1, ...). 'mean' divides by Σ w[t_i] over non-ignored targets.
 *
 * @example
 * const logp = nb.randn([4, 3]).logSoftmax(1);
 * const loss = nb.F.nllLoss(logp, nb.tensor([0, 2, 1, 2], { dtype: 'int32' }));
 */
export function nllLoss(logProbs: Tensor, target: Tensor, options: NllLossOptions = {}): Tensor {
  const op = 'nllLoss';
  const reduction = checkReduction(options.reduction ?? 'mean', op);
  const ignoreIndex = checkIgnoreIndex(options.ignoreIndex ?? -100, op);
  const { x, t, unbatched } = batchInput(logProbs, target, op);
  checkIndexTarget(logProbs, target, op);
  const weight = options.weight ? checkWeight(options.weight, x.shape[1]!, x.dtype, op) : null;
  const out = nllCore(x, t, weight, ignoreIndex, reduction, 0, op);
  return unbatched && reduction === 'none' ? reshape(out, []) : out;
}

/**
 * Cross-entropy between logits and targets (PyTorch's F.cross_entropy), computed from
 * logSoftmax over the class dim (dim 1, or dim 0 for an unbatched (C) input).
 *
 * - int32 class-index targets of the input's shape without the class dim: the nllLoss of the
 *   log-softmax, with weights and ignoreIndex as there. With label smoothing ε,
 *   loss = (1 − ε)·nll + ε/C·(−Σ_c w_c·log p_c), ignored positions excluded, both terms reduced
 *   alike ('mean' divides by Σ w[t_i] over non-ignored targets).
 * - float class-probability targets of the input's shape: loss = −Σ_c w_c·q_c·log p_c with
 *   q = (1 − ε)·target + ε/C; 'mean' divides by the number of positions (N·d1·...), not by the
 *   weights. ignoreIndex does not apply (it must stay negative, as in PyTorch).
 *
 * @example
 * const logits = nb.randn([4, 3], { requiresGrad: true });
 * const target = nb.tensor([0, 2, -100, 1], { dtype: 'int32' });
 * nb.F.crossEntropy(logits, target, { labelSmoothing: 0.1 }).backward();
 */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const op = 'crossEntropy';
  const reduction = checkReduction(options.reduction ?? 'mean', op);
  const ignoreIndex = checkIgnoreIndex(options.ignoreIndex ?? -100, op);
  const eps = checkSmoothing(options.labelSmoothing ?? 0, op);
  const { x, t, unbatched } = batchInput(input, target, op);
  const C = x.shape[1]!;
  const weight = options.weight ? checkWeight(options.weight, C, x.dtype, op) : null;
  const probabilities = shapesEqual(target.shape, input.shape);
  if (!probabilities) checkIndexTarget(input, target, op);
  if (!probabilities && !weight && x.ndim === 2 && x.size > 0 && fusedKernelsEnabled()) {
    const out = crossEntropyFused(x, t, ignoreIndex, reduction, eps, op);
    return unbatched && reduction === 'none' ? reshape(out, []) : out;
  }
  const logp = logSoftmax(x, 1);
  let out: Tensor;
  if (!probabilities) {
    out = nllCore(logp, t, weight, ignoreIndex, reduction, eps, op);
  } else {
    if (!isFloat(target.dtype))
      throw new DTypeError(
        `${op}: a target of the input's shape ${formatShape(input.shape)} holds class probabilities ` +
          `and must be float, got ${target.dtype}; class indices have shape ${formatShape(indexShape(input))}`,
      );
    checkSameDType(target, x.dtype, 'the probability target', op);
    if (ignoreIndex >= 0)
      throw new ValueError(`${op}: ignoreIndex is not supported with class-probability targets`);
    const q = eps > 0 ? add(mul(t, 1 - eps), eps / C) : t;
    let terms = mul(logp, q);
    if (weight)
      terms = mul(
        terms,
        reshape(
          weight,
          x.shape.map((s, i) => (i === 1 ? s : 1)),
        ),
      );
    const perPosition = neg(sum(terms, 1));
    out = reduceElementwise(perPosition, reduction, op);
  }
  return unbatched && reduction === 'none' ? reshape(out, []) : out;
}

function checkPair(input: Tensor, target: Tensor, op: string): void {
  checkFloat(input, 'input', op);
  checkFloat(target, 'target', op);
  if (!shapesEqual(input.shape, target.shape))
    throw new ShapeError(
      `${op}: target shape ${formatShape(target.shape)} differs from input shape ${formatShape(input.shape)}`,
    );
  checkSameDType(target, input.dtype, 'target', op);
}

/**
 * Mean squared error (PyTorch's F.mse_loss): (input − target)², reduced. Shapes must match.
 *
 * @example
 * const loss = nb.F.mseLoss(nb.tensor([1, 2]), nb.tensor([1, 4])); // 2
 */
export function mseLoss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? 'mean', 'mseLoss');
  checkPair(input, target, 'mseLoss');
  const d = sub(input, target);
  return reduceElementwise(mul(d, d), reduction, 'mseLoss');
}

/**
 * Mean absolute error (PyTorch's F.l1_loss): |input − target|, reduced; the gradient at a tie is 0.
 *
 * @example
 * const loss = nb.F.l1Loss(nb.tensor([1, 2]), nb.tensor([1, 4])); // 1
 */
export function l1Loss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  const reduction = checkReduction(options.reduction ?? 'mean', 'l1Loss');
  checkPair(input, target, 'l1Loss');
  return reduceElementwise(abs(sub(input, target)), reduction, 'l1Loss');
}

/** log(1 + eˣ) as logsumexp(0, x): no overflow, and its gradient is σ(x) everywhere (0 included). */
function softplus(x: Tensor): Tensor {
  return logsumexp(stack([zerosLike(x), x], -1), -1);
}

/**
 * Binary cross-entropy on logits (PyTorch's F.binary_cross_entropy_with_logits), in the stable
 * form loss = (1 − y)·x + (1 + (posWeight − 1)·y)·log(1 + e⁻ˣ), times `weight`; targets y in [0, 1].
 *
 * @example
 * const loss = nb.F.binaryCrossEntropyWithLogits(nb.tensor([0.5, -1]), nb.tensor([1, 0]));
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: BceWithLogitsOptions = {},
): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  const reduction = checkReduction(options.reduction ?? 'mean', op);
  checkPair(input, target, op);
  for (const [what, w] of [
    ['weight', options.weight],
    ['posWeight', options.posWeight],
  ] as const) {
    if (!w) continue;
    checkFloat(w, what, op);
    checkSameDType(w, input.dtype, what, op);
    const shape = broadcastShapes(op, input.shape, w.shape);
    if (!shapesEqual(shape, input.shape))
      throw new ShapeError(
        `${op}: ${what} of shape ${formatShape(w.shape)} does not broadcast to the input's ${formatShape(input.shape)}`,
      );
  }
  const softplusNeg = softplus(neg(input));
  const logWeight = options.posWeight ? add(mul(sub(options.posWeight, 1), target), 1) : null;
  let loss = add(mul(sub(1, target), input), logWeight ? mul(logWeight, softplusNeg) : softplusNeg);
  if (options.weight) loss = mul(loss, options.weight);
  return reduceElementwise(loss, reduction, op);
}

// ---- Modules ----------------------------------------------------------------------------------

/**
 * PyTorch's nn.CrossEntropyLoss: `forward(input, target)` is crossEntropy with these options.
 * A class weight is a persistent buffer, so it appears in `stateDict()` as 'weight', as in PyTorch.
 *
 * @example
 * const lossFn = new nb.nn.CrossEntropyLoss({ labelSmoothing: 0.1 });
 * const loss = lossFn.forward(nb.randn([4, 3]), nb.tensor([0, 1, 2, 1], { dtype: 'int32' }));
 */
export class CrossEntropyLoss extends Module {
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  readonly reduction: Reduction;
  private readonly hasWeight: boolean;

  constructor(options: CrossEntropyOptions = {}) {
    super();
    this.reduction = checkReduction(options.reduction ?? 'mean', 'CrossEntropyLoss');
    this.ignoreIndex = checkIgnoreIndex(options.ignoreIndex ?? -100, 'CrossEntropyLoss');
    this.labelSmoothing = checkSmoothing(options.labelSmoothing ?? 0, 'CrossEntropyLoss');
    this.hasWeight = !!options.weight;
    if (options.weight) this.registerBuffer('weight', options.weight);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, {
      weight: this.hasWeight ? this.getBuffer('weight') : null,
      ignoreIndex: this.ignoreIndex,
      labelSmoothing: this.labelSmoothing,
      reduction: this.reduction,
    });
  }
}

/**
 * PyTorch's nn.NLLLoss (on log-probabilities); a class weight is the buffer 'weight'.
 *
 * @example
 * const loss = new nb.nn.NLLLoss().forward(logp, target);
 */
export class NLLLoss extends Module {
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  private readonly hasWeight: boolean;

  constructor(options: NllLossOptions = {}) {
    super();
    this.reduction = checkReduction(options.reduction ?? 'mean', 'NLLLoss');
    this.ignoreIndex = checkIgnoreIndex(options.ignoreIndex ?? -100, 'NLLLoss');
    this.hasWeight = !!options.weight;
    if (options.weight) this.registerBuffer('weight', options.weight);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, {
      weight: this.hasWeight ? this.getBuffer('weight') : null,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
    });
  }
}

/**
 * PyTorch's nn.MSELoss.
 *
 * @example
 * const loss = new nb.nn.MSELoss().forward(pred, target);
 */
export class MSELoss extends Module {
  readonly reduction: Reduction;
  constructor(options: ReductionOptions = {}) {
    super();
    this.reduction = checkReduction(options.reduction ?? 'mean', 'MSELoss');
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/**
 * PyTorch's nn.L1Loss.
 *
 * @example
 * const loss = new nb.nn.L1Loss({ reduction: 'sum' }).forward(pred, target);
 */
export class L1Loss extends Module {
  readonly reduction: Reduction;
  constructor(options: ReductionOptions = {}) {
    super();
    this.reduction = checkReduction(options.reduction ?? 'mean', 'L1Loss');
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, { reduction: this.reduction });
  }
}

/**
 * PyTorch's nn.BCEWithLogitsLoss; `weight` and `posWeight` are the buffers 'weight' and
 * 'pos_weight'.
 *
 * @example
 * const loss = new nb.nn.BCEWithLogitsLoss().forward(logits, labels);
 */
export class BCEWithLogitsLoss extends Module {
  readonly reduction: Reduction;
  private readonly hasWeight: boolean;
  private readonly hasPosWeight: boolean;

  constructor(options: BceWithLogitsOptions = {}) {
    super();
    this.reduction = checkReduction(options.reduction ?? 'mean', 'BCEWithLogitsLoss');
    this.hasWeight = !!options.weight;
    this.hasPosWeight = !!options.posWeight;
    if (options.weight) this.registerBuffer('weight', options.weight);
    if (options.posWeight) this.registerBuffer('pos_weight', options.posWeight);
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, {
      weight: this.hasWeight ? this.getBuffer('weight') : null,
      posWeight: this.hasPosWeight ? this.getBuffer('pos_weight') : null,
      reduction: this.reduction,
    });
  }
}
