/// <reference types="node" />
/**
 * Training progress on the terminal: on a TTY a progress bar (cli-progress) with the step, the
 * loss, tokens per second and the estimated time left, with evaluation lines printed above it;
 * elsewhere (CI, a pipe, a log file) plain lines every `logEvery` steps, which read well in a log.
 */
import cliProgress from 'cli-progress';
import type * as nb from '../index.node.js';

type TrainRecord = nb.train.TrainRecord;

/** Formats seconds as `1h02m`, `3m05s` or `12.3s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

/** A number of tokens per second, e.g. `12.3k`. */
function formatRate(r: number): string {
  return r >= 1e4 ? `${(r / 1e3).toFixed(1)}k` : r.toFixed(0);
}

/** What the train command reports progress to. */
export interface Progress {
  /** Training begins (or resumes at `startStep`) towards `total` updates. */
  start(startStep: number, total: number): void;
  /** After each update. */
  step(record: TrainRecord): void;
  /** A line of its own (evaluations, notes); printed above the bar on a TTY. */
  line(text: string): void;
  /** Training ended (or was interrupted). */
  stop(): void;
}

/** Writes lines to stdout. */
function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Plain log lines: step, loss, learning rate, tokens/s, elapsed time and ETA. */
class LineProgress implements Progress {
  private total = 0;
  private startStep = 0;
  private t0 = 0;
  private tokens = 0;
  private seconds = 0;
  private steps = 0;

  constructor(private readonly every: number) {}

  start(startStep: number, total: number): void {
    this.total = total;
    this.startStep = startStep;
    this.t0 = performance.now();
  }

  step(r: TrainRecord): void {
    const done = r.step + 1;
    this.tokens += r.tokens;
    this.seconds += r.stepTime;
    this.steps++;
    if (done % this.every !== 0 && done !== this.total && r.step !== this.startStep) return;
    const elapsed = (performance.now() - this.t0) / 1000;
    const perStep = elapsed / Math.max(1, done - this.startStep);
    const eta = perStep * (this.total - done);
    // Rates over the updates since the last line (single steps are noisy).
    print(
      `step ${done}/${this.total} | loss ${r.loss.toFixed(4)} | lr ${r.lr.toExponential(2)} | ` +
        `${formatRate(this.tokens / this.seconds)} tok/s | ${((1000 * this.seconds) / this.steps).toFixed(0)} ms/step | ETA ${formatDuration(eta)}`,
    );
    this.tokens = 0;
    this.seconds = 0;
    this.steps = 0;
  }

  line(text: string): void {
    print(text);
  }

  stop(): void {}
}

/** A progress bar on stderr (cli-progress), lines printed above it. */
class BarProgress implements Progress {
  private readonly multi = new cliProgress.MultiBar(
    {
      format:
        'step {value}/{total} [{bar}] {percentage}% | loss {loss} (avg) | {rate} tok/s | ETA {eta_formatted}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  private bar: cliProgress.SingleBar | null = null;
  private loss: number | null = null;
  private rate: number | null = null;

  start(startStep: number, total: number): void {
    this.bar = this.multi.create(total, startStep, { loss: '-', rate: '-' });
  }

  step(r: TrainRecord): void {
    // Exponential moving averages: a bar redrawn every step should not flicker.
    this.loss = this.loss === null ? r.loss : 0.9 * this.loss + 0.1 * r.loss;
    this.rate = this.rate === null ? r.tokensPerSec : 0.9 * this.rate + 0.1 * r.tokensPerSec;
    this.bar?.update(r.step + 1, { loss: this.loss.toFixed(4), rate: formatRate(this.rate) });
  }

  line(text: string): void {
    if (this.bar) this.multi.log(text.endsWith('\n') ? text : `${text}\n`);
    else print(text);
  }

  stop(): void {
    this.multi.stop();
    this.bar = null;
  }
}

/**
 * A progress bar when stderr is a terminal (and CI is not set), else log lines every
 * `logEvery` steps (0: about 20 lines over `maxSteps`).
 */
export function createProgress(logEvery: number, maxSteps: number): Progress {
  const every = logEvery > 0 ? logEvery : Math.max(1, Math.round(maxSteps / 20));
  const tty = process.stderr.isTTY === true && !process.env.CI;
  return tty ? new BarProgress() : new LineProgress(every);
}
