/// <reference types="node" />
/**
 * The run configuration of `nabla train`: a typed nested config (task, seed, data, model, train)
 * with frozen defaults per task, named presets, and dotted overrides (`--model.nLayer=4`,
 * `--train.lr=1e-3`) checked for key and type — minGPT's CfgNode (Karpathy, mingpt/utils.py:
 * `merge_from_args` with `--model.n_layer=4`) with a schema instead of `literal_eval`. The
 * resolved config is stored in every checkpoint and written as config.json beside it, so that a
 * run can be resumed, sampled from or evaluated from its directory alone.
 */
import { UsageError } from './errors.js';

// ---- Types --------------------------------------------------------------------------------------

/** What `nabla train` learns. */
export type TaskName = 'synthetic' | 'lm' | 'translate';
/** The architecture: an encoder–decoder Transformer, or a language model. */
export type ModelType = 'transformer' | 'gpt' | 'lstm' | 'gru' | 'rnn';
/** The built-in synthetic sequence-to-sequence tasks. */
export type SyntheticName = 'reverse' | 'sort' | 'add';
/** The tokenizer of lm and translate runs. */
export type TokenizerKind = 'char' | 'bpe';

/** Where the data comes from and how it is cut into tokens. */
export interface DataConfig {
  /** The text (lm) or tab-separated sentence pairs (translate); '' for the synthetic task. */
  path: string;
  /** 'char' (one id per character) or 'bpe' (byte-level BPE learned from the training split). */
  tokenizer: TokenizerKind;
  /** BPE: the vocabulary size to learn. */
  bpeVocabSize: number;
  /** The synthetic task: reverse or sort a digit string, or add two numbers. */
  synthetic: SyntheticName;
  /** reverse/sort: shortest and longest digit string. */
  minLength: number;
  maxLength: number;
  /** add: most digits of each operand. */
  maxDigits: number;
  /** Synthetic: held-out examples for exact match. */
  valExamples: number;
  /** lm/translate: the held-out fraction (the last 10% of a text; a seeded 10% of pairs). */
  valFraction: number;
}

/** The model's shape (keys that an architecture does not use are ignored by it). */
export interface ModelConfig {
  type: ModelType;
  /** Layers (per side for the encoder–decoder Transformer). */
  nLayer: number;
  /** Attention heads (Transformers). */
  nHead: number;
  /** Width: dModel, GPT's nEmbd, or the RNN's embedding and hidden size. */
  nEmbd: number;
  /** Feed-forward width of the encoder–decoder Transformer. */
  dimFeedforward: number;
  dropout: number;
  /** Context length of language models (tokens per training window; GPT's positions). */
  blockSize: number;
  /** Positions of the encoder–decoder Transformer (longest source or target, with BOS/EOS). */
  maxLen: number;
  /** GPT: biases in Linear and LayerNorm layers. */
  bias: boolean;
  /** Encoder–decoder Transformer: pre-norm layers. */
  normFirst: boolean;
  /** Tie the output layer to the (target) embedding (Transformer, RNN; GPT always ties). */
  tieWeights: boolean;
}

/** The optimisation: AdamW with linear warm-up and cosine decay, as nanoGPT. */
export interface TrainConfig {
  /** Updates in total (a resumed run counts the earlier ones). */
  maxSteps: number;
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** Floor of the cosine decay. */
  minLr: number;
  warmupIters: number;
  /** The step at which the cosine reaches minLr; 0: maxSteps. */
  lrDecayIters: number;
  beta1: number;
  beta2: number;
  /** Decoupled weight decay, applied to weight matrices and embeddings only (nanoGPT). */
  weightDecay: number;
  /** Clip the gradient norm to this; 0: no clipping. */
  gradClip: number;
  /** Translation: label smoothing of the loss. */
  labelSmoothing: number;
  /** Evaluate every this many updates; 0: only at the end. */
  evalEvery: number;
  /** lm: validation batches per evaluation. */
  evalIters: number;
  /** Save `last` every this many updates; 0: only at evaluations and at the end. */
  checkpointEvery: number;
  /** Print a log line every this many updates when not on a terminal; 0: about 20 lines per run. */
  logEvery: number;
}

/** Everything `nabla train` needs to know. */
export interface RunConfig {
  task: TaskName;
  seed: number;
  data: DataConfig;
  model: ModelConfig;
  train: TrainConfig;
}

/** A nested partial config (presets). */
export type ConfigPatch = {
  task?: TaskName;
  seed?: number;
  data?: Partial<DataConfig>;
  model?: Partial<ModelConfig>;
  train?: Partial<TrainConfig>;
};

