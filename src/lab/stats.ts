/**
 * nb.lab.activationStats: per-layer mean and variance of activations (forward, read by module
 * forward hooks) and of the gradients flowing back into them (backward, read by tensor gradient
 * hooks), for any model built from modules — the measurement behind the analyses of signal
 * propagation in deep networks (Glorot & Bengio, 2010; He et al., 2015; THEORY.md §2).
 */
import { ValueError } from '../core/errors.js';
import { isFloat } from '../core/dtype.js';
import type { Generator } from '../core/random.js';
import { randn } from '../ops/random.js';
import type { Module } from '../nn/module.js';
import { Tensor } from '../tensor.js';

/** Moments of a tensor's elements, in float64. */
export interface TensorStats {
  mean: number;
  /** Population variance about the mean (divided by the element count). */
  variance: number;
  /** Mean of the squares (the variance about 0). */
  meanSquare: number;
  numel: number;
}

/** The statistics of one module output (or of the input). */
export interface LayerStats {
  /** Dotted module name ('' for the model itself, 'input' for the input); `#k` for the k-th call. */
  name: string;
  /** The module's class name. */
  type: string;
  shape: number[];
  forward: TensorStats;
  /** Statistics of the gradient reaching this output; null without `backward`. */
  backward: TensorStats | null;
}

export interface ActivationStatsOptions {
  /** Also run backward and record gradient statistics (default false). */
  backward?: boolean;
  /** Which modules to record (default: every module, the model included). */
  filter?: (name: string, module: Module) => boolean;
  /** How to run the model (default `model.forward(input)`). */
  run?: (input: Tensor) => Tensor;
  /**
   * The scalar to differentiate (default: ⟨g, y⟩ with g ~ N(0, 1) of the output's shape, so that
   * gradient statistics measure how the network carries a unit-variance gradient back).
   */
  loss?: (output: Tensor) => Tensor;
  /** Generator for the default loss's g. */
  generator?: Generator;
}

export interface ActivationStatsResult {
  /** The input's statistics first, then every recorded module output in the order forward ends. */
  layers: LayerStats[];
  output: Tensor;
}

/**
 * Mean, variance and mean square of a tensor's elements, in float64.
 *
 * @example
 * nb.lab.tensorStats(nb.tensor([1, 2, 3, 6])); // { mean: 3, variance: 3.5, meanSquare: 12.5, numel: 4 }
 */
export function tensorStats(t: Tensor): TensorStats {
  const values = t.dataSync();
  const n = values.length;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    s += v;
    s2 += v * v;
  }
  const mean = n > 0 ? s / n : NaN;
  const meanSquare = n > 0 ? s2 / n : NaN;
  let c2 = 0; // two-pass variance: exact for large means
  for (let i = 0; i < n; i++) c2 += (values[i]! - mean) ** 2;
  return { mean, variance: n > 0 ? c2 / n : NaN, meanSquare, numel: n };
}

/**
 * Runs `model` on `input` with forward hooks on its modules and returns the mean and variance of
 * every module's output, in the order their forwards finish (children before their parent), with
 * the input's first; with `{ backward: true }`, also of the gradient reaching each output
 * (gradient hooks, during one backward of `options.loss`). Only tensor outputs (or the tensors of
 * an array output, named `name[i]`) are recorded. Hooks are removed before it returns.
 *
 * @example
 * const net = new nb.nn.ResidualMLP({ width: 32, depth: 8 });
 * const s = nb.lab.activationStats(net, nb.randn([64, 32]), {
 *   backward: true,
 *   filter: (_name, m) => m instanceof nb.nn.ResidualBlock,
 * });
 * s.layers.map((l) => l.forward.variance); // Var[u_0], Var[u_1], …
 */
export function activationStats(
  model: Module,
  input: Tensor,
  options: ActivationStatsOptions = {},
): ActivationStatsResult {
  const backward = options.backward ?? false;
  const run =
    options.run ??
    ((x: Tensor): Tensor => {
      const f = (model as unknown as { forward?: (x: Tensor) => unknown }).forward;
      if (typeof f !== 'function') {
        throw new ValueError('activationStats: the model has no forward(x); pass options.run');
      }
      const y = f.call(model, x);
      if (!(y instanceof Tensor)) {
        throw new ValueError(
          'activationStats: model.forward(x) did not return a tensor; pass options.run',
        );
      }
      return y;
    });
  const x =
    backward && isFloat(input.dtype) && !input.requiresGrad
      ? input.detach().requiresGrad_(true)
      : input;
  const layers: LayerStats[] = [];
  const record = (name: string, type: string, t: Tensor): void => {
    const entry: LayerStats = {
      name,
      type,
      shape: [...t.shape],
      forward: tensorStats(t),
      backward: null,
    };
    layers.push(entry);
    if (backward && t.requiresGrad) {
      t.registerHook((g) => {
        entry.backward = tensorStats(g);
      });
    }
  };
  record('input', 'input', x);
  const calls = new Map<string, number>();
  const handles: { remove(): void }[] = [];
  const filter = options.filter ?? (() => true);
  for (const [name, m] of model.namedModules()) {
    if (!filter(name, m) || typeof (m as { forward?: unknown }).forward !== 'function') continue;
    handles.push(
      m.registerForwardHook((mod, _args, out) => {
        const k = calls.get(name) ?? 0;
        calls.set(name, k + 1);
        const label = k === 0 ? name : `${name}#${k}`;
        if (out instanceof Tensor) record(label, mod.constructor.name, out);
        else if (Array.isArray(out)) {
          out.forEach((o, i) => {
            if (o instanceof Tensor) record(`${label}[${i}]`, mod.constructor.name, o);
          });
        }
      }),
    );
  }
  let output: Tensor;
  try {
    output = run(x);
  } finally {
    for (const h of handles) h.remove();
  }
  if (backward) {
    if (!output.requiresGrad) {
      throw new ValueError(
        'activationStats: the output does not require grad (no parameter or input needs gradients)',
      );
    }
    const loss =
      options.loss?.(output) ??
      output.mul(randn(output.shape, { dtype: output.dtype, generator: options.generator })).sum();
    loss.backward();
  }
  return { layers, output };
}
