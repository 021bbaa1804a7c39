/// <reference types="node" />
/**
 * `nabla train`: resolves the run config, builds the run (src/cli/run.ts), and drives
 * `nb.train.Trainer` with the Node sinks of src/io/node/checkpoint.ts — checkpoints in
 * `<out>/last` and `<out>/best`, the metrics log `<out>/metrics.jsonl`, the resolved config
 * `<out>/config.json` — then evaluates and writes the loss curve `<out>/loss.svg`. Ctrl-C
 * (SIGINT) finishes the current update, saves `<out>/last` and exits with status 130; the run
 * continues with `nabla train --resume <out>`.
 *
 * Run directory:
 *   <out>/config.json     the resolved RunConfig
 *   <out>/metrics.jsonl   one JSON line per update and per evaluation
 *   <out>/last/           the latest checkpoint (model.safetensors, optimizer.safetensors, state.json)
 *   <out>/best/           the checkpoint with the best evaluation
 *   <out>/loss.svg        training and validation loss against the step
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import * as nb from '../index.node.js';
import { checkpointWriter, jsonlFileSink, saveCheckpoint } from '../io/node/checkpoint.js';
import { resolveConfig, type Override, type RunConfig } from './config.js';
import { CliError, EXIT_INTERRUPTED } from './errors.js';
import { checkFits, openCheckpoint } from './checkpoints.js';
import { writeLossPlot } from './plot.js';
import { createProgress } from './progress.js';
import { buildRun, scheduleOf, type TrainerHandle } from './run.js';

/** Options of the train command (after argument parsing). */
export interface TrainCommandOptions {
  preset?: string;
  overrides: Override[];
  out?: string;
  resume?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** runs/<local date and time>, e.g. runs/2026-11-26_21-30-05. */
function defaultOutDir(): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  return join(
    'runs',
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}`,
  );
}

/** Formats evaluation metrics, e.g. `valLoss 0.3120, exactMatch 0.9650`. */
function formatMetrics(m: Record<string, number>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 1e4 ? v.toExponential(3) : v.toFixed(4)}`)
    .join(', ');
}

/** The JSON form of a config (for the checkpoint). */
function asJson(config: RunConfig): nb.train.JsonValue {
  return JSON.parse(JSON.stringify(config)) as nb.train.JsonValue;
}

/**
 * Runs `nabla train`. Resolves with the process exit status (0, or 130 after an interrupt).
 */
