/**
 * `nabla lab`: run as a user would (`node --import tsx src/cli/index.ts lab ...`, reference
 * backend) for positional-encoding and attention-maps on checkpoints trained here with
 * `nabla train --preset tiny` (an encoder–decoder Transformer and a GPT); residual-init and the
 * argument checks in-process through `addLabCommand` / `labCommand`, which the command calls.
 * The tests run concurrently: most of their time is spent in child processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { addLabCommand, labCommand } from '../../src/cli/lab.js';
import { CliError, UsageError } from '../../src/cli/errors.js';
import * as nb from '../../src/index.js';

const root = resolve(import.meta.dirname, '..', '..');
const cli = join(root, 'src', 'cli', 'index.ts');
let tmp = '';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function nabla(args: string[]): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
      cwd: root,
      env: { ...process.env, NABLA_BACKEND: 'ref', CI: '1', NABLA_DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

interface Numbers {
  [id: string]: {
    title: string;
    tables: { title: string; columns: string[]; rows: (string | number)[][] }[];
    data: Record<string, unknown>;
  };
}

const readNumbers = (dir: string): Numbers =>
  JSON.parse(readFileSync(join(dir, 'numbers.json'), 'utf8')) as Numbers;

interface HeadStats {
  kind: string;
  entropy: number;
  uniformEntropy: number;
  maxWeight: number;
  rowSumError: number;
  previousToken: number | null;
}

function checkHeads(heads: HeadStats[]): void {
  assert.ok(heads.length > 0);
  for (const h of heads) {
    assert.ok(h.entropy >= 0 && h.entropy <= h.uniformEntropy + 1e-6, JSON.stringify(h));
    assert.ok(h.maxWeight > 0 && h.maxWeight <= 1 + 1e-6);
    assert.ok(h.rowSumError < 1e-5);
  }
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nabla-lab-'));
  const lines = ['the quick brown fox jumps over the lazy dog.', 'a stitch in time saves nine.'];
  writeFileSync(join(tmp, 'text.txt'), `${Array(40).fill(lines).flat().join('\n')}\n`);
});

after(() => rmSync(tmp, { recursive: true, force: true }));

/** Parses `nabla lab ...` in-process; resolves with the CommanderError, if any. */
async function parse(args: string[]): Promise<CommanderError | null> {
  const program = new Command('nabla')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addLabCommand(program, () => undefined);
  try {
    await program.parseAsync(['lab', ...args], { from: 'user' });
    return null;
  } catch (e) {
    if (e instanceof CommanderError) return e;
    throw e;
  }
}

