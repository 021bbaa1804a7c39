/**
 * Optimizer base: parameter groups with per-group hyper-parameters, `zeroGrad()`, and a state dict
 * shaped like PyTorch's ({ state: {index: {...}}, paramGroups: [{..., params: [index]}] }) so that
 * a checkpoint resumes exactly.
 */
import { ValueError } from '../core/errors.js';
import { keep } from '../memory.js';
import type { Parameter } from '../nn/module.js';
import type { Tensor } from '../tensor.js';

/** A set of parameters sharing hyper-parameters (e.g. no weight decay on biases and norms). */
export interface ParamGroup<H> {
  params: Parameter[];
  options: H;
}

export type ParamsArg<H> =
  Iterable<Parameter> | readonly { params: Iterable<Parameter>; options?: Partial<H> }[];

/** Per-parameter state: tensors (moments) and numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

export interface OptimizerStateDict<H> {
  state: Record<number, ParamState>;
  paramGroups: (H & { params: number[] })[];
}

export abstract class Optimizer<H extends { lr: number }> {
  readonly paramGroups: ParamGroup<H>[];
  protected state = new Map<Parameter, ParamState>();

  constructor(params: ParamsArg<H>, defaults: H) {
    const list = [...(params as Iterable<unknown>)];
    const isGroups =
      list.length > 0 &&
      list.every((g) => typeof g === 'object' && g !== null && 'params' in g && !('shape' in g));
    const groups = isGroups
      ? (list as { params: Iterable<Parameter>; options?: Partial<H> }[]).map((g) => ({
          params: [...g.params],
          options: { ...defaults, ...(g.options ?? {}) },
        }))
      : [{ params: list as Parameter[], options: { ...defaults } }];
    const seen = new Set<Parameter>();
    for (const g of groups) {
      this.validate(g.options);
      for (const p of g.params) {
        if (seen.has(p))
          throw new ValueError(
            `${this.constructor.name}: a parameter appears in more than one group`,
          );
        seen.add(p);
      }
    }
    if (seen.size === 0)
      throw new ValueError(`${this.constructor.name}: got an empty parameter list`);
    this.paramGroups = groups;
  }

  /** Throws ValueError for hyper-parameters outside their valid range. */
  protected abstract validate(options: H): void;

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /** Clears the gradient of every parameter. */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /** Sets the learning rate of every group (used by schedules). */
  setLr(lr: number): void {
    for (const g of this.paramGroups) g.options.lr = lr;
  }

  protected stateOf(p: Parameter): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /** Keeps a state tensor alive across scopes. */
  protected hold<T extends Tensor>(t: T): T {
    return keep(t);
  }

  stateDict(): OptimizerStateDict<H> {
    const state: Record<number, ParamState> = {};
    let index = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const params = g.params.map((p) => {
        const s = this.state.get(p);
        if (s) state[index] = { ...s };
        return index++;
      });
      return { ...g.options, params };
    });
    return { state, paramGroups };
  }

  loadStateDict(sd: OptimizerStateDict<H>): void {
    if (
      !sd ||
      !Array.isArray(sd.paramGroups) ||
      sd.paramGroups.length !== this.paramGroups.length
    ) {
      throw new ValueError(
        `${this.constructor.name}.loadStateDict: expected ${this.paramGroups.length} parameter group(s)`,
      );
    }
    sd.paramGroups.forEach((saved, i) => {
      const group = this.paramGroups[i]!;
      if (saved.params.length !== group.params.length) {
        throw new ValueError(
          `${this.constructor.name}.loadStateDict: group ${i} has ${saved.params.length} parameters in the state dict, ${group.params.length} here`,
        );
      }
      const { params, ...options } = saved;
      group.options = { ...group.options, ...(options as unknown as H) };
      params.forEach((index, j) => {
        const s = sd.state[index];
        if (s) this.state.set(group.params[j]!, { ...s });
        else this.state.delete(group.params[j]!);
      });
    });
  }
}
