/// <reference types="node" />
/**
 * Wiring of the `nabla` commands: from a resolved RunConfig to the library objects of a run —
 * tokenizers (`nb.data`), the model (`nb.models.TransformerSeq2Seq`, `GPT`, `RNNLanguageModel`),
 * the batch source, the loss, the evaluation and the final report — for the three tasks:
 *
 * - synthetic: a built-in sequence-to-sequence task (`nb.data.syntheticBatch`), scored by exact
 *   match of greedy decodes on held-out examples;
 * - lm: next-token prediction on a text file (`nb.data.LanguageModelDataset`, nanoGPT's
 *   get_batch), first 90% train, last 10% validation, scored by loss and perplexity;
 * - translate: sentence pairs from a TSV file (`nb.data.parseSentencePairs`), a seeded 90/10
 *   split, scored by corpus BLEU (`nb.data.corpusBleu`) beside a copy-the-source baseline.
 *
 * The training loop itself is `nb.train.Trainer`; this file only builds its arguments.
 */
import { resolve as resolvePath } from 'node:path';
import * as nb from '../index.node.js';
import { readTextFile } from '../io/node/text.js';
import type { RunConfig } from './config.js';
import { CliError } from './errors.js';

type Tensor = nb.Tensor;
type Module = nb.nn.Module;
type Tokenizer = nb.data.Tokenizer;
type JsonValue = nb.train.JsonValue;

/** The tokenizer(s) of a run, as stored in a checkpoint's state.json. */
export type TokenizerState = { src: JsonValue; tgt: JsonValue } | { lm: JsonValue };

/** Options of the Trainer that do not depend on the task (sinks, schedule, resume). */
export type CommonTrainerOptions = Pick<
  nb.train.TrainerOptions<Module, unknown>,
  | 'maxSteps'
  | 'lr'
  | 'gradClip'
  | 'evalEvery'
  | 'checkpointEvery'
  | 'onCheckpoint'
  | 'onMetrics'
  | 'onStep'
  | 'onEval'
  | 'logEvery'
  | 'config'
  | 'extra'
  | 'resume'
>;

/** What the train command drives: a Trainer whatever its batch type. */
export interface TrainerHandle {
  run(): Promise<nb.train.TrainResult>;
  stop(): void;
  checkpoint(): nb.train.Checkpoint;
  readonly step: number;
}

/** Options of a final evaluation (`nabla eval`, the end of `nabla train`). */
export interface EvaluateOptions {
  /** Beam width for translation (1: greedy). */
  beam?: number;
  /** lm: at most this many validation batches (default: the whole split). */
  maxBatches?: number;
}

/** One task's objects, ready to train or to evaluate. */
export interface Run {
  readonly config: RunConfig;
  readonly model: Module;
  /** The tokenizer(s), for the checkpoint. */
  readonly tokenizer: TokenizerState;
  /** One line: model class, parameter count, data. */
  describe(): string;
  /** A Trainer over this run's batches (needs the data). */
  createTrainer(common: CommonTrainerOptions): TrainerHandle;
  /** The evaluation metric that picks the best checkpoint, and its direction. */
  readonly bestMetric: { name: string; mode: 'min' | 'max' };
  /** The held-out evaluation with a human-readable report (needs the data). */
  evaluate(options?: EvaluateOptions): { metrics: Record<string, number>; lines: string[] };
}

/** Options of `buildRun`. */
export interface BuildOptions {
  /** Rebuild the tokenizer(s) from a checkpoint instead of learning them from the data. */
  tokenizer?: JsonValue;
  /** Read the data file (training, evaluation); false for sampling and translating. */
  loadData: boolean;
}

// ---- Shared helpers -------------------------------------------------------------------------------

