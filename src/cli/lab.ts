/// <reference types="node" />
/**
 * `nabla lab <experiment>`: runs a lab instrument (src/lab/experiments.ts), prints its numbers,
 * and writes its plots (SVG), `numbers.json` and one self-contained `report.html` through
 * src/lab/node/run.ts (shared with scripts/lab.ts). `attention-maps` opens a checkpoint of
 * `nabla train` (a GPT language model or an encoder–decoder Transformer), runs it on a text and
 * reports the attention weights of every layer and head (src/lab/attention-maps.ts).
 */
import { join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import * as nb from '../index.node.js';
import { attentionMaps, attentionMapsReport } from '../lab/attention-maps.js';
import { checkLabSize, LAB_SIZE_OPTIONS, type LabRunOptions } from '../lab/experiments.js';
import { runLab, type LabJob } from '../lab/node/run.js';
import { openTrainedRun } from './checkpoints.js';
import { CliError, UsageError } from './errors.js';

/** The experiments of `nabla lab`, in the order `all` runs them. */
export const LAB_COMMAND_EXPERIMENTS = [
  ...(Object.keys(nb.lab.LAB_EXPERIMENTS) as nb.lab.LabExperimentId[]),
  'attention-maps',
] as const;

/** The text attention-maps reads when --text is not given (language models, translation). */
export const DEFAULT_LAB_TEXT = 'First Citizen: Before we proceed any further, hear me speak.';

export interface LabCommandOptions {
  experiment: string;
  out?: string;
  quick?: boolean;
  seed?: number;
  /** Size options (LabRunOptions keys) given on the command line. */
  sizes?: Omit<LabRunOptions, 'quick' | 'seed'>;
  checkpoint?: string;
  text?: string;
  maxTokens?: number;
  /** Receives the printed text (default: stdout). */
  print?: (text: string) => void;
}

type Tokenizer = nb.data.Tokenizer;

/** The label of one token id: a special token's name, else its decoded text. */
function tokenLabel(tokenizer: Tokenizer, id: number): string {
  if (id < tokenizer.specialTokens.length) return tokenizer.specialTokens[id]!;
  return tokenizer.decode([id]);
}

function encodeText(tokenizer: Tokenizer, text: string, what: string): number[] {
  try {
    return tokenizer.encode(text);
  } catch (e) {
    throw new CliError(
      `${what}: ${e instanceof Error ? e.message.replace(/^CharTokenizer\.encode: /, '') : String(e)}`,
    );
  }
}

/** The attention-maps report of a checkpoint on a text. */
async function attentionMapsJob(o: LabCommandOptions): Promise<LabJob> {
  if (o.checkpoint === undefined)
    throw new UsageError(
      'nabla lab attention-maps needs a trained model: --checkpoint <dir>, a run of nabla train with a GPT language model (--task lm) or an encoder–decoder Transformer (the default task, or --task translate); e.g. nabla train --preset tiny --out runs/tiny, then nabla lab attention-maps --checkpoint runs/tiny',
    );
  const t0 = performance.now();
  const { run, opened } = await openTrainedRun(
    o.checkpoint,
    ['lm', 'translate', 'synthetic'],
    'lab attention-maps',
  );
  const model = run.model;
  const maxTokens = o.maxTokens ?? (o.quick ? 16 : 32);
  const state = run.tokenizer;
  let result: nb.lab.AttentionMapsResult;
  let description: string;
  if ('lm' in state) {
    if (!(model instanceof nb.models.GPT))
      throw new CliError(
        `checkpoint ${opened.dir} holds a recurrent language model (${run.config.model.type}), which has no attention; attention-maps needs a GPT (nabla train --task lm --model gpt) or an encoder–decoder Transformer`,
      );
    const tokenizer = nb.data.tokenizerFromJSON(state.lm);
    let ids: number[];
    let source: string;
    if (o.text !== undefined) {
      ids = encodeText(tokenizer, o.text, '--text');
      source = 'the given text';
    } else {
      try {
        ids = tokenizer.encode(DEFAULT_LAB_TEXT);
        source = 'the built-in text';
      } catch {
        // The built-in text is outside this vocabulary: read the model's own greedy continuation.
        ids = greedyText(model, tokenizer, maxTokens);
        source =
          'the model’s own greedy continuation of a newline (the built-in text does not fit its vocabulary)';
      }
    }
    if (ids.length === 0) throw new CliError('--text: the text has no tokens');
    const limit = Math.min(maxTokens, model.config.blockSize);
    const kept = ids.slice(0, limit);
    description = `GPT from ${opened.dir}, ${source}${kept.length < ids.length ? `, its first ${kept.length} of ${ids.length} tokens` : ''}`;
    result = attentionMaps(model, kept, { labels: kept.map((id) => tokenLabel(tokenizer, id)) });
  } else {
    const seq2seq = model as nb.models.TransformerSeq2Seq;
    const src = nb.data.tokenizerFromJSON(state.src);
    const tgt = nb.data.tokenizerFromJSON(state.tgt);
    const text =
      o.text ??
      (run.config.task === 'synthetic'
        ? syntheticText(run.config.data.synthetic, run.config.data.maxLength)
        : DEFAULT_LAB_TEXT);
    const ids = encodeText(
      src,
      text,
      o.text === undefined ? 'the built-in text (pass --text)' : '--text',
    );
    const limit = Math.min(maxTokens, seq2seq.config.maxLen) - 2;
    const row = [src.specialTokenId('<bos>'), ...ids.slice(0, limit), src.specialTokenId('<eos>')];
    const bos = tgt.specialTokenId('<bos>');
    const eos = tgt.specialTokenId('<eos>');
    const x = nb.tensor(Int32Array.from(row), { shape: [1, row.length] });
    const maxLen = Math.min(maxTokens - 1, seq2seq.config.maxLen - 1, 2 * ids.length + 10);
    const [out] = seq2seq.decode(x, { bos, eos, maxLen });
    const target = [bos, ...out!];
    const cut = ids.length > limit ? ` (its first ${limit} of ${ids.length} tokens)` : '';
    description = `TransformerSeq2Seq from ${opened.dir} on ${JSON.stringify(text)}${cut}; the decoder reads its own greedy output ${JSON.stringify(tgt.decode(out!, { skipSpecialTokens: true }))}`;
    result = attentionMaps(seq2seq, row, {
      labels: row.map((id) => tokenLabel(src, id)),
      target,
      targetLabels: target.map((id) => tokenLabel(tgt, id)),
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  return { id: 'attention-maps', run: () => attentionMapsReport(result, { description, seconds }) };
}

/** A source sequence for the synthetic task (digits within its maxLength). */
function syntheticText(task: string, maxLength: number): string {
  return task === 'add' ? '123+45=' : '31415926'.slice(0, Math.max(1, maxLength));
}

/** `n` tokens the model writes greedily after a newline (or token 0). */
function greedyText(model: nb.models.GPT, tokenizer: Tokenizer, n: number): number[] {
  let start = 0;
  try {
    const nl = tokenizer.encode('\n');
    if (nl.length === 1) start = nl[0]!;
  } catch {
    // no newline in the alphabet
  }
  const T = Math.min(n, model.config.blockSize);
  return nb.scope(() => {
    const out = model.generate(nb.tensor([[start]], { dtype: 'int32' }), T - 1, {
      temperature: 0,
    });
    return Array.from(out.dataSync(), Number);
  });
}

/** Where a command writes by default. */
function defaultOut(experiment: string): string {
  return join('lab-out', experiment);
}

/** `nabla lab`: runs the experiment(s), prints the numbers, writes the report; returns 0. */
export async function labCommand(o: LabCommandOptions): Promise<number> {
  const valid = [...LAB_COMMAND_EXPERIMENTS, 'all'];
  if (!valid.includes(o.experiment))
    throw new UsageError(`unknown experiment '${o.experiment}'; choose one of ${valid.join(', ')}`);
  const print = o.print ?? ((s: string) => void process.stdout.write(`${s}\n`));
  const ids: string[] =
    o.experiment === 'all'
      ? LAB_COMMAND_EXPERIMENTS.filter((e) => e !== 'attention-maps' || o.checkpoint !== undefined)
      : [o.experiment];
  const sizes = o.sizes ?? {};
  for (const s of LAB_SIZE_OPTIONS) {
    if (sizes[s.key] === undefined) continue;
    if (!s.experiments.some((e) => ids.includes(e)))
      throw new UsageError(`${s.flag} applies to ${s.experiments.join(', ')}, not ${o.experiment}`);
  }
  const usesModel = ids.includes('attention-maps');
  for (const [flag, v] of [
    ['--text', o.text],
    ['--max-tokens', o.maxTokens],
    ['--checkpoint', o.checkpoint],
  ] as const)
    if (v !== undefined && !usesModel)
      throw new UsageError(`${flag} applies to attention-maps, not ${o.experiment}`);

  const runOptions: LabRunOptions = { ...sizes, quick: o.quick ?? false, seed: o.seed ?? 0 };
  const jobs: LabJob[] = [];
  for (const id of ids) {
    jobs.push(
      id === 'attention-maps'
        ? await attentionMapsJob(o)
        : { id, run: () => nb.lab.runLabExperiment(id, runOptions) },
    );
  }
  if (o.experiment === 'all' && !usesModel)
    print('(attention-maps skipped: it needs --checkpoint <dir>)');
  const out = o.out ?? defaultOut(o.experiment);
  await runLab(jobs, {
    out,
    print,
    title: `nabla lab ${o.experiment}`,
    subtitle: `Generated by nabla lab ${o.experiment}${o.quick ? ' --quick' : ''}: each section restates a claim of the theory, then shows what nabla measures.`,
  });
  return 0;
}

// ---- Command-line registration -------------------------------------------------------------------

function intArg(min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    return n;
  };
}

/** A commander parser for a size option, checked with the lab's own rules. */
function sizeArg(
  key: nb.lab.LabSizeOption['key'],
  kind: 'int' | 'intList',
): (v: string) => number | number[] {
  return (v) => {
    const parts = v.split(',').map((p) => p.trim());
    const values = parts.map(Number);
    if (
      parts.some((p) => p === '') ||
      values.some((x) => !Number.isFinite(x)) ||
      (kind === 'int' && values.length !== 1)
    )
      throw new InvalidArgumentError(
        kind === 'int' ? 'expected an integer' : 'expected integers separated by commas',
      );
    try {
      checkLabSize(key, kind === 'int' ? values[0]! : values);
    } catch (e) {
      throw new InvalidArgumentError(
        e instanceof Error ? e.message.replace(/^lab: \w+ /, '') : String(e),
      );
    }
    return kind === 'int' ? values[0]! : values;
  };
}

/** Registers `nabla lab` on the program; `done` receives the exit status. */
export function addLabCommand(program: Command, done: (code: number) => void): void {
  const cmd = program
    .command('lab')
    .description(
      'run a lab instrument: print its numbers, write SVG plots and one self-contained HTML report',
    )
    .argument('<experiment>', `${LAB_COMMAND_EXPERIMENTS.join(', ')}, or all`)
    .option('--out <dir>', 'output directory (default lab-out/<experiment>)')
    .option('--quick', 'smaller, faster sizes (seconds)')
    .option('--seed <n>', 'random seed', intArg(0), 0)
    .option(
      '--checkpoint <dir>',
      'attention-maps: run directory of nabla train (a GPT language model or an encoder–decoder Transformer)',
    )
    .option(
      '--text <text>',
      'attention-maps: the text to read (default: digits for the synthetic task, else a line of Shakespeare; a GPT whose alphabet lacks it reads its own greedy text)',
    )
    .option(
      '--max-tokens <n>',
      'attention-maps: read at most n tokens (default 32; 16 with --quick)',
      intArg(2),
    );
  for (const s of LAB_SIZE_OPTIONS) {
    const arg = s.kind === 'int' ? '<n>' : '<list>';
    cmd.addOption(
      new Option(`${s.flag} ${arg}`, `${s.experiments.join(', ')}: ${s.help}`).argParser(
        sizeArg(s.key, s.kind),
      ),
    );
  }
  cmd.addHelpText(
    'after',
    '\nOutputs: <out>/report.html (theory, tables and plots side by side), <out>/numbers.json, one SVG per plot (no PNG).\n' +
      'attention-maps does not train a model: train one first, e.g.\n' +
      '  nabla train --preset tiny --out runs/tiny\n' +
      '  nabla lab attention-maps --checkpoint runs/tiny --text "12345"',
  );
  cmd.action(async (experiment: string, opts: Record<string, unknown>) => {
    const sizes: Record<string, unknown> = {};
    for (const s of LAB_SIZE_OPTIONS) if (opts[s.key] !== undefined) sizes[s.key] = opts[s.key];
    done(
      await labCommand({
        experiment,
        sizes: sizes as LabCommandOptions['sizes'],
        quick: opts.quick === true,
        seed: opts.seed as number,
        ...(typeof opts.out === 'string' ? { out: opts.out } : {}),
        ...(typeof opts.checkpoint === 'string' ? { checkpoint: opts.checkpoint } : {}),
        ...(typeof opts.text === 'string' ? { text: opts.text } : {}),
        ...(typeof opts.maxTokens === 'number' ? { maxTokens: opts.maxTokens } : {}),
      }),
    );
  });
}
