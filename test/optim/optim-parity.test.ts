/**
 * PyTorch parity of the optimizers and schedules: test/fixtures/optim.json (written by
 * scripts/fixtures/gen_optim.py) gives initial parameters, a gradient sequence (with one missing
 * gradient) and, for each optimizer configuration with two parameter groups, PyTorch's parameter
 * values after each of 5 steps; and the learning rates of StepLR and of LambdaLR running nanoGPT's
 * cosine-with-warm-up and the Noam schedule.
 *
 * Tolerance: |nabla − torch| <= 1e-12 + 1e-6·|torch| per element. Both sides compute in float64
 * with the same order of operations, so differences are a few ulps; the fixture prints float64
 * exactly (repr).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as nb from '../../src/index.js';

const RTOL = 1e-6;
const ATOL = 1e-12;

type Nested = number | Nested[];
interface OptimizerCase {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  defaults: Record<string, number | boolean | number[]>;
  groups: Record<string, number | boolean>[];
  values: Nested[][];
}
interface ScheduleCase {
  name: string;
  scheduler: 'StepLR' | 'LambdaLR';
  config: Record<string, number>;
  base_lrs: number[];
  lrs: number[][];
}
interface Fixture {
  torch_version: string;
  steps: number;
  params: { name: string; shape: number[]; data: Nested }[];
  grads: (Nested | null)[][];
  optimizers: OptimizerCase[];
  schedules: ScheduleCase[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8'),
) as Fixture;

function flat(v: Nested): number[] {
  return Array.isArray(v) ? v.flatMap(flat) : [v];
}

function assertClose(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(
      Math.abs(a - e) <= ATOL + RTOL * Math.abs(e),
      `${what}[${i}]: nabla ${a}, torch ${e} (|diff| ${Math.abs(a - e)})`,
    );
  }
}

/** PyTorch's keyword arguments → nabla's option names. */
function toOptions(o: Record<string, number | boolean | number[]>): Record<string, unknown> {
  const names: Record<string, string> = { weight_decay: 'weightDecay' };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[names[k] ?? k] = v;
  return out;
}

function makeOptimizer(c: OptimizerCase, params: nb.nn.Parameter[]) {
  const groups = [
    { params: [params[0]!, params[1]!], options: toOptions(c.groups[0]!) },
    { params: [params[2]!], options: toOptions(c.groups[1]!) },
  ];
  const defaults = toOptions(c.defaults);
  switch (c.optimizer) {
    case 'SGD':
      return new nb.optim.SGD(groups, defaults as Partial<nb.optim.SGDOptions> & { lr: number });
    case 'Adam':
      return new nb.optim.Adam(groups, defaults);
    case 'AdamW':
      return new nb.optim.AdamW(groups, defaults);
  }
}

describe(`optimizers vs PyTorch ${fixture.torch_version} (float64)`, () => {
  for (const c of fixture.optimizers) {
    test(c.name, () => {
      const params = fixture.params.map(
        (p) => new nb.nn.Parameter(nb.tensor(p.data, { dtype: 'float64' })),
      );
      const opt = makeOptimizer(c, params);
      for (let s = 0; s < fixture.steps; s++) {
        opt.zeroGrad();
        params.forEach((p, i) => {
          const g = fixture.grads[s]![i];
          p.grad = g == null ? null : nb.tensor(g, { dtype: 'float64' });
        });
        opt.step();
        params.forEach((p, i) =>
          assertClose(
            p.dataSync(),
            flat(c.values[s]![i]!),
            `step ${s + 1} ${fixture.params[i]!.name}`,
          ),
        );
      }
    });
  }
});

describe(`schedules vs PyTorch ${fixture.torch_version}`, () => {
  function scheduleFor(c: ScheduleCase): nb.optim.Schedule {
    const k = c.config;
    if (c.name === 'step_lr')
      return nb.optim.stepDecay({ lr: 1, stepSize: k.step_size!, gamma: k.gamma! });
    if (c.name === 'cosine_warmup')
      return nb.optim.cosineWithWarmup({
        maxLr: 1,
        minLr: k.min_lr!,
        warmupIters: k.warmup_iters!,
        lrDecayIters: k.lr_decay_iters!,
      });
    if (c.name === 'noam')
      return nb.optim.noam({ dModel: k.d_model!, warmup: k.warmup!, factor: k.factor! });
    throw new Error(`unknown schedule ${c.name}`);
  }

  for (const c of fixture.schedules) {
    test(`${c.name} through LRScheduler (relative, two groups)`, () => {
      const params = c.base_lrs.map(() => new nb.nn.Parameter(nb.zeros([1], { dtype: 'float64' })));
      const opt = new nb.optim.SGD(
        params.map((p, i) => ({ params: [p], options: { lr: c.base_lrs[i]! } })),
        { lr: 0.1 },
      );
      const sched = new nb.optim.LRScheduler(opt, scheduleFor(c), { relative: true });
      c.lrs.forEach((expected, k) => {
        if (k > 0) sched.step();
        assertClose(sched.getLastLr(), expected, `${c.name} step ${k}`);
        assertClose(
          opt.paramGroups.map((g) => g.options.lr),
          expected,
          `${c.name} optimizer lr at step ${k}`,
        );
      });
    });

    test(`${c.name} as a plain function lrAt(step)`, () => {
      const lrAt = scheduleFor(c);
      c.lrs.forEach((expected, k) =>
        assertClose([c.base_lrs[0]! * lrAt(k)], [expected[0]!], `${c.name} lrAt(${k})`),
      );
    });
  }
});
