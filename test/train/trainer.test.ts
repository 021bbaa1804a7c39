/**
 * The training loop: the non-finite guard (throw with the step named and the weights untouched,
 * or skip), gradient accumulation against one big batch, best-checkpoint keeping and the JSONL
 * metrics log (in memory and through the Node file sinks), loss going down on a tiny task with
 * memory staying flat, and argument errors.
 *
 * Tolerances: accumulation vs one batch within 1e-6 (the same gradients summed in another order,
 * float32); everything else exact.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nb from '../../src/index.js';
import { checkpointWriter, jsonlFileSink, loadCheckpoint } from '../../src/io/node/checkpoint.js';
import { snapshot, tinyRun } from './helpers.js';

/** A 3 → 4 → 1 tanh MLP on fixed regression data, SGD. */
function mlpSetup(seed = 0, rows = 8) {
  nb.manualSeed(seed);
  const model = new nb.nn.Sequential(
    new nb.nn.Linear(3, 4),
    new nb.nn.Tanh(),
    new nb.nn.Linear(4, 1),
  );
  const x = nb.randn([rows, 3]);
  const y = x.sum(1, true).sin(); // (rows, 1)
  const mse = (m: nb.nn.Sequential, b: { x: nb.Tensor; y: nb.Tensor }): nb.Tensor =>
    m.forward(b.x).sub(b.y).square().mean();
  return { model, x: nb.keep(x), y: nb.keep(y), mse };
}

describe('train: non-finite guard', () => {
  test('a NaN loss at step k throws NonFiniteError naming k; the weights are those before k', async () => {
    const { model, x, y, mse } = mlpSetup();
    const k = 3;
    const before: Record<string, number[]>[] = [];
    const trainer = new nb.train.Trainer({
      model,
      optimizer: new nb.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }),
      data: () => ({ x, y }),
      loss: (m, b): nb.Tensor => (trainer.step === k ? mse(m, b).mul(NaN) : mse(m, b)),
      maxSteps: 10,
      onStep: () => void before.push(snapshot(model)),
    });
    await assert.rejects(trainer.run(), (e: Error) => {
      assert.ok(e instanceof nb.train.NonFiniteError);
      assert.equal(e.step, k);
      assert.equal(e.source, 'loss');
      assert.ok(Number.isNaN(e.value));
      assert.match(e.message, /training step 3: the loss is NaN/);
      return true;
    });
    assert.equal(before.length, k);
    assert.deepEqual(snapshot(model), before[k - 1], 'weights from after step k-1');
    assert.equal(trainer.step, k, 'the step counter did not advance');
    for (const p of model.parameters()) assert.equal(p.grad, null, 'gradients cleared');
  });

  test('a NaN gradient with a finite loss is caught too (with clipping on or off)', async () => {
    for (const gradClip of [null, 1]) {
      const { model, x, y } = mlpSetup();
      const k = 2;
      let weights: Record<string, number[]> = {};
      const trainer = new nb.train.Trainer({
        model,
        optimizer: new nb.optim.AdamW(model.parameters(), { lr: 0.01 }),
        data: () => ({ x, y }),
        loss: (m, b) => {
          const pred = m.forward(b.x);
          if (trainer.step === k) pred.registerHook((g) => g.mul(NaN));
          return pred.sub(b.y).square().mean();
        },
        maxSteps: 10,
        gradClip,
        onStep: () => void (weights = snapshot(model)),
      });
      await assert.rejects(trainer.run(), (e: Error) => {
        assert.ok(e instanceof nb.train.NonFiniteError);
        assert.equal(e.step, k);
        assert.equal(e.source, 'gradient');
        assert.match(e.message, /training step 2: the gradient norm is NaN/);
        return true;
      });
      assert.deepEqual(snapshot(model), weights);
    }
  });

  test("onNonFinite: 'skip' skips the update and training continues", async () => {
    const { model, x, y, mse } = mlpSetup();
    const k = 2;
    const log = nb.train.memorySink();
    const weights: Record<string, number[]>[] = [];
    const trainer = new nb.train.Trainer({
      model,
      optimizer: new nb.optim.SGD(model.parameters(), { lr: 0.1 }),
      data: () => ({ x, y }),
      loss: (m, b): nb.Tensor => (trainer.step === k ? mse(m, b).div(0).mul(Infinity) : mse(m, b)),
      maxSteps: 6,
      onNonFinite: 'skip',
      onMetrics: log.sink,
      onStep: () => void weights.push(snapshot(model)),
    });
    const result = await trainer.run();
    assert.equal(result.step, 6);
    const train = log.records.filter((r): r is nb.train.TrainRecord => r.kind === 'train');
    assert.deepEqual(
      train.map((r) => r.skipped ?? false),
      [false, false, true, false, false, false],
    );
    assert.equal(train[k]!.loss, Infinity);
    assert.ok(nb.train.toJsonLine(train[k]!).includes('"loss":null'), 'non-finite → null in JSON');
    assert.deepEqual(weights[k], weights[k - 1], 'the skipped step changed nothing');
    assert.notDeepEqual(weights[k + 1], weights[k], 'the next one did');
    assert.ok(train[5]!.loss < train[0]!.loss);
  });
});

