/**
 * Module: the base of every layer. Parameters and submodules are found by walking the instance's
 * own fields in creation order (as PyTorch's __setattr__ registers them). A field declared in the
 * class body is created at construction, before the constructor body runs, so declared fields
 * come in declaration order even if the constructor assigns them in another. Their names in
 * `stateDict()` are PyTorch's: camelCase fields become snake_case (`selfAttn.inProjWeight` →
 * `self_attn.in_proj_weight`, `weightHhL0` → `weight_hh_l0`), list items are numbered.
 */
import { noGrad } from '../autograd/grad-mode.js';
import type { DType } from '../core/dtype.js';
import { ShapeError, ValueError } from '../core/errors.js';
import { formatShape, shapesEqual } from '../core/shape.js';
import { keep } from '../memory.js';
import { Tensor } from '../tensor.js';

/**
 * A tensor that a Module trains: a leaf with `requiresGrad` true (unless asked otherwise).
 *
 * @example
 * const w = new nb.nn.Parameter(nb.zeros([3, 4]));
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    data._check('Parameter');
    super(data._buffer, data.shape, data.strides, data.offset, data.dtype);
    if (requiresGrad) this.requiresGrad_(true);
    // Parameters outlive any scope they were created in.
    keep(this);
  }
}

/** camelCase → snake_case, digits kept with the word before them: `weightIhL0` → `weight_ih_l0`. */
export function toSnakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A named tensor that is part of the state but not trained (running statistics, fixed tables). */
interface BufferEntry {
  tensor: Tensor;
  persistent: boolean;
}

const BUFFERS = Symbol('buffers');
const NAMES = Symbol('names');
const FORWARD_HOOKS = Symbol('forwardHooks');

/**
 * Runs after a module's `forward` with the module, the arguments and the result; a returned value
 * other than undefined replaces the result (PyTorch's `register_forward_hook`).
 */
export type ForwardHook = (module: Module, args: readonly unknown[], output: unknown) => unknown;

export interface LoadStateDictOptions {
  /** Require exactly the module's keys (default true): missing and unexpected keys are errors. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export abstract class Module {
  /** Whether the module is in training mode (dropout active); see `train()` / `eval()`. */
  training = true;
  private [BUFFERS] = new Map<string, BufferEntry>();
  /** Explicit PyTorch names for fields whose snake_case conversion is not the PyTorch name. */
  private [NAMES] = new Map<string, string>();
  private [FORWARD_HOOKS]: ForwardHook[] | null = null;

  /** Gives `field` the state-dict name `name` instead of its snake_case form. */
  protected renameField(field: string, name: string): void {
    this[NAMES].set(field, name);
  }

  /**
   * Registers a buffer: saved in `stateDict()` when persistent, moved by `to()`, never trained.
   * Read it back with `getBuffer(name)`.
   */
  registerBuffer(name: string, tensor: Tensor, persistent = true): void {
    keep(tensor);
    this[BUFFERS].set(name, { tensor, persistent });
  }

  getBuffer(name: string): Tensor {
    const b = this[BUFFERS].get(name);
    if (!b) throw new ValueError(`${this.constructor.name}: no buffer named '${name}'`);
    return b.tensor;
  }

  /**
   * Own fields that are parameters or modules, with their state-dict names. Plain arrays are not
   * searched (as in PyTorch): hold lists of modules in a ModuleList.
   */
  private ownEntries(): [string, Parameter | Module | null][] {
    const out: [string, Parameter | Module | null][] = [];
    for (const [field, value] of Object.entries(this)) {
      if (field.startsWith('_') || field === 'training') continue;
      const name = this[NAMES].get(field) ?? toSnakeCase(field);
      if (value instanceof Parameter || value instanceof Module) out.push([name, value]);
    }
    return out;
  }

