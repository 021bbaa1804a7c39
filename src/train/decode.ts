/**
 * Decoding: turning a model's next-token logits into tokens.
 *
 * - Language models: greedy, temperature, top-k (Fan et al., 2018, "Hierarchical Neural Story
 *   Generation") and top-p / nucleus sampling (Holtzman et al., 2020, "The Curious Case of Neural
 *   Text Degeneration"), as nanoGPT's `generate`; `generateTokens` runs the autoregressive loop
 *   for any model given as a step function (the GPT's `generate` and an LSTM language model share
 *   these functions).
 * - Encoder–decoder models given as functions (encode, decodeStep, and optionally a cache):
 *   greedy decoding and beam search with length normalisation (Wu et al., 2016, "Google's Neural
 *   Machine Translation System", §7: score / length^α), keeping `beamSize` live hypotheses and
 *   finished ones aside, as fairseq and Hugging Face's BeamSearchScorer do. `transformerSeq2Seq`
 *   wraps an nb.nn.Transformer with its key/value cache.
 *
 * Shape letters: B or N batch (beams), T time, S source length, E model width, V vocabulary.
 */
import { noGrad } from '../autograd/grad-mode.js';
import { ShapeError, ValueError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { keep, scope } from '../memory.js';
import type { DecoderCache } from '../nn/kv-cache.js';
import { Transformer } from '../nn/transformer.js';
import { tensor } from '../ops/creation.js';
import { cat } from '../ops/join.js';
import { formatShape } from '../core/shape.js';
import { Tensor } from '../tensor.js';

// ---- Sampling -----------------------------------------------------------------------------------

/** How to pick the next token from logits. */
export interface SamplingOptions {
  /** Softmax temperature (default 1); 0 picks the most likely token (greedy decoding). */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Nucleus sampling: only among the most likely tokens whose probabilities add up to topP. */
  topP?: number;
  /** The random stream to sample from (default: the global generator). */
  generator?: Generator;
}

/** Validated sampling settings (see `resolveSampling`). */
export interface Sampling {
  temperature: number;
  /** At most V; null for no limit. */
  topK: number | null;
  /** In (0, 1); null for no nucleus cut. */
  topP: number | null;
}

/**
 * Checks sampling options against a vocabulary of `vocabSize` tokens and fills the defaults;
 * throws ValueError (prefixed with `op`) for a negative temperature, topK < 1 or topP outside (0, 1].
 *
 * @example
 * nb.train.resolveSampling({ topK: 100 }, 65); // { temperature: 1, topK: 65, topP: null }
 */
export function resolveSampling(
  options: SamplingOptions,
  vocabSize: number,
  op = 'sample',
): Sampling {
  const temperature = options.temperature ?? 1;
  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature))
    throw new ValueError(`${op}: temperature must be a finite number >= 0, got ${temperature}`);
  let topK: number | null = null;
  if (options.topK !== undefined) {
    if (!Number.isInteger(options.topK) || options.topK < 1)
      throw new ValueError(`${op}: topK must be a positive integer, got ${options.topK}`);
    topK = Math.min(options.topK, vocabSize); // as nanoGPT: min(top_k, vocab_size)
  }
  let topP: number | null = null;
  if (options.topP !== undefined) {
    const p = options.topP;
    if (typeof p !== 'number' || !(p > 0 && p <= 1))
      throw new ValueError(`${op}: topP must be in (0, 1], got ${p}`);
    topP = p < 1 ? p : null;
  }
  return { temperature, topK, topP };
}

/** Index of the first largest of `n` values of `row` starting at `offset`. */
function argmaxAt(row: ArrayLike<number>, offset: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (row[offset + j]! > row[offset + best]!) best = j;
  return best;
}

/**
 * Samples an index from softmax(row / temperature), restricted to the topK largest logits (ties
 * broken towards the lower index, so topK = 1 is greedy) and then to the smallest set of most
 * likely tokens whose probability reaches topP.
 */