describe('train: gradient accumulation', () => {
  test('k micro-batches make the same update as one batch of k times the size', async () => {
    for (const [k, optim] of [
      [4, 'sgd'],
      [2, 'adamw'],
    ] as const) {
      const runs = [1, k].map((accum) => {
        const { model, x, y, mse } = mlpSetup(1, 8);
        const micro = 8 / accum;
        let i = 0;
        const optimizer =
          optim === 'sgd'
            ? new nb.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.5 })
            : new nb.optim.AdamW(model.parameters(), { lr: 0.01 });
        const trainer = new nb.train.Trainer({
          model,
          optimizer,
          data: () => {
            const j = i++ % accum;
            return { x: x.narrow(0, j * micro, micro), y: y.narrow(0, j * micro, micro) };
          },
          loss: mse,
          maxSteps: 3,
          gradAccumSteps: accum,
          gradClip: 0.5,
        });
        const losses = [0, 1, 2].map(() => trainer.trainStep().loss);
        return { losses, weights: snapshot(model) };
      });
      const [big, acc] = runs as [(typeof runs)[0], (typeof runs)[0]];
      for (let s = 0; s < 3; s++) assert.ok(Math.abs(big.losses[s]! - acc.losses[s]!) < 1e-6);
      for (const [key, w] of Object.entries(big.weights)) {
        const v = acc.weights[key]!;
        w.forEach((a, j) =>
          assert.ok(Math.abs(a - v[j]!) < 1e-6, `${optim} ${key}[${j}]: ${a} vs ${v[j]}`),
        );
      }
    }
  });
  test('memory stays flat across steps with accumulation too', async () => {
    const run = tinyRun(4, 6);
    const live: number[] = [];
    await nb.train.trainLoop({
      ...run.options,
      gradAccumSteps: 3,
      onStep: () => void live.push(nb.memoryStats().liveBuffers),
    });
    assert.equal(new Set(live.slice(1)).size, 1, `live buffers per step: ${live.join(', ')}`);
  });
});