function paramCount(model: Module): string {
  const n = model.numParameters();
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}k`;
}

/**
 * AdamW with nanoGPT's grouping (configure_optimizers): weight decay on tensors of two or more
 * dimensions (matmul weights, embeddings), none on biases and LayerNorm gains.
 */
function makeOptimizer(model: Module, config: RunConfig): nb.optim.AdamW {
  const t = config.train;
  const params = model.parameters();
  return new nb.optim.AdamW(
    [
      { params: params.filter((p) => p.ndim >= 2), options: { weightDecay: t.weightDecay } },
      { params: params.filter((p) => p.ndim < 2), options: { weightDecay: 0 } },
    ],
    { lr: t.lr, betas: [t.beta1, t.beta2], weightDecay: t.weightDecay },
  );
}

/** Reads the data file named by the config, with errors a user can act on. */
async function readData(config: RunConfig): Promise<string> {
  const path = config.data.path;
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (e) {
    if (e instanceof nb.ValueError)
      throw new CliError(`data file: ${e.message.replace(/^readTextFile: /, '')}`);
    throw e;
  }
  if (text.trim() === '') throw new CliError(`data file: '${path}' holds only whitespace`);
  return text;
}

/** A tokenizer from its JSON form, or a CliError saying the checkpoint's tokenizer is unusable. */
function tokenizerFrom(json: JsonValue | undefined, what: string): Tokenizer {
  try {
    return nb.data.tokenizerFromJSON(json);
  } catch (e) {
    throw new CliError(
      `the checkpoint's ${what} tokenizer cannot be read (${e instanceof Error ? e.message : String(e)})`,
    );
  }
}

function isRecord(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The learning-rate schedule of a config: linear warm-up, cosine decay to minLr (nanoGPT). */
export function scheduleOf(config: RunConfig): nb.optim.Schedule {
  const t = config.train;
  const decay = t.lrDecayIters > 0 ? t.lrDecayIters : Math.max(t.maxSteps, 1);
  return nb.optim.cosineWithWarmup({
    maxLr: t.lr,
    minLr: t.minLr,
    warmupIters: Math.min(t.warmupIters, decay),
    lrDecayIters: decay,
  });
}

// ---- Sequence to sequence (synthetic and translate) ---------------------------------------------

/** Builds the encoder–decoder model of a config. */
function seq2seqModel(
  config: RunConfig,
  srcVocab: number,
  tgtVocab: number,
): nb.models.TransformerSeq2Seq {
  const m = config.model;
  return new nb.models.TransformerSeq2Seq({
    srcVocabSize: srcVocab,
    tgtVocabSize: tgtVocab,
    dModel: m.nEmbd,
    nHead: m.nHead,
    numEncoderLayers: m.nLayer,
    numDecoderLayers: m.nLayer,
    dimFeedforward: m.dimFeedforward,
    dropout: m.dropout,
    maxLen: m.maxLen,
    tieEmbeddings: m.tieWeights,
    normFirst: m.normFirst,
    padId: 0,
  });
}

/** Teacher-forced mean loss over `examples` in batches of `batchSize` (eval mode, no autograd). */
function seq2seqLoss(
  model: nb.models.TransformerSeq2Seq,
  examples: readonly nb.data.Seq2SeqExample[],
  collate: (e: readonly nb.data.Seq2SeqExample[]) => nb.data.Seq2SeqBatch,
  batchSize: number,
): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const chunk = examples.slice(i, i + batchSize);
    const loss = nb.scope(() => model.loss(collate(chunk)).item());
    sum += loss * chunk.length;
    count += chunk.length;
  }
  return count > 0 ? sum / count : NaN;
}

/** Greedy (or beam) decodes of `examples`' sources, in batches. */
function seq2seqDecode(
  model: nb.models.TransformerSeq2Seq,
  examples: readonly nb.data.Seq2SeqExample[],
  collate: (e: readonly nb.data.Seq2SeqExample[]) => nb.data.Seq2SeqBatch,
  ids: nb.data.Seq2SeqSpecialIds,
  beam: number,
  maxLen: (e: nb.data.Seq2SeqExample) => number,
): number[][] {
  const out: number[][] = [];
  const B = beam > 1 ? 1 : 64;
  for (let i = 0; i < examples.length; i += B) {
    const chunk = examples.slice(i, i + B);
    const limit = Math.max(...chunk.map(maxLen));
    const decoded = nb.scope(() =>
      model.decode(collate(chunk).src, {
        bos: ids.bos,
        eos: ids.eos,
        maxLen: limit,
        beamSize: beam,
      }),
    );
    out.push(...decoded);
  }
  return out;
}

