/**
 * Checkpoints resume exactly: a tiny GPT trained with AdamW, a warm-up + cosine schedule,
 * gradient clipping, dropout and two data generators for N steps, against the same run stopped
 * after N/2 steps, saved to disk, loaded into a fresh model/optimizer/generators (built from other
 * seeds) and continued. Every loss, learning rate, evaluation and the final weights must be equal
 * bit for bit (the same float32 operations in the same order). Also: loadCheckpoint's errors for
 * missing, corrupt and incompatible checkpoints.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nb from '../../src/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/node/checkpoint.js';
import { snapshot, tinyRun } from './helpers.js';

const N = 8;

function withTmp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nabla-resume-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe('train: resume equals uninterrupted', () => {
  test(
    'N/2 steps, save, load into fresh objects, N/2 more: same losses and weights',
    withTmp(async (dir) => {
      // Uninterrupted.
      const a = tinyRun(0, N);
      const logA = nb.train.memorySink();
      await nb.train.trainLoop({ ...a.options, onMetrics: logA.sink });
      const weightsA = snapshot(a.model);

      // Interrupted after N/2 updates, saved through the file system.
      const b = tinyRun(0, N);
      const logB = nb.train.memorySink();
      const first = new nb.train.Trainer({
        ...b.options,
        onMetrics: logB.sink,
        onStep: ({ step }) => {
          if (step === N / 2) first.stop();
        },
      });
      const r = await first.run();
      assert.equal(r.stopped, true);
      assert.equal(first.step, N / 2);
      await saveCheckpoint(join(dir, 'ckpt'), first.checkpoint());

      // A new "process": other seeds everywhere, then the checkpoint.
      const c = tinyRun(77, N);
      assert.notDeepEqual(snapshot(c.model), snapshot(b.model));
      const ckpt = await loadCheckpoint(join(dir, 'ckpt'), { model: c.model });
      assert.equal(ckpt.state.step, N / 2);
      assert.deepEqual(ckpt.state.config, { model: 'tiny', seed: 0 });
      assert.deepEqual(ckpt.state.tokenizer, { kind: 'identity', vocabSize: 16 });
      const second = new nb.train.Trainer({ ...c.options, onMetrics: logB.sink, resume: ckpt });
      assert.equal(second.step, N / 2);
      await second.run();

      const strip = (rs: nb.train.MetricsRecord[]): unknown[] =>
        rs.map((rec) =>
          rec.kind === 'train'
            ? [rec.step, rec.loss, rec.lr, rec.gradNorm, rec.tokens]
            : [rec.step, rec.valLoss, rec.best],
        );
      assert.equal(logA.records.filter((x) => x.kind === 'train').length, N);
      assert.deepEqual(strip(logB.records), strip(logA.records));
      assert.deepEqual(snapshot(c.model), weightsA, 'final weights equal');
      assert.deepEqual(second.best, logBest(logA.records));
      // The generators end in the same state too.
      assert.deepEqual(c.dataGen.getState(), a.dataGen.getState());
      assert.deepEqual(c.dropoutGen.getState(), a.dropoutGen.getState());
    }),
  );

  test(
    'an in-memory checkpoint is a snapshot: later updates do not change it',
    withTmp(async () => {
      const a = tinyRun(3, 4);
      const trainer = new nb.train.Trainer(a.options);
      trainer.trainStep();
      const ckpt = trainer.checkpoint();
      const before = Array.from(ckpt.model['lm_head.weight']!.dataSync());
      const moments = Array.from(ckpt.optimizer['0.expAvg']!.dataSync());
      trainer.trainStep();
      assert.deepEqual(Array.from(ckpt.model['lm_head.weight']!.dataSync()), before);
      assert.deepEqual(Array.from(ckpt.optimizer['0.expAvg']!.dataSync()), moments);
      // Loading it into another trainer and training does not change it either.
      const b = tinyRun(4, 4);
      const other = new nb.train.Trainer({ ...b.options, resume: ckpt });
      other.trainStep();
      assert.deepEqual(Array.from(ckpt.optimizer['0.expAvg']!.dataSync()), moments);
    }),
  );
});

/** The best evaluation in a log, as the trainer records it. */
function logBest(records: nb.train.MetricsRecord[]): nb.train.BestRecord | null {
  let best: nb.train.BestRecord | null = null;
  for (const r of records) {
    if (r.kind !== 'eval') continue;
    const v = r.valLoss as number;
    if (best === null || v < best.value)
      best = { metric: 'valLoss', mode: 'min', value: v, step: r.step };
  }
  return best;
}