describe('train: best checkpoints and the metrics log', () => {
  test('best-keeping follows the chosen metric; JSONL lines hold step, loss, lr, tokens/s, time, eval metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nabla-train-'));
    try {
      const run = tinyRun(2, 10);
      const valLosses = [3, 2, 2.5, 1, 1.5];
      let evals = 0;
      const bestWeights: Record<number, Record<string, number[]>> = {};
      const kinds: [string, number][] = [];
      const writer = checkpointWriter(join(dir, 'ckpt'));
      const trainer = new nb.train.Trainer({
        ...run.options,
        evalEvery: 2,
        evalFn: () => ({ valLoss: valLosses[evals++]!, accuracy: evals / 10 }),
        checkpointEvery: 5,
        onCheckpoint: async (ckpt, info) => {
          kinds.push([info.kind, info.step]);
          if (info.kind === 'best') bestWeights[info.step] = snapshot(run.model);
          await writer(ckpt, info);
        },
        onMetrics: await jsonlFileSink(join(dir, 'metrics.jsonl'), { truncate: true }),
      });
      const result = await trainer.run();
      assert.deepEqual(kinds, [
        ['best', 2],
        ['best', 4],
        ['last', 5],
        ['best', 8],
        ['last', 10],
      ]);
      assert.deepEqual(result.best, { metric: 'valLoss', mode: 'min', value: 1, step: 8 });

      const best = await loadCheckpoint(join(dir, 'ckpt', 'best'), { model: run.model });
      assert.equal(best.state.step, 8);
      assert.deepEqual(best.state.best, result.best);
      for (const [key, t] of Object.entries(best.model))
        assert.deepEqual(Array.from(t.dataSync()), bestWeights[8]![key], key);
      const last = await loadCheckpoint(join(dir, 'ckpt', 'last'));
      assert.equal(last.state.step, 10);

      const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const train = records.filter((r) => r.kind === 'train');
      const evalLines = records.filter((r) => r.kind === 'eval');
      assert.equal(train.length, 10);
      assert.deepEqual(
        train.map((r) => r.step),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      for (const r of train) {
        for (const key of ['loss', 'lr', 'gradNorm', 'tokens', 'tokensPerSec', 'stepTime', 'time'])
          assert.equal(typeof r[key], 'number', `${key} in ${JSON.stringify(r)}`);
        assert.equal(r.tokens, 32); // 4 × 8 tokens per batch
      }
      assert.equal(
        train[0]!.lr,
        nb.optim.cosineWithWarmup({ maxLr: 1e-2, minLr: 1e-3, warmupIters: 2, lrDecayIters: 10 })(
          0,
        ),
      );
      assert.deepEqual(
        evalLines.map((r) => [r.step, r.valLoss, r.best]),
        [
          [2, 3, true],
          [4, 2, true],
          [6, 2.5, false],
          [8, 1, true],
          [10, 1.5, false],
        ],
      );
      assert.equal(evalLines[0]!.accuracy, 0.1);
      const times = records.map((r) => r.time as number);
      assert.deepEqual(
        [...times].sort((a, b) => a - b),
        times,
        'time never goes back',
      );

      // Resuming from 'best' (step 8) trims the lines the abandoned run logged after it.
      await jsonlFileSink(join(dir, 'metrics.jsonl'), { resumeStep: 8 });
      const kept = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
      const steps = kept.map((l) => JSON.parse(l) as { kind: string; step: number });
      assert.equal(steps.filter((r) => r.kind === 'train').length, 8);
      assert.deepEqual(steps[steps.length - 1], {
        ...steps[steps.length - 1]!,
        kind: 'eval',
        step: 8,
      });
      // A torn last line (a crash mid-append) is dropped too.
      writeFileSync(join(dir, 'metrics.jsonl'), kept.join('\n') + '\n{"kind":"tr');
      await jsonlFileSink(join(dir, 'metrics.jsonl'), { resumeStep: 8 });
      assert.equal(
        readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length,
        kept.length,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("bestMode 'max', and a bestMetric evalFn does not return is an error", async () => {
    const run = tinyRun(2, 4);
    const scores = [0.5, 0.9, 0.7, 0.95];
    let i = 0;
    const trainer = new nb.train.Trainer({
      ...run.options,
      evalEvery: 1,
      evalFn: () => ({ acc: scores[i++]! }),
      bestMetric: 'acc',
      bestMode: 'max',
    });
    const r = await trainer.run();
    assert.deepEqual(r.best, { metric: 'acc', mode: 'max', value: 0.95, step: 4 });
    const bad = new nb.train.Trainer({
      ...run.options,
      maxSteps: 8,
      evalEvery: 1,
      evalFn: () => ({ acc: 1 }),
    });
    await assert.rejects(
      bad.run(),
      /bestMetric 'valLoss' is not among the metrics evalFn returned \(acc\)/,
    );
  });
});

describe('train: the loop on a tiny task', () => {
  test('the loss falls, hooks see every step, memory stays flat', async () => {
    const run = tinyRun(11, 80);
    const live: number[] = [];
    const log = nb.train.memorySink();
    let evalCalls = 0;
    const result = await nb.train.trainLoop({
      ...run.options,
      lr: nb.optim.cosineWithWarmup({ maxLr: 3e-2, minLr: 3e-3, warmupIters: 5, lrDecayIters: 80 }),
      evalEvery: 20,
      onMetrics: log.sink,
      onStep: ({ step, record }) => {
        assert.equal(record.step, step - 1);
        assert.ok(
          run.model.parameters().some((p) => p.grad !== null),
          'gradients visible to hooks',
        );
        live.push(nb.memoryStats().liveBuffers);
      },
      onEval: ({ metrics }) => {
        evalCalls++;
        assert.equal(typeof metrics.valLoss, 'number');
        assert.equal(run.model.training, true, 'training mode restored after eval');
      },
    });
    assert.equal(result.step, 80);
    assert.equal(evalCalls, 4);
    const train = log.records.filter((r): r is nb.train.TrainRecord => r.kind === 'train');
    const first = train.slice(0, 5).reduce((a, r) => a + r.loss, 0) / 5;
    const lastFive = train.slice(-5).reduce((a, r) => a + r.loss, 0) / 5;
    assert.ok(lastFive < 0.6 * first, `loss ${first} → ${lastFive}`);
    const evals = log.records.filter((r) => r.kind === 'eval').map((r) => r.valLoss as number);
    assert.ok(evals[3]! < evals[0]!, `val loss ${evals.join(', ')}`);
    // After the optimizer created its moments (step 1), every step frees what it allocated.
    assert.equal(new Set(live.slice(2)).size, 1, `live buffers per step: ${live.join(', ')}`);
  });

  test('argument errors', () => {
    const { model, x, y, mse } = mlpSetup();
    const base = {
      model,
      optimizer: new nb.optim.SGD(model.parameters(), { lr: 0.1 }),
      data: () => ({ x, y }),
      loss: mse,
      maxSteps: 2,
    };
    assert.throws(() => new nb.train.Trainer({ ...base, maxSteps: -1 }), /maxSteps/);
    assert.throws(() => new nb.train.Trainer({ ...base, gradAccumSteps: 0 }), /gradAccumSteps/);
    assert.throws(() => new nb.train.Trainer({ ...base, gradClip: -1 }), /gradClip/);
    assert.throws(
      () => new nb.train.Trainer({ ...base, evalEvery: 5 }),
      /evalEvery needs an evalFn/,
    );
    const badLoss = new nb.train.Trainer({ ...base, loss: (m, b) => m.forward(b.x) });
    assert.throws(() => badLoss.trainStep(), /one-element Tensor/);
    const badLr = new nb.train.Trainer({ ...base, lr: () => NaN });
    assert.throws(() => badLr.trainStep(), /learning rate for step 0 is NaN/);
  });
});
