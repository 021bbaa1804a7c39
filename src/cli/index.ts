#!/usr/bin/env node
/// <reference types="node" />
/**
 * The `nabla` command: train, sample from, translate with and evaluate models from the shell.
 * Argument parsing only (commander); every command calls the library through src/cli/run.ts.
 *
 *   nabla train                                  a small Transformer on digit-string reversal
 *   nabla train --task lm --data input.txt       a character-level GPT (--model lstm|gru|rnn, --tokenizer bpe)
 *   nabla train --task translate --data pairs.tsv
 *   nabla train --preset baby-shakespeare --data tinyshakespeare.txt --model.nLayer=6
 *   nabla train --resume runs/<dir>               continue an (interrupted) run
 *   nabla sample --checkpoint runs/<dir> --prompt "ROMEO:"
 *   nabla translate --checkpoint runs/<dir> "How are you?"
 *   nabla eval --checkpoint runs/<dir>
 *   nabla lab residual-init --out lab-out     a lab instrument: numbers, SVG plots, report.html
 *   nabla lab attention-maps --checkpoint runs/<dir> --text "..."
 *
 * Dotted options (`--model.nLayer=4`, `--train.lr 3e-4`) override any key of the run config
 * (src/cli/config.ts); an unknown key or a value of the wrong type is an error that lists the
 * valid keys. Errors are one line on stderr with a non-zero exit status (see src/cli/errors.ts).
 */
import { createRequire } from 'node:module';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as nb from '../index.node.js';
import { configKeys, extractDotted, PRESET_NAMES, type Override } from './config.js';
import { exitCodeOf, isUserError, oneLine, UsageError } from './errors.js';
import { addLabCommand } from './lab.js';
import { trainCommand } from './train.js';
import { evalCommand, sampleCommand, translateCommand } from './use.js';

/** The package's version (src/cli and dist/cli are both two levels below package.json). */
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string })
  .version;

function positiveInt(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError('expected an integer >= 0');
  return n;
}

function nonNegativeNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

function probability(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !(n > 0 && n <= 1))
    throw new InvalidArgumentError('expected a number in (0, 1]');
  return n;
}

/** Shortcut flags of `nabla train` and the config keys they set. */
const TRAIN_FLAGS: readonly [option: string, key: string, flag: string][] = [
  ['task', 'task', '--task'],
  ['data', 'data.path', '--data'],
  ['tokenizer', 'data.tokenizer', '--tokenizer'],
  ['synthetic', 'data.synthetic', '--synthetic'],
  ['model', 'model.type', '--model'],
  ['maxSteps', 'train.maxSteps', '--max-steps'],
  ['evalEvery', 'train.evalEvery', '--eval-every'],
  ['batchSize', 'train.batchSize', '--batch-size'],
  ['lr', 'train.lr', '--lr'],
  ['seed', 'seed', '--seed'],
];

/** The shortcut flags' overrides (in TRAIN_FLAGS order), then the dotted ones. */
function overridesOf(opts: Record<string, unknown>, dotted: readonly Override[]): Override[] {
  const out: Override[] = [];
  for (const [name, key, flag] of TRAIN_FLAGS) {
    const v = opts[name];
    if (v !== undefined) out.push({ key, value: String(v), flag });
  }
  return [...out, ...dotted];
}

