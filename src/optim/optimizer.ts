/**
 * Optimizer base: parameter groups with per-group hyper-parameters, `zeroGrad()`, and a state dict
 * shaped like PyTorch's ({ state: {index: {...}}, paramGroups: [{..., params: [index]}] }) so that
 * a checkpoint resumes exactly.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { isFloat, type DType } from '../core/dtype.js';
import { ValueError } from '../core/errors.js';
import { keep, scope } from '../memory.js';
import type { Parameter } from '../nn/module.js';
import { tensor } from '../ops/creation.js';
import { Tensor } from '../tensor.js';

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

  /**
   * Runs an update without grad and in a scope, so that its temporaries are freed at once, not left
   * to the garbage collector (state tensors are `hold`-ed, and outlive it).
   */
  protected runUpdate(fn: () => void): void {
    scope(() => noGrad(fn));
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
        const p = group.params[j]!;
        if (s) this.state.set(p, this.copyState(s, p));
        else this.state.delete(p);
      });
    });
  }
  /**
   * A private copy of loaded per-parameter state: tensors are cloned (so the optimizer never
   * updates the caller's state dict in place), cast to the parameter's dtype when both are float
   * (as PyTorch does on load), and kept alive across scopes.
   */
  private copyState(s: ParamState, p: Parameter): ParamState {
    return noGrad(() => {
      const out: ParamState = {};
      for (const [key, v] of Object.entries(s)) {
        if (v instanceof Tensor) {
          const castable = isFloat(v.dtype) && isFloat(p.dtype) && v.dtype !== p.dtype;
          out[key] = this.hold(castable ? v.detach().to(p.dtype) : v.detach().clone());
        } else out[key] = v;
      }
      return out;
    });
  }
}

/** A number that JSON cannot hold, spelled as a string. */
type JsonNumber = number | 'nan' | 'inf' | '-inf';

/** A state tensor as plain JSON: dtype, shape and the values in row-major order. */
export interface SerializedTensor {
  dtype: DType;
  shape: number[];
  data: JsonNumber[];
}

/** One parameter's state with its tensors as `SerializedTensor`s. */
export type SerializedParamState = Record<string, JsonNumber | SerializedTensor>;

/** An optimizer state dict with nothing but JSON values (what `JSON.stringify` keeps exactly). */
export interface SerializedOptimizerState<H> {
  state: Record<string, SerializedParamState>;
  paramGroups: (H & { params: number[] })[];
}

function toJsonNumber(v: number): JsonNumber {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return v;
}

function fromJsonNumber(v: unknown, where: string): number {
  if (typeof v === 'number') return v;
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  throw new ValueError(`deserializeOptimizerState: ${where} is not a number: ${JSON.stringify(v)}`);
}

function copyJsonValue<T>(v: T): T {
  return (Array.isArray(v) ? v.map(copyJsonValue) : v) as T;
}

/**
 * An optimizer state dict in a form that survives `JSON.stringify`/`JSON.parse` exactly: state
 * tensors become `{dtype, shape, data}` with plain number arrays (float32 and float64 values both
 * print and parse back to the same value), and NaN/±Infinity become `'nan'`, `'inf'`, `'-inf'`.
 *
 * @example
 * const saved = JSON.stringify(nb.optim.serializeOptimizerState(opt.stateDict()));
 * // ... later, with an optimizer over the same parameters:
 * opt2.loadStateDict(nb.optim.deserializeOptimizerState(JSON.parse(saved)));
 */
export function serializeOptimizerState<H>(sd: OptimizerStateDict<H>): SerializedOptimizerState<H> {
  const state: Record<string, SerializedParamState> = {};
  for (const [index, s] of Object.entries(sd.state)) {
    const out: SerializedParamState = {};
    for (const [key, v] of Object.entries(s)) {
      out[key] =
        v instanceof Tensor
          ? { dtype: v.dtype, shape: [...v.shape], data: Array.from(v.dataSync(), toJsonNumber) }
          : toJsonNumber(v);
    }
    state[index] = out;
  }
  const paramGroups = sd.paramGroups.map((g) => {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(g)) copy[k] = copyJsonValue(v);
    return copy as H & { params: number[] };
  });
  return { state, paramGroups };
}

/** The inverse of `serializeOptimizerState`: state tensors rebuilt, ready for `loadStateDict`. */
export function deserializeOptimizerState<H>(
  json: SerializedOptimizerState<H> | unknown,
): OptimizerStateDict<H> {
  const sd = json as SerializedOptimizerState<H>;
  if (
    typeof sd !== 'object' ||
    sd === null ||
    typeof sd.state !== 'object' ||
    sd.state === null ||
    !Array.isArray(sd.paramGroups)
  ) {
    throw new ValueError(
      'deserializeOptimizerState: expected { state: {...}, paramGroups: [...] }',
    );
  }
  const state: Record<number, ParamState> = {};
  for (const [index, s] of Object.entries(sd.state)) {
    const out: ParamState = {};
    for (const [key, v] of Object.entries(s)) {
      const where = `state[${index}].${key}`;
      if (typeof v === 'object' && v !== null) {
        if (!Array.isArray(v.shape) || !Array.isArray(v.data) || typeof v.dtype !== 'string')
          throw new ValueError(
            `deserializeOptimizerState: ${where} should be a number or {dtype, shape, data}`,
          );
        const data = v.data.map((x, i) => fromJsonNumber(x, `${where}.data[${i}]`));
        out[key] = keep(tensor(data, { dtype: v.dtype, shape: v.shape }));
      } else out[key] = fromJsonNumber(v, where);
    }
    state[Number(index)] = out;
  }
  const paramGroups = sd.paramGroups.map((g) => {
    if (typeof g !== 'object' || g === null || !Array.isArray(g.params))
      throw new ValueError('deserializeOptimizerState: each parameter group needs a params array');
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(g)) copy[k] = copyJsonValue(v);
    return copy as H & { params: number[] };
  });
  return { state, paramGroups };
}
