/**
 * RNNLanguageModel: a recurrent language model — token embedding, a stack of LSTM, GRU or Elman
 * RNN layers (`nb.nn.LSTM` / `GRU` / `RNN`, batch first) and a linear head over the vocabulary —
 * as PyTorch's word_language_model example (examples/word_language_model/model.py, RNNModel) and
 * Karpathy's char-rnn. Dropout on the non-recurrent connections (embedding output, between layers,
 * before the head) follows Zaremba, Sutskever & Vinyals, "Recurrent Neural Network
 * Regularization" (2014); the optional tied head follows Press & Wolf (2017) and Inan et al.
 * (2017). Sampling shares GPT's functions (`nb.train.generateTokens`: temperature, top-k, top-p).
 *
 * Shape letters: B batch, T time, C embedding/hidden width, L layers, V vocabulary size.
 */
import { DTypeError, ShapeError, ValueError } from '../core/errors.js';
import type { Generator } from '../core/random.js';
import { formatShape } from '../core/shape.js';
import { keep } from '../memory.js';
import { Dropout } from '../nn/dropout.js';
import { Embedding } from '../nn/embedding.js';
import { uniform_, zeros_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { crossEntropy } from '../nn/losses.js';
import { Module } from '../nn/module.js';
import { GRU, LSTM, RNN } from '../nn/rnn.js';
import { Tensor } from '../tensor.js';
import { generateTokens, type SamplingOptions } from '../train/decode.js';
import { IGNORE_INDEX } from './gpt.js';

/** The recurrent layer type. */
export type RNNCellType = 'lstm' | 'gru' | 'rnn';

/**
 * The shape of an RNNLanguageModel.
 *
 * @example
 * const config: nb.models.RNNLanguageModelConfig = { vocabSize: 65, cell: 'lstm', hiddenSize: 128, numLayers: 2 };
 */
export interface RNNLanguageModelConfig {
  /** Number of token ids (V). */
  vocabSize: number;
  /** 'lstm', 'gru' or 'rnn' (Elman, tanh). */
  cell: RNNCellType;
  /** Width of the recurrent state (H). */
  hiddenSize: number;
  /** Width of the token embedding (default hiddenSize). */
  embedSize?: number;
  /** Stacked recurrent layers (default 1). */
  numLayers?: number;
  /** Dropout on the embedding output, between layers and before the head (default 0). */
  dropout?: number;
  /** Share the head's weight with the embedding; needs embedSize = hiddenSize (default false). */
  tieWeights?: boolean;
}

/** An RNNLanguageModelConfig with the defaults filled in. */
export type ResolvedRNNLanguageModelConfig = Readonly<Required<RNNLanguageModelConfig>>;

/** The recurrent state carried between calls: h (L, B, H), or [h, c] for an LSTM. */
export type RecurrentState = Tensor | readonly [Tensor, Tensor];

/** What `RNNLanguageModel.forward` returns. */
export interface RNNLanguageModelOutput {
  /** Next-token logits at every position, (B, T, V). */
  logits: Tensor;
  /** Mean cross-entropy over targets that are not -1 (0-d), when targets were given. */
  loss?: Tensor;
  /** The state after the last position, to continue the sequence in a later call. */
  state: RecurrentState;
}

function resolveConfig(config: RNNLanguageModelConfig): ResolvedRNNLanguageModelConfig {
  if (config === null || typeof config !== 'object')
    throw new ValueError(`RNNLanguageModel: expected a config object, got ${String(config)}`);
  const c = {
    embedSize: config.hiddenSize,
    numLayers: 1,
    dropout: 0,
    tieWeights: false,
    ...config,
  };
  for (const key of ['vocabSize', 'hiddenSize', 'embedSize', 'numLayers'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v <= 0)
      throw new ValueError(
        `RNNLanguageModel: config.${key} must be a positive integer, got ${String(v)}`,
      );
  }
  if (c.cell !== 'lstm' && c.cell !== 'gru' && c.cell !== 'rnn')
    throw new ValueError(
      `RNNLanguageModel: config.cell must be 'lstm', 'gru' or 'rnn', got ${String(c.cell)}`,
    );
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout < 1))
    throw new ValueError(`RNNLanguageModel: config.dropout must be in [0, 1), got ${c.dropout}`);
  if (c.tieWeights && c.embedSize !== c.hiddenSize)
    throw new ValueError(
      `RNNLanguageModel: tieWeights needs embedSize (${c.embedSize}) = hiddenSize (${c.hiddenSize})`,
    );
  return Object.freeze(c);
}

/**
 * A recurrent language model with PyTorch's RNNModel structure and state-dict keys
 * (`encoder.weight`, `rnn.weight_ih_l0`, ..., `decoder.weight`, `decoder.bias`).
 *
 * @example
 * nb.manualSeed(0);
 * const model = new nb.models.RNNLanguageModel({ vocabSize: 16, cell: 'lstm', hiddenSize: 32 });
 * const idx = nb.tensor([[1, 2, 3, 4]], { dtype: 'int32' });
 * const { logits, loss, state } = model.forward(idx, nb.tensor([[2, 3, 4, 5]], { dtype: 'int32' }));
 * logits.shape; // [1, 4, 16]
 * loss!.backward();
 * const out = model.generate(idx, 8, { temperature: 0.8, topK: 5 }); // (1, 12) int32
 */
export class RNNLanguageModel extends Module {
  readonly config: ResolvedRNNLanguageModelConfig;
  /** Token embedding (V, C). */
  encoder: Embedding;
  drop: Dropout;
  rnn: LSTM | GRU | RNN;
  /** H → V head. */
  decoder: Linear;