/** The config sections that hold keys. */
export type SectionName = 'data' | 'model' | 'train';

// ---- Schema -------------------------------------------------------------------------------------

/** What values a key accepts. */
export type FieldSpec =
  | { kind: 'int'; min: number }
  | { kind: 'number'; min?: number; max?: number; maxExclusive?: boolean }
  | { kind: 'boolean' }
  | { kind: 'string' }
  | { kind: 'enum'; choices: readonly string[] };

type Schema<T> = { readonly [K in keyof T]-?: FieldSpec };

const int = (min: number): FieldSpec => ({ kind: 'int', min });
const num = (min?: number, max?: number, maxExclusive = false): FieldSpec => ({
  kind: 'number',
  min,
  max,
  maxExclusive,
});
const bool: FieldSpec = { kind: 'boolean' };
const oneOf = (...choices: string[]): FieldSpec => ({ kind: 'enum', choices });

/** The accepted values of every key; a mapped type, so a key without a spec fails to compile. */
export const CONFIG_SCHEMA: {
  readonly top: Schema<Pick<RunConfig, 'task' | 'seed'>>;
  readonly data: Schema<DataConfig>;
  readonly model: Schema<ModelConfig>;
  readonly train: Schema<TrainConfig>;
} = Object.freeze({
  top: { task: oneOf('synthetic', 'lm', 'translate'), seed: int(0) },
  data: {
    path: { kind: 'string' },
    tokenizer: oneOf('char', 'bpe'),
    bpeVocabSize: int(257),
    synthetic: oneOf('reverse', 'sort', 'add'),
    minLength: int(1),
    maxLength: int(1),
    maxDigits: int(1),
    valExamples: int(1),
    valFraction: num(0, 1, true),
  },
  model: {
    type: oneOf('transformer', 'gpt', 'lstm', 'gru', 'rnn'),
    nLayer: int(1),
    nHead: int(1),
    nEmbd: int(1),
    dimFeedforward: int(1),
    dropout: num(0, 1, true),
    blockSize: int(1),
    maxLen: int(4),
    bias: bool,
    normFirst: bool,
    tieWeights: bool,
  },
  train: {
    maxSteps: int(0),
    batchSize: int(1),
    lr: num(0),
    minLr: num(0),
    warmupIters: int(0),
    lrDecayIters: int(0),
    beta1: num(0, 1, true),
    beta2: num(0, 1, true),
    weightDecay: num(0),
    gradClip: num(0),
    labelSmoothing: num(0, 1, true),
    evalEvery: int(0),
    evalIters: int(1),
    checkpointEvery: int(0),
    logEvery: int(0),
  },
});

// ---- Defaults and presets -----------------------------------------------------------------------

function deepFreeze<T extends object>(o: T): Readonly<T> {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(o);
}

const BASE_DATA: DataConfig = {
  path: '',
  tokenizer: 'char',
  bpeVocabSize: 512,
  synthetic: 'reverse',
  minLength: 1,
  maxLength: 8,
  maxDigits: 3,
  valExamples: 200,
  valFraction: 0.1,
};

const BASE_TRAIN: TrainConfig = {
  maxSteps: 500,
  batchSize: 32,
  lr: 1e-3,
  minLr: 1e-4,
  warmupIters: 50,
  lrDecayIters: 0,
  beta1: 0.9,
  beta2: 0.98,
  weightDecay: 0.01,
  gradClip: 1,
  labelSmoothing: 0,
  evalEvery: 100,
  evalIters: 10,
  checkpointEvery: 0,
  logEvery: 0,
};

/**
 * The defaults of each task (the `small` preset). The synthetic task's model is sized to reach
 * a high exact match on digit-string reversal in about a minute on two cores.
 */
export const TASK_DEFAULTS: Readonly<Record<TaskName, Readonly<RunConfig>>> = deepFreeze({
  synthetic: {
    task: 'synthetic',
    seed: 1337,
    data: { ...BASE_DATA },
    model: {
      type: 'transformer',
      nLayer: 2,
      nHead: 4,
      nEmbd: 32,
      dimFeedforward: 128,
      dropout: 0,
      blockSize: 64,
      maxLen: 64,
      bias: true,
      normFirst: false,
      tieWeights: true,
    },
    train: { ...BASE_TRAIN, maxSteps: 400, lr: 2e-3 },
  },
  lm: {
    task: 'lm',
    seed: 1337,
    data: { ...BASE_DATA },
    model: {
      type: 'gpt',
      nLayer: 2,
      nHead: 4,
      nEmbd: 64,
      dimFeedforward: 256,
      dropout: 0,
      blockSize: 64,
      maxLen: 64,
      bias: false,
      normFirst: true,
      tieWeights: true,
    },
    train: { ...BASE_TRAIN, batchSize: 16, beta2: 0.99, weightDecay: 0.1 },
  },
  translate: {
    task: 'translate',
    seed: 1337,
    data: { ...BASE_DATA, tokenizer: 'char' },
    model: {
      type: 'transformer',
      nLayer: 2,
      nHead: 4,
      nEmbd: 64,
      dimFeedforward: 256,
      dropout: 0.1,
      blockSize: 64,
      maxLen: 128,
      bias: true,
      normFirst: true,
      tieWeights: true,
    },
    train: { ...BASE_TRAIN, maxSteps: 1500, lr: 1e-3, warmupIters: 100, evalEvery: 250 },
  },
});