describe('train: loadCheckpoint errors', () => {
  async function saved(dir: string): Promise<string> {
    const a = tinyRun(5, 2);
    const trainer = new nb.train.Trainer(a.options);
    trainer.trainStep();
    const path = join(dir, 'ck');
    await saveCheckpoint(path, trainer.checkpoint());
    return path;
  }

  test(
    'a missing directory or file is named',
    withTmp(async (dir) => {
      await assert.rejects(loadCheckpoint(join(dir, 'nope')), (e: Error) => {
        assert.ok(e instanceof nb.train.CheckpointError);
        assert.match(e.message, /no checkpoint at .*nope/);
        return true;
      });
      const path = await saved(dir);
      unlinkSync(join(path, 'optimizer.safetensors'));
      await assert.rejects(loadCheckpoint(path), /optimizer\.safetensors is missing/);
      mkdirSync(join(dir, 'empty'));
      await assert.rejects(loadCheckpoint(join(dir, 'empty')), /state\.json is missing/);
    }),
  );

  test(
    'corrupt files: a flipped byte, a truncated file, broken JSON',
    withTmp(async (dir) => {
      const path = await saved(dir);
      const file = join(path, 'model.safetensors');
      const bytes = readFileSync(file);
      const flipped = Buffer.from(bytes);
      flipped[flipped.length - 3] ^= 0x40;
      writeFileSync(file, flipped);
      await assert.rejects(
        loadCheckpoint(path),
        /model\.safetensors is corrupt: its SHA-256 differs/,
      );
      writeFileSync(file, bytes.subarray(0, bytes.length - 100));
      await assert.rejects(loadCheckpoint(path), /model\.safetensors is corrupt: \d+ bytes/);
      writeFileSync(file, bytes);
      await loadCheckpoint(path); // intact again
      const state = readFileSync(join(path, 'state.json'), 'utf8');
      writeFileSync(join(path, 'state.json'), state.slice(0, state.length / 2));
      await assert.rejects(loadCheckpoint(path), /state\.json is corrupt/);
      const parsed = JSON.parse(state) as Record<string, unknown>;
      writeFileSync(join(path, 'state.json'), JSON.stringify({ ...parsed, version: 99 }));
      await assert.rejects(loadCheckpoint(path), /version 99/);
    }),
  );

  test(
    'a checkpoint of another model names the mismatched keys and shapes',
    withTmp(async (dir) => {
      const path = await saved(dir);
      const wider = new nb.models.GPT({
        vocabSize: 16,
        blockSize: 8,
        nLayer: 1,
        nHead: 2,
        nEmbd: 32,
      });
      await assert.rejects(loadCheckpoint(path, { model: wider }), (e: Error) => {
        assert.ok(e instanceof nb.train.CheckpointError);
        assert.match(e.message, /does not fit this GPT/);
        assert.match(
          e.message,
          /transformer\.wte\.weight: checkpoint \[16, 16\], model \[16, 32\]/,
        );
        return true;
      });
      const deeper = new nb.models.GPT({
        vocabSize: 16,
        blockSize: 8,
        nLayer: 2,
        nHead: 2,
        nEmbd: 16,
      });
      await assert.rejects(
        loadCheckpoint(path, { model: deeper }),
        /keys missing from the checkpoint: transformer\.h\.1\.ln_1\.weight/,
      );
      // Through the trainer: a model mismatch, an optimizer of another class, a missing generator.
      const ckpt = await loadCheckpoint(path);
      const d = tinyRun(6, 2);
      const sgd = new nb.optim.SGD(d.model.parameters(), { lr: 0.1 });
      assert.throws(
        () => new nb.train.Trainer({ ...d.options, optimizer: sgd, resume: ckpt }),
        /optimizer state is from AdamW, it cannot be loaded into SGD/,
      );
      assert.throws(
        () =>
          new nb.train.Trainer({
            ...d.options,
            generators: { ...d.options.generators, extra: new nb.Generator(1) },
            resume: ckpt,
          }),
        /no state for the generator\(s\) extra/,
      );
      assert.throws(
        () =>
          new nb.train.Trainer({
            ...d.options,
            model: deeper,
            optimizer: new nb.optim.AdamW(deeper.parameters()),
            resume: ckpt,
          }),
        nb.train.CheckpointError,
      );
    }),
  );

  test(
    'saveCheckpoint refuses to replace a directory that is not a checkpoint',
    withTmp(async (dir) => {
      const target = join(dir, 'precious');
      mkdirSync(target);
      writeFileSync(join(target, 'notes.txt'), 'keep me');
      const a = tinyRun(7, 1);
      const trainer = new nb.train.Trainer(a.options);
      await assert.rejects(saveCheckpoint(target, trainer.checkpoint()), /is not a checkpoint/);
      assert.equal(readFileSync(join(target, 'notes.txt'), 'utf8'), 'keep me');
    }),
  );
});