  constructor(config: RNNLanguageModelConfig, options: { generator?: Generator } = {}) {
    super();
    const c = resolveConfig(config);
    this.config = c;
    this.encoder = new Embedding(c.vocabSize, c.embedSize);
    this.drop = new Dropout(c.dropout, options.generator);
    const rnnOptions = {
      numLayers: c.numLayers,
      dropout: c.numLayers > 1 ? c.dropout : 0,
      batchFirst: true,
      ...(options.generator ? { generator: options.generator } : {}),
    };
    this.rnn =
      c.cell === 'lstm'
        ? new LSTM(c.embedSize, c.hiddenSize, rnnOptions)
        : c.cell === 'gru'
          ? new GRU(c.embedSize, c.hiddenSize, rnnOptions)
          : new RNN(c.embedSize, c.hiddenSize, rnnOptions);
    this.decoder = new Linear(c.hiddenSize, c.vocabSize);
    // PyTorch's example: encoder and decoder weights U(-0.1, 0.1), decoder bias 0; the recurrent
    // layers keep their own U(-1/√H, 1/√H).
    uniform_(this.encoder.weight, -0.1, 0.1, options.generator);
    uniform_(this.decoder.weight, -0.1, 0.1, options.generator);
    zeros_(this.decoder.bias!);
    if (c.tieWeights) this.decoder.weight = this.encoder.weight;
  }

  /** Checks that idx is a non-empty (B, T) int32 tensor of ids below vocabSize. */
  private checkTokens(idx: Tensor, op: string, what: string, allowIgnore = false): void {
    if (!(idx instanceof Tensor)) throw new DTypeError(`${op}: ${what} must be a Tensor`);
    if (idx.dtype !== 'int32')
      throw new DTypeError(`${op}: ${what} must hold int32 token ids, got ${idx.dtype}`);
    if (idx.ndim !== 2 || idx.size === 0)
      throw new ShapeError(
        `${op}: ${what} must be a non-empty (B, T) batch, got ${formatShape(idx.shape)}`,
      );
    const V = this.config.vocabSize;
    const ids = idx.dataSync();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if ((id < 0 || id >= V) && !(allowIgnore && id === IGNORE_INDEX))
        throw new ValueError(
          `${op}: token id ${id} in ${what} is outside the vocabulary (valid: 0..${V - 1}${allowIgnore ? `, or ${IGNORE_INDEX} to ignore` : ''})`,
        );
    }
  }

  /**
   * Logits (B, T, V) for `idx` (B, T) int32, starting from `state` (default zeros); with
   * `targets` (B, T) also the mean cross-entropy (targets of -1 ignored). Returns the final state
   * too: feed it back in to continue the sequence (detach it first to truncate backpropagation).
   */
  forward(idx: Tensor, targets?: Tensor, state?: RecurrentState | null): RNNLanguageModelOutput {
    const op = 'RNNLanguageModel.forward';
    this.checkTokens(idx, op, 'idx');
    const [B, T] = idx.shape as [number, number];
    const x = this.drop.forward(this.encoder.forward(idx)); // (B, T, C)
    let h: Tensor; // (B, T, H)
    let next: RecurrentState;
    if (this.rnn instanceof LSTM) {
      if (state != null && state instanceof Tensor)
        throw new ValueError(`${op}: an LSTM state is a pair [h, c]`);
      [h, next] = this.rnn.forward(x, (state as readonly [Tensor, Tensor] | null) ?? null);
    } else {
      if (state != null && !(state instanceof Tensor))
        throw new ValueError(`${op}: a ${this.config.cell.toUpperCase()} state is one tensor h`);
      [h, next] = this.rnn.forward(x, state ?? null);
    }
    const logits = this.decoder.forward(this.drop.forward(h)); // (B, T, H) → (B, T, V)
    if (targets === undefined) return { logits, state: next };
    this.checkTokens(targets, op, 'targets', true);
    if (targets.shape[0] !== B || targets.shape[1] !== T)
      throw new ShapeError(
        `${op}: targets must have idx's shape [${B}, ${T}], got ${formatShape(targets.shape)}`,
      );
    const V = this.config.vocabSize;
    const loss = crossEntropy(logits.reshape(B * T, V), targets.reshape(B * T), {
      ignoreIndex: IGNORE_INDEX,
    }); // (B·T, V) → ()
    return { logits, loss, state: next };
  }

  /**
   * Extends each row of `idx` (B, T) int32 by `maxNewTokens` sampled tokens: the prompt is read
   * once, then each new token is fed with the carried state (no context limit). Returns
   * (B, T + maxNewTokens) int32. Runs in eval mode (restored afterwards) without autograd.
   *
   * @example
   * const text = model.generate(prompt, 200, { temperature: 0.8, topK: 20, generator: new nb.Generator(1) });
   */
  generate(idx: Tensor, maxNewTokens: number, options: SamplingOptions = {}): Tensor {
    this.checkTokens(idx, 'RNNLanguageModel.generate', 'idx');
    const modes = [...this.modules()].map((m) => [m, m.training] as const);
    this.eval();
    let state: RecurrentState | null = null;
    const release = (): void => {
      if (state instanceof Tensor) state.dispose();
      else state?.forEach((t) => t.dispose());
    };
    try {
      return generateTokens(
        (tokens) => {
          const out = this.forward(tokens, undefined, state);
          release();
          // The state outlives the per-token scope of generateTokens.
          state =
            out.state instanceof Tensor
              ? keep(out.state)
              : [keep(out.state[0]), keep(out.state[1])];
          return out.logits.select(1, -1); // (B, t, V) → (B, V)
        },
        idx,
        maxNewTokens,
        options,
      );
    } finally {
      release();
      for (const [m, training] of modes) m.training = training;
    }
  }
}