/** Preset names accepted by `--preset`. */
export const PRESET_NAMES = ['tiny', 'small', 'baby-shakespeare'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/**
 * Named size presets, applied over the task's defaults:
 * - `tiny`: a model and run small enough for tests (seconds);
 * - `small`: the task's defaults;
 * - `baby-shakespeare`: nanoGPT's shakespeare_char "baby GPT" as its README runs it on a CPU
 *   (character level, context 64, batch 12, 4 layers, 4 heads, 128 wide, dropout 0, AdamW lr 1e-3
 *   with 100 warm-up steps and cosine decay to 1e-4 over 2000 steps, β2 0.99, weight decay 0.1,
 *   gradient clip 1, evaluation every 250 steps on 20 batches).
 */
export const PRESETS: Readonly<Record<PresetName, Readonly<ConfigPatch>>> = deepFreeze({
  tiny: {
    data: { valExamples: 32, bpeVocabSize: 300, maxLength: 5 },
    model: { nLayer: 1, nHead: 2, nEmbd: 16, dimFeedforward: 32, blockSize: 16, maxLen: 64 },
    train: { maxSteps: 20, batchSize: 8, warmupIters: 2, evalEvery: 10, evalIters: 2 },
  },
  small: {},
  'baby-shakespeare': {
    task: 'lm',
    data: { tokenizer: 'char', valFraction: 0.1 },
    model: {
      type: 'gpt',
      nLayer: 4,
      nHead: 4,
      nEmbd: 128,
      blockSize: 64,
      dropout: 0,
      bias: false,
    },
    train: {
      maxSteps: 2000,
      batchSize: 12,
      lr: 1e-3,
      minLr: 1e-4,
      warmupIters: 100,
      lrDecayIters: 2000,
      beta1: 0.9,
      beta2: 0.99,
      weightDecay: 0.1,
      gradClip: 1,
      evalEvery: 250,
      evalIters: 20,
    },
  },
});

// ---- Resolution ---------------------------------------------------------------------------------

/** One `key=value` override, as given on the command line (`model.nLayer`, `4`). */
export interface Override {
  key: string;
  value: string;
  /** How the user wrote it (for messages), e.g. `--max-steps` or `--model.nLayer`. */
  flag?: string;
}

function describeSpec(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'int':
      return `an integer >= ${spec.min}`;
    case 'number': {
      const lo = spec.min !== undefined ? `>= ${spec.min}` : '';
      const hi = spec.max !== undefined ? `${spec.maxExclusive ? '<' : '<='} ${spec.max}` : '';
      return `a number${lo || hi ? ' ' : ''}${[lo, hi].filter(Boolean).join(' and ')}`;
    }
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'enum':
      return `one of ${spec.choices.join(', ')}`;
  }
}

/** Parses `raw` by `spec`; throws UsageError naming the key and what it expects. */
export function parseValue(
  spec: FieldSpec,
  raw: string | number | boolean,
  shown: string,
): string | number | boolean {
  const fail = (): never => {
    throw new UsageError(
      `${shown} expects ${describeSpec(spec)}, got ${JSON.stringify(String(raw))}`,
    );
  };
  switch (spec.kind) {
    case 'int':
    case 'number': {
      const v =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && raw.trim() !== ''
            ? Number(raw)
            : NaN;
      if (!Number.isFinite(v)) return fail();
      if (spec.kind === 'int' && (!Number.isInteger(v) || v < spec.min)) return fail();
      if (spec.kind === 'number') {
        if (spec.min !== undefined && v < spec.min) return fail();
        if (spec.max !== undefined && (spec.maxExclusive ? v >= spec.max : v > spec.max))
          return fail();
      }
      return v;
    }
    case 'boolean':
      if (raw === true || raw === 'true' || raw === '1') return true;
      if (raw === false || raw === 'false' || raw === '0') return false;
      return fail();
    case 'string':
      return typeof raw === 'string' ? raw : fail();
    case 'enum':
      return typeof raw === 'string' && spec.choices.includes(raw) ? raw : fail();
  }
}

