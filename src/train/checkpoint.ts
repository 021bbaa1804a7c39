/**
 * Training checkpoints, in memory: everything needed to resume a run exactly as if it had never
 * stopped (PyTorch's practice of saving model, optimizer and RNG state together; nanoGPT's
 * `ckpt.pt` with `model`, `optimizer`, `model_args`, `iter_num`, `best_val_loss`, `config`).
 *
 * A checkpoint has three parts, which the Node adapter (src/io/node/checkpoint.ts) writes as a
 * directory: `model.safetensors` (the model's state dict), `optimizer.safetensors` (the moment
 * tensors, keyed `<param index>.<name>`, e.g. `3.expAvg`) and `state.json` (everything else:
 * step, schedule position, RNG states, optimizer scalars and hyper-parameters, data position,
 * best metric, run config and tokenizer). This file is pure (no file system), so that browsers
 * can keep checkpoints too.
 */
import type { GeneratorState } from '../core/random.js';
import { formatShape, shapesEqual } from '../core/shape.js';
import type { Module } from '../nn/module.js';
import type { Optimizer, OptimizerStateDict, ParamState } from '../optim/optimizer.js';
import { Tensor } from '../tensor.js';
import { CheckpointError } from './errors.js';

/** A value that survives JSON.stringify / JSON.parse unchanged. */
export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The `format` field of state.json. */
export const CHECKPOINT_FORMAT = 'nabla-checkpoint';
/** The version of state.json's layout this library writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** Shape and dtype of one tensor, as recorded in state.json to validate the weight files. */
export interface TensorInfo {
  shape: number[];
  dtype: string;
}

/** The best evaluation so far (best-checkpoint keeping). */
export interface BestRecord {
  /** Name of the metric compared (e.g. 'valLoss'). */
  metric: string;
  /** 'min': lower is better; 'max': higher is better. */
  mode: 'min' | 'max';
  value: number;
  /** Updates completed when it was measured. */
  step: number;
}

/** Everything of a checkpoint that is not a tensor: the contents of state.json. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Optimizer updates completed; a resumed run continues with update number `step`. */
  step: number;
  /** Seconds of training before this checkpoint (the `time` column of the metrics continues). */
  elapsed: number;
  /** Schedule position: the next update's index and the learning rate last applied (or null). */
  schedule: { step: number; lr: number | null };
  /** Random-number generators: the global one, and the named ones the run registered. */
  rng: { global: GeneratorState; generators: Record<string, GeneratorState> };
  optimizer: {
    /** Class name (e.g. 'AdamW'); loading into another class is an error. */
    type: string;
    /** Hyper-parameters per group, with the indices of their parameters (PyTorch's layout). */
    paramGroups: Record<string, JsonValue>[];
    /** Numeric per-parameter state (e.g. Adam's step count), by parameter index. */
    scalars: Record<string, Record<string, number>>;
    /** Shapes of the tensors in optimizer.safetensors, by key. */
    tensors: Record<string, TensorInfo>;
  };
  /** Shapes of the tensors in model.safetensors, by state-dict key. */
  model: Record<string, TensorInfo>;
  /** Best evaluation so far, or null. */
  best: BestRecord | null;
  /** The batch source's position (from its `getState()`), or null. */
  data: JsonValue;
  /** The run's resolved configuration, as given by the user. */
  config: JsonValue;
  /** The tokenizer (its JSON form), so that a checkpoint can be sampled from on its own. */
  tokenizer: JsonValue;
  /** Free-form extra JSON. */
  extra: JsonValue;
  /**
   * Size and SHA-256 of each weight file, recorded by the Node adapter when it writes the
   * directory and checked when it reads it back (absent in memory).
   */
  files?: Record<string, { bytes: number; sha256: string }>;
}

/**
 * A checkpoint in memory: the model's state dict, the optimizer's moment tensors and the JSON
 * state. `trainer.checkpoint()` makes one; `trainer.loadCheckpoint(ckpt)` resumes from one.
 */
export interface Checkpoint {
  model: Record<string, Tensor>;
  optimizer: Record<string, Tensor>;
  state: CheckpointState;
}

/** Records shape and dtype of each tensor. */
export function tensorInfos(tensors: Record<string, Tensor>): Record<string, TensorInfo> {
  const out: Record<string, TensorInfo> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = { shape: [...t.shape], dtype: t.dtype };
  return out;
}

/**
 * Lists how `actual` differs from `expected`: missing keys, unexpected keys, shape mismatches (and
 * dtype mismatches when `checkDtype`). Empty when they agree.
 */
