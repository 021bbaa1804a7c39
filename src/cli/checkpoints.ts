/// <reference types="node" />
/**
 * Finding and opening the checkpoint of a `nabla train` run for `sample`, `translate`, `eval`
 * and `train --resume`: a run directory (its `last/` checkpoint) or a checkpoint directory
 * (`<run>/last`, `<run>/best`), read with `loadCheckpoint` (src/io/node/checkpoint.ts), its run
 * config validated, and its weights checked against the model the config describes.
 */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as nb from '../index.node.js';
import { loadCheckpoint, type LoadedCheckpoint } from '../io/node/checkpoint.js';
import {
  resolveConfig,
  validateRunConfig,
  type Override,
  type RunConfig,
  type TaskName,
} from './config.js';
import { CliError, oneLine, UsageError } from './errors.js';
import { buildRun, type Run } from './run.js';

/** A checkpoint of a `nabla train` run, opened. */
export interface OpenedCheckpoint {
  /** The checkpoint directory read. */
  dir: string;
  /** The run directory it belongs to. */
  runDir: string;
  checkpoint: LoadedCheckpoint;
  /** The run config stored in the checkpoint. */
  config: RunConfig;
  /** The tokenizer(s) stored in the checkpoint. */
  tokenizer: nb.train.JsonValue;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Opens `path`: a checkpoint directory (with state.json, or a `.prev` left by an interrupted
 * save), or a run directory whose `last/` is one. Throws CliError when there is none, when it is
 * corrupt, or when it was not written by `nabla train`.
 */
export async function openCheckpoint(pathArg: string): Promise<OpenedCheckpoint> {
  const path = pathArg.length > 1 ? pathArg.replace(/[\\/]+$/, '') : pathArg;
  const holds = async (d: string): Promise<boolean> =>
    (await isFile(join(d, 'state.json'))) || (await isFile(join(`${d}.prev`, 'state.json')));
  const direct = await holds(path);
  const dir = direct ? path : join(path, 'last');
  if (!direct && !(await holds(dir)))
    throw new CliError(
      `no checkpoint at ${path}: expected a run directory of nabla train (with last/) or a checkpoint directory (with state.json)`,
    );
  let checkpoint: LoadedCheckpoint;
  try {
    checkpoint = await loadCheckpoint(dir);
  } catch (e) {
    if (e instanceof nb.NablaError) throw new CliError(oneLine(e.message));
    throw e;
  }
  let config: RunConfig;
  try {
    config = validateRunConfig(checkpoint.state.config, `checkpoint ${dir}`);
  } catch (e) {
    throw new CliError(
      `checkpoint ${dir} was not written by nabla train, or by an incompatible version (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  return {
    dir,
    runDir: direct ? dirname(dir) : path,
    checkpoint,
    config,
    tokenizer: checkpoint.state.tokenizer,
  };
}

/**
 * Throws CliError unless the checkpoint's tensors have the keys and shapes of `run.model` (the
 * model its config — with any overrides — describes).
 */
export function checkFits(run: Run, opened: OpenedCheckpoint, what = 'cannot use'): void {
  const problems = nb.train.describeMismatch(
    nb.train.tensorInfos(run.model.stateDict()),
    opened.checkpoint.state.model,
    { expected: 'model', actual: 'checkpoint' },
  );
  if (problems.length > 0)
    throw new CliError(
      oneLine(
        `${what} ${opened.dir}: its weights do not fit the ${run.model.constructor.name} of the config${
          what === 'cannot resume'
            ? ' with these overrides (drop the --model.* options to resume as it was)'
            : ''
        }: ${problems.join('; ')}`,
      ),
    );
}

/** What a command that uses a trained model needs. */
export interface TrainedRun {
  run: Run;
  opened: OpenedCheckpoint;
}

/** Names a task for messages. */
function describeTask(task: TaskName): string {
  return task === 'lm'
    ? 'a language model (--task lm)'
    : task === 'translate'
      ? 'a translation model (--task translate)'
      : 'a synthetic-task model (the default nabla train)';
}

/**
 * Opens a checkpoint, checks that it holds a model for one of `tasks`, rebuilds the run from
 * its config and tokenizer (reading the data only when `loadData`) and loads the weights.
 */
export async function openTrainedRun(
  path: string,
  tasks: readonly TaskName[],
  command: string,
  options: { loadData?: boolean; overrides?: readonly Override[] } = {},
): Promise<TrainedRun> {
  const opened = await openCheckpoint(path);
  if (!tasks.includes(opened.config.task))
    throw new CliError(
      `checkpoint ${opened.dir} holds ${describeTask(opened.config.task)}; nabla ${command} needs ${tasks.map(describeTask).join(' or ')}`,
    );
  const config = options.overrides?.length
    ? resolveConfig({ base: opened.config, overrides: options.overrides })
    : opened.config;
  if (config.task !== opened.config.task)
    throw new UsageError(`--task cannot change the task of a trained run (${opened.config.task})`);
  const run = await buildRun(config, {
    loadData: options.loadData ?? false,
    tokenizer: opened.tokenizer,
  });
  checkFits(run, opened);
  run.model.loadStateDict(opened.checkpoint.model);
  run.model.eval();
  return { run, opened };
}