/** Every valid dotted key, for messages and help. */
export function configKeys(): string[] {
  const keys: string[] = Object.keys(CONFIG_SCHEMA.top);
  for (const s of ['data', 'model', 'train'] as const)
    for (const k of Object.keys(CONFIG_SCHEMA[s])) keys.push(`${s}.${k}`);
  return keys;
}

/** Levenshtein distance (for "did you mean" hints). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row.push(
        Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)),
      );
    prev = row;
  }
  return prev[b.length]!;
}

/** The spec of a dotted key, or a UsageError listing the valid keys. */
function specOf(key: string, shown: string): [SectionName | null, string, FieldSpec] {
  const parts = key.split('.');
  if (parts.length === 1 && key in CONFIG_SCHEMA.top)
    return [null, key, CONFIG_SCHEMA.top[key as keyof typeof CONFIG_SCHEMA.top]];
  const [section, name] = parts;
  if (parts.length !== 2 || (section !== 'data' && section !== 'model' && section !== 'train'))
    throw new UsageError(
      `unknown config key ${JSON.stringify(shown)}; config sections are data, model and train (e.g. --model.nLayer=4)`,
    );
  const schema = CONFIG_SCHEMA[section] as Record<string, FieldSpec>;
  const spec = schema[name!];
  if (!spec) {
    const near = Object.keys(schema).find(
      (k) => editDistance(k.toLowerCase(), name!.toLowerCase()) <= 2,
    );
    throw new UsageError(
      `unknown config key ${JSON.stringify(key)}${near ? ` (did you mean ${section}.${near}?)` : ''}; valid keys of ${section}: ${Object.keys(schema).join(', ')}`,
    );
  }
  return [section, name!, spec];
}

/** A deep copy of a config that can be modified. */
function copyConfig(c: Readonly<RunConfig>): RunConfig {
  return {
    task: c.task,
    seed: c.seed,
    data: { ...c.data },
    model: { ...c.model },
    train: { ...c.train },
  };
}

/** Sets one dotted key of `config` from its string form, checking key and type. */
export function applyOverride(config: RunConfig, o: Override): void {
  const shown = o.flag ?? `--${o.key}`;
  const [section, name, spec] = specOf(o.key, o.key);
  const value = parseValue(spec, o.value, shown);
  const target = (section === null ? config : config[section]) as unknown as Record<
    string,
    unknown
  >;
  target[name] = value;
}

/** Applies a preset (its values are trusted: they are checked by the types). */
function applyPatch(config: RunConfig, patch: Readonly<ConfigPatch>): void {
  if (patch.task !== undefined) config.task = patch.task;
  if (patch.seed !== undefined) config.seed = patch.seed;
  Object.assign(config.data, patch.data ?? {});
  Object.assign(config.model, patch.model ?? {});
  Object.assign(config.train, patch.train ?? {});
}

/**
 * Checks that an object read from a checkpoint is a complete RunConfig with valid values;
 * returns it typed. Throws UsageError naming the first bad key.
 */
export function validateRunConfig(raw: unknown, where: string): RunConfig {
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isRecord(raw)) throw new UsageError(`${where} holds no nabla run config`);
  const out = copyConfig(TASK_DEFAULTS.synthetic);
  const check = (section: SectionName | null, key: string, spec: FieldSpec): void => {
    const src = section === null ? raw : raw[section];
    const v = isRecord(src) ? src[key] : undefined;
    const shown = section === null ? key : `${section}.${key}`;
    if (v === undefined) throw new UsageError(`${where}: the run config has no ${shown}`);
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw new UsageError(`${where}: the run config's ${shown} is not a plain value`);
    const parsed = parseValue(spec, v, shown);
    ((section === null ? out : out[section]) as unknown as Record<string, unknown>)[key] = parsed;
  };
  for (const [k, spec] of Object.entries(CONFIG_SCHEMA.top)) check(null, k, spec);
  for (const s of ['data', 'model', 'train'] as const)
    for (const [k, spec] of Object.entries(CONFIG_SCHEMA[s] as Record<string, FieldSpec>))
      check(s, k, spec);
  return out;
}

/** Options of `resolveConfig`. */
export interface ResolveOptions {
  /** A preset applied over the task's defaults. */
  preset?: string;
  /** Overrides applied in order (command-line flags and dotted keys). */
  overrides?: readonly Override[];
  /** Start from this config (a resumed run) instead of the defaults and preset. */
  base?: Readonly<RunConfig>;
}

