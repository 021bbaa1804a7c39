/**
 * A process killed (SIGKILL, no chance to clean up) while saving a checkpoint leaves the previous
 * checkpoint intact: a child process saves large checkpoints in a loop (test/train/fixtures/
 * save-loop.ts), the parent kills it at a random moment after its first complete save, then
 * loadCheckpoint must succeed and every part of what it reads must come from the same save. The
 * next save (here, by the parent) removes what the dead process left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nb from '../../src/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/node/checkpoint.js';

const script = join(import.meta.dirname, 'fixtures', 'save-loop.ts');

/** Starts the saver; resolves after its first complete save, then kills it `delayMs` later. */
function runAndKill(dir: string, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(1 << 20)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (killTimer === undefined && out.includes('saved 1\n'))
        killTimer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`saver exited with ${code}: ${err}`));
      else resolve(out.trim().split('\n').length);
    });
  });
}

test('a SIGKILL during checkpoint saves leaves a complete, consistent checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nabla-kill-'));
  try {
    const target = join(dir, 'ckpt');
    const rng = new nb.Generator(Date.now() % 1e9);
    for (let round = 0; round < 4; round++) {
      const delay = rng.nextInt(0, 400);
      const saves = await runAndKill(target, delay);
      const ckpt = await loadCheckpoint(target);
      const i = ckpt.state.step;
      // The last reported save or a later one that completed before the kill.
      assert.ok(i >= saves, `round ${round}: step ${i}, ${saves} saves reported`);
      const msg = `round ${round} (killed ${delay} ms after the first save, read ${ckpt.path})`;
      for (const name of ['a.weight', 'b.weight']) {
        const values = ckpt.model[name]!.dataSync();
        assert.ok(
          values.every((v) => v === i),
          `${msg}: ${name} holds step ${i}'s values`,
        );
      }
      assert.ok(
        ckpt.optimizer['0.expAvg']!.dataSync().every((v) => v === -i),
        msg,
      );
      assert.deepEqual(ckpt.state.config, { i }, msg);
      assert.deepEqual(ckpt.state.data, { cursor: i }, msg);
    }
    // A save after the crashes leaves only the checkpoint (no temporaries, no .prev).
    const ckpt = await loadCheckpoint(target);
    await saveCheckpoint(target, ckpt);
    assert.deepEqual(readdirSync(dir), ['ckpt']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a save interrupted between its two renames: the checkpoint is read from <dir>.prev', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nabla-prev-'));
  try {
    const target = join(dir, 'ckpt');
    nb.manualSeed(0);
    const model = new nb.nn.Linear(3, 2);
    const trainer = new nb.train.Trainer({
      model,
      optimizer: new nb.optim.SGD(model.parameters(), { lr: 0.1 }),
      data: () => nb.randn([4, 3]),
      loss: (m, x) => m.forward(x).square().mean(),
      maxSteps: 3,
    });
    trainer.trainStep();
    await saveCheckpoint(target, trainer.checkpoint());
    // The state a kill after `rename(dir, dir.prev)` leaves: no <dir>, a complete <dir>.prev, and
    // a complete temporary directory of a dead process (pid 2^22 + 1 is beyond Linux's pid_max).
    renameSync(target, `${target}.prev`);
    mkdirSync(`${target}.tmp-4194305-abc`);
    writeFileSync(join(`${target}.tmp-4194305-abc`, 'state.json'), '{');
    const ckpt = await loadCheckpoint(target, { model });
    assert.equal(ckpt.path, `${target}.prev`);
    assert.equal(ckpt.state.step, 1);
    // The next save keeps .prev until the new checkpoint is in place, then removes it.
    trainer.trainStep();
    await saveCheckpoint(target, trainer.checkpoint());
    assert.deepEqual(readdirSync(dir), ['ckpt']);
    assert.equal((await loadCheckpoint(target)).state.step, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