function sampleRow(row: number[], s: Sampling, generator: Generator): number {
  const V = row.length;
  // Candidates from most to least likely (stable: equal logits keep index order).
  let order = Array.from({ length: V }, (_, j) => j).sort((a, b) => row[b]! - row[a]! || a - b);
  if (s.topK !== null) order = order.slice(0, s.topK);
  const top = row[order[0]!]!;
  let probs = order.map((j) => Math.exp((row[j]! - top) / s.temperature));
  let total = probs.reduce((a, p) => a + p, 0);
  if (s.topP !== null) {
    // Keep tokens while the mass before them is below topP (the most likely one always stays).
    let mass = 0;
    let keepN = 0;
    while (keepN < order.length && mass < s.topP * total) mass += probs[keepN++]!;
    order = order.slice(0, keepN);
    probs = probs.slice(0, keepN);
    total = mass;
  }
  let u = generator.nextDouble() * total;
  for (let i = 0; i < order.length; i++) {
    u -= probs[i]!;
    if (u < 0) return order[i]!;
  }
  return order[order.length - 1]!;
}

/**
 * One token per row of `logits`, given as B·V values in row-major order: the argmax when the
 * temperature is 0, else a sample (one `generator.nextDouble()` per row). The building block of
 * `sample` for callers that already hold the values.
 */
export function sampleRows(
  logits: ArrayLike<number>,
  B: number,
  V: number,
  s: Sampling,
  generator: Generator,
): Int32Array {
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    if (s.temperature === 0) out[b] = argmaxAt(logits, b * V, V);
    else
      out[b] = sampleRow(
        Array.from({ length: V }, (_, j) => logits[b * V + j]!),
        s,
        generator,
      );
  }
  return out;
}

/** (B, V) or (V) logits → [B, V] (B = 1 for a vector). */
function rowsOf(logits: Tensor, op: string): [number, number] {
  if (!(logits instanceof Tensor) || (logits.ndim !== 1 && logits.ndim !== 2))
    throw new ShapeError(
      `${op}: expected logits (B, V) or (V), got ${logits instanceof Tensor ? formatShape(logits.shape) : typeof logits}`,
    );
  return logits.ndim === 1 ? [1, logits.shape[0]!] : [logits.shape[0]!, logits.shape[1]!];
}

/**
 * The most likely token of each row of `logits` (B, V) (or (V)): an Int32Array of B ids (the
 * first index among ties).
 *
 * @example
 * nb.train.greedy(nb.tensor([[0.1, 2, 0.3], [5, 1, 1]])); // Int32Array [1, 0]
 */
export function greedy(logits: Tensor): Int32Array {
  const [B, V] = rowsOf(logits, 'greedy');
  return sampleRows(
    logits.dataSync(),
    B,
    V,
    { temperature: 0, topK: null, topP: null },
    defaultGenerator(),
  );
}

/**
 * Samples one token per row of `logits` (B, V) (or (V)) with temperature, top-k and top-p; a
 * temperature of 0 is greedy. Returns an Int32Array of B ids.
 *
 * @example
 * const next = nb.train.sample(logits, { temperature: 0.8, topK: 40, generator: new nb.Generator(0) });
 */
export function sample(logits: Tensor, options: SamplingOptions = {}): Int32Array {
  const [B, V] = rowsOf(logits, 'sample');
  const s = resolveSampling(options, V, 'sample');
  return sampleRows(logits.dataSync(), B, V, s, options.generator ?? defaultGenerator());
}

