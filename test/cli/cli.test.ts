/**
 * The `nabla` command end to end, run as a user would (`node --import tsx src/cli/index.ts ...`,
 * so no build is needed) with tiny sizes: training on the synthetic task writes a checkpoint, the
 * config, the metrics log and the loss plot; --resume continues; sample, translate and eval use
 * trained runs; every error a user can act on is one line on stderr with a non-zero status; and
 * SIGINT during training leaves a resumable checkpoint (exit status 130).
 *
 * The runs use the reference backend (NABLA_BACKEND=ref) and CI=1 (plain log lines, no bar).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'src', 'cli', 'index.ts');
let tmp = '';

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStdout` may act on the output as it arrives (e.g. send a signal). */
function nabla(
  args: string[],
  options: {
    input?: string;
    onStdout?: (soFar: string, kill: (s: NodeJS.Signals) => void) => void;
  } = {},
): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
      cwd: root,
      env: { ...process.env, NABLA_BACKEND: 'ref', CI: '1', NABLA_DEBUG: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(stdout, (s) => child.kill(s));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Asserts a failure with status `code` and one stderr line matching `pattern`, without a stack. */
function assertError(r: Result, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit status (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^nabla: error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

const tiny = ['--preset', 'tiny'];

/** A small English text for language models. */
function text(): string {
  const lines = [
    'the quick brown fox jumps over the lazy dog.',
    'a stitch in time saves nine.',
    'all that glitters is not gold.',
    'to be or not to be, that is the question.',
  ];
  return Array.from({ length: 40 }, (_, i) => lines[i % lines.length]).join('\n') + '\n';
}

/** Tiny English–French pairs. */
function pairs(): string {
  const en = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'];
  const fr = ['un', 'deux', 'trois', 'quatre', 'cinq', 'six', 'sept', 'huit'];
  const rows: string[] = [];
  for (let i = 0; i < en.length; i++)
    for (const [e, f] of [
      ['cat', 'chat'],
      ['dog', 'chien'],
      ['bird', 'oiseau'],
    ])
      rows.push(`${en[i]} ${e}.\t${fr[i]} ${f}.\tCC-BY test`);
  return rows.join('\n') + '\n';
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nabla-cli-'));
  writeFileSync(join(tmp, 'text.txt'), text());
  writeFileSync(join(tmp, 'pairs.tsv'), pairs());
  writeFileSync(join(tmp, 'empty.txt'), '');
});

after(() => rmSync(tmp, { recursive: true, force: true }));

describe('nabla train (synthetic) and --resume', () => {
  const out = (): string => join(tmp, 'synthetic');

  test('trains, evaluates and writes checkpoint, config, metrics and plot', async () => {
    const r = await nabla([
      'train',
      ...tiny,
      '--max-steps',
      '6',
      '--eval-every',
      '3',
      '--out',
      out(),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /TransformerSeq2Seq/);
    assert.match(r.stdout, /eval at step 3: valLoss [\d.]+, exactMatch [\d.]+/);
    assert.match(r.stdout, /exact match on 32 held-out examples \(greedy\): [\d.]+%/);
    for (const f of [
      'config.json',
      'metrics.jsonl',
      'loss.svg',
      'last/state.json',
      'last/model.safetensors',
    ])
      assert.ok(existsSync(join(out(), f)), `${f} exists`);
    const config = JSON.parse(readFileSync(join(out(), 'config.json'), 'utf8'));
    assert.equal(config.task, 'synthetic');
    assert.equal(config.model.nEmbd, 16); // the tiny preset
    assert.equal(config.train.maxSteps, 6);
    const state = JSON.parse(readFileSync(join(out(), 'last', 'state.json'), 'utf8'));
    assert.equal(state.step, 6);
    assert.deepEqual(state.config, config);
    const records = readFileSync(join(out(), 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      records.filter((x) => x.kind === 'train').map((x) => x.step),
      [0, 1, 2, 3, 4, 5],
    );
    assert.equal(records.filter((x) => x.kind === 'eval').length, 2);
    assert.match(readFileSync(join(out(), 'loss.svg'), 'utf8'), /^<svg/);
  });

  test('--resume continues to the new --max-steps with one metrics log', async () => {
    const r = await nabla(['train', '--resume', out(), '--max-steps', '9']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /resuming/);
    assert.match(r.stdout, /trained 9 updates/);
    const state = JSON.parse(readFileSync(join(out(), 'last', 'state.json'), 'utf8'));
    assert.equal(state.step, 9);
    assert.equal(state.config.train.maxSteps, 9);
    const steps = readFileSync(join(out(), 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((x) => x.kind === 'train')
      .map((x) => x.step);
    assert.deepEqual(steps, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('a resumed run makes the same updates as an uninterrupted one', async () => {
    const common = [...tiny, '--eval-every', '0', '--train.lrDecayIters=8'];
    const straight = join(tmp, 'straight');
    const split = join(tmp, 'split');
    const lossesOf = (dir: string): number[] =>
      readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((x) => x.kind === 'train')
        .map((x) => x.loss);
    const results = await Promise.all([
      nabla(['train', ...common, '--max-steps', '8', '--out', straight]),
      nabla(['train', ...common, '--max-steps', '5', '--out', split]),
    ]);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const resumed = await nabla(['train', '--resume', split, '--max-steps', '8']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(lossesOf(split), lossesOf(straight));
  });

  test('translate reads a synthetic checkpoint; eval reports exact match', async () => {
    const r = await nabla(['translate', '--checkpoint', out(), '123', '4567']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 2);
    const e = await nabla(['eval', '--checkpoint', out()]);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /step 9/);
    assert.match(e.stdout, /exact match on 32 held-out examples/);
  });

  test('a checkpoint of another model: one clear line', async () => {
    const s = await nabla(['sample', '--checkpoint', out()]);
    assertError(s, 1, /holds a synthetic-task model .*; nabla sample needs a language model/);
    const r = await nabla(['train', '--resume', out(), '--model.nEmbd=32', '--max-steps', '12']);
    assertError(r, 1, /cannot resume .*do not fit the TransformerSeq2Seq.*src_embed\.weight/);
  });
});

describe('language models', () => {
  test('a char-level GPT trains on a text file, samples and evaluates', async () => {
    const out = join(tmp, 'gpt');
    const r = await nabla([
      'train',
      '--task',
      'lm',
      '--data',
      join(tmp, 'text.txt'),
      ...tiny,
      '--max-steps',
      '4',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /GPT \([\d.]+k parameters\), char tokens/);
    assert.match(r.stdout, /validation loss [\d.]+ \(perplexity [\d.]+\)/);
    const s = await nabla([
      'sample',
      '--checkpoint',
      out,
      '--prompt',
      'the ',
      '--max-new-tokens',
      '20',
      '--seed',
      '3',
    ]);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(s.stdout.startsWith('the '), s.stdout);
    assert.equal(s.stdout.replace(/\n$/, '').length, 4 + 20);
    // Sampling is reproducible with a seed.
    const again = await nabla([
      'generate',
      '--checkpoint',
      out,
      '--prompt',
      'the ',
      '--max-new-tokens',
      '20',
      '--seed',
      '3',
    ]);
    assert.equal(again.stdout, s.stdout);
    const bad = await nabla(['sample', '--checkpoint', out, '--prompt', 'QXZ']);
    assertError(bad, 1, /--prompt: character "Q"/);
  });

  test('an LSTM language model with a BPE tokenizer', async () => {
    const out = join(tmp, 'lstm');
    const r = await nabla([
      'train',
      '--task',
      'lm',
      '--model',
      'lstm',
      '--tokenizer',
      'bpe',
      '--data',
      join(tmp, 'text.txt'),
      ...tiny,
      '--max-steps',
      '3',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /LSTM language model/);
    const s = await nabla([
      'sample',
      '--checkpoint',
      out,
      '--prompt',
      'to be',
      '--max-new-tokens',
      '5',
      '--top-k',
      '5',
    ]);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(s.stdout.startsWith('to be'));
  });
});

describe('translation', () => {
  test('trains on a TSV, reports BLEU beside the copy baseline, translates', async () => {
    const out = join(tmp, 'translate');
    const r = await nabla([
      'train',
      '--task',
      'translate',
      '--data',
      join(tmp, 'pairs.tsv'),
      ...tiny,
      '--max-steps',
      '4',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /BLEU on 3 held-out pairs \(greedy\): [\d.]+ \(copy-the-source baseline [\d.]+\)/,
    );
    const args = await nabla([
      'translate',
      '--checkpoint',
      out,
      '--beam',
      '2',
      'one cat.',
      'two dogs.',
    ]);
    assert.equal(args.code, 0, args.stderr);
    assert.equal(args.stdout.split('\n').length, 3); // two lines and the final newline
    const stdin = await nabla(['translate', '--checkpoint', out], {
      input: 'three birds.\n\nfour cats.\n',
    });
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal(stdin.stdout.split('\n').length, 3);
    const e = await nabla(['eval', '--checkpoint', join(out, 'last'), '--beam', '2']);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /BLEU on 3 held-out pairs \(beam 2\)/);
  });
});

describe('errors a user can act on', { concurrency: true }, () => {
  test('missing data file', async () =>
    assertError(
      await nabla(['train', '--task', 'lm', '--data', join(tmp, 'nope.txt')]),
      1,
      /cannot read '.*nope\.txt': no such file/,
    ));
  test('empty data file', async () =>
    assertError(
      await nabla(['train', '--task', 'translate', '--data', join(tmp, 'empty.txt')]),
      1,
      /empty\.txt' is empty/,
    ));
  test('no data file for --task lm', async () =>
    assertError(await nabla(['train', '--task', 'lm']), 2, /--task lm needs --data FILE/));
  test('unknown option', async () =>
    assertError(await nabla(['train', '--epochs', '3']), 2, /unknown option '--epochs'/));
  test('unknown command', async () =>
    assertError(await nabla(['fit']), 2, /unknown command 'fit'/));
  test('bad value', async () => {
    assertError(
      await nabla(['train', '--max-steps', 'ten']),
      2,
      /--max-steps expects an integer >= 0, got "ten"/,
    );
    assertError(
      await nabla(['train', '--task', 'vision']),
      2,
      /--task expects one of synthetic, lm, translate/,
    );
  });
  test('unknown dotted key, listing the valid ones', async () =>
    assertError(
      await nabla(['train', '--model.nLayers=2']),
      2,
      /unknown config key "model.nLayers" \(did you mean model.nLayer\?\); valid keys of model: type, nLayer, nHead/,
    ));
  test('dotted key of the wrong type', async () =>
    assertError(
      await nabla(['train', '--train.lr=fast']),
      2,
      /--train.lr expects a number >= 0, got "fast"/,
    ));
  test('unknown section', async () =>
    assertError(
      await nabla(['train', '--optim.lr=1']),
      2,
      /config sections are data, model and train/,
    ));
  test('no checkpoint', async () =>
    assertError(
      await nabla(['sample', '--checkpoint', join(tmp, 'nowhere')]),
      1,
      /no checkpoint at .*nowhere/,
    ));
  test('model type that does not fit the task', async () =>
    assertError(await nabla(['train', '--model', 'lstm']), 2, /model.type must be transformer/));
});

test(
  'the built bin (dist/cli/index.js) runs',
  { skip: !existsSync(join(root, 'dist', 'cli', 'index.js')) && 'dist/ not built' },
  async () => {
    const r = await new Promise<Result>((done, fail) => {
      const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'index.js'), '--help'], {
        cwd: root,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', fail);
      child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: nabla/);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    assert.equal(pkg.bin.nabla, './dist/cli/index.js');
    assert.match(
      readFileSync(join(root, 'dist', 'cli', 'index.js'), 'utf8'),
      /^#!\/usr\/bin\/env node\n/,
    );
  },
);

test('SIGINT saves a resumable checkpoint and exits with 130', async () => {
  const out = join(tmp, 'interrupted');
  let sent = false;
  const r = await nabla(
    [
      'train',
      ...tiny,
      '--max-steps',
      '100000',
      '--eval-every',
      '0',
      '--train.logEvery=1',
      '--out',
      out,
    ],
    {
      onStdout: (soFar, kill) => {
        if (!sent && /step 3\/100000/.test(soFar)) {
          sent = true;
          kill('SIGINT');
        }
      },
    },
  );
  assert.ok(sent, `training made progress: ${r.stdout}${r.stderr}`);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted at step \d+\/100000; saved a resumable checkpoint/);
  const state = JSON.parse(readFileSync(join(out, 'last', 'state.json'), 'utf8'));
  assert.ok(state.step >= 3, `step ${state.step}`);
  const resumed = await nabla(['train', '--resume', out, '--max-steps', String(state.step + 2)]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`trained ${state.step + 2} updates`));
});
