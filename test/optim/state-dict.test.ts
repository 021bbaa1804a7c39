/**
 * Optimizer checkpoints: `stateDict()` → `serializeOptimizerState` → JSON text → `JSON.parse` →
 * `deserializeOptimizerState` → `loadStateDict` on a fresh optimizer over parameters restored to
 * the same values resumes exactly (bit for bit) what the original optimizer does, for SGD with
 * momentum, Adam with AMSGrad and AdamW with two parameter groups, in float32 and float64.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';

type AnyOptimizer = nb.optim.Optimizer<{ lr: number }>;

function makeParams(dtype: 'float32' | 'float64'): nb.nn.Parameter[] {
  const g = new nb.Generator(7);
  return [
    new nb.nn.Parameter(nb.randn([3, 2], { generator: g, dtype })),
    new nb.nn.Parameter(nb.randn([4], { generator: g, dtype })),
    new nb.nn.Parameter(nb.randn([2], { generator: g, dtype })),
  ];
}

function groups<H>(ps: nb.nn.Parameter[], second: Partial<H>) {
  return [{ params: [ps[0]!, ps[1]!] }, { params: [ps[2]!], options: second }];
}

const builders: Record<string, (ps: nb.nn.Parameter[]) => AnyOptimizer> = {
  'SGD (momentum, Nesterov)': (ps) =>
    new nb.optim.SGD(groups(ps, { lr: 0.02, weightDecay: 0.1 }), {
      lr: 0.05,
      momentum: 0.9,
      nesterov: true,
    }),
  'Adam (AMSGrad)': (ps) =>
    new nb.optim.Adam(groups(ps, { lr: 0.003 }), { lr: 0.01, amsgrad: true }),
  AdamW: (ps) => new nb.optim.AdamW(groups(ps, { lr: 0.02, weightDecay: 0.3 }), { lr: 0.01 }),
};

/** A deterministic gradient for parameter `i` at step `s`. */
function setGrads(ps: nb.nn.Parameter[], s: number): void {
  ps.forEach((p, i) => {
    const g = new nb.Generator(1000 * s + i);
    p.grad = nb.randn([...p.shape], { generator: g, dtype: p.dtype });
  });
}

function values(ps: nb.nn.Parameter[]): number[][] {
  return ps.map((p) => Array.from(p.dataSync()));
}

describe('optimizer state through JSON resumes exactly', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [name, build] of Object.entries(builders)) {
      test(`${name}, ${dtype}`, () => {
        const ps = makeParams(dtype);
        const opt = build(ps);
        for (let s = 0; s < 3; s++) {
          setGrads(ps, s);
          opt.step();
        }
        const checkpoint = JSON.stringify({
          params: values(ps),
          optimizer: nb.optim.serializeOptimizerState(opt.stateDict()),
        });
        // The original keeps going.
        for (let s = 3; s < 6; s++) {
          setGrads(ps, s);
          opt.step();
        }
        const expected = values(ps);

        // A fresh optimizer (different hyper-parameters until the state is loaded).
        const saved = JSON.parse(checkpoint) as { params: number[][]; optimizer: unknown };
        const qs = makeParams(dtype);
        nb.noGrad(() =>
          qs.forEach((q, i) => q.copy_(nb.tensor(saved.params[i]!, { dtype, shape: q.shape }))),
        );
        const opt2 = build(qs);
        opt2.paramGroups.forEach((g) => (g.options.lr = 123));
        opt2.loadStateDict(nb.optim.deserializeOptimizerState(saved.optimizer) as never);
        assert.deepEqual(
          opt2.paramGroups.map((g) => g.options.lr),
          opt.paramGroups.map((g) => g.options.lr),
        );
        for (let s = 3; s < 6; s++) {
          setGrads(qs, s);
          opt2.step();
        }
        assert.deepEqual(values(qs), expected);
      });
    }
  }

  test('the serialized form is plain JSON; non-finite values survive', () => {
    const ps = makeParams('float32');
    const opt = new nb.optim.Adam(ps, { lr: 0.1 });
    setGrads(ps, 0);
    opt.step();
    const sd = opt.stateDict();
    (sd.state[0]!.expAvg as nb.Tensor).fill_(NaN);
    (sd.state[1]!.expAvg as nb.Tensor).fill_(-Infinity);
    const ser = nb.optim.serializeOptimizerState(sd);
    const text = JSON.stringify(ser);
    assert.deepEqual(JSON.parse(text), ser);
    const back = nb.optim.deserializeOptimizerState<nb.optim.AdamOptions>(JSON.parse(text));
    assert.ok(Number.isNaN((back.state[0]!.expAvg as nb.Tensor).dataSync()[0]));
    assert.equal((back.state[1]!.expAvg as nb.Tensor).dataSync()[0], -Infinity);
    assert.equal(back.state[0]!.step, 1);
    assert.deepEqual(back.paramGroups[0]!.betas, [0.9, 0.999]);
    assert.deepEqual((back.state[0]!.expAvgSq as nb.Tensor).shape, [3, 2]);
    assert.throws(() => nb.optim.deserializeOptimizerState({ state: 3 }), nb.ValueError);
    assert.throws(
      () => nb.optim.deserializeOptimizerState({ state: { 0: { step: 'x' } }, paramGroups: [] }),
      /state\[0\]\.step is not a number/,
    );
  });

  test('loadStateDict copies the state: the loaded dict is not updated in place', () => {
    const ps = makeParams('float64');
    const opt = new nb.optim.SGD(ps, { lr: 0.1, momentum: 0.9 });
    setGrads(ps, 0);
    opt.step();
    const sd = opt.stateDict();
    const before = Array.from((sd.state[0]!.momentumBuffer as nb.Tensor).dataSync());
    const opt2 = new nb.optim.SGD(ps, { lr: 0.1, momentum: 0.9 });
    opt2.loadStateDict(sd);
    setGrads(ps, 1);
    opt2.step();
    assert.deepEqual(Array.from((sd.state[0]!.momentumBuffer as nb.Tensor).dataSync()), before);
  });

  test('float32 state loads into float64 parameters as float64 (as PyTorch casts on load)', () => {
    const p32 = makeParams('float32');
    const opt = new nb.optim.Adam(p32, { lr: 0.1 });
    setGrads(p32, 0);
    opt.step();
    const p64 = makeParams('float64');
    const opt2 = new nb.optim.Adam(p64, { lr: 0.1 });
    opt2.loadStateDict(opt.stateDict());
    const sd2 = opt2.stateDict();
    assert.equal((sd2.state[0]!.expAvg as nb.Tensor).dtype, 'float64');
    setGrads(p64, 1);
    opt2.step(); // runs without dtype errors
  });
});