/** A batch source drawing `batchSize` random examples (with replacement) from a generator. */
function randomBatches(
  examples: readonly nb.data.Seq2SeqExample[],
  batchSize: number,
  generator: nb.Generator,
  collate: (e: readonly nb.data.Seq2SeqExample[]) => nb.data.Seq2SeqBatch,
): () => nb.data.Seq2SeqBatch {
  return () =>
    collate(
      Array.from({ length: batchSize }, () => examples[generator.nextInt(0, examples.length)]!),
    );
}

function seq2seqTrainer(
  run: Run,
  model: nb.models.TransformerSeq2Seq,
  next: () => nb.data.Seq2SeqBatch,
  generator: nb.Generator,
  evalFn: (m: nb.models.TransformerSeq2Seq) => Record<string, number>,
  common: CommonTrainerOptions,
): TrainerHandle {
  const smoothing = run.config.train.labelSmoothing;
  return new nb.train.Trainer<nb.models.TransformerSeq2Seq, nb.data.Seq2SeqBatch>({
    ...common,
    model,
    optimizer: makeOptimizer(model, run.config),
    data: next,
    loss: (m, b) => m.loss(b, { labelSmoothing: smoothing }),
    countTokens: (b) => b.tgt.size,
    evalFn,
    bestMetric: run.bestMetric.name,
    bestMode: run.bestMetric.mode,
    gradClip: run.config.train.gradClip > 0 ? run.config.train.gradClip : null,
    generators: { data: generator },
    tokenizer: run.tokenizer as JsonValue,
  });
}

/** The built-in synthetic task. */
function syntheticRun(config: RunConfig): Run {
  const d = config.data;
  const vocab = nb.data.syntheticVocabulary();
  const ids = nb.data.SYNTHETIC_SPECIAL_IDS;
  const model = seq2seqModel(config, vocab.vocabSize, vocab.vocabSize);
  const taskOptions = { minLength: d.minLength, maxLength: d.maxLength, maxDigits: d.maxDigits };
  // Held-out examples from their own seed (the training stream is another generator).
  const val = nb.data.syntheticPairs(d.synthetic, d.valExamples, {
    ...taskOptions,
    seed: config.seed + 7919,
  });
  const collate = (e: readonly nb.data.Seq2SeqExample[]): nb.data.Seq2SeqBatch =>
    nb.data.collateSeq2Seq(e, ids);
  const maxLen = (e: nb.data.Seq2SeqExample): number => e.tgt.length + 1;
  const exact = (m: nb.models.TransformerSeq2Seq, beam = 1): [number, number[][]] => {
    const out = seq2seqDecode(m, val, collate, ids, beam, maxLen);
    return [
      nb.data.exactMatch(
        out,
        val.map((e) => e.tgt),
      ),
      out,
    ];
  };
  const json = vocab.toJSON() as unknown as JsonValue;
  const run: Run = {
    config,
    model,
    tokenizer: { src: json, tgt: json },
    bestMetric: { name: 'exactMatch', mode: 'max' },
    describe: () =>
      `TransformerSeq2Seq (${paramCount(model)} parameters) on the synthetic task '${d.synthetic}'`,
    createTrainer: (common) => {
      const generator = new nb.Generator(config.seed + 1);
      const next = (): nb.data.Seq2SeqBatch =>
        nb.data.syntheticBatch(d.synthetic, config.train.batchSize, { ...taskOptions, generator });
      return seq2seqTrainer(
        run,
        model,
        next,
        generator,
        (m) => ({
          valLoss: seq2seqLoss(m, val, collate, 100),
          exactMatch: exact(m)[0],
        }),
        common,
      );
    },
    evaluate: (o = {}) => {
      const beam = o.beam ?? 1;
      const [em, out] = exact(model, beam);
      const lines = [
        `exact match on ${val.length} held-out examples (${beam > 1 ? `beam ${beam}` : 'greedy'}): ${(100 * em).toFixed(1)}% (${Math.round(em * val.length)}/${val.length})`,
      ];
      for (let i = 0; i < Math.min(3, val.length); i++) {
        const ok = out[i]!.join() === val[i]!.tgt.join();
        lines.push(
          `  ${vocab.decode(val[i]!.src)} → ${vocab.decode(out[i]!)} ${ok ? '✓' : `✗ (expected ${vocab.decode(val[i]!.tgt)})`}`,
        );
      }
      return { metrics: { exactMatch: em }, lines };
    },
  };
  return run;
}

