/**
 * Truncated backpropagation through time (Williams & Peng, 1990; Sutskever, 2013 §3): a long
 * sequence is cut into chunks of k steps; the recurrent state is carried from chunk to chunk but
 * detached at each boundary (both h and c for an LSTM), so each backward runs through at most k
 * steps. Memory then grows with k, not with the sequence length T, at the price of ignoring
 * dependencies longer than k steps (see scripts/bench-tbptt.ts).
 *
 * Three levels: `timeChunks` (split a sequence), `detachState` (cut a state from its graph), and
 * `truncatedBptt`, which runs forward, backward and the optimizer per chunk around a user callback.
 */
import { ValueError } from '../core/errors.js';
import { scope } from '../memory.js';
import { narrow } from '../ops/movement.js';
import { Tensor } from '../tensor.js';
import { clipGradNorm } from './utils.js';

/** A recurrent state: a tensor or arrays / plain objects of them (an LSTM's [h, c]). */
export type RecurrentState =
  | Tensor
  | null
  | undefined
  | readonly RecurrentState[]
  | { readonly [key: string]: RecurrentState };

/**
 * The same state with every tensor detached from the autograd graph (values shared, no copy):
 * gradients stop flowing into earlier chunks.
 *
 * @example
 * let state = nb.nn.detachState(hc); // [h, c] of an LSTM
 */
export function detachState<S extends RecurrentState>(state: S): S {
  if (state instanceof Tensor) return state.detach() as S;
  if (Array.isArray(state)) return state.map((s: RecurrentState) => detachState(s)) as unknown as S;
  if (state !== null && typeof state === 'object') {
    const out: Record<string, RecurrentState> = {};
    for (const [k, v] of Object.entries(state)) out[k] = detachState(v as RecurrentState);
    return out as S;
  }
  return state;
}

/** One chunk of a sequence. */
export interface TimeChunk {
  /** 0, 1, ... */
  index: number;
  /** First time step of the chunk in the full sequence. */
  start: number;
  /** Number of steps (k, or fewer for the last chunk). */
  length: number;
  /** The input steps [start, start + length): a view. */
  x: Tensor;
  /** The target steps, when targets were given. */
  targets?: Tensor;
}

export interface TimeChunkOptions {
  /** Time is dimension 1, as in (B, T, ...), instead of 0, as in (T, B, ...) (default false). */
  batchFirst?: boolean;
  /** Targets with the same time dimension, split alongside. */
  targets?: Tensor;
}

function checkK(k: number, op: string): void {
  if (!Number.isInteger(k) || k < 1)
    throw new ValueError(`${op}: the chunk length k must be a positive integer, got ${k}`);
}

/**
 * Splits a sequence (T, B, ...) or, with `batchFirst`, (B, T, ...) into consecutive chunks of k
 * time steps (views; the last chunk may be shorter).
 *
 * @example
 * for (const { x } of nb.nn.timeChunks(seq, 32)) console.log(x.shape[0]); // 32, 32, ..., rest
 */
export function* timeChunks(
  x: Tensor,
  k: number,
  options: TimeChunkOptions = {},
): Generator<TimeChunk> {
  checkK(k, 'timeChunks');
  const dim = options.batchFirst ? 1 : 0;
  if (x.ndim <= dim)
    throw new ValueError(`timeChunks: the input needs a time dimension ${dim}, got ${x.ndim} dims`);
  const T = x.shape[dim]!;
  const y = options.targets;
  if (y && (y.ndim <= dim || y.shape[dim] !== T))
    throw new ValueError(
      `timeChunks: targets must have the input's ${T} steps along dimension ${dim}, got shape [${y.shape.join(', ')}]`,
    );
  for (let index = 0, start = 0; start < T; index++, start += k) {
    const length = Math.min(k, T - start);
    const chunk: TimeChunk = { index, start, length, x: narrow(x, dim, start, length) };
    if (y) chunk.targets = narrow(y, dim, start, length);
    yield chunk;
  }
}

/** What `truncatedBptt` needs of an optimizer (every nb.optim optimizer fits). */
export interface TbpttOptimizer {
  zeroGrad(): void;
  step(): void;
  readonly paramGroups?: readonly { readonly params: readonly Tensor[] }[];
}

