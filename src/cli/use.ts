/// <reference types="node" />
/**
 * The commands that use a trained run: `nabla sample` (continue a prompt with a language
 * model), `nabla translate` (lines from the arguments or stdin through a sequence-to-sequence
 * model, greedy or beam search) and `nabla eval` (the held-out evaluation: loss and perplexity
 * for a language model, exact match for the synthetic task, BLEU beside a copy baseline for
 * translation).
 */
import { createInterface } from 'node:readline';
import { openTrainedRun } from './checkpoints.js';
import type { Override } from './config.js';
import { CliError } from './errors.js';
import { sampleText, translateLines } from './run.js';

/** Options of `nabla sample`. */
export interface SampleCommandOptions {
  checkpoint: string;
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
  numSamples: number;
}

/** `nabla sample`: prints `numSamples` continuations of the prompt, separated by a rule. */
export async function sampleCommand(o: SampleCommandOptions): Promise<number> {
  const { run } = await openTrainedRun(o.checkpoint, ['lm'], 'sample');
  for (let i = 0; i < o.numSamples; i++) {
    const text = sampleText(run, {
      prompt: o.prompt,
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      seed: o.seed + i,
      ...(o.topK !== undefined ? { topK: o.topK } : {}),
      ...(o.topP !== undefined ? { topP: o.topP } : {}),
    });
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    if (i + 1 < o.numSamples) process.stdout.write('---------------\n');
  }
  return 0;
}

/** Reads non-empty lines from stdin. */
async function stdinLines(): Promise<string[]> {
  const lines: string[] = [];
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) if (line.trim() !== '') lines.push(line);
  return lines;
}

/** Options of `nabla translate`. */
export interface TranslateCommandOptions {
  checkpoint: string;
  sentences: string[];
  beam: number;
}

/** `nabla translate`: one output line per input line. */
export async function translateCommand(o: TranslateCommandOptions): Promise<number> {
  const { run } = await openTrainedRun(o.checkpoint, ['translate', 'synthetic'], 'translate');
  let sentences = o.sentences;
  if (sentences.length === 0) {
    if (process.stdin.isTTY)
      throw new CliError(
        'nothing to translate: give sentences as arguments, or pipe lines into nabla translate',
        2,
      );
    sentences = await stdinLines();
  }
  for (const line of translateLines(run, sentences, o.beam)) process.stdout.write(`${line}\n`);
  return 0;
}

/** Options of `nabla eval`. */
export interface EvalCommandOptions {
  checkpoint: string;
  beam: number;
  maxBatches?: number;
  overrides: Override[];
}

/** `nabla eval`: the held-out evaluation of a trained run, as at the end of training. */
export async function evalCommand(o: EvalCommandOptions): Promise<number> {
  const { run, opened } = await openTrainedRun(
    o.checkpoint,
    ['lm', 'translate', 'synthetic'],
    'eval',
    {
      loadData: true,
      overrides: o.overrides,
    },
  );
  process.stdout.write(
    `evaluating ${opened.dir} (step ${opened.checkpoint.state.step}): ${run.describe()}\n`,
  );
  const { lines } = run.evaluate({
    beam: o.beam,
    ...(o.maxBatches !== undefined ? { maxBatches: o.maxBatches } : {}),
  });
  for (const l of lines) process.stdout.write(`${l}\n`);
  return 0;
}