/** Translation on sentence pairs. */
async function translateRun(config: RunConfig, options: BuildOptions): Promise<Run> {
  let src: Tokenizer;
  let tgt: Tokenizer;
  let trainPairs: nb.data.SentencePair[] = [];
  let valPairs: nb.data.SentencePair[] = [];
  if (options.loadData) {
    const text = await readData(config);
    const pairs = nb.data.parseSentencePairs(text);
    if (pairs.length < 2)
      throw new CliError(
        `data file '${config.data.path}' holds ${pairs.length} sentence pair(s); translation needs at least 2 (source<TAB>target per line)`,
      );
    ({ train: trainPairs, val: valPairs } = nb.data.splitShuffled(
      pairs,
      1 - config.data.valFraction,
      config.seed,
    ));
    if (valPairs.length === 0) valPairs = trainPairs.slice(-1);
  }
  if (options.tokenizer !== undefined) {
    const t = options.tokenizer;
    if (!isRecord(t) || !('src' in t) || !('tgt' in t))
      throw new CliError('the checkpoint holds no source and target tokenizers');
    src = tokenizerFrom(t.src, 'source');
    tgt = tokenizerFrom(t.tgt, 'target');
  } else {
    ({ src, tgt } = nb.data.sentencePairTokenizers(trainPairs, {
      kind: config.data.tokenizer,
      vocabSize: config.data.bpeVocabSize,
    }));
  }
  const model = seq2seqModel(config, src.vocabSize, tgt.vocabSize);
  const dataset = (p: readonly nb.data.SentencePair[]): nb.data.SentencePairDataset =>
    new nb.data.SentencePairDataset(p, { srcTokenizer: src, tgtTokenizer: tgt });
  const trainSet = options.loadData ? dataset(trainPairs) : null;
  const valSet = options.loadData ? dataset(valPairs) : null;
  const limit = config.model.maxLen - 2; // BOS and EOS take two positions
  const cut = (e: nb.data.Seq2SeqExample): nb.data.Seq2SeqExample => ({
    src: e.src.slice(0, limit),
    tgt: e.tgt.slice(0, limit),
  });
  const trainExamples = (trainSet?.examples ?? []).filter(
    (e) => e.src.length <= limit && e.tgt.length <= limit,
  );
  const valExamples = (valSet?.examples ?? []).map(cut);
  const collate = (e: readonly nb.data.Seq2SeqExample[]): nb.data.Seq2SeqBatch =>
    nb.data.collateSeq2Seq(e, valSet?.srcIds ?? { pad: 0, bos: 1, eos: 2 }, valSet?.tgtIds);
  const ids = { pad: 0, bos: tgt.specialTokenId('<bos>'), eos: tgt.specialTokenId('<eos>') };
  const maxLen = (e: nb.data.Seq2SeqExample): number =>
    Math.min(config.model.maxLen - 1, 2 * e.src.length + 10);
  const run: Run = {
    config,
    model,
    tokenizer: { src: src.toJSON() as JsonValue, tgt: tgt.toJSON() as JsonValue },
    bestMetric: { name: 'valLoss', mode: 'min' },
    describe: () =>
      `TransformerSeq2Seq (${paramCount(model)} parameters), ${config.data.tokenizer} tokens (${src.vocabSize} source, ${tgt.vocabSize} target), ` +
      `${trainExamples.length} training and ${valExamples.length} held-out pairs from ${config.data.path}`,
    createTrainer: (common) => {
      if (trainExamples.length === 0)
        throw new CliError(
          `no training pair fits model.maxLen ${config.model.maxLen}; raise --model.maxLen`,
        );
      const generator = new nb.Generator(config.seed + 1);
      const next = randomBatches(trainExamples, config.train.batchSize, generator, collate);
      return seq2seqTrainer(
        run,
        model,
        next,
        generator,
        (m) => ({
          valLoss: seq2seqLoss(m, valExamples, collate, 64),
        }),
        common,
      );
    },
    evaluate: (o = {}) => {
      const beam = o.beam ?? 1;
      const out = seq2seqDecode(model, valExamples, collate, ids, beam, maxLen);
      const hyps = out.map((ids2) => tgt.decode(ids2, { skipSpecialTokens: true }));
      const refs = valPairs.map((p) => p.target);
      const bleu = nb.data.corpusBleu(hyps, refs);
      const copy = nb.data.corpusBleu(
        valPairs.map((p) => p.source),
        refs,
      );
      // sacreBLEU's default smoothing, for comparison with scores it reports.
      const smoothed = nb.data.corpusBleu(hyps, refs, { smooth: 'exp' }).score;
      const copySmoothed = nb.data.corpusBleu(
        valPairs.map((p) => p.source),
        refs,
        { smooth: 'exp' },
      ).score;
      const valLoss = seq2seqLoss(model, valExamples, collate, 64);
      const lines = [
        `BLEU on ${valPairs.length} held-out pairs (${beam > 1 ? `beam ${beam}` : 'greedy'}): ${bleu.score.toFixed(2)} ` +
          `(copy-the-source baseline ${copy.score.toFixed(2)})`,
        `  model: 1-4-gram precisions ${bleu.precisions.map((p) => p.toFixed(1)).join('/')}%, brevity penalty ${bleu.bp.toFixed(3)}; ` +
          `copy: ${copy.precisions.map((p) => p.toFixed(1)).join('/')}%, ${copy.bp.toFixed(3)}; ` +
          `with sacreBLEU's exp smoothing: model ${smoothed.toFixed(2)}, copy ${copySmoothed.toFixed(2)}`,
        `validation loss ${valLoss.toFixed(4)} (perplexity ${Math.exp(valLoss).toFixed(2)})`,
      ];
      for (let i = 0; i < Math.min(3, valPairs.length); i++)
        lines.push(`  ${valPairs[i]!.source} → ${hyps[i]} (reference: ${valPairs[i]!.target})`);
      return {
        metrics: { bleu: bleu.score, copyBleu: copy.score, bleuExp: smoothed, valLoss },
        lines,
      };
    },
  };
  return run;
}

