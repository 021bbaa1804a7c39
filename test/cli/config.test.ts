/**
 * The run config of `nabla train` (src/cli/config.ts): task defaults, presets, dotted overrides
 * checked for key and type, consistency checks, validation of a config read back from a
 * checkpoint, and the splitting of dotted options from the command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  configKeys,
  extractDotted,
  PRESETS,
  resolveConfig,
  TASK_DEFAULTS,
  validateRunConfig,
} from '../../src/cli/config.js';
import { UsageError } from '../../src/cli/errors.js';

const o = (key: string, value: string): { key: string; value: string } => ({ key, value });

test('defaults per task, frozen', () => {
  const c = resolveConfig();
  assert.equal(c.task, 'synthetic');
  assert.equal(c.model.type, 'transformer');
  assert.deepEqual(c, { ...TASK_DEFAULTS.synthetic });
  c.model.nLayer = 7; // the resolved config is a copy
  assert.equal(TASK_DEFAULTS.synthetic.model.nLayer, 2);
  assert.ok(Object.isFrozen(TASK_DEFAULTS.synthetic.model));
  assert.ok(Object.isFrozen(PRESETS.tiny.train));
  const lm = resolveConfig({ overrides: [o('task', 'lm'), o('data.path', 'x.txt')] });
  assert.equal(lm.model.type, 'gpt');
});

test('presets, then overrides in order', () => {
  const c = resolveConfig({
    preset: 'tiny',
    overrides: [
      o('model.nLayer', '3'),
      o('train.lr', '3e-4'),
      o('model.normFirst', 'true'),
      o('model.nLayer', '4'),
    ],
  });
  assert.equal(c.model.nEmbd, 16);
  assert.equal(c.model.nLayer, 4);
  assert.equal(c.train.lr, 3e-4);
  assert.equal(c.model.normFirst, true);
  const baby = resolveConfig({
    preset: 'baby-shakespeare',
    overrides: [o('data.path', 'shakespeare.txt')],
  });
  assert.equal(baby.task, 'lm');
  assert.deepEqual(
    [
      baby.model.nLayer,
      baby.model.nHead,
      baby.model.nEmbd,
      baby.model.blockSize,
      baby.train.batchSize,
    ],
    [4, 4, 128, 64, 12],
  );
  assert.deepEqual(
    [
      baby.train.lr,
      baby.train.minLr,
      baby.train.warmupIters,
      baby.train.lrDecayIters,
      baby.train.beta2,
    ],
    [1e-3, 1e-4, 100, 2000, 0.99],
  );
  assert.deepEqual([baby.model.dropout, baby.train.weightDecay, baby.train.gradClip], [0, 0.1, 1]);
});

test('unknown keys and wrong types are UsageErrors naming what is valid', () => {
  const bad = (
    overrides: { key: string; value: string }[],
    pattern: RegExp,
    preset?: string,
  ): void =>
    assert.throws(
      () => resolveConfig({ overrides, ...(preset ? { preset } : {}) }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, pattern);
        assert.equal(e.exitCode, 2);
        return true;
      },
    );
  bad(
    [o('model.layers', '2')],
    /unknown config key "model.layers" .*; valid keys of model: type, nLayer/,
  );
  bad([o('train.maxStep', '2')], /did you mean train.maxSteps\?/);
  bad([o('foo', '2')], /config sections are data, model and train/);
  bad([o('model.nLayer', '2.5')], /model.nLayer expects an integer >= 1, got "2.5"/);
  bad([o('model.dropout', '1')], /expects a number >= 0 and < 1/);
  bad([o('model.bias', 'yes')], /expects true or false/);
  bad([o('data.tokenizer', 'word')], /expects one of char, bpe/);
  bad([o('model.nHead', '3')], /nEmbd \(32\) must be divisible by model.nHead \(3\)/);
  bad([o('task', 'lm')], /--task lm needs --data FILE/);
  bad([o('model.type', 'gpt')], /model.type must be transformer/);
  bad([], /unknown preset "huge"/, 'huge');
  bad([o('task', 'translate')], /preset baby-shakespeare is for --task lm/, 'baby-shakespeare');
  assert.ok(configKeys().includes('train.gradClip'));
});

test('a config read back from a checkpoint is validated', () => {
  const c = resolveConfig({ preset: 'tiny' });
  assert.deepEqual(validateRunConfig(JSON.parse(JSON.stringify(c)), 'ckpt'), c);
  assert.throws(() => validateRunConfig(null, 'ckpt'), /ckpt holds no nabla run config/);
  const broken = JSON.parse(JSON.stringify(c));
  delete broken.train.lr;
  assert.throws(() => validateRunConfig(broken, 'ckpt'), /the run config has no train.lr/);
  broken.train.lr = 'fast';
  assert.throws(() => validateRunConfig(broken, 'ckpt'), /train.lr expects a number/);
});

test('dotted options are split from the command line', () => {
  const { rest, dotted } = extractDotted([
    'train',
    '--model.nLayer=4',
    '--train.lr',
    '3e-4',
    '--data',
    'a.b.txt',
    '--',
    '--model.x=1',
  ]);
  assert.deepEqual(rest, ['train', '--data', 'a.b.txt', '--', '--model.x=1']);
  assert.deepEqual(
    dotted.map((d) => [d.key, d.value]),
    [
      ['model.nLayer', '4'],
      ['train.lr', '3e-4'],
    ],
  );
  assert.throws(() => extractDotted(['--model.nLayer']), /--model.nLayer needs a value/);
});