/**
 * The autoregressive loop for any language model given as a step function. `step` receives the
 * tokens the model has not read yet — the whole prompt (B, T) on the first call, then the last
 * sampled token (B, 1) — and returns the logits of the next token, (B, V) (or (B, t, V), whose
 * last position is used). A stateful model (an LSTM carrying its hidden state, a GPT with a KV
 * cache) keeps its state in the closure. Returns the prompt extended by `maxNewTokens` tokens,
 * (B, T + maxNewTokens) int32. Runs without autograd, one scope per token; set eval mode first.
 *
 * @example
 * // An LSTM language model: embedding → LSTM → linear head.
 * let state: nb.Tensor[] | undefined;
 * const out = nb.train.generateTokens((x) => {
 *   const [h, s] = lstm.forward(embed.forward(x), state); // (B, t, H)
 *   state = s.map((t) => nb.keep(t));
 *   return head.forward(h.select(1, -1)); // (B, V)
 * }, prompt, 50, { temperature: 0.8, topK: 10 });
 */
export function generateTokens(
  step: (tokens: Tensor) => Tensor,
  prompt: Tensor,
  maxNewTokens: number,
  options: SamplingOptions = {},
): Tensor {
  if (!(prompt instanceof Tensor) || prompt.ndim !== 2 || prompt.dtype !== 'int32')
    throw new ShapeError(
      `generateTokens: the prompt must be (B, T) int32, got ${prompt instanceof Tensor ? `${formatShape(prompt.shape)} ${prompt.dtype}` : typeof prompt}`,
    );
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0)
    throw new ValueError(
      `generateTokens: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`,
    );
  const B = prompt.shape[0]!;
  const generator = options.generator ?? defaultGenerator();
  const out = new Int32Array(B * maxNewTokens); // (B, N), row-major
  let sampling: Sampling | null = null;
  noGrad(() => {
    let input = prompt;
    for (let t = 0; t < maxNewTokens; t++) {
      const next = scope(() => {
        let logits = step(input);
        if (logits.ndim === 3) logits = logits.select(1, -1); // (B, t, V) → (B, V)
        const [rows, V] = rowsOf(logits, 'generateTokens');
        if (rows !== B)
          throw new ShapeError(
            `generateTokens: step returned ${rows} rows of logits, expected ${B}`,
          );
        sampling ??= resolveSampling(options, V, 'generateTokens');
        return sampleRows(logits.dataSync(), B, V, sampling, generator);
      });
      for (let b = 0; b < B; b++) out[b * maxNewTokens + t] = next[b]!;
      input = tensor(next, { shape: [B, 1] }); // (B, 1)
    }
  });
  return cat([prompt, tensor(out, { shape: [B, maxNewTokens] })], 1); // (B, T + N)
}

// ---- Encoder–decoder decoding ---------------------------------------------------------------------

/**
 * An encoder–decoder model as functions, the interface of `greedyDecode` and `beamSearch`.
 * `M` is whatever the encoder produces (a memory tensor), `C` the decoder's incremental state.
 */
export interface Seq2SeqModel<M, C = null> {
  /** Encodes the source batch (its first dim is the batch N). */
  encode(src: Tensor): M;
  /**
   * Next-token logits (N, V) given every target token so far, `tokens` (N, t) int32 (BOS first).
   * With a cache, only the last column is new: the earlier ones were fed before.
   */
  decodeStep(tokens: Tensor, memory: M, cache: C | null): Tensor;
  /** A fresh decoder state for one decoding run (omit for a decoder that re-reads all tokens). */
  createCache?(): C;
  /** The cache whose row i is row `rows[i]` of `cache` (beam search reorders beams with it). */
  reorderCache?(cache: C, rows: Int32Array): C;
  /** Frees a cache at the end of decoding. */
  releaseCache?(cache: C): void;
  /**
   * The memory of one source repeated for `n` rows (beam search); the default expands a tensor
   * whose first dim is 1.
   */
  expandMemory?(memory: M, n: number): M;
}

/** Options common to greedy decoding and beam search. */
export interface DecodeOptions {
  /** Token that starts every target sequence. */
  bos: number;
  /** Token that ends a sequence. */
  eos: number;
  /** Most tokens to generate (EOS included). */
  maxLen: number;
}