/**
 * The run config: the task's defaults, then the preset, then the overrides in order (or `base`
 * then the overrides), checked for consistency. The task comes from a `task` override, else the
 * preset, else 'synthetic'.
 *
 * @example
 * resolveConfig({ preset: 'tiny', overrides: [{ key: 'model.nLayer', value: '2' }] });
 */
export function resolveConfig(options: ResolveOptions = {}): RunConfig {
  const overrides = options.overrides ?? [];
  let config: RunConfig;
  if (options.base) {
    config = copyConfig(options.base);
  } else {
    let preset: Readonly<ConfigPatch> = {};
    if (options.preset !== undefined) {
      if (!(PRESET_NAMES as readonly string[]).includes(options.preset))
        throw new UsageError(
          `unknown preset ${JSON.stringify(options.preset)}; presets: ${PRESET_NAMES.join(', ')}`,
        );
      preset = PRESETS[options.preset as PresetName];
    }
    const taskOverride = [...overrides].reverse().find((o) => o.key === 'task');
    const task = taskOverride
      ? (parseValue(
          CONFIG_SCHEMA.top.task,
          taskOverride.value,
          taskOverride.flag ?? '--task',
        ) as TaskName)
      : (preset.task ?? 'synthetic');
    if (preset.task !== undefined && preset.task !== task)
      throw new UsageError(
        `preset ${options.preset} is for --task ${preset.task}, not --task ${task}`,
      );
    config = copyConfig(TASK_DEFAULTS[task]);
    applyPatch(config, preset);
  }
  for (const o of overrides) applyOverride(config, o);
  checkConsistency(config);
  return config;
}

/** Cross-key checks: the model fits the task, widths divide, lengths are ordered. */
export function checkConsistency(c: RunConfig): void {
  const seq2seq = c.task === 'synthetic' || c.task === 'translate';
  if (seq2seq && c.model.type !== 'transformer')
    throw new UsageError(
      `--task ${c.task} trains an encoder–decoder model: model.type must be transformer, got ${c.model.type}`,
    );
  if (c.task === 'lm' && c.model.type === 'transformer')
    throw new UsageError(
      `--task lm trains a language model: --model must be gpt, lstm, gru or rnn, got transformer`,
    );
  const attention = c.model.type === 'transformer' || c.model.type === 'gpt';
  if (attention && c.model.nEmbd % c.model.nHead !== 0)
    throw new UsageError(
      `model.nEmbd (${c.model.nEmbd}) must be divisible by model.nHead (${c.model.nHead})`,
    );
  if (c.data.minLength > c.data.maxLength)
    throw new UsageError(
      `data.minLength (${c.data.minLength}) must not exceed data.maxLength (${c.data.maxLength})`,
    );
  if (c.task === 'synthetic') {
    const longest = c.data.synthetic === 'add' ? 2 * c.data.maxDigits + 2 : c.data.maxLength;
    if (longest + 2 > c.model.maxLen)
      throw new UsageError(
        `model.maxLen (${c.model.maxLen}) is too small for the synthetic sequences (up to ${longest + 2} tokens with BOS and EOS)`,
      );
  }
  if (c.train.minLr > c.train.lr)
    throw new UsageError(`train.minLr (${c.train.minLr}) must not exceed train.lr (${c.train.lr})`);
  if ((c.task === 'lm' || c.task === 'translate') && c.data.path === '')
    throw new UsageError(
      `--task ${c.task} needs --data FILE (${c.task === 'lm' ? 'a text file' : 'a TSV file of sentence pairs: source<TAB>target'})`,
    );
}

/**
 * Splits `--section.key=value` / `--section.key value` overrides from the other command-line
 * arguments (everything after `--` is left alone).
 *
 * @example
 * extractDotted(['train', '--model.nLayer=4', '--train.lr', '3e-4']);
 * // { rest: ['train'], dotted: [{ key: 'model.nLayer', value: '4', ... }, { key: 'train.lr', value: '3e-4', ... }] }
 */
export function extractDotted(argv: readonly string[]): { rest: string[]; dotted: Override[] } {
  const rest: string[] = [];
  const dotted: Override[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const m = /^--([A-Za-z][\w-]*)\.([^=]*)(?:=(.*))?$/s.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    const key = `${m[1]}.${m[2]}`;
    let value = m[3];
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--'))
        throw new UsageError(`--${key} needs a value (--${key}=VALUE)`);
      value = next;
      i++;
    }
    dotted.push({ key, value, flag: `--${key}` });
  }
  return { rest, dotted };
}