export function describeMismatch(
  expected: Record<string, TensorInfo>,
  actual: Record<string, TensorInfo>,
  names: { expected: string; actual: string },
  checkDtype = false,
): string[] {
  const missing = Object.keys(expected).filter((k) => !(k in actual));
  const unexpected = Object.keys(actual).filter((k) => !(k in expected));
  const shapes: string[] = [];
  for (const [k, e] of Object.entries(expected)) {
    const a = actual[k];
    if (!a) continue;
    if (!shapesEqual(a.shape, e.shape))
      shapes.push(
        `${k}: ${names.actual} ${formatShape(a.shape)}, ${names.expected} ${formatShape(e.shape)}`,
      );
    else if (checkDtype && a.dtype !== e.dtype)
      shapes.push(`${k}: ${names.actual} ${a.dtype}, ${names.expected} ${e.dtype}`);
  }
  const out: string[] = [];
  const list = (keys: string[]): string =>
    keys.slice(0, 8).join(', ') + (keys.length > 8 ? `, ... (${keys.length} in all)` : '');
  if (missing.length) out.push(`keys missing from the ${names.actual}: ${list(missing)}`);
  if (unexpected.length) out.push(`keys the ${names.expected} does not have: ${list(unexpected)}`);
  if (shapes.length) out.push(`mismatched tensors:\n    ${shapes.join('\n    ')}`);
  return out;
}

/**
 * Splits an optimizer's state dict into tensors (for optimizer.safetensors, keyed
 * `<param index>.<name>`) and JSON (hyper-parameters and numeric state).
 *
 * @example
 * const { tensors, json } = nb.train.flattenOptimizerState(optimizer);
 */
export function flattenOptimizerState<H extends { lr: number }>(
  optimizer: Optimizer<H>,
): { tensors: Record<string, Tensor>; json: CheckpointState['optimizer'] } {
  const sd = optimizer.stateDict();
  const tensors: Record<string, Tensor> = {};
  const scalars: Record<string, Record<string, number>> = {};
  for (const [index, s] of Object.entries(sd.state)) {
    for (const [name, v] of Object.entries(s)) {
      if (v instanceof Tensor) tensors[`${index}.${name}`] = v.detach();
      else (scalars[index] ??= {})[name] = v;
    }
  }
  const paramGroups = sd.paramGroups.map(
    (g) => JSON.parse(JSON.stringify(g)) as Record<string, JsonValue>,
  );
  return {
    tensors,
    json: {
      type: optimizer.constructor.name,
      paramGroups,
      scalars,
      tensors: tensorInfos(tensors),
    },
  };
}

/**
 * The inverse of `flattenOptimizerState`: loads `tensors` and `json` into `optimizer`, after
 * checking the class, the number of groups and parameters, and that every moment tensor has its
 * parameter's shape. Throws CheckpointError naming what does not fit.
 */
export function loadOptimizerState<H extends { lr: number }>(
  optimizer: Optimizer<H>,
  tensors: Record<string, Tensor>,
  json: CheckpointState['optimizer'],
  where = 'checkpoint',
): void {
  const name = optimizer.constructor.name;
  if (json.type !== name) {
    throw new CheckpointError(
      `${where}: the optimizer state is from ${json.type}, it cannot be loaded into ${name}`,
    );
  }
  const params = optimizer.paramGroups.flatMap((g) => g.params);
  const groupSizes = optimizer.paramGroups.map((g) => g.params.length);
  const savedSizes = json.paramGroups.map((g) => (Array.isArray(g.params) ? g.params.length : -1));
  if (savedSizes.join() !== groupSizes.join()) {
    throw new CheckpointError(
      `${where}: the optimizer state has parameter groups of sizes [${savedSizes.join(', ')}], ` +
        `this optimizer [${groupSizes.join(', ')}]: a checkpoint of another model or grouping`,
    );
  }
  const state: Record<number, ParamState> = {};
  const bad: string[] = [];
  for (const [key, t] of Object.entries(tensors)) {
    const dot = key.indexOf('.');
    const index = Number(key.slice(0, dot));
    const p = params[index];
    if (dot < 0 || !Number.isInteger(index) || p === undefined) {
      bad.push(`${key}: no parameter with that index`);
      continue;
    }
    if (!shapesEqual(t.shape, p.shape)) {
      bad.push(`${key}: checkpoint ${formatShape(t.shape)}, parameter ${formatShape(p.shape)}`);
      continue;
    }
    // optimizer.loadStateDict copies (and casts) the tensors: the checkpoint is not updated in place.
    (state[index] ??= {})[key.slice(dot + 1)] = t;
  }
  if (bad.length) {
    throw new CheckpointError(
      `${where}: the optimizer state does not fit this model's parameters:\n    ${bad.join('\n    ')}`,
    );
  }
  for (const [index, s] of Object.entries(json.scalars)) Object.assign((state[+index] ??= {}), s);
  const sd: OptimizerStateDict<H> = {
    state,
    paramGroups: json.paramGroups as unknown as (H & { params: number[] })[],
  };
  optimizer.loadStateDict(sd);
}

