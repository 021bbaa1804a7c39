/**
 * Adam (Kingma & Ba, 2015) with PyTorch's update rule, optional AMSGrad, and L2 weight decay;
 * AdamW (Loshchilov & Hutter, 2019) decays the weights directly instead. With fused kernels on
 * (F.setFusedKernels), each parameter is updated by one kernel pass (adamUpdate) instead of about
 * ten tensor ops; the composite code below stays as the fallback and the test oracle.
 */
import { fusedKernelsEnabled } from '../ops/fused-switch.js';
import { isFloat } from '../core/dtype.js';
import { ValueError } from '../core/errors.js';
import { zerosLike } from '../ops/creation.js';
import { kernelsFor } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type ParamsArg } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

function validateAdam(name: string, o: AdamOptions): void {
  if (!(o.lr >= 0)) throw new ValueError(`${name}: invalid learning rate ${o.lr}`);
  if (!(o.eps >= 0)) throw new ValueError(`${name}: invalid eps ${o.eps}`);
  const [b1, b2] = o.betas;
  if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1))
    throw new ValueError(`${name}: betas must be in [0, 1), got [${b1}, ${b2}]`);
  if (!(o.weightDecay >= 0)) throw new ValueError(`${name}: invalid weightDecay ${o.weightDecay}`);
}

/**
 * @example
 * const opt = new nb.optim.Adam(model.parameters(), { lr: 1e-3 });
 */
export class Adam extends Optimizer<AdamOptions> {
  /** AdamW applies weight decay to the weights, not to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(
    params: ParamsArg<AdamOptions>,
    options: Partial<AdamOptions> = {},
    defaultWeightDecay = 0,
  ) {
    super(params, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: defaultWeightDecay,
      amsgrad: false,
      maximize: false,
      ...options,
    });
  }

  protected validate(o: AdamOptions): void {
    validateAdam(this.constructor.name, o);
  }

  /**
   * One fused update of p (param, m, v and v̂ in one kernel pass), when fused kernels are on and
   * every tensor involved is a contiguous float tensor of p's dtype; false to take the composite
   * path. Like the in-place ops it replaces, it bumps the version of every tensor it writes.
   */
  private fusedStep(p: Tensor, o: AdamOptions): boolean {
    const g = p.grad!;
    if (!fusedKernelsEnabled() || !isFloat(p.dtype) || g.dtype !== p.dtype) return false;
    if (!p.isContiguous() || !g.isContiguous() || g.size !== p.size) return false;
    const s = this.stateOf(p);
    const m = (s.expAvg as Tensor | undefined) ?? this.hold(zerosLike(p));
    const v = (s.expAvgSq as Tensor | undefined) ?? this.hold(zerosLike(p));
    const vmax = o.amsgrad
      ? ((s.maxExpAvgSq as Tensor | undefined) ?? this.hold(zerosLike(p)))
      : null;
    s.expAvg = m;
    s.expAvgSq = v;
    if (vmax) s.maxExpAvgSq = vmax;
    for (const t of vmax ? [m, v, vmax] : [m, v])
      if (!t.isContiguous() || t.dtype !== p.dtype || t.size !== p.size) return false;
    const step = ((s.step as number | undefined) ?? 0) + 1;
    s.step = step;
    kernelsFor(p).adamUpdate(p, g, m, v, vmax, {
      lr: o.lr,
      beta1: o.betas[0],
      beta2: o.betas[1],
      eps: o.eps,
      weightDecay: o.weightDecay,
      step,
      decoupled: this.decoupled,
      maximize: o.maximize,
    });
    for (const t of vmax ? [p, m, v, vmax] : [p, m, v]) t._buffer.version++;
    return true;
  }

  step(): void {
    this.runUpdate(() => {
      for (const { params, options: o } of this.paramGroups) {
        const [b1, b2] = o.betas;
        for (const p of params) {
          if (!p.grad) continue;
          if (this.fusedStep(p, o)) continue;
          let g: Tensor = o.maximize ? p.grad.neg() : p.grad;
          if (o.weightDecay !== 0) {
            if (this.decoupled) p.mul_(1 - o.lr * o.weightDecay);
            else g = g.add(p, o.weightDecay);
          }
          const s = this.stateOf(p);
          const step = ((s.step as number | undefined) ?? 0) + 1;
          s.step = step;
          const m = (s.expAvg as Tensor | undefined) ?? this.hold(zerosLike(p));
          const v = (s.expAvgSq as Tensor | undefined) ?? this.hold(zerosLike(p));
          s.expAvg = m;
          s.expAvgSq = v;
          m.mul_(b1).add_(g, 1 - b1); // m = β1·m + (1 − β1)·g
          v.mul_(b2).add_(g.mul(g), 1 - b2); // v = β2·v + (1 − β2)·g²
          let second = v;
          if (o.amsgrad) {
            const vmax = (s.maxExpAvgSq as Tensor | undefined) ?? this.hold(zerosLike(p));
            vmax.copy_(vmax.maximum(v));
            s.maxExpAvgSq = vmax;
            second = vmax;
          }
          const bc1 = 1 - b1 ** step;
          const bc2 = 1 - b2 ** step;
          // p −= (lr / bc1) · m / (√v / √bc2 + eps), in PyTorch's order of operations.
          const denom = second.sqrt().div(Math.sqrt(bc2)).add(o.eps);
          p.sub_(m.div(denom), o.lr / bc1);
        }
      }
    });
  }
}

/**
 * Adam with decoupled weight decay (default 0.01, as PyTorch).
 *
 * @example
 * const opt = new nb.optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.1 });
 */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  constructor(params: ParamsArg<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, options, 0.01);
  }
}