  /** Direct submodules with their names. */
  *namedChildren(): Generator<[string, Module]> {
    for (const [name, v] of this.ownEntries()) if (v instanceof Module) yield [name, v];
  }

  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module and all submodules, depth first, with dotted names ('' for this one). */
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.namedChildren())
      yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /** Every parameter with its dotted name; a parameter shared by two modules is listed once. */
  namedParameters(prefix = ''): [string, Parameter][] {
    const seen = new Set<Parameter>();
    return this.allParameters(prefix).filter(([, p]) =>
      seen.has(p) ? false : (seen.add(p), true),
    );
  }

  private allParameters(prefix: string): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [name, v] of this.ownEntries()) {
      const full = prefix ? `${prefix}.${name}` : name;
      if (v instanceof Parameter) out.push([full, v]);
      else if (v instanceof Module) out.push(...v.allParameters(full));
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Number of trainable scalars (each shared parameter counted once). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, module] of this.namedModules(prefix)) {
      for (const [b, entry] of module[BUFFERS]) out.push([name ? `${name}.${b}` : b, entry.tensor]);
    }
    return out;
  }

  /** Sets training mode on this module and all submodules. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: dropout off. Same as `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Clears the gradient of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /**
   * The state as PyTorch names it: parameters and persistent buffers, dotted keys, in registration
   * order. Values are detached views of the live tensors (shared parameters appear under each name).
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const visit = (m: Module, prefix: string): void => {
      for (const [name, v] of m.ownEntries()) {
        const full = prefix ? `${prefix}.${name}` : name;
        if (v instanceof Parameter) out[full] = v.detach();
        else if (v instanceof Module) visit(v, full);
      }
      for (const [b, entry] of m[BUFFERS])
        if (entry.persistent) out[prefix ? `${prefix}.${b}` : b] = entry.tensor.detach();
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies values from a state dict (e.g. one saved by PyTorch and read with nb.io.loadSafetensors)
   * into this module's parameters and buffers. Shapes must match; with `strict` (the default) the
   * key sets must match too. Dtypes are converted to the parameter's dtype.
   */
  loadStateDict(
    stateDict: Record<string, Tensor>,
    options: LoadStateDictOptions = {},
  ): LoadStateDictResult {
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
    const missingKeys = Object.keys(own).filter((k) => !has(stateDict, k));
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !has(own, k));
    const mismatched: string[] = [];
    for (const [k, target] of Object.entries(own)) {
      const src = stateDict[k];
      if (src && !shapesEqual(src.shape, target.shape)) {
        mismatched.push(
          `${k}: checkpoint ${formatShape(src.shape)}, model ${formatShape(target.shape)}`,
        );
      }
    }
    const problems: string[] = [];
    if (mismatched.length) problems.push(`shape mismatch:\n    ${mismatched.join('\n    ')}`);
    if (strict && missingKeys.length) problems.push(`missing keys: ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length)
      problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    if (problems.length) {
      const Err = mismatched.length ? ShapeError : ValueError;
      throw new Err(`loadStateDict (${this.constructor.name}): ${problems.join('\n  ')}`);
    }
    noGrad(() => {
      for (const [k, target] of Object.entries(own)) {
        const src = stateDict[k];
        if (src) target.copy_(src.dtype === target.dtype ? src : src.to(target.dtype));
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Converts every parameter and buffer to `dtype` in place (float64 for gradient checks).
   * Parameters keep their identity; their data is replaced.
   */
  to(dtype: DType): this {
    // One replacement per parameter, so tied weights stay tied.
    const replaced = new Map<Parameter, Parameter>();
    for (const m of this.modules()) {
      for (const [field, v] of Object.entries(m)) {
        if (v instanceof Parameter && v.dtype !== dtype) {
          if (!replaced.has(v))
            replaced.set(v, new Parameter(v.detach().to(dtype), v.requiresGrad));
          (m as unknown as Record<string, unknown>)[field] = replaced.get(v);
        }
      }
      for (const entry of m[BUFFERS].values()) {
        if (
          entry.tensor.dtype !== dtype &&
          entry.tensor.dtype !== 'bool' &&
          entry.tensor.dtype !== 'int32'
        ) {
          entry.tensor = keep(entry.tensor.to(dtype));
        }
      }
    }
    return this;
  }

  /**
   * Calls `hook(module, args, output)` after every `forward` of this module (hooks run in
   * registration order; one returning a value replaces the output). The first registration gives
   * the instance its own non-enumerable `forward` that calls the class's, then the hooks, so calls
   * from a parent (`this.fc.forward(x)`) are seen too. Returns a handle whose `remove()`
   * unregisters the hook.
   *
   * @example
   * const fc = new nb.nn.Linear(4, 2);
   * const seen: nb.Tensor[] = [];
   * const h = fc.registerForwardHook((_m, _args, out) => void seen.push(out as nb.Tensor));
   * fc.forward(nb.randn([3, 4]));
   * h.remove(); // seen.length === 1
   */
  registerForwardHook(hook: ForwardHook): { remove(): void } {
    let hooks = this[FORWARD_HOOKS];
    if (hooks === null) {
      const inner = (this as unknown as { forward?: unknown }).forward;
      if (typeof inner !== 'function') {
        throw new ValueError(
          `${this.constructor.name}.registerForwardHook: the module has no forward method`,
        );
      }
      const list: ForwardHook[] = (hooks = this[FORWARD_HOOKS] = []);
      Object.defineProperty(this, 'forward', {
        configurable: true,
        writable: true,
        enumerable: false,
        value: (...args: unknown[]): unknown => {
          let out: unknown = (inner as (...a: unknown[]) => unknown).apply(this, args);
          for (const h of [...list]) {
            const replaced = h(this, args, out);
            if (replaced !== undefined) out = replaced;
          }
          return out;
        },
      });
    }
    const list = hooks;
    list.push(hook);
    return {
      remove: () => {
        const i = list.indexOf(hook);
        if (i >= 0) list.splice(i, 1);
      },
    };
  }

  /** Calls `fn` on this module and every submodule (children first, as PyTorch's apply). */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /** A one-line-per-module summary of the tree with parameter shapes. */
  toString(): string {
    const lines: string[] = [];
    const visit = (m: Module, name: string, depth: number): void => {
      const pad = '  '.repeat(depth);
      const params = m
        .ownEntries()
        .filter(([, v]) => v instanceof Parameter)
        .map(([n, v]) => `${n}${formatShape((v as Parameter).shape)}`);
      lines.push(
        `${pad}${name ? name + ': ' : ''}${m.constructor.name}${params.length ? ` (${params.join(', ')})` : ''}`,
      );
      for (const [n, c] of m.namedChildren()) visit(c, n, depth + 1);
    };
    visit(this, '', 0);
    return lines.join('\n');
  }
}

/**
 * A list of submodules, named "0", "1", ... in the state dict (PyTorch's ModuleList).
 *
 * @example
 * const layers = new nb.nn.ModuleList([new nb.nn.Linear(4, 4), new nb.nn.Linear(4, 2)]);
 */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  get length(): number {
    return Object.keys(this).filter((k) => /^\d+$/.test(k)).length;
  }
  append(m: M): this {
    (this as unknown as Record<string, M>)[String(this.length)] = m;
    return this;
  }
  get(i: number): M {
    const n = this.length;
    const j = i < 0 ? i + n : i;
    const m = (this as unknown as Record<string, M>)[String(j)];
    if (m === undefined)
      throw new ValueError(`ModuleList: index ${i} out of range for ${n} modules`);
    return m;
  }
  *[Symbol.iterator](): Iterator<M> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

/** A module with a single-tensor forward. */
export interface UnaryModule {
  forward(x: Tensor): Tensor;
}

/**
 * Applies its modules in order (PyTorch's Sequential); names "0", "1", ....
 *
 * @example
 * const mlp = new nb.nn.Sequential(new nb.nn.Linear(2, 8), new nb.nn.Tanh(), new nb.nn.Linear(8, 1));
 * const y = mlp.forward(nb.randn([5, 2]));
 */
export class Sequential extends ModuleList<Module & UnaryModule> {
  constructor(...modules: (Module & UnaryModule)[]) {
    super(modules);
  }
  forward(x: Tensor): Tensor {
    for (const m of this) x = m.forward(x);
    return x;
  }
}