// ---- Language models ------------------------------------------------------------------------------

/** A language model of the config's type. */
export type LanguageModel = nb.models.GPT | nb.models.RNNLanguageModel;

function lmModel(config: RunConfig, vocabSize: number): LanguageModel {
  const m = config.model;
  if (m.type === 'gpt')
    return new nb.models.GPT({
      vocabSize,
      blockSize: m.blockSize,
      nLayer: m.nLayer,
      nHead: m.nHead,
      nEmbd: m.nEmbd,
      dropout: m.dropout,
      bias: m.bias,
    });
  if (m.type === 'lstm' || m.type === 'gru' || m.type === 'rnn')
    return new nb.models.RNNLanguageModel({
      vocabSize,
      cell: m.type,
      hiddenSize: m.nEmbd,
      numLayers: m.nLayer,
      dropout: m.dropout,
      tieWeights: m.tieWeights,
    });
  throw new CliError(`a language model cannot be of type ${m.type}`);
}

/**
 * Mean next-token loss over `windows` windows of `blockSize` + 1 tokens whose starts are spread
 * evenly over `tokens` (deterministic, so successive evaluations are comparable).
 */
function lmLoss(
  model: LanguageModel,
  tokens: Int32Array,
  blockSize: number,
  batchSize: number,
  windows: number,
): number {
  const T = blockSize;
  const last = tokens.length - T - 1; // largest start
  const n = Math.max(1, Math.min(windows, last + 1));
  let sum = 0;
  for (let i = 0; i < n; i += batchSize) {
    const B = Math.min(batchSize, n - i);
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = n === 1 ? 0 : Math.round(((i + b) * last) / (n - 1));
      x.set(tokens.subarray(start, start + T), b * T);
      y.set(tokens.subarray(start + 1, start + T + 1), b * T);
    }
    sum +=
      nb.scope(() =>
        model
          .forward(nb.tensor(x, { shape: [B, T] }), nb.tensor(y, { shape: [B, T] }))
          .loss!.item(),
      ) * B;
  }
  return sum / n;
}