function checkDecodeOptions(op: string, o: DecodeOptions): void {
  for (const k of ['bos', 'eos'] as const)
    if (!Number.isInteger(o[k]) || o[k] < 0)
      throw new ValueError(`${op}: ${k} must be a token id (a non-negative integer), got ${o[k]}`);
  if (!Number.isInteger(o.maxLen) || o.maxLen < 1)
    throw new ValueError(`${op}: maxLen must be a positive integer, got ${o.maxLen}`);
}

/** Next-token log-probabilities of one row of logits, in float64. */
function logSoftmaxRow(logits: ArrayLike<number>, offset: number, V: number): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, logits[offset + j]!);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(logits[offset + j]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(V);
  for (let j = 0; j < V; j++) out[j] = logits[offset + j]! - lse;
  return out;
}

/** Runs `decodeStep` on rows `tokens` and returns the logits' values and V. */
function stepLogits<M, C>(
  model: Seq2SeqModel<M, C>,
  tokens: number[][],
  memory: M,
  cache: C | null,
  op: string,
): [ArrayLike<number>, number] {
  return scope(() => {
    const N = tokens.length;
    const t = tokens[0]!.length;
    const ids = tensor(Int32Array.from(tokens.flat()), { shape: [N, t] }); // (N, t)
    const logits = model.decodeStep(ids, memory, cache); // (N, V)
    if (!(logits instanceof Tensor) || logits.ndim !== 2 || logits.shape[0] !== N)
      throw new ShapeError(
        `${op}: decodeStep must return logits (N, V) with N = ${N}, got ${logits instanceof Tensor ? formatShape(logits.shape) : typeof logits}`,
      );
    return [logits.dataSync(), logits.shape[1]!];
  });
}

/**
 * Greedy decoding for an encoder–decoder model: from BOS, append the most likely token until EOS
 * or `maxLen` tokens. Returns one token list per source row (BOS left out, EOS kept when
 * reached). Runs without autograd; put the model in eval mode first.
 *
 * @example
 * const out = nb.train.greedyDecode(nb.train.transformerSeq2Seq({ ... }), src, { bos: 1, eos: 2, maxLen: 20 });
 */
export function greedyDecode<M, C>(
  model: Seq2SeqModel<M, C>,
  src: Tensor,
  options: DecodeOptions,
): number[][] {
  checkDecodeOptions('greedyDecode', options);
  const { bos, eos, maxLen } = options;
  return noGrad(() =>
    scope(() => {
      const memory = model.encode(src);
      const N = src.shape[0]!;
      const cache = model.createCache?.() ?? null;
      const tokens = Array.from({ length: N }, () => [bos]);
      const done = new Array<boolean>(N).fill(false);
      try {
        for (let t = 0; t < maxLen && !done.every(Boolean); t++) {
          const [logits, V] = stepLogits(model, tokens, memory, cache, 'greedyDecode');
          for (let n = 0; n < N; n++) {
            // Finished rows keep being fed (the batch stays rectangular); EOS pads them.
            const next = done[n] ? eos : argmaxAt(logits, n * V, V);
            tokens[n]!.push(next);
            if (next === eos) done[n] = true;
          }
        }
      } finally {
        if (cache !== null) model.releaseCache?.(cache);
      }
      return tokens.map((row) => {
        const end = row.indexOf(eos, 1);
        return row.slice(1, end < 0 ? row.length : end + 1);
      });
    }),
  );
}

/** Options of `beamSearch`. */
export interface BeamSearchOptions extends DecodeOptions {
  /** Live hypotheses kept at each step (K; default 4). */
  beamSize?: number;
  /**
   * Length normalisation exponent α: hypotheses are ranked by logProb / length^α (default 1; 0
   * ranks by total log-probability, which favours short outputs).
   */
  lengthPenalty?: number;
  /**
   * Stop as soon as `beamSize` hypotheses have finished (Hugging Face's early_stopping=True).
   * By default (false) the search goes on until no live beam can still beat them.
   */
  earlyStopping?: boolean;
  /** Hypotheses returned (default beamSize). */
  numReturn?: number;
}