export async function trainCommand(o: TrainCommandOptions): Promise<number> {
  let config: RunConfig;
  let resumeFrom: Awaited<ReturnType<typeof openCheckpoint>> | null = null;
  let out: string;
  if (o.resume !== undefined) {
    if (o.preset !== undefined)
      throw new CliError('--preset cannot be combined with --resume (the run keeps its config)', 2);
    resumeFrom = await openCheckpoint(o.resume);
    config = resolveConfig({ base: resumeFrom.config, overrides: o.overrides });
    out = o.out ?? resumeFrom.runDir;
  } else {
    config = resolveConfig({ preset: o.preset, overrides: o.overrides });
    out = o.out ?? defaultOutDir();
    if (await exists(join(out, 'last')))
      throw new CliError(
        `${out} already holds a run; continue it with --resume ${out}, or choose another --out`,
      );
  }
  if (config.data.path !== '') config.data.path = resolvePath(config.data.path);

  const run = await buildRun(config, {
    loadData: true,
    ...(resumeFrom ? { tokenizer: resumeFrom.tokenizer } : {}),
  });
  if (resumeFrom) checkFits(run, resumeFrom, 'cannot resume');
  const progress = createProgress(config.train.logEvery, config.train.maxSteps);
  progress.line(`${resumeFrom ? 'resuming' : 'training'} ${run.describe()}`);
  progress.line(`backend ${nb.getBackend().name}; run directory ${out}`);

  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const metricsPath = join(out, 'metrics.jsonl');
  const onMetrics = await jsonlFileSink(
    metricsPath,
    resumeFrom ? { resumeStep: resumeFrom.checkpoint.state.step } : { truncate: true },
  );
  const t = config.train;
  const evalEvery = t.evalEvery > 0 ? t.evalEvery : undefined;
  const writeCheckpoint = checkpointWriter(out);

  let trainer: TrainerHandle;
  try {
    trainer = run.createTrainer({
      maxSteps: t.maxSteps,
      lr: scheduleOf(config),
      evalEvery,
      checkpointEvery: t.checkpointEvery > 0 ? t.checkpointEvery : evalEvery,
      onCheckpoint: writeCheckpoint,
      onMetrics,
      onStep: async ({ record }) => {
        progress.step(record);
        // Let the event loop run (a SIGINT handler, file writes) between synchronous updates.
        await new Promise<void>((r) => setImmediate(r));
      },
      onEval: ({ step, metrics, improved }) =>
        progress.line(
          `eval at step ${step}: ${formatMetrics(metrics)}${improved ? ' (best so far)' : ''}`,
        ),
      config: asJson(config),
      extra: { nabla: 'train', task: config.task },
      ...(resumeFrom ? { resume: resumeFrom.checkpoint } : {}),
    });
  } catch (e) {
    if (e instanceof nb.train.CheckpointError && resumeFrom)
      throw new CliError(
        `cannot resume from ${resumeFrom.dir}: ${e.message.replace(/^checkpoint(?: \(state\))?:? ?/, '')}`,
      );
    throw e;
  }

  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(EXIT_INTERRUPTED); // a second Ctrl-C: leave without saving
    interrupted = true;
    trainer.stop();
    progress.line(
      'interrupted: finishing this update and saving a checkpoint (Ctrl-C again to quit at once)',
    );
  };
  process.on('SIGINT', onSigint);
  const started = performance.now();
  let result: nb.train.TrainResult;
  try {
    progress.start(trainer.step, t.maxSteps);
    if (trainer.step >= t.maxSteps)
      progress.line(
        `the run already made ${trainer.step} updates (train.maxSteps ${t.maxSteps}); raise --max-steps to train further`,
      );
    result = await trainer.run();
  } catch (e) {
    if (e instanceof nb.train.NonFiniteError) {
      // The weights are those from before the bad update: keep them for a resume with a lower lr.
      await saveCheckpoint(join(out, 'last'), trainer.checkpoint());
      throw new CliError(
        `${e.message.replace(/\. Lower the learning rate.*$/s, '')}; saved the run at step ${trainer.step} to ${join(out, 'last')}: ` +
          `resume with a lower learning rate, e.g. nabla train --resume ${out} --train.lr=${(t.lr / 3).toPrecision(2)}`,
      );
    }
    throw e;
  } finally {
    progress.stop();
    process.off('SIGINT', onSigint);
  }
  const seconds = (performance.now() - started) / 1000;

  await saveCheckpoint(join(out, 'last'), trainer.checkpoint());
  await writeLossPlot(metricsPath, join(out, 'loss.svg'), config);
  if (interrupted) {
    process.stderr.write(
      `nabla: interrupted at step ${result.step}/${t.maxSteps}; saved a resumable checkpoint to ${join(out, 'last')} ` +
        `(continue with: nabla train --resume ${out})\n`,
    );
    return EXIT_INTERRUPTED;
  }
  const line = (s: string): void => void process.stdout.write(`${s}\n`);
  line(
    `trained ${result.step} updates in ${seconds.toFixed(1)} s; final training loss ${Number.isFinite(result.lastLoss) ? result.lastLoss.toFixed(4) : '-'}`,
  );
  // Language models: a capped evaluation here (nabla eval reads the whole validation split).
  const { lines } = run.evaluate({ maxBatches: Math.max(50, t.evalIters) });
  for (const l of lines) line(l);
  line(
    `checkpoint ${join(out, 'last')}, config ${join(out, 'config.json')}, metrics ${metricsPath}, plot ${join(out, 'loss.svg')}`,
  );
  return 0;
}