describe('nabla lab', { concurrency: true }, () => {
  describe('nabla lab (subprocess)', { concurrency: true }, () => {
    test('positional-encoding --quick prints the tables and writes SVGs, numbers and report.html', async () => {
      const out = join(tmp, 'pe');
      const r = await nabla(['lab', 'positional-encoding', '--quick', '--out', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /=== Sinusoidal positional encoding \(positional-encoding/);
      assert.match(r.stdout, /PE\[pos \+ k\] = R_k·PE\[pos\]/);
      assert.ok(r.stdout.includes(`wrote ${join(out, 'report.html')}`), r.stdout);
      for (const f of ['report.html', 'numbers.json', 'pe-table.svg', 'pe-similarity.svg'])
        assert.ok(existsSync(join(out, f)), f);
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      assert.match(html, /<h3>Theory<\/h3>/);
      assert.equal((html.match(/<svg/g) ?? []).length, 2, 'both plots inline');
      const pe = readNumbers(out)['positional-encoding']!;
      const rotation = pe.data.rotation as { maxResidual: number };
      assert.ok(rotation.maxResidual < 1e-9, `rotation residual ${rotation.maxResidual}`);
    });

    test('attention-maps on an encoder–decoder trained by nabla train', async () => {
      const seq = join(tmp, 'seq2seq');
      const trainArgs = ['--preset', 'tiny', '--max-steps', '2', '--eval-every', '2'];
      const t = await nabla(['train', ...trainArgs, '--out', seq]);
      assert.equal(t.code, 0, t.stderr);
      const out = join(tmp, 'maps-seq2seq');
      const r = await nabla([
        'lab',
        'attention-maps',
        '--checkpoint',
        seq,
        '--text',
        '1234',
        '--out',
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /<bos> 1 2 3 4 <eos>/);
      for (const what of [
        'encoder self-attention',
        'decoder self-attention \\(causal\\)',
        'decoder cross-attention',
      ])
        assert.match(r.stdout, new RegExp(`\\n${what} +0 +1 `), what);
      const svgs = readdirSync(out).filter((f) => f.endsWith('.svg'));
      assert.equal(svgs.length, 3, svgs.join(', '));
      const cross = readFileSync(
        join(
          out,
          svgs.find((f) => f.includes('multihead'))!,
        ),
        'utf8',
      );
      assert.ok(cross.includes('&lt;eos&gt;'), 'source tokens label the key axis');
      const data = readNumbers(out)['attention-maps']!.data as { heads: HeadStats[] };
      checkHeads(data.heads);
      assert.equal(data.heads.filter((h) => h.kind === 'cross').length, 2);
    });

    test('an unknown experiment is one line with status 2', async () => {
      const r = await nabla(['lab', 'nope']);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /^nabla: error: unknown experiment 'nope'; choose one of residual-init, attention-cost, positional-encoding, gradient-flow, attention-maps, all\n$/,
      );
    });
  });

  describe('nabla lab (in-process)', { concurrency: true }, () => {
    test('residual-init with size options: the sizes reach the experiment', async () => {
      const out = join(tmp, 'residual');
      const printed: string[] = [];
      const code = await labCommand({
        experiment: 'residual-init',
        quick: true,
        sizes: { width: 16, depth: 4, trials: 8 },
        out,
        print: (s) => void printed.push(s),
      });
      assert.equal(code, 0);
      const text = printed.join('\n');
      assert.match(text, /width n = 16, L = 4, 8 initialisations/);
      const tables = readNumbers(out)['residual-init']!.tables;
      const byDepth = tables.find((t) => t.title.startsWith('Var[u_L] / Var[u_0]'))!;
      assert.deepEqual(
        byDepth.rows.map((r) => r[0]),
        [2, 4],
      );
      const summary = tables[0]!;
      const zero = summary.rows.find((r) => String(r[0]).includes('zero'))!;
      assert.equal(
        String(zero[5]),
        '1',
        'a zero-initialised last layer keeps Var[u_L] = Var[u_0] = 1',
      );
      assert.ok(existsSync(join(out, 'residual-variance.svg')));
    });

    test('attention-maps on a GPT trained by nabla train', async () => {
      const lm = join(tmp, 'lm');
      const t = await nabla([
        'train',
        ...['--preset', 'tiny', '--max-steps', '2', '--eval-every', '2'],
        ...['--task', 'lm', '--data', join(tmp, 'text.txt'), '--out', lm],
      ]);
      assert.equal(t.code, 0, t.stderr);
      const out = join(tmp, 'maps-lm');
      const printed: string[] = [];
      const print = (s: string): void => void printed.push(s);
      assert.equal(
        await labCommand({
          experiment: 'attention-maps',
          checkpoint: lm,
          text: 'the quick',
          out,
          print,
        }),
        0,
      );
      const text = printed.join('\n');
      assert.match(text, /the 1 causal maps have exactly zero weight above the diagonal/);
      assert.match(text, /t h e ␣ q u i c k/);
      const data = readNumbers(out)['attention-maps']!.data as {
        heads: HeadStats[];
        maps: { causal: boolean; weights: number[][][] }[];
      };
      checkHeads(data.heads);
      assert.equal(data.maps.length, 1);
      for (const m of data.maps) {
        assert.ok(m.causal);
        m.weights.forEach((rows) =>
          rows.forEach((row, i) => row.forEach((w, j) => j > i && assert.equal(w, 0))),
        );
      }
      assert.ok(existsSync(join(out, 'attention-transformer-h-attn.svg')));
      // --max-tokens keeps the first tokens.
      printed.length = 0;
      await labCommand({
        experiment: 'attention-maps',
        checkpoint: lm,
        text: 'the quick brown',
        maxTokens: 5,
        out,
        print,
      });
      assert.match(printed.join('\n'), /tokens +5 +t h e ␣ q\n/);
      // Text outside the vocabulary: an error naming --text.
      await assert.rejects(
        labCommand({ experiment: 'attention-maps', checkpoint: lm, text: 'ZZZ', out, print }),
        (e: unknown) => e instanceof CliError && /^--text: /.test(e.message),
      );
    });

    test('the library applies and checks the same size options', () => {
      const r = nb.lab.runPositionalEncoding({ quick: true, maxLen: 24, dModel: 6 });
      const rotation = r.tables[0]!;
      assert.deepEqual(
        rotation.rows.map((row) => row.slice(0, 3)),
        [
          [24, 6, 23],
          [64, 8, 63],
          [64, 16, 63],
        ],
      );
      assert.throws(
        () => nb.lab.runPositionalEncoding({ dModel: 7 }),
        (e: unknown) =>
          e instanceof nb.ValueError && /dModel must be an even integer/.test(e.message),
      );
      assert.throws(
        () => nb.lab.runResidualInit({ depth: 0 }),
        /depth must be an integer in \[1, 256\]/,
      );
      assert.throws(() => nb.lab.runLabExperiment('attention-maps'), /needs a model/);
    });

    test('numbers are checked: bad values and options of another experiment are rejected', async () => {
      for (const [args, pattern] of [
        [['residual-init', '--width', '0'], /--width <n>.*integer in \[2, 1024\], got 0/],
        [['residual-init', '--width', '1.5'], /--width <n>.*got 1\.5/],
        [['residual-init', '--trials', 'many'], /--trials <n>.*expected an integer/],
        [['positional-encoding', '--d-model', '7'], /--d-model <n>.*even integer/],
        [
          ['attention-cost', '--seq-lens', '64,128'],
          /--seq-lens <list>.*at least 3 distinct values/,
        ],
        [['attention-cost', '--seq-lens', '64,,128'], /expected integers separated by commas/],
        [['positional-encoding', '--seed', '-1'], /--seed <n>.*integer >= 0/],
        [['positional-encoding', '--max-tokens', '1'], /--max-tokens <n>.*integer >= 2/],
      ] as const) {
        const e = await parse([...args]);
        assert.ok(e, `${args.join(' ')} should fail`);
        assert.equal(e.code, 'commander.invalidArgument', e.message);
        assert.match(e.message, pattern);
      }
      const missing = await parse([]);
      assert.equal(missing?.code, 'commander.missingArgument');

      const usage = async (o: Parameters<typeof labCommand>[0], pattern: RegExp): Promise<void> => {
        await assert.rejects(labCommand({ ...o, print: () => undefined }), (e: unknown) => {
          assert.ok(e instanceof UsageError, String(e));
          assert.match(e.message, pattern);
          return true;
        });
      };
      await usage(
        { experiment: 'positional-encoding', sizes: { width: 16 } },
        /--width applies to residual-init, not positional-encoding/,
      );
      await usage(
        { experiment: 'gradient-flow', text: 'hi' },
        /--text applies to attention-maps, not gradient-flow/,
      );
      await usage(
        { experiment: 'residual-init', checkpoint: 'runs/x' },
        /--checkpoint applies to attention-maps/,
      );
      await usage(
        { experiment: 'attention', out: join(tmp, 'x') },
        /unknown experiment 'attention'/,
      );
      await usage(
        { experiment: 'attention-maps' },
        /^nabla lab attention-maps needs a trained model: --checkpoint <dir>/,
      );
      assert.ok(!existsSync(join(tmp, 'x')), 'nothing written on a usage error');
    });
  });
});