/** One result of `beamSearch`. */
export interface BeamHypothesis {
  /** The generated tokens (BOS left out, EOS kept when finished). */
  tokens: number[];
  /** Sum of the tokens' log-probabilities. */
  logProb: number;
  /** logProb / tokens.length^α: what hypotheses are ranked by. */
  score: number;
  /** Whether it ended with EOS (false: cut at maxLen). */
  finished: boolean;
}

function defaultExpand<M>(memory: M, n: number): M {
  if (memory instanceof Tensor && memory.shape[0] === 1)
    return memory.expand(n, ...memory.shape.slice(1)) as M;
  throw new ValueError(
    'beamSearch: cannot repeat the memory for the beams: pass a Seq2SeqModel.expandMemory, or encode one source ' +
      `whose memory has batch size 1 in dim 0 (got ${memory instanceof Tensor ? formatShape(memory.shape) : typeof memory})`,
  );
}

/**
 * Beam search for an encoder–decoder model over one source sequence (`src` with batch size 1):
 * keeps the `beamSize` most likely partial outputs, sets aside each one that emits EOS, and ranks
 * the results by length-normalised log-probability. Returns up to `numReturn` hypotheses, best
 * first. With beamSize 1 it is greedy decoding when lengthPenalty is 0 or earlyStopping is on.
 * Runs without autograd; put the model in eval mode first.
 *
 * The search ends at `maxLen` tokens (the beams cut there then compete with the finished ones,
 * marked `finished: false`), or once `beamSize` hypotheses have finished and no live
 * beam can beat the worst of them: log-probabilities are ≤ 0, so a live beam's score can only
 * fall, and its best normalised score is bounded by its current logProb over the largest (α > 0)
 * or smallest (α < 0) length it could still reach.
 *
 * @example
 * const [best] = nb.train.beamSearch(seq2seq, src, { bos: 1, eos: 2, maxLen: 30, beamSize: 5 });
 * best.tokens; // the highest-scoring output
 */