export interface TruncatedBpttOptions<S extends RecurrentState> extends TimeChunkOptions {
  /** Chunk length: steps per forward/backward. */
  k: number;
  /** The state before the first chunk (default undefined: the model's zero state). */
  initialState?: S;
  /**
   * Zeroed before and stepped after each chunk's backward. Without one, gradients accumulate
   * over the chunks (list the parameters in `params` so that they outlive each chunk's scope).
   */
  optimizer?: TbpttOptimizer;
  /** Parameters to clip and whose gradients to keep (default: the optimizer's). */
  params?: Iterable<Tensor>;
  /** Clip the gradient norm of `params` to this value before each step. */
  clipGradNorm?: number;
  /**
   * Run each chunk inside `nb.scope`, so that its graph and intermediates are freed when it ends
   * (default true). The carried state and the parameters' gradients survive.
   */
  scope?: boolean;
  /** Called after each chunk with its loss. */
  onChunk?: (info: { index: number; start: number; length: number; loss: number }) => void;
}

/** The callback of `truncatedBptt`: a forward pass over one chunk from the carried state. */
export type TbpttStep<S extends RecurrentState> = (chunk: TimeChunk & { state: S | undefined }) => {
  loss: Tensor;
  state: S;
};

export interface TruncatedBpttResult<S extends RecurrentState> {
  /** The loss of every chunk. */
  losses: number[];
  /** The (detached) state after the last chunk, to continue from. */
  state: S | undefined;
}

/**
 * Truncated BPTT over one long sequence: for each chunk of k steps, calls `step` with the chunk
 * and the state carried from the previous one, then runs `loss.backward()`, clips, steps the
 * optimizer, and carries `detachState(state)` on.
 *
 * TypeScript cannot infer the state type from the callback alone: give it as the type argument
 * (`[Tensor, Tensor]` for an LSTM's [h, c], `Tensor` for RNN and GRU) or through `initialState`.
 *
 * @example
 * const lstm = new nb.nn.LSTM(1, 32);
 * const head = new nb.nn.Linear(32, 1);
 * const opt = new nb.optim.Adam([...lstm.parameters(), ...head.parameters()], { lr: 1e-2 });
 * const { losses } = nb.nn.truncatedBptt<[nb.Tensor, nb.Tensor]>(
 *   xs, // (T, B, 1)
 *   ({ x, targets, state }) => {
 *     const [out, hc] = lstm.forward(x, state);
 *     return { loss: head.forward(out).sub(targets!).square().mean(), state: hc };
 *   },
 *   { k: 50, targets: ys, optimizer: opt },
 * );
 */
export function truncatedBptt<S extends RecurrentState>(
  x: Tensor,
  step: TbpttStep<S>,
  options: TruncatedBpttOptions<S>,
): TruncatedBpttResult<S> {
  checkK(options.k, 'truncatedBptt');
  const opt = options.optimizer;
  const params: Tensor[] = options.params
    ? [...options.params]
    : (opt?.paramGroups?.flatMap((g) => [...g.params]) ?? []);
  if (options.clipGradNorm !== undefined && params.length === 0)
    throw new ValueError(
      'truncatedBptt: clipGradNorm needs params (or an optimizer with paramGroups)',
    );
  const useScope = options.scope ?? true;
  const losses: number[] = [];
  let state = options.initialState;
  let grads: (Tensor | null)[] = [];
  for (const chunk of timeChunks(x, options.k, options)) {
    const run = (): { loss: number; state: S; grads: (Tensor | null)[] } => {
      opt?.zeroGrad();
      const out = step({ ...chunk, state });
      out.loss.backward();
      if (options.clipGradNorm !== undefined) clipGradNorm(params, options.clipGradNorm);
      opt?.step();
      // Returning the gradients from the scope keeps them alive after it.
      return {
        loss: out.loss.item(),
        state: detachState(out.state),
        grads: params.map((p) => p.grad),
      };
    };
    const r = useScope ? scope(run) : run();
    if (useScope) {
      // Free what the previous chunk handed over and this one replaced: the carried state (not
      // the caller's initial state) and gradient tensors that no parameter holds any more.
      // Disposing a view of a buffer still in use only drops a reference.
      if (chunk.index > 0) for (const t of tensorsOf(state)) t.dispose();
      grads.forEach((g, i) => {
        if (g && g !== params[i]!.grad) g.dispose();
      });
      grads = r.grads;
    }
    state = r.state;
    losses.push(r.loss);
    options.onChunk?.({
      index: chunk.index,
      start: chunk.start,
      length: chunk.length,
      loss: r.loss,
    });
  }
  return { losses, state };
}

/** The tensors of a state, flattened. */
function tensorsOf(state: RecurrentState): Tensor[] {
  if (state instanceof Tensor) return [state];
  if (Array.isArray(state)) return state.flatMap((s: RecurrentState) => tensorsOf(s));
  if (state !== null && typeof state === 'object')
    return Object.values(state).flatMap((s) => tensorsOf(s as RecurrentState));
  return [];
}