/**
 * Checks that a checkpoint's model tensors fit `model` (same keys, same shapes) and throws a
 * CheckpointError naming every missing, unexpected or mismatched key otherwise.
 *
 * @example
 * nb.train.checkModelCompatible(model, ckpt.model, 'runs/last');
 */
export function checkModelCompatible(
  model: Module,
  tensors: Record<string, Tensor>,
  where = 'checkpoint',
): void {
  const problems = describeMismatch(tensorInfos(model.stateDict()), tensorInfos(tensors), {
    expected: 'model',
    actual: 'checkpoint',
  });
  if (problems.length) {
    throw new CheckpointError(
      `${where} does not fit this ${model.constructor.name} (a checkpoint of another model or config?):\n  ${problems.join('\n  ')}`,
    );
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isGeneratorState(v: unknown): v is GeneratorState {
  return (
    isRecord(v) &&
    Array.isArray(v.s) &&
    v.s.length === 4 &&
    v.s.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32) &&
    (v.spareNormal === null || typeof v.spareNormal === 'number')
  );
}

/**
 * Checks the structure of parsed state.json and returns it typed; throws CheckpointError naming
 * the first field that is missing or of the wrong kind.
 */
export function validateCheckpointState(raw: unknown, where = 'state.json'): CheckpointState {
  const fail = (what: string): never => {
    throw new CheckpointError(`${where}: ${what}`);
  };
  if (!isRecord(raw)) return fail('expected a JSON object');
  if (raw.format !== CHECKPOINT_FORMAT)
    fail(`not a nabla checkpoint (format is ${JSON.stringify(raw.format)})`);
  if (raw.version !== CHECKPOINT_VERSION)
    fail(
      `checkpoint version ${JSON.stringify(raw.version)}, this library reads version ${CHECKPOINT_VERSION}`,
    );
  if (!Number.isInteger(raw.step) || (raw.step as number) < 0)
    fail(`step must be a non-negative integer, got ${JSON.stringify(raw.step)}`);
  if (typeof raw.elapsed !== 'number') fail('elapsed must be a number');
  const sch = raw.schedule;
  if (
    !isRecord(sch) ||
    !Number.isInteger(sch.step) ||
    !(sch.lr === null || typeof sch.lr === 'number')
  )
    fail('schedule must be { step: integer, lr: number | null }');
  const rng = raw.rng;
  if (!isRecord(rng) || !isGeneratorState(rng.global) || !isRecord(rng.generators))
    fail('rng must be { global: GeneratorState, generators: { name: GeneratorState } }');
  for (const [k, g] of Object.entries((rng as Record<string, Record<string, unknown>>).generators))
    if (!isGeneratorState(g)) fail(`rng.generators.${k} is not a generator state`);
  const opt = raw.optimizer;
  if (
    !isRecord(opt) ||
    typeof opt.type !== 'string' ||
    !Array.isArray(opt.paramGroups) ||
    !opt.paramGroups.every((g) => isRecord(g) && Array.isArray(g.params)) ||
    !isRecord(opt.scalars) ||
    !isRecord(opt.tensors)
  )
    fail('optimizer must be { type, paramGroups: [{ ..., params: [] }], scalars, tensors }');
  if (!isRecord(raw.model)) fail('model must map state-dict keys to { shape, dtype }');
  for (const infos of [raw.model, (opt as Record<string, unknown>).tensors] as Record<
    string,
    unknown
  >[]) {
    for (const [k, info] of Object.entries(infos)) {
      if (!isRecord(info) || !Array.isArray(info.shape) || typeof info.dtype !== 'string')
        fail(`the entry for tensor '${k}' must be { shape: number[], dtype: string }`);
    }
  }
  const best = raw.best;
  if (
    best !== null &&
    !(
      isRecord(best) &&
      typeof best.metric === 'string' &&
      (best.mode === 'min' || best.mode === 'max') &&
      typeof best.value === 'number' &&
      Number.isInteger(best.step)
    )
  )
    fail('best must be null or { metric, mode, value, step }');
  for (const k of ['data', 'config', 'tokenizer', 'extra'])
    if (!(k in raw)) fail(`the field '${k}' is missing`);
  return raw as unknown as CheckpointState;
}