export function beamSearch<M, C>(
  model: Seq2SeqModel<M, C>,
  src: Tensor,
  options: BeamSearchOptions,
): BeamHypothesis[] {
  const op = 'beamSearch';
  checkDecodeOptions(op, options);
  const { bos, eos, maxLen } = options;
  const K = options.beamSize ?? 4;
  const alpha = options.lengthPenalty ?? 1;
  const numReturn = options.numReturn ?? K;
  if (!Number.isInteger(K) || K < 1)
    throw new ValueError(`${op}: beamSize must be a positive integer, got ${K}`);
  if (!Number.isInteger(numReturn) || numReturn < 1)
    throw new ValueError(`${op}: numReturn must be a positive integer, got ${numReturn}`);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha))
    throw new ValueError(`${op}: lengthPenalty must be a finite number, got ${alpha}`);
  if (src.shape[0] !== 1)
    throw new ShapeError(
      `${op}: searches one source at a time; src must have batch size 1 in dim 0, got ${formatShape(src.shape)}`,
    );
  if (K > 1 && model.createCache && !model.reorderCache)
    throw new ValueError(`${op}: a model with a cache needs reorderCache to follow the beams`);
  const norm = (logProb: number, length: number): number => logProb / length ** alpha;

  return noGrad(() =>
    scope(() => {
      const memory = (model.expandMemory ?? defaultExpand)(model.encode(src), K);
      let cache: C | null = model.createCache?.() ?? null;
      // K rows from the start; all but the first at -Infinity, so step 0 expands one BOS only.
      let tokens = Array.from({ length: K }, () => [bos]);
      let logProbs = Array.from({ length: K }, (_, k) => (k === 0 ? 0 : -Infinity));
      const finished: BeamHypothesis[] = [];
      let stoppedEarly = false;
      try {
        for (let t = 0; t < maxLen; t++) {
          const [logits, V] = stepLogits(model, tokens, memory, cache, op);
          // Candidates (row, token, logProb), best first; ties by row, then token (as greedy).
          const cands: { row: number; token: number; logProb: number }[] = [];
          for (let k = 0; k < K; k++) {
            if (logProbs[k] === -Infinity) continue;
            const lp = logSoftmaxRow(logits, k * V, V);
            for (const j of topIndices(lp, 2 * K)) {
              const s = logProbs[k]! + lp[j]!;
              if (s > -Infinity) cands.push({ row: k, token: j, logProb: s });
            }
          }
          cands.sort((a, b) => b.logProb - a.logProb || a.row - b.row || a.token - b.token);
          const next: { row: number; token: number; logProb: number }[] = [];
          for (let rank = 0; rank < cands.length && next.length < K; rank++) {
            const c = cands[rank]!;
            if (c.token === eos) {
              // An EOS among the K best candidates finishes a hypothesis (t + 1 tokens with EOS).
              if (rank < K) {
                const out = [...tokens[c.row]!.slice(1), eos];
                finished.push({
                  tokens: out,
                  logProb: c.logProb,
                  score: norm(c.logProb, out.length),
                  finished: true,
                });
              }
            } else next.push(c);
          }
          // Too few live continuations (tiny vocabularies): pad with dead rows.
          while (next.length < K) next.push({ row: 0, token: eos, logProb: -Infinity });
          const rows = Int32Array.from(next.map((c) => c.row));
          tokens = next.map((c) => [...tokens[c.row]!, c.token]);
          logProbs = next.map((c) => c.logProb);
          if (cache !== null && model.reorderCache) cache = model.reorderCache(cache, rows);
          if (finished.length >= K) {
            if (options.earlyStopping) {
              stoppedEarly = true;
              break;
            }
            const worst = finished.map((h) => h.score).sort((a, b) => b - a)[K - 1]!;
            const len = t + 1; // generated tokens of the live beams
            const bestLive = Math.max(...logProbs);
            const bound =
              bestLive === -Infinity
                ? -Infinity
                : Math.max(norm(bestLive, len + 1), norm(bestLive, Math.max(maxLen, len + 1)));
            if (bound <= worst) {
              stoppedEarly = true;
              break;
            }
          }
        }
      } finally {
        if (cache !== null) model.releaseCache?.(cache);
      }
      // Beams cut at maxLen compete with the finished ones (as Hugging Face's finalize); after an
      // early stop the live beams cannot beat them.
      if (!stoppedEarly) {
        tokens.forEach((row, k) => {
          const lp = logProbs[k]!;
          if (lp > -Infinity)
            finished.push({
              tokens: row.slice(1),
              logProb: lp,
              score: norm(lp, row.length - 1),
              finished: false,
            });
        });
      }
      return finished.sort((a, b) => b.score - a.score).slice(0, numReturn);
    }),
  );
}

/** Indices of the `n` largest values (first index among ties), largest first. */
function topIndices(values: Float64Array, n: number): number[] {
  const top: number[] = [];
  for (let j = 0; j < values.length; j++) {
    const v = values[j]!;
    if (top.length === n && !(v > values[top[n - 1]!]!)) continue;
    let i = top.length === n ? n - 1 : top.length;
    while (i > 0 && v > values[top[i - 1]!]!) i--;
    top.splice(i, 0, j);
    if (top.length > n) top.pop();
  }
  return top;
}

// ---- nn.Transformer adapter -----------------------------------------------------------------------

