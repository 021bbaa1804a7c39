/**
 * Learning-rate schedules: values at chosen steps (warm-up, peak, cosine midpoint, floor, decay
 * boundaries), argument checks, and the LRScheduler wrapper (absolute and relative modes, one
 * schedule per group, state dict round trip). PyTorch parity is in optim-parity.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

const close = (a: number, b: number, tol = 1e-12): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

function sgd(lrs: number[]): nb.optim.SGD {
  return new nb.optim.SGD(
    lrs.map((lr) => ({ params: [new nb.nn.Parameter(nb.zeros([1]))], options: { lr } })),
    { lr: 1 },
  );
}

describe('schedules as functions', () => {
  test('linearWarmup rises as (step + 1) / (warmup + 1), then stays', () => {
    const f = nb.optim.linearWarmup({ lr: 0.5, warmupIters: 4 });
    close(f(0), 0.1);
    close(f(3), 0.4);
    close(f(4), 0.5);
    close(f(1000), 0.5);
    close(nb.optim.linearWarmup({ lr: 0.5, warmupIters: 0 })(0), 0.5);
  });

  test('cosineWithWarmup follows nanoGPT get_lr', () => {
    const f = nb.optim.cosineWithWarmup({
      maxLr: 1,
      minLr: 0.1,
      warmupIters: 10,
      lrDecayIters: 110,
    });
    close(f(0), 1 / 11);
    close(f(9), 10 / 11);
    close(f(10), 1); // peak at the end of warm-up
    close(f(60), 0.55); // cosine midpoint: (max + min) / 2
    close(f(35), 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)));
    close(f(110), 0.1);
    close(f(10_000), 0.1);
    // Monotone non-increasing after the warm-up.
    for (let s = 10; s < 120; s++) assert.ok(f(s + 1) <= f(s) + 1e-15, `step ${s}`);
    // No warm-up and no decay window: the floor straight after the start.
    const g = nb.optim.cosineWithWarmup({ maxLr: 1, minLr: 0.2, warmupIters: 0, lrDecayIters: 0 });
    close(g(0), 0.2);
  });

  test('noam: d^-0.5 · min(s^-0.5, s · w^-1.5) with a factor, peak at the warm-up', () => {
    const f = nb.optim.noam({ dModel: 512, warmup: 4000, factor: 1 });
    close(f(4000), 512 ** -0.5 * 4000 ** -0.5);
    close(f(1000), 512 ** -0.5 * 1000 * 4000 ** -1.5);
    close(f(16000), 512 ** -0.5 * 16000 ** -0.5);
    close(f(0), f(1)); // step 0 is treated as step 1
    let best = 0;
    for (let s = 1; s < 10000; s += 1) if (f(s) > f(best)) best = s;
    assert.equal(best, 4000);
    close(nb.optim.noam({ dModel: 512, warmup: 4000, factor: 2 })(123), 2 * f(123));
  });

  test('stepDecay: lr · gamma^floor(step / stepSize)', () => {
    const f = nb.optim.stepDecay({ lr: 0.1, stepSize: 30, gamma: 0.1 });
    close(f(0), 0.1);
    close(f(29), 0.1);
    close(f(30), 0.01);
    close(f(89), 0.001);
    close(nb.optim.stepDecay({ lr: 1, stepSize: 2 })(4), 0.01); // default gamma 0.1
  });

  test('bad arguments are ValueErrors naming the schedule', () => {
    assert.throws(
      () => nb.optim.cosineWithWarmup({ maxLr: 1, minLr: 0, warmupIters: 10, lrDecayIters: 5 }),
      (e: unknown) =>
        e instanceof nb.ValueError && /cosineWithWarmup: lrDecayIters/.test(e.message),
    );
    assert.throws(() => nb.optim.noam({ dModel: 0, warmup: 10 }), nb.ValueError);
    assert.throws(() => nb.optim.stepDecay({ lr: 0.1, stepSize: 0 }), nb.ValueError);
    assert.throws(() => nb.optim.linearWarmup({ lr: -1, warmupIters: 1 }), nb.ValueError);
    assert.throws(() => nb.optim.constantLr(0.1)(-1), /step must be an integer >= 0/);
    assert.throws(() => nb.optim.constantLr(0.1)(1.5), nb.ValueError);
  });
});

describe('LRScheduler', () => {
  test('absolute mode sets the schedule value on every group; step 0 at construction', () => {
    const opt = sgd([0.3, 0.7]);
    const sched = new nb.optim.LRScheduler(opt, nb.optim.linearWarmup({ lr: 1, warmupIters: 3 }));
    assert.deepEqual(sched.getLastLr(), [0.25, 0.25]);
    assert.deepEqual(
      opt.paramGroups.map((g) => g.options.lr),
      [0.25, 0.25],
    );
    sched.step();
    sched.step();
    sched.step();
    assert.equal(sched.lastEpoch, 3);
    assert.deepEqual(sched.getLastLr(), [1, 1]);
  });

  test('relative mode multiplies each group base lr (LambdaLR)', () => {
    const opt = sgd([0.2, 0.02]);
    const sched = new nb.optim.LRScheduler(
      opt,
      nb.optim.stepDecay({ lr: 1, stepSize: 2, gamma: 0.5 }),
      {
        relative: true,
      },
    );
    const seen: number[][] = [sched.getLastLr()];
    for (let i = 0; i < 4; i++) {
      sched.step();
      seen.push(sched.getLastLr());
    }
    assert.deepEqual(seen, [
      [0.2, 0.02],
      [0.2, 0.02],
      [0.1, 0.01],
      [0.1, 0.01],
      [0.05, 0.005],
    ]);
  });

  test('one schedule per group', () => {
    const opt = sgd([1, 1]);
    const sched = new nb.optim.LRScheduler(opt, [
      nb.optim.constantLr(0.1),
      nb.optim.constantLr(0.2),
    ]);
    assert.deepEqual(sched.getLastLr(), [0.1, 0.2]);
    assert.throws(
      () => new nb.optim.LRScheduler(opt, [nb.optim.constantLr(0.1)]),
      /2 parameter group/,
    );
  });

  test('stateDict/loadStateDict resumes the schedule (through JSON)', () => {
    const schedule = nb.optim.cosineWithWarmup({
      maxLr: 1,
      minLr: 0.1,
      warmupIters: 2,
      lrDecayIters: 9,
    });
    const a = new nb.optim.LRScheduler(sgd([0.5]), schedule, { relative: true });
    for (let i = 0; i < 4; i++) a.step();
    const saved = JSON.parse(JSON.stringify(a.stateDict())) as nb.optim.LRSchedulerStateDict;

    const opt = sgd([123]);
    const b = new nb.optim.LRScheduler(opt, schedule, { relative: true });
    b.loadStateDict(saved);
    assert.equal(b.lastEpoch, 4);
    assert.deepEqual(b.getLastLr(), a.getLastLr());
    assert.equal(opt.paramGroups[0]!.options.lr, a.getLastLr()[0]);
    for (let i = 0; i < 6; i++) {
      a.step();
      b.step();
      assert.deepEqual(b.getLastLr(), a.getLastLr());
    }
    assert.throws(() => b.loadStateDict({ ...saved, relative: false }), nb.ValueError);
    assert.throws(() => b.loadStateDict({ ...saved, baseLrs: [1, 2] }), nb.ValueError);
  });

  test('a schedule giving a non-finite rate is an error', () => {
    assert.throws(
      () => new nb.optim.LRScheduler(sgd([0.1]), () => NaN),
      /schedule gave NaN at step 0/,
    );
  });
});
