/**
 * Recurrent networks, mirroring PyTorch's torch.nn.RNN, LSTM, GRU and their cells RNNCell,
 * LSTMCell, GRUCell: the same options (camelCase), parameter names (`weight_ih_l0`,
 * `bias_hh_l1_reverse`, ...; cells `weight_ih`, ...), gate orders (LSTM i, f, g, o; GRU r, z, n),
 * initialisation U(−1/√H, 1/√H), tensor layouts and `forward(x, h0?)` → `[output, hN]`.
 *
 * References: J. L. Elman, "Finding structure in time", Cognitive Science 14 (1990);
 * S. Hochreiter & J. Schmidhuber, "Long short-term memory", Neural Computation 9 (1997);
 * K. Cho et al., "Learning phrase representations using RNN encoder–decoder for statistical
 * machine translation", EMNLP (2014). The cell equations are in rnn-ops.ts.
 *
 * Layout: x is (T, B, I), or (B, T, I) with `batchFirst`, or unbatched (T, I); the output is
 * (T, B, D·H) (D = 2 when bidirectional), h0 and hN are (L·D, B, H) whatever `batchFirst` says.
 * Per layer, x·W_ihᵀ is one matmul over all T steps; each step then does one h·W_hhᵀ matmul for
 * all gates. Variable-length batches (`lengths`) behave like PyTorch's packed sequences: padded
 * steps change neither states nor outputs (which are zero there) nor gradients.
 */
import type { DType } from '../core/dtype.js';
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import type { Generator } from '../core/random.js';
import { formatShape } from '../core/shape.js';
import { tensor, zeros } from '../ops/creation.js';
import { add, where } from '../ops/elementwise.js';
import { cat, stack } from '../ops/join.js';
import { matmul } from '../ops/matmul.js';
import { dropout as dropoutOp } from '../ops/random.js';
import { empty } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { linear } from './functional.js';
import { uniform_ } from './init.js';
import { Module, Parameter } from './module.js';
import {
  gruStep,
  lstmStep,
  recurrentProducts,
  rnnStep,
  unbindSteps,
  type RNNNonlinearity,
} from './rnn-ops.js';

export type { RNNNonlinearity } from './rnn-ops.js';

/** Options shared by RNN, LSTM and GRU (PyTorch's arguments in camelCase). */
export interface RecurrentOptions {
  /** Stacked recurrent layers (default 1). */
  numLayers?: number;
  /** Learn the biases b_ih and b_hh (default true). */
  bias?: boolean;
  /** Input and output are (B, T, ·) instead of (T, B, ·); h0/hN are unaffected (default false). */
  batchFirst?: boolean;
  /** Dropout probability on the outputs of every layer but the last, in training mode (default 0). */
  dropout?: number;
  /** Add a second direction that reads the sequence backwards (default false). */
  bidirectional?: boolean;
  dtype?: DType;
  /** Draw the dropout masks from this generator instead of the global one. */
  generator?: Generator;
}

/** Options of the plain (Elman) RNN. */
export interface RNNOptions extends RecurrentOptions {
  /** φ: 'tanh' (default), 'relu', or 'leaky_relu' (u for u ≥ 0, negativeSlope·u otherwise). */
  nonlinearity?: RNNNonlinearity;
  /** The slope p of 'leaky_relu' for u < 0 (default 0.01). */
  negativeSlope?: number;
}

/** The options object form of the constructor: sizes included. */
export type RecurrentConfig<O> = O & { inputSize: number; hiddenSize: number };

/** Per-call options of a recurrent module's forward. */
export interface RecurrentForwardOptions {
  /**
   * Valid length of each sequence of the batch (B integers in [1, T], any order), as PyTorch's
   * pack_padded_sequence(enforce_sorted=False): steps at t ≥ lengths[b] are padding. Outputs are
   * zero there (pad_packed_sequence with total_length = T), final states are those of each
   * sequence's last valid step, and the reverse direction starts at that step.
   */
  lengths?: readonly number[] | Tensor;
}