/** The parts around an nn.Transformer that make a sequence-to-sequence model. */
export interface TransformerSeq2SeqParts {
  transformer: Transformer;
  /** Source token ids (N, S) int32 → embeddings (N, S, E) (batch first, whatever the model's layout). */
  srcEmbed: (src: Tensor) => Tensor;
  /** Target token ids (N, t) int32 at positions offset..offset+t → embeddings (N, t, E). */
  tgtEmbed: (tokens: Tensor, offset: number) => Tensor;
  /** Decoder output (N, t, E) → logits (N, t, V). */
  project: (h: Tensor) => Tensor;
  /** Decode with the decoder's key/value cache (default true), else re-run all target tokens. */
  useCache?: boolean;
}

/** (N, L, E) ⇄ the model's layout ((L, N, E) unless batchFirst). */
function toLayout(x: Tensor, batchFirst: boolean): Tensor {
  return batchFirst ? x : x.transpose(0, 1);
}

/**
 * Wraps an nb.nn.Transformer with its embeddings and output projection as a Seq2SeqModel for
 * `greedyDecode` and `beamSearch`, decoding with the decoder's key/value cache
 * (`forwardIncremental`) and reordering it for the beams.
 *
 * @example
 * model.eval();
 * const seq2seq = nb.train.transformerSeq2Seq({
 *   transformer: model,
 *   srcEmbed: (s) => srcEmb.forward(s).add(pe.narrow(0, 0, s.shape[1])),
 *   tgtEmbed: (t, offset) => tgtEmb.forward(t).add(pe.narrow(0, offset, t.shape[1])),
 *   project: (h) => outProj.forward(h),
 * });
 * const [best] = nb.train.beamSearch(seq2seq, src, { bos: 1, eos: 2, maxLen: 20, beamSize: 4 });
 */
export function transformerSeq2Seq(
  parts: TransformerSeq2SeqParts,
): Seq2SeqModel<Tensor, DecoderCache> {
  const { transformer: model, srcEmbed, tgtEmbed, project } = parts;
  const bf = model.batchFirst;
  const cached = parts.useCache ?? true;
  const seq2seq: Seq2SeqModel<Tensor, DecoderCache> = {
    encode: (src) => model.encode(toLayout(srcEmbed(src), bf)), // (N, S, E) or (S, N, E)
    expandMemory: (memory, n) => {
      const shape = [...memory.shape];
      shape[bf ? 0 : 1] = n;
      return memory.expand(...shape); // one source's memory for n beams (no copy)
    },
    decodeStep: (tokens, memory, cache) => {
      const t = tokens.shape[1]!;
      if (cache) {
        const x = tgtEmbed(tokens.narrow(1, t - 1, 1), t - 1); // (N, 1, E): the newest token
        const h = model.decoder.forwardIncremental(toLayout(x, bf), memory, cache);
        return project(toLayout(h, bf)).select(1, 0); // (N, 1, V) → (N, V)
      }
      const x = toLayout(tgtEmbed(tokens, 0), bf); // (N, t, E) → model layout
      const mask = Transformer.generateSquareSubsequentMask(t); // (t, t) causal
      const h = model.decoder.forward(x, memory, { tgtMask: mask });
      return project(toLayout(h, bf)).select(1, t - 1); // (N, t, V) → (N, V)
    },
  };
  if (cached) {
    seq2seq.createCache = () => model.decoder.createCache();
    seq2seq.reorderCache = (cache, rows) => {
      const index = tensor(rows, { shape: [rows.length] });
      for (const layer of cache.layers) {
        for (const kv of [layer.selfAttn, layer.crossAttn]) {
          if (kv.key === null || kv.value === null) continue;
          const [k, v] = [kv.key, kv.value];
          kv.key = keep(k.indexSelect(0, index)); // (N, H, S, D): rows follow their beams
          kv.value = keep(v.indexSelect(0, index));
          k.dispose();
          v.dispose();
        }
      }
      index.dispose();
      return cache;
    };
    seq2seq.releaseCache = (cache) => cache.clear();
  }
  return seq2seq;
}
