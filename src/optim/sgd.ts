/** Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (PyTorch's rules). */
import { ValueError } from '../core/errors.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type ParamsArg } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/**
 * @example
 * const opt = new nb.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsArg<SGDOptions>, options: Partial<SGDOptions> & { lr: number }) {
    super(params, {
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      maximize: false,
      ...options,
    });
  }

  protected validate(o: SGDOptions): void {
    if (!(o.lr >= 0)) throw new ValueError(`SGD: invalid learning rate ${o.lr}`);
    if (!(o.momentum >= 0)) throw new ValueError(`SGD: invalid momentum ${o.momentum}`);
    if (!(o.weightDecay >= 0)) throw new ValueError(`SGD: invalid weightDecay ${o.weightDecay}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new ValueError(
        'SGD: Nesterov momentum requires a positive momentum and zero dampening',
      );
    }
  }

  step(): void {
    this.runUpdate(() => {
      for (const { params, options: o } of this.paramGroups) {
        for (const p of params) {
          if (!p.grad) continue;
          let g: Tensor = o.maximize ? p.grad.neg() : p.grad;
          if (o.weightDecay !== 0) g = g.add(p, o.weightDecay);
          if (o.momentum !== 0) {
            const s = this.stateOf(p);
            let buf = s.momentumBuffer as Tensor | undefined;
            if (buf === undefined) buf = this.hold(g.clone());
            else buf.mul_(o.momentum).add_(g, 1 - o.dampening);
            s.momentumBuffer = buf;
            g = o.nesterov ? g.add(buf, o.momentum) : buf;
          }
          p.sub_(g, o.lr);
        }
      }
    });
  }
}
