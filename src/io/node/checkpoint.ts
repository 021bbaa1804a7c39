/// <reference types="node" />
/**
 * Node-only: training checkpoints as directories, and the metrics log as a JSON Lines file.
 *
 * A checkpoint directory holds `model.safetensors` (the model's state dict), `optimizer.safetensors`
 * (the optimizer's moment tensors) and `state.json` (everything else, see `CheckpointState` in
 * src/train/checkpoint.ts), with the size and SHA-256 of both weight files recorded in state.json.
 *
 * Saving is atomic at the level of the directory, in the manner of the write-to-temporary-then-
 * rename pattern (as `saveSafetensorsFile` does for one file): the three files are written and
 * fsynced in a sibling `<dir>.tmp-<pid>-<random>`, then the old `<dir>` is renamed to
 * `<dir>.prev`, the temporary directory to `<dir>`, and `<dir>.prev` is deleted. A directory is
 * only ever renamed into place complete, so at every instant a complete checkpoint exists at
 * `<dir>` or (between the two renames) at `<dir>.prev`, where `loadCheckpoint` looks when `<dir>`
 * has none. A process killed mid-save thus leaves the previous checkpoint readable.
 *
 * @example
 * import { saveCheckpoint, loadCheckpoint } from './src/io/node/checkpoint.js'; // Node only
 * await saveCheckpoint('runs/shakespeare/last', trainer.checkpoint());
 * trainer.loadCheckpoint(await loadCheckpoint('runs/shakespeare/last', { model }));
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Module } from '../../nn/module.js';
import type { Tensor } from '../../tensor.js';
import {
  checkModelCompatible,
  describeMismatch,
  tensorInfos,
  validateCheckpointState,
  type Checkpoint,
  type CheckpointState,
  type TensorInfo,
} from '../../train/checkpoint.js';
import { CheckpointError } from '../../train/errors.js';
import type { MetricsRecord, MetricsSink } from '../../train/metrics.js';
import { toJsonLine } from '../../train/metrics.js';
import type { CheckpointInfo } from '../../train/trainer.js';
import { parseSafetensors, serializeSafetensors } from '../safetensors.js';

/** The files of a checkpoint directory. */
export const CHECKPOINT_FILES = Object.freeze({
  model: 'model.safetensors',
  optimizer: 'optimizer.safetensors',
  state: 'state.json',
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Writes a new file and flushes it to the disk. */
async function writeDurable(path: string, bytes: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a directory's entries (renames, new files); a no-op where directories cannot be opened. */
async function syncDir(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch {
    // Windows cannot fsync a directory; the renames are still atomic there.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Whether process `pid` is alive (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `<name>.tmp-<pid>-*` siblings left by saves whose process died. */
async function removeStaleTemps(parent: string, name: string): Promise<void> {
  const prefix = `${name}.tmp-`;
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
      await rm(join(parent, entry), { recursive: true, force: true });
  }
}

/**
 * Writes `ckpt` as the directory `dir` (created with its parents), atomically: a reader, or a
 * process killed mid-save, sees either the previous checkpoint or the new one, never a mix. The
 * tensors are serialised before anything touches the disk. Refuses to replace a directory that is
 * not a checkpoint (has no state.json). One process saves to a given `dir` at a time.
 *
 * @example
 * await saveCheckpoint('runs/exp1/last', trainer.checkpoint());
 */
export async function saveCheckpoint(dir: string, ckpt: Checkpoint): Promise<void> {
  const modelBytes = serializeSafetensors(ckpt.model, { format: 'pt' });
  const optimizerBytes = serializeSafetensors(ckpt.optimizer);
  const state: CheckpointState = {
    ...ckpt.state,
    model: tensorInfos(ckpt.model),
    optimizer: { ...ckpt.state.optimizer, tensors: tensorInfos(ckpt.optimizer) },
    files: {
      [CHECKPOINT_FILES.model]: { bytes: modelBytes.byteLength, sha256: sha256(modelBytes) },
      [CHECKPOINT_FILES.optimizer]: {
        bytes: optimizerBytes.byteLength,
        sha256: sha256(optimizerBytes),
      },
    },
  };
  const json = JSON.stringify(state, null, 1) + '\n';

  const parent = dirname(dir);
  const name = basename(dir);
  const prev = `${dir}.prev`;
  await mkdir(parent, { recursive: true });
  if ((await exists(dir)) && !(await exists(join(dir, CHECKPOINT_FILES.state)))) {
    const entries = await readdir(dir);
    if (entries.length > 0)
      throw new CheckpointError(
        `saveCheckpoint: ${dir} exists and is not a checkpoint (no ${CHECKPOINT_FILES.state}); ` +
          'refusing to replace it: choose another directory',
      );
  }
  await removeStaleTemps(parent, name);

  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await mkdir(tmp);
    await writeDurable(join(tmp, CHECKPOINT_FILES.model), modelBytes);
    await writeDurable(join(tmp, CHECKPOINT_FILES.optimizer), optimizerBytes);
    // state.json last: a directory with it is complete (it is renamed into place only then anyway).
    await writeDurable(join(tmp, CHECKPOINT_FILES.state), json);
    await syncDir(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (await exists(dir)) {
    // `dir` is complete here, so an older `.prev` (left by a save killed after its second rename)
    // is no longer needed. If `dir` is missing, `.prev` may be the only checkpoint: keep it.
    await rm(prev, { recursive: true, force: true });
    await rename(dir, prev);
  }
  await rename(tmp, dir);
  await syncDir(parent);
  await rm(prev, { recursive: true, force: true });
}

/** Options of `loadCheckpoint`. */
export interface LoadCheckpointOptions {
  /** Check that the checkpoint fits this model (keys and shapes), naming every mismatch. */
  model?: Module;
}

/** A checkpoint read from disk, with the directory it came from. */
export interface LoadedCheckpoint extends Checkpoint {
  /** The directory read: `dir`, or `<dir>.prev` when a save was interrupted between its renames. */
  path: string;
}

async function readPart(dir: string, file: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(join(dir, file));
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    if (isNotFound(e))
      throw new CheckpointError(
        `loadCheckpoint: ${join(dir, file)} is missing; a checkpoint directory holds ${Object.values(CHECKPOINT_FILES).join(', ')}`,
      );
    throw e;
  }
}

function parseWeights(
  dir: string,
  file: string,
  bytes: Uint8Array,
  state: CheckpointState,
  expected: Record<string, TensorInfo>,
): Record<string, Tensor> {
  const recorded = state.files?.[file];
  if (recorded) {
    if (recorded.bytes !== bytes.byteLength)
      throw new CheckpointError(
        `loadCheckpoint: ${join(dir, file)} is corrupt: ${bytes.byteLength} bytes, ${CHECKPOINT_FILES.state} recorded ${recorded.bytes}`,
      );
    if (recorded.sha256 !== sha256(bytes))
      throw new CheckpointError(
        `loadCheckpoint: ${join(dir, file)} is corrupt: its SHA-256 differs from the one ${CHECKPOINT_FILES.state} recorded`,
      );
  }
  let tensors: Record<string, Tensor>;
  try {
    tensors = parseSafetensors(bytes).tensors;
  } catch (e) {
    throw new CheckpointError(
      `loadCheckpoint: ${join(dir, file)} is corrupt: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const problems = describeMismatch(
    expected,
    tensorInfos(tensors),
    { expected: CHECKPOINT_FILES.state, actual: file },
    true,
  );
  if (problems.length)
    throw new CheckpointError(
      `loadCheckpoint: ${join(dir, file)} does not match ${CHECKPOINT_FILES.state} (files from different checkpoints?):\n  ${problems.join('\n  ')}`,
    );
  return tensors;
}

/**
 * Reads and validates the checkpoint directory `dir` (or `<dir>.prev`, left complete by a save
 * that was interrupted between its two renames). Throws CheckpointError naming the file for a
 * missing or corrupt file (wrong size or checksum, bad safetensors or JSON), files that do not
 * match each other, or — with `options.model` — a checkpoint of another model (naming the
 * missing, unexpected and mis-shaped keys).
 *
 * @example
 * const ckpt = await loadCheckpoint('runs/exp1/best', { model });
 * model.loadStateDict(ckpt.model); // or trainer.loadCheckpoint(ckpt) to resume training
 */
export async function loadCheckpoint(
  dir: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  let path = dir;
  if (!(await exists(join(dir, CHECKPOINT_FILES.state)))) {
    const prev = `${dir}.prev`;
    if (await exists(join(prev, CHECKPOINT_FILES.state))) path = prev;
    else
      throw new CheckpointError(
        (await exists(dir))
          ? `loadCheckpoint: ${join(dir, CHECKPOINT_FILES.state)} is missing: ${dir} is not a (complete) checkpoint`
          : `loadCheckpoint: no checkpoint at ${dir} (the directory does not exist)`,
      );
  }
  const stateText = new TextDecoder().decode(await readPart(path, CHECKPOINT_FILES.state));
  let raw: unknown;
  try {
    raw = JSON.parse(stateText);
  } catch (e) {
    throw new CheckpointError(
      `loadCheckpoint: ${join(path, CHECKPOINT_FILES.state)} is corrupt: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const state = validateCheckpointState(raw, join(path, CHECKPOINT_FILES.state));
  const modelBytes = await readPart(path, CHECKPOINT_FILES.model);
  const optimizerBytes = await readPart(path, CHECKPOINT_FILES.optimizer);
  const model = parseWeights(path, CHECKPOINT_FILES.model, modelBytes, state, state.model);
  const optimizer = parseWeights(
    path,
    CHECKPOINT_FILES.optimizer,
    optimizerBytes,
    state,
    state.optimizer.tensors,
  );
  if (options.model) checkModelCompatible(options.model, model, `checkpoint ${path}`);
  return { model, optimizer, state, path };
}

/**
 * A checkpoint sink for the trainer's `onCheckpoint`: writes each checkpoint to `<root>/<kind>`
 * (`best`, `last`) with `saveCheckpoint`.
 *
 * @example
 * new nb.train.Trainer({ ...options, checkpointEvery: 100, onCheckpoint: checkpointWriter('runs/exp1') });
 */
export function checkpointWriter(
  root: string,
): (ckpt: Checkpoint, info: CheckpointInfo) => Promise<void> {
  return (ckpt, info) => saveCheckpoint(join(root, info.kind), ckpt);
}

/** Options of `jsonlFileSink`. */
export interface JsonlFileSinkOptions {
  /**
   * Resuming from a checkpoint taken after `resumeStep` updates: drop the lines logged after it
   * by the run that is being resumed (training lines with step >= resumeStep, evaluation lines
   * with step > resumeStep, and a torn last line), so the log reads as one uninterrupted run.
   */
  resumeStep?: number;
  /** Start a new file instead of appending to an existing one (default false). */
  truncate?: boolean;
}

/**
 * A metrics sink that appends each record as one JSON line to the file `path` (created with its
 * directory).
 *
 * @example
 * const onMetrics = await jsonlFileSink('runs/exp1/metrics.jsonl');
 */
export async function jsonlFileSink(
  path: string,
  options: JsonlFileSinkOptions = {},
): Promise<MetricsSink> {
  await mkdir(dirname(path), { recursive: true });
  if (options.truncate) {
    await writeFile(path, '');
  } else if (options.resumeStep !== undefined && (await exists(path))) {
    const n = options.resumeStep;
    const kept: string[] = [];
    for (const line of (await readFile(path, 'utf8')).split('\n')) {
      let r: MetricsRecord;
      try {
        r = JSON.parse(line) as MetricsRecord;
      } catch {
        continue;
      }
      if (r.kind === 'train' ? r.step < n : r.step <= n) kept.push(line + '\n');
    }
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeDurable(tmp, kept.join(''));
    await rename(tmp, path);
  }
  return (record) => appendFile(path, toJsonLine(record));
}