/** What a step hook sees: the state just computed by one layer and direction at time index t. */
export interface RecurrentStep {
  layer: number;
  /** 0 forward, 1 reverse. */
  direction: 0 | 1;
  /** Position in the sequence (0-based); the reverse direction visits T−1 down to 0. */
  t: number;
  /** h_t (B, H) ((1, H) for unbatched input): the tensor the next step and the output read. */
  h: Tensor;
  /** The LSTM cell state c_t (B, H). */
  c?: Tensor;
}

export type RecurrentStepHook = (step: RecurrentStep) => void;

type Mode = 'RNN' | 'LSTM' | 'GRU';
const GATES: Record<Mode, number> = { RNN: 1, LSTM: 4, GRU: 3 };

function checkSize(name: string, v: unknown, owner: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new ValueError(`${owner}: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function checkNonlinearity(owner: string, n: unknown, slope: unknown): void {
  if (n !== 'tanh' && n !== 'relu' && n !== 'leaky_relu')
    throw new ValueError(
      `${owner}: nonlinearity must be 'tanh', 'relu' or 'leaky_relu', got ${String(n)}`,
    );
  if (typeof slope !== 'number' || !Number.isFinite(slope))
    throw new ValueError(`${owner}: negativeSlope must be a finite number, got ${String(slope)}`);
}

function resolveArgs<O>(
  a: number | RecurrentConfig<O>,
  b: number | undefined,
  o: O | undefined,
): [number, number, O] {
  if (typeof a === 'object' && a !== null) {
    const { inputSize, hiddenSize, ...rest } = a;
    return [inputSize, hiddenSize, rest as O];
  }
  return [a, b as number, (o ?? {}) as O];
}

/** Throws unless `x` has the module's dtype (no silent float32/float64 mixing). */
function checkDType(owner: string, what: string, x: Tensor, dtype: DType): void {
  if (x.dtype !== dtype) {
    throw new DTypeError(
      `${owner}: ${what} is ${x.dtype} but the parameters are ${dtype}; cast with .to('${dtype}') (or the module with .to('${x.dtype}'))`,
    );
  }
}

/**
 * The multi-layer recurrent module behind RNN, LSTM and GRU. Parameters are fields named as in
 * PyTorch (`weightIhL0` → `weight_ih_l0`, `biasHhL1Reverse` → `bias_hh_l1_reverse`), registered
 * in PyTorch's order (per layer, per direction: weight_ih, weight_hh, bias_ih, bias_hh).
 */
export abstract class RNNBase extends Module {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly generator: Generator | undefined;
  private readonly _mode: Mode;
  private readonly _nonlinearity: RNNNonlinearity;
  private readonly _negativeSlope: number;
  private _stepHooks: RecurrentStepHook[] = [];
  // Layer 0's parameters, typed (they always exist; the biases unless `bias: false`). Every
  // parameter is a field named as in PyTorch, e.g. `weightHhL1Reverse`; see also flatWeight().
  /** weight_ih_l0 (G·H, inputSize), G = 1, 4 or 3 gate blocks for RNN, LSTM, GRU. */
  declare weightIhL0: Parameter;
  /** weight_hh_l0 (G·H, H). */
  declare weightHhL0: Parameter;
  /** bias_ih_l0 (G·H). */
  declare biasIhL0: Parameter | undefined;
  /** bias_hh_l0 (G·H). */
  declare biasHhL0: Parameter | undefined;

  protected constructor(
    mode: Mode,
    inputSize: number,
    hiddenSize: number,
    options: RNNOptions,
    owner: string,
  ) {
    super();
    this._mode = mode;
    this.inputSize = checkSize('inputSize', inputSize, owner);
    this.hiddenSize = checkSize('hiddenSize', hiddenSize, owner);
    this.numLayers = checkSize('numLayers', options.numLayers ?? 1, owner);
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.bidirectional = options.bidirectional ?? false;
    this.generator = options.generator;
    const p = options.dropout ?? 0;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1))
      throw new ValueError(`${owner}: dropout must be a probability in [0, 1], got ${String(p)}`);
    this.dropout = p;
    this._nonlinearity = options.nonlinearity ?? 'tanh';
    this._negativeSlope = options.negativeSlope ?? 0.01;
    if (mode === 'RNN') checkNonlinearity(owner, this._nonlinearity, this._negativeSlope);
    const dtype = options.dtype ?? 'float32';
    const G = GATES[mode] * hiddenSize;
    const self = this as unknown as Record<string, Parameter>;
    for (let l = 0; l < this.numLayers; l++) {
      const inSize = l === 0 ? inputSize : hiddenSize * this.numDirections;
      for (let d = 0; d < this.numDirections; d++) {
        const sfx = `L${l}${d === 1 ? 'Reverse' : ''}`;
        self[`weightIh${sfx}`] = new Parameter(empty([G, inSize], dtype));
        self[`weightHh${sfx}`] = new Parameter(empty([G, hiddenSize], dtype));
        if (this.bias) {
          self[`biasIh${sfx}`] = new Parameter(empty([G], dtype));
          self[`biasHh${sfx}`] = new Parameter(empty([G], dtype));
        }
      }
    }
    this.resetParameters();
  }

  /** 2 when bidirectional, else 1. */
  get numDirections(): 1 | 2 {
    return this.bidirectional ? 2 : 1;
  }

  /** The non-linearity of a plain RNN ('tanh' for LSTM/GRU, whose cells fix their own). */
  get nonlinearity(): RNNNonlinearity {
    return this._nonlinearity;
  }

  get negativeSlope(): number {
    return this._negativeSlope;
  }

  /**
   * One parameter by PyTorch's name parts: `flatWeight('weight_hh', 1, 1)` is `weight_hh_l1_reverse`
   * (null for a bias of a module built with `bias: false`).
   */
  flatWeight(
    kind: 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh',
    layer: number,
    direction: 0 | 1 = 0,
  ): Parameter | null {
    const base = {
      weight_ih: 'weightIh',
      weight_hh: 'weightHh',
      bias_ih: 'biasIh',
      bias_hh: 'biasHh',
    }[kind];
    const v = (this as unknown as Record<string, unknown>)[
      `${base}L${layer}${direction === 1 ? 'Reverse' : ''}`
    ];
    return v instanceof Parameter ? v : null;
  }

  /** PyTorch's initialisation: every parameter ~ U(−1/√H, 1/√H). */
  resetParameters(): void {
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters()) uniform_(p, -k, k);
  }

  /**
   * Calls `hook` for every state the forward pass computes (each layer, direction and step), with
   * the tensor that the rest of the graph uses, so that gradient hooks registered on it see
   * ∂loss/∂h_t in full. Returns a handle whose `remove()` unregisters it. Used by
   * `nb.lab.gradientNormsThroughTime`.
   */
  registerStepHook(hook: RecurrentStepHook): { remove(): void } {
    this._stepHooks.push(hook);
    return {
      remove: () => {
        const i = this._stepHooks.indexOf(hook);
        if (i >= 0) this._stepHooks.splice(i, 1);
      },
    };
  }

  /**
   * The shared forward: returns the output and the final states (cN only for LSTM), in the
   * caller's layout (batchFirst, unbatched).
   */
  protected runRecurrent(
    input: Tensor,
    h0: Tensor | undefined,
    c0: Tensor | undefined,
    options: RecurrentForwardOptions,
  ): { output: Tensor; hN: Tensor; cN: Tensor | null } {
    const owner = this.constructor.name;
    const H = this.hiddenSize;
    const D = this.numDirections;
    const L = this.numLayers;
    const mode = this._mode;
    const w0 = this.flatWeight('weight_ih', 0)!;
    if (input.ndim !== 2 && input.ndim !== 3) {
      throw new ShapeError(
        `${owner}: expected input of 3 dims (${this.batchFirst ? 'B, T' : 'T, B'}, ${this.inputSize}) or 2 dims (T, ${this.inputSize}) unbatched, got ${formatShape(input.shape)}`,
      );
    }
    checkDType(owner, 'the input', input, w0.dtype);
    const unbatched = input.ndim === 2;
    // x: (T, B, I), time-major whatever the caller's layout.
    let x = unbatched ? input.unsqueeze(1) : this.batchFirst ? input.transpose(0, 1) : input;
    const [T, B, I] = x.shape as [number, number, number];
    if (I !== this.inputSize) {
      throw new ShapeError(
        `${owner}: input has ${I} features in its last dimension, expected inputSize = ${this.inputSize} (input ${formatShape(input.shape)})`,
      );
    }
    if (T === 0) throw new ShapeError(`${owner}: the input sequence is empty (T = 0)`);
    x = x.contiguous();
    const state = (s: Tensor | undefined, name: string): Tensor | undefined => {
      if (s === undefined) return undefined;
      checkDType(owner, name, s, w0.dtype);
      const want = unbatched ? [L * D, H] : [L * D, B, H];
      if (s.ndim !== want.length || s.shape.some((v, i) => v !== want[i])) {
        throw new ShapeError(
          `${owner}: ${name} must have shape ${formatShape(want)} (numLayers·numDirections, ${unbatched ? '' : 'B, '}H), got ${formatShape(s.shape)}`,
        );
      }
      return unbatched ? s.unsqueeze(1) : s;
    };
    const hx = state(h0, 'h0');
    const cx = state(c0, 'c0');
    const masks = this.lengthMasks(options.lengths, T, B, unbatched);

    const finalH: Tensor[] = [];
    const finalC: Tensor[] = [];
    let layerInput = x; // (T, B, I) then (T, B, D·H)
    for (let l = 0; l < L; l++) {
      const dirOutputs: Tensor[] = [];
      for (let d = 0; d < D; d++) {
        const dir = d as 0 | 1;
        const wih = this.flatWeight('weight_ih', l, dir)!; // (G·H, in)
        const whh = this.flatWeight('weight_hh', l, dir)!; // (G·H, H)
        const bih = this.flatWeight('bias_ih', l, dir);
        const bhh = this.flatWeight('bias_hh', l, dir);
        // Input contributions of all T steps at once: (T, B, G·H). RNN and LSTM add b_hh here too;
        // the GRU keeps it inside the step, where r multiplies (W_hn·h + b_hn).
        let gi = matmul(layerInput, wih.mT);
        let bhhStep: Tensor | null = null;
        if (bih && bhh) {
          if (mode === 'GRU') {
            gi = add(gi, bih);
            bhhStep = bhh;
          } else gi = add(gi, add(bih, bhh));
        }
        const steps = unbindSteps(gi); // T × (B, G·H)
        // h·W_hhᵀ per step, (B, H) @ (H, G·H), with W_hh's gradient computed once per layer.
        const hh = recurrentProducts(whh.mT, T);
        const k = l * D + d;
        let h = hx ? hx.select(0, k) : zeros([B, H], { dtype: w0.dtype }); // (B, H)
        let c =
          mode === 'LSTM' ? (cx ? cx.select(0, k) : zeros([B, H], { dtype: w0.dtype })) : null;
        const outs = new Array<Tensor>(T);
        for (let s = 0; s < T; s++) {
          const t = dir === 1 ? T - 1 - s : s;
          let hNew: Tensor;
          let cNew: Tensor | null = null;
          const gh = hh(h, t); // (B, G·H)
          if (mode === 'LSTM') [hNew, cNew] = lstmStep(steps[t]!, gh, c!, null);
          else if (mode === 'GRU') hNew = gruStep(steps[t]!, gh, h, bhhStep);
          else hNew = rnnStep(steps[t]!, gh, null, this._nonlinearity, this._negativeSlope);
          const mask = masks?.[t];
          let out = hNew;
          if (mask) {
            // Padded rows keep their state (so the reverse direction starts at each sequence's
            // last valid step) and output zeros.
            hNew = where(mask, hNew, h);
            if (cNew) cNew = where(mask, cNew, c!);
            out = where(mask, hNew, 0);
          }
          h = hNew;
          c = cNew;
          outs[t] = out;
          if (this._stepHooks.length > 0) {
            const info: RecurrentStep = { layer: l, direction: dir, t, h };
            if (c) info.c = c;
            for (const hook of [...this._stepHooks]) hook(info);
          }
        }
        finalH.push(h);
        if (c) finalC.push(c);
        dirOutputs.push(stack(outs, 0)); // (T, B, H)
      }
      layerInput = D === 2 ? cat(dirOutputs, 2) : dirOutputs[0]!; // (T, B, D·H)
      if (l < L - 1 && this.dropout > 0 && this.training)
        layerInput = dropoutOp(layerInput, this.dropout, true, this.generator);
    }
    let output = layerInput;
    let hN = stack(finalH, 0); // (L·D, B, H)
    let cN = mode === 'LSTM' ? stack(finalC, 0) : null;
    if (unbatched) {
      output = output.squeeze(1);
      hN = hN.squeeze(1);
      cN = cN ? cN.squeeze(1) : null;
    } else if (this.batchFirst) output = output.transpose(0, 1).contiguous();
    return { output, hN, cN };
  }

  /** Bool masks (B, 1) per time step, true where the step is valid; null where all are. */
  private lengthMasks(
    lengths: readonly number[] | Tensor | undefined,
    T: number,
    B: number,
    unbatched: boolean,
  ): (Tensor | null)[] | null {
    if (lengths === undefined) return null;
    const owner = this.constructor.name;
    if (unbatched)
      throw new ValueError(
        `${owner}: lengths needs a batched input (unbatched input has one sequence)`,
      );
    const lens = Array.from(
      Array.isArray(lengths) ? (lengths as readonly number[]) : (lengths as Tensor).dataSync(),
    );
    if (lens.length !== B)
      throw new ShapeError(`${owner}: lengths has ${lens.length} entries for a batch of ${B}`);
    for (const n of lens) {
      if (!Number.isInteger(n) || n < 1 || n > T)
        throw new ValueError(
          `${owner}: every length must be an integer in [1, T = ${T}], got [${lens.join(', ')}]`,
        );
    }
    const masks: (Tensor | null)[] = [];
    for (let t = 0; t < T; t++) {
      masks.push(
        lens.every((n) => n > t)
          ? null
          : tensor(
              lens.map((n) => [n > t]),
              { dtype: 'bool' },
            ),
      );
    }
    return masks.some((m) => m !== null) ? masks : null;
  }
}

/**
 * A multi-layer Elman RNN: h_t = φ(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh) (PyTorch's nn.RNN, plus
 * the leaky φ with `nonlinearity: 'leaky_relu'`).
 *
 * @example
 * const rnn = new nb.nn.RNN(10, 20, { numLayers: 2 });
 * const [output, hN] = rnn.forward(nb.randn([5, 3, 10])); // (T, B, I)
 * output.shape; // [5, 3, 20]
 * hN.shape; // [2, 3, 20]
 */
export class RNN extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, options?: RNNOptions);
  constructor(config: RecurrentConfig<RNNOptions>);
  constructor(a: number | RecurrentConfig<RNNOptions>, b?: number, o?: RNNOptions) {
    const [i, h, opts] = resolveArgs(a, b, o);
    super('RNN', i, h, opts, 'RNN');
  }

  /**
   * x: (T, B, I), (B, T, I) with batchFirst, or (T, I); h0: (L·D, B, H) (default zeros).
   * Returns [output (T, B, D·H), hN (L·D, B, H)].
   */
  forward(x: Tensor, h0?: Tensor | null, options: RecurrentForwardOptions = {}): [Tensor, Tensor] {
    const r = this.runRecurrent(x, h0 ?? undefined, undefined, options);
    return [r.output, r.hN];
  }
}

/**
 * A multi-layer LSTM (PyTorch's nn.LSTM without proj_size): gates i, f, g, o.
 *
 * @example
 * const lstm = new nb.nn.LSTM(10, 20, { numLayers: 2, batchFirst: true });
 * const [output, [hN, cN]] = lstm.forward(nb.randn([3, 5, 10])); // (B, T, I)
 * output.shape; // [3, 5, 20]
 */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentOptions);
  constructor(config: RecurrentConfig<RecurrentOptions>);
  constructor(a: number | RecurrentConfig<RecurrentOptions>, b?: number, o?: RecurrentOptions) {
    const [i, h, opts] = resolveArgs(a, b, o);
    super('LSTM', i, h, opts, 'LSTM');
  }

  /**
   * x as for RNN; state [h0, c0], each (L·D, B, H) (default zeros).
   * Returns [output, [hN, cN]].
   */
  forward(
    x: Tensor,
    state?: readonly [Tensor, Tensor] | null,
    options: RecurrentForwardOptions = {},
  ): [Tensor, [Tensor, Tensor]] {
    const r = this.runRecurrent(x, state?.[0], state?.[1], options);
    return [r.output, [r.hN, r.cN!]];
  }
}

/**
 * A multi-layer GRU (PyTorch's nn.GRU): gates r, z, n, with the reset gate applied to
 * (W_hn·h + b_hn).
 *
 * @example
 * const gru = new nb.nn.GRU(10, 20, { bidirectional: true });
 * const [output, hN] = gru.forward(nb.randn([5, 3, 10]));
 * output.shape; // [5, 3, 40]
 * hN.shape; // [2, 3, 20]
 */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, options?: RecurrentOptions);
  constructor(config: RecurrentConfig<RecurrentOptions>);
  constructor(a: number | RecurrentConfig<RecurrentOptions>, b?: number, o?: RecurrentOptions) {
    const [i, h, opts] = resolveArgs(a, b, o);
    super('GRU', i, h, opts, 'GRU');
  }

  /** As RNN.forward. */
  forward(x: Tensor, h0?: Tensor | null, options: RecurrentForwardOptions = {}): [Tensor, Tensor] {
    const r = this.runRecurrent(x, h0 ?? undefined, undefined, options);
    return [r.output, r.hN];
  }
}

// ---- Cells ----------------------------------------------------------------------------------

/** Options of the cells. */
export interface CellOptions {
  /** Learn b_ih and b_hh (default true). */
  bias?: boolean;
  dtype?: DType;
}

/** Options of RNNCell. */
export interface RNNCellOptions extends CellOptions {
  nonlinearity?: RNNNonlinearity;
  negativeSlope?: number;
}

/** Parameters weight_ih, weight_hh, bias_ih, bias_hh of a cell with `gates` blocks. */
abstract class CellBase extends Module {
  weightIh: Parameter;
  weightHh: Parameter;
  biasIh: Parameter | null;
  biasHh: Parameter | null;

  protected constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    gates: number,
    options: CellOptions,
    owner: string,
  ) {
    super();
    checkSize('inputSize', inputSize, owner);
    checkSize('hiddenSize', hiddenSize, owner);
    const dtype = options.dtype ?? 'float32';
    this.weightIh = new Parameter(empty([gates * hiddenSize, inputSize], dtype));
    this.weightHh = new Parameter(empty([gates * hiddenSize, hiddenSize], dtype));
    const bias = options.bias ?? true;
    this.biasIh = bias ? new Parameter(empty([gates * hiddenSize], dtype)) : null;
    this.biasHh = bias ? new Parameter(empty([gates * hiddenSize], dtype)) : null;
    this.resetParameters();
  }

  /** PyTorch's initialisation: every parameter ~ U(−1/√H, 1/√H). */
  resetParameters(): void {
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters()) uniform_(p, -k, k);
  }

  /** x: (B, I) or (I). Returns [x as (B, I), unbatched]. */
  protected input(x: Tensor): [Tensor, boolean] {
    const owner = this.constructor.name;
    if ((x.ndim !== 1 && x.ndim !== 2) || x.shape[x.ndim - 1] !== this.inputSize) {
      throw new ShapeError(
        `${owner}: expected input (B, ${this.inputSize}) or (${this.inputSize}), got ${formatShape(x.shape)}`,
      );
    }
    checkDType(owner, 'the input', x, this.weightIh.dtype);
    return x.ndim === 1 ? [x.unsqueeze(0), true] : [x, false];
  }

  /** A state argument as (B, H), or zeros. */
  protected state(
    s: Tensor | null | undefined,
    B: number,
    unbatched: boolean,
    name: string,
  ): Tensor {
    const owner = this.constructor.name;
    if (s === undefined || s === null)
      return zeros([B, this.hiddenSize], { dtype: this.weightIh.dtype });
    const want = unbatched ? [this.hiddenSize] : [B, this.hiddenSize];
    if (s.ndim !== want.length || s.shape.some((v, i) => v !== want[i])) {
      throw new ShapeError(
        `${owner}: ${name} must have shape ${formatShape(want)}, got ${formatShape(s.shape)}`,
      );
    }
    checkDType(owner, name, s, this.weightIh.dtype);
    return unbatched ? s.unsqueeze(0) : s;
  }
}

/**
 * One Elman step h' = φ(W_ih·x + b_ih + W_hh·h + b_hh) (PyTorch's nn.RNNCell).
 *
 * @example
 * const cell = new nb.nn.RNNCell(10, 20);
 * let h = nb.zeros([3, 20]);
 * for (const x of nb.randn([6, 3, 10]).split(1, 0)) h = cell.forward(x.squeeze(0), h);
 */
export class RNNCell extends CellBase {
  readonly nonlinearity: RNNNonlinearity;
  readonly negativeSlope: number;

  constructor(inputSize: number, hiddenSize: number, options: RNNCellOptions = {}) {
    super(inputSize, hiddenSize, 1, options, 'RNNCell');
    this.nonlinearity = options.nonlinearity ?? 'tanh';
    this.negativeSlope = options.negativeSlope ?? 0.01;
    checkNonlinearity('RNNCell', this.nonlinearity, this.negativeSlope);
  }

  /** x: (B, I) or (I); h: (B, H) or (H) (default zeros). Returns h'. */
  forward(x: Tensor, h?: Tensor | null): Tensor {
    const [xb, unbatched] = this.input(x);
    const hb = this.state(h, xb.shape[0]!, unbatched, 'h');
    const gi = linear(xb, this.weightIh, this.biasIh); // (B, H)
    const out = rnnStep(
      gi,
      matmul(hb, this.weightHh.mT),
      this.biasHh,
      this.nonlinearity,
      this.negativeSlope,
    );
    return unbatched ? out.squeeze(0) : out;
  }
}

/**
 * One LSTM step (PyTorch's nn.LSTMCell), gates i, f, g, o.
 *
 * @example
 * const cell = new nb.nn.LSTMCell(10, 20);
 * const [h, c] = cell.forward(nb.randn([3, 10])); // state defaults to zeros
 */
export class LSTMCell extends CellBase {
  constructor(inputSize: number, hiddenSize: number, options: CellOptions = {}) {
    super(inputSize, hiddenSize, 4, options, 'LSTMCell');
  }

  /** x: (B, I) or (I); state [h, c], each (B, H) or (H) (default zeros). Returns [h', c']. */
  forward(x: Tensor, state?: readonly [Tensor, Tensor] | null): [Tensor, Tensor] {
    const [xb, unbatched] = this.input(x);
    const B = xb.shape[0]!;
    const h = this.state(state?.[0], B, unbatched, 'h');
    const c = this.state(state?.[1], B, unbatched, 'c');
    const gi = linear(xb, this.weightIh, this.biasIh); // (B, 4H)
    const [h2, c2] = lstmStep(gi, matmul(h, this.weightHh.mT), c, this.biasHh);
    return unbatched ? [h2.squeeze(0), c2.squeeze(0)] : [h2, c2];
  }
}

/**
 * One GRU step (PyTorch's nn.GRUCell), gates r, z, n.
 *
 * @example
 * const cell = new nb.nn.GRUCell(10, 20);
 * const h = cell.forward(nb.randn([3, 10]), nb.zeros([3, 20]));
 */
export class GRUCell extends CellBase {
  constructor(inputSize: number, hiddenSize: number, options: CellOptions = {}) {
    super(inputSize, hiddenSize, 3, options, 'GRUCell');
  }

  /** x: (B, I) or (I); h: (B, H) or (H) (default zeros). Returns h'. */
  forward(x: Tensor, h?: Tensor | null): Tensor {
    const [xb, unbatched] = this.input(x);
    const hb = this.state(h, xb.shape[0]!, unbatched, 'h');
    const gi = linear(xb, this.weightIh, this.biasIh); // (B, 3H)
    const out = gruStep(gi, matmul(hb, this.weightHh.mT), hb, this.biasHh);
    return unbatched ? out.squeeze(0) : out;
  }
}