/** The command-line program; `run(code)` receives each command's exit status. */
function program(dotted: Override[], done: (code: number) => void): Command {
  const cmd = new Command('nabla')
    .description('Train, sample from and evaluate nabla models.')
    .version(VERSION)
    .addOption(
      new Option(
        '--backend <name>',
        'compute backend for this run (default: native when built, else ref; env NABLA_BACKEND)',
      ),
    )
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  cmd.hook('preAction', (self) => {
    const backend = self.opts<{ backend?: string }>().backend;
    if (backend !== undefined) nb.setBackend(backend);
  });
  cmd.hook('preAction', (_self, action) => {
    if (dotted.length > 0 && action.name() !== 'train' && action.name() !== 'eval')
      throw new UsageError(
        `config overrides such as ${dotted[0]!.flag} apply to nabla train and nabla eval, not nabla ${action.name()}`,
      );
  });

  cmd
    .command('train')
    .description(
      'train a model: by default a small encoder-decoder Transformer on a synthetic task (digit-string reversal)',
    )
    .option('--task <task>', 'synthetic (default), lm or translate')
    .option('--data <file>', 'text file (lm) or TSV of sentence pairs (translate)')
    .option('--tokenizer <kind>', 'char or bpe (lm, translate)')
    .option('--model <type>', 'gpt, lstm, gru or rnn (lm); transformer (synthetic, translate)')
    .option('--synthetic <name>', 'the synthetic task: reverse, sort or add')
    .option('--preset <name>', `size preset: ${PRESET_NAMES.join(', ')}`)
    .option('--out <dir>', 'run directory (default runs/<date>_<time>)')
    .option('--resume <dir>', 'continue the run in <dir> (its config, plus any overrides)')
    .option('--max-steps <n>', 'updates in total (train.maxSteps)')
    .option('--eval-every <n>', 'evaluate every n updates (train.evalEvery)')
    .option('--batch-size <n>', 'batch size (train.batchSize)')
    .option('--lr <x>', 'peak learning rate (train.lr)')
    .option('--seed <n>', 'random seed')
    .addHelpText(
      'after',
      `\nConfig overrides: --<section>.<key>=<value>, e.g. --model.nLayer=4 --train.lr=3e-4\nKeys: ${configKeys().join(', ')}`,
    )
    .action(async (opts: Record<string, unknown>) => {
      done(
        await trainCommand({
          overrides: overridesOf(opts, dotted),
          ...(typeof opts.preset === 'string' ? { preset: opts.preset } : {}),
          ...(typeof opts.out === 'string' ? { out: opts.out } : {}),
          ...(typeof opts.resume === 'string' ? { resume: opts.resume } : {}),
        }),
      );
    });

  cmd
    .command('sample')
    .alias('generate')
    .description('continue a prompt with a trained language model')
    .requiredOption(
      '--checkpoint <dir>',
      'run directory (or checkpoint directory) of nabla train --task lm',
    )
    .option('--prompt <text>', 'text to continue (default: start from a newline)', '')
    .option('--max-new-tokens <n>', 'tokens to generate', positiveInt, 200)
    .option('--temperature <t>', 'softmax temperature; 0 is greedy', nonNegativeNumber, 0.8)
    .option('--top-k <k>', 'sample among the k most likely tokens', positiveInt)
    .option(
      '--top-p <p>',
      'nucleus sampling: the most likely tokens up to probability p',
      probability,
    )
    .option('--num-samples <n>', 'independent samples', positiveInt, 1)
    .option('--seed <n>', 'random seed', nonNegativeInt, 1337)
    .action(async (o: Parameters<typeof sampleCommand>[0]) => done(await sampleCommand(o)));

  cmd
    .command('translate')
    .description(
      'translate sentences (arguments, or lines from stdin) with a trained sequence-to-sequence model',
    )
    .argument('[sentences...]', 'sentences to translate (default: read lines from stdin)')
    .requiredOption(
      '--checkpoint <dir>',
      'run directory of nabla train --task translate (or the synthetic task)',
    )
    .option('--beam <n>', 'beam width (1: greedy)', positiveInt, 1)
    .action(async (sentences: string[], o: { checkpoint: string; beam: number }) =>
      done(await translateCommand({ checkpoint: o.checkpoint, beam: o.beam, sentences })),
    );

  cmd
    .command('eval')
    .description(
      'evaluate a trained run on its held-out data (loss and perplexity, exact match, or BLEU)',
    )
    .requiredOption('--checkpoint <dir>', 'run directory (or checkpoint directory)')
    .option('--data <file>', 'evaluate on this file instead of the one the run trained on')
    .option('--beam <n>', 'beam width for translation (1: greedy)', positiveInt, 1)
    .option('--max-batches <n>', 'language models: at most n validation batches', positiveInt)
    .action(async (o: { checkpoint: string; data?: string; beam: number; maxBatches?: number }) =>
      done(
        await evalCommand({
          checkpoint: o.checkpoint,
          beam: o.beam,
          ...(o.maxBatches !== undefined ? { maxBatches: o.maxBatches } : {}),
          overrides: [
            ...(o.data !== undefined ? [{ key: 'data.path', value: o.data, flag: '--data' }] : []),
            ...dotted,
          ],
        }),
      ),
    );

  addLabCommand(cmd, done);
  return cmd;
}

/** Runs the command line `argv` (without `node` and the script); resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  try {
    const { rest, dotted } = extractDotted(argv);
    if (rest.length === 0) rest.push('--help');
    await program(dotted, (c) => (code = c)).parseAsync(rest, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.exitCode === 0
      )
        return 0;
      const message = e.message.replace(/^error: /, '');
      process.stderr.write(`nabla: error: ${oneLine(message)} (see nabla --help)\n`);
      return 2;
    }
    if (isUserError(e)) {
      process.stderr.write(`nabla: error: ${oneLine(e.message)}\n`);
      if (process.env.NABLA_DEBUG) process.stderr.write(`${e.stack}\n`);
      return exitCodeOf(e);
    }
    throw e;
  }
}

// `nabla sample ... | head`: a closed pipe ends the command quietly, as for other Unix tools.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.exitCode = await main(process.argv.slice(2));