/** Language modelling on a text file. */
async function lmRun(config: RunConfig, options: BuildOptions): Promise<Run> {
  let text = '';
  if (options.loadData) text = await readData(config);
  let tokenizer: Tokenizer;
  if (options.tokenizer !== undefined) {
    const t = options.tokenizer;
    if (!isRecord(t) || !('lm' in t))
      throw new CliError('the checkpoint holds no language-model tokenizer');
    tokenizer = tokenizerFrom(t.lm, 'language-model');
  } else if (config.data.tokenizer === 'char') {
    // nanoGPT's shakespeare_char: the alphabet of the whole text.
    tokenizer = nb.data.CharTokenizer.fromText(text);
  } else {
    tokenizer = nb.data.ByteLevelBPETokenizer.train(
      nb.data.split(text, 1 - config.data.valFraction).train,
      config.data.bpeVocabSize,
    );
  }
  const model = lmModel(config, tokenizer.vocabSize);
  const T = config.model.blockSize;
  let train = new Int32Array(0);
  let val = new Int32Array(0);
  if (options.loadData) {
    let ids: number[];
    try {
      ids = tokenizer.encode(text);
    } catch (e) {
      throw new CliError(
        `data file '${config.data.path}' does not fit the checkpoint's tokenizer: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    ({ train, val } = nb.data.split(Int32Array.from(ids), 1 - config.data.valFraction));
    for (const [name, part] of [
      ['training', train],
      ['validation', val],
    ] as const)
      if (part.length <= T)
        throw new CliError(
          `data file '${config.data.path}': its ${name} split has ${part.length} tokens, fewer than model.blockSize + 1 = ${T + 1}; use a longer text or a smaller --model.blockSize`,
        );
  }
  const B = config.train.batchSize;
  const kind =
    model instanceof nb.models.GPT ? 'GPT' : `${config.model.type.toUpperCase()} language model`;
  const run: Run = {
    config,
    model,
    tokenizer: { lm: tokenizer.toJSON() as JsonValue },
    bestMetric: { name: 'valLoss', mode: 'min' },
    describe: () =>
      `${kind} (${paramCount(model)} parameters), ${config.data.tokenizer} tokens (vocabulary ${tokenizer.vocabSize}), ` +
      `${train.length} training and ${val.length} validation tokens from ${config.data.path}`,
    createTrainer: (common) => {
      const generator = new nb.Generator(config.seed + 1);
      const ds = new nb.data.LanguageModelDataset(train, { blockSize: T, generator });
      const evalWindows = config.train.evalIters * B;
      return new nb.train.Trainer<LanguageModel, nb.data.LMBatch>({
        ...common,
        model,
        optimizer: makeOptimizer(model, config),
        data: () => ds.getBatch(B),
        loss: (m, b) => m.forward(b.x, b.y).loss!,
        evalFn: (m) => {
          const valLoss = lmLoss(m, val, T, B, evalWindows);
          return { valLoss, valPpl: Math.exp(valLoss) };
        },
        bestMetric: 'valLoss',
        bestMode: 'min',
        gradClip: config.train.gradClip > 0 ? config.train.gradClip : null,
        generators: { data: generator },
        tokenizer: run.tokenizer as JsonValue,
      });
    },
    evaluate: (o = {}) => {
      const windows = Math.floor((val.length - 1) / T);
      const n = o.maxBatches !== undefined ? Math.min(windows, o.maxBatches * B) : windows;
      // Non-overlapping windows over the split (evenly spread when capped).
      const valLoss = lmLoss(model, val, T, B, n);
      const lines = [
        `validation loss ${valLoss.toFixed(4)} (perplexity ${Math.exp(valLoss).toFixed(2)}) on ${n} windows of ${T} tokens`,
      ];
      return { metrics: { valLoss, valPpl: Math.exp(valLoss) }, lines };
    },
  };
  return run;
}

/**
 * The run of a config: tokenizers (from the checkpoint, or learned from the data), the model,
 * and — with `loadData` — the data, its batches and evaluation.
 */
export async function buildRun(config: RunConfig, options: BuildOptions): Promise<Run> {
  const c: RunConfig = config.data.path
    ? { ...config, data: { ...config.data, path: resolvePath(config.data.path) } }
    : config;
  nb.manualSeed(c.seed);
  const run =
    c.task === 'synthetic'
      ? syntheticRun(c)
      : c.task === 'translate'
        ? await translateRun(c, options)
        : await lmRun(c, options);
  // Evaluations run in eval mode (no dropout) and without autograd.
  const evaluate = run.evaluate;
  run.evaluate = (o) => {
    const mode = run.model.training;
    run.model.eval();
    try {
      return nb.noGrad(() => evaluate(o));
    } finally {
      run.model.train(mode);
    }
  };
  return run;
}

// ---- Using a trained model ------------------------------------------------------------------------

/** Options of `sampleText`. */
export interface SampleOptions {
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
}

/** Continues `prompt` with a trained language model; returns the text (prompt included). */
export function sampleText(run: Run, options: SampleOptions): string {
  const model = run.model as LanguageModel;
  const state = run.tokenizer;
  if (!('lm' in state)) throw new CliError('not a language model run');
  const tokenizer = nb.data.tokenizerFromJSON(state.lm);
  let ids: number[];
  try {
    ids = tokenizer.encode(options.prompt);
  } catch (e) {
    throw new CliError(
      `--prompt: ${e instanceof Error ? e.message.replace(/^CharTokenizer\.encode: /, '') : String(e)}`,
    );
  }
  if (ids.length === 0) ids = [defaultStart(tokenizer)];
  const generator = new nb.Generator(options.seed);
  const sampling = {
    temperature: options.temperature,
    ...(options.topK !== undefined ? { topK: options.topK } : {}),
    ...(options.topP !== undefined ? { topP: options.topP } : {}),
    generator,
  };
  let out: Tensor;
  if (model instanceof nb.models.GPT) {
    const { blockSize } = model.config;
    if (ids.length > blockSize) ids = ids.slice(-blockSize);
    const prompt = nb.tensor(Int32Array.from(ids), { shape: [1, ids.length] });
    const useCache = ids.length + options.maxNewTokens - 1 <= blockSize;
    out = model.generate(prompt, options.maxNewTokens, { ...sampling, useCache });
  } else {
    const prompt = nb.tensor(Int32Array.from(ids), { shape: [1, ids.length] });
    out = model.generate(prompt, options.maxNewTokens, sampling);
  }
  const fresh = Array.from(out.dataSync()).slice(ids.length); // the sampled tokens
  return options.prompt + tokenizer.decode(fresh);
}

/** The token a prompt-less sample starts from: a newline if the vocabulary has one (nanoGPT). */
function defaultStart(tokenizer: Tokenizer): number {
  try {
    const nl = tokenizer.encode('\n');
    if (nl.length === 1) return nl[0]!;
  } catch {
    // no newline in the alphabet
  }
  return 0;
}

/** Translates `sentences` with a trained sequence-to-sequence run. */
export function translateLines(run: Run, sentences: readonly string[], beam: number): string[] {
  const model = run.model as nb.models.TransformerSeq2Seq;
  const state = run.tokenizer;
  if (!('src' in state)) throw new CliError('not a sequence-to-sequence run');
  const src = nb.data.tokenizerFromJSON(state.src);
  const tgt = nb.data.tokenizerFromJSON(state.tgt);
  const bos = tgt.specialTokenId('<bos>');
  const eos = tgt.specialTokenId('<eos>');
  const limit = model.config.maxLen - 2;
  return sentences.map((line) => {
    let ids: number[];
    try {
      ids = src.encode(line);
    } catch (e) {
      throw new CliError(
        `cannot encode ${JSON.stringify(line)}: ${e instanceof Error ? e.message.replace(/^CharTokenizer\.encode: /, '') : String(e)}`,
      );
    }
    const row = [src.specialTokenId('<bos>'), ...ids.slice(0, limit), src.specialTokenId('<eos>')];
    return nb.scope(() => {
      const x = nb.tensor(Int32Array.from(row), { shape: [1, row.length] });
      const maxLen = Math.min(model.config.maxLen - 1, 2 * ids.length + 10);
      const [out] = model.decode(x, { bos, eos, maxLen, beamSize: beam });
      return tgt.decode(out!, { skipSpecialTokens: true });
    });
  });
}
