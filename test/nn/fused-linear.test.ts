/**
 * A linear layer's bias added by the matmul kernel (F.linear → linearOp: one op, one buffer)
 * against the composite matmul + add (the oracle, `F.setFusedKernels(false)`), on ref, native
 * (when built) and wasm: the same values to the bit (the bias is added after the product, as the
 * separate add does), the same gradients, on folded (B, T, K) inputs, batched non-foldable ones,
 * transposed inputs and odd sizes; plus finite differences in float64.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { wasmBackend } from '../../src/backend/wasm/index.js';
import { gradcheck, input } from '../core/helpers.js';
import { BACKENDS, compareFused, onBackend, withFused } from './fused-helpers.js';

const cases: [string, number[], (t: nb.Tensor) => nb.Tensor][] = [
  ['(B, T, K) rows folded into one product', [3, 5, 7], (t) => t],
  ['a transposed (non-foldable) batch', [5, 3, 7], (t) => t.transpose(0, 1)],
  ['2-D input, odd sizes', [13, 7], (t) => t],
  ['a strided view', [6, 14], (t) => t.slice(1, 0, 14, 2)],
];

describe('fused linear bias matches matmul + add', () => {
  for (const backend of [...BACKENDS, wasmBackend]) {
    for (const dtype of ['float32', 'float64'] as const) {
      test(`${backend.name} ${dtype}`, () =>
        onBackend(backend, () => {
          for (const [label, shape, view] of cases) {
            const build = () => {
              const g = new nb.Generator(5);
              const x = nb.randn(shape, { dtype, generator: g }).requiresGrad_();
              const w = nb.randn([11, 7], { dtype, generator: g }).requiresGrad_();
              const b = nb.randn([11], { dtype, generator: g }).requiresGrad_();
              // A weight given as a transposed view, and no bias, go through the same op.
              const wt = nb.randn([7, 11], { dtype, generator: g }).requiresGrad_();
              return {
                outputs: [nb.F.linear(view(x), w, b), nb.F.linear(view(x), wt.mT)],
                leaves: [x, w, b, wt],
              };
            };
            const [fused] = compareFused(build, dtype, label);
            const [composite] = withFused(false, () => build().outputs);
            assert.deepEqual(fused!.dataSync(), composite!.detach().dataSync(), label);
          }
        }));
    }
  }

  test('one recorded op with the switch on, matmul then add with it off', () => {
    const x = nb.randn([2, 3]);
    const w = nb.randn([4, 3], { requiresGrad: true });
    const b = nb.randn([4], { requiresGrad: true });
    assert.equal(nb.F.linear(x, w, b).gradFn!.name, 'matmul');
    assert.equal(nb.F.linear(x, w, b).gradFn!.inputs.length, 3);
    assert.equal(
      withFused(false, () => nb.F.linear(x, w, b).gradFn!.name),
      'add',
    );
  });

  test('the weight gradient is made in the weight\u2019s layout: no copy into .grad', () => {
    const x = nb.randn([2, 3, 4]);
    const w = nb.randn([5, 4], { requiresGrad: true });
    const b = nb.randn([5], { requiresGrad: true });
    const kernels = nb.getBackend().kernels as { copy: (...args: never[]) => void };
    const copy = kernels.copy;
    let copies = 0;
    kernels.copy = (...args) => {
      copies++;
      copy(...args);
    };
    try {
      nb.F.linear(x, w, b).sum().backward();
    } finally {
      kernels.copy = copy;
    }
    // Resident wasm storage: each of the two gradients is copied once, into collected storage.
    assert.equal(copies, x.storage.explicitFree === true ? 2 : 0);
    const expected = x.reshape(6, 4).sum(0).expand(5, 4).dataSync();
    w.grad!.dataSync().forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5, `${i}`));
  });

  test('second-order gradients match the composite', () => {
    const run = () => {
      const g = new nb.Generator(9);
      const x = nb.randn([3, 4], { dtype: 'float64', generator: g }).requiresGrad_();
      const w = nb.randn([5, 4], { dtype: 'float64', generator: g }).requiresGrad_();
      const b = nb.randn([5], { dtype: 'float64', generator: g }).requiresGrad_();
      nb.F.linear(x, w, b).tanh().sum().backward(undefined, { createGraph: true });
      const first = [x.grad!, w.grad!, b.grad!];
      const firstValues = first.map((t) => [...t.dataSync()]);
      for (const t of [x, w, b]) t.grad = null;
      first[0]!.pow(2).sum().backward(); // d/d(x, w, b) of |dy/dx|²
      return [...firstValues, ...[x.grad!, w.grad!, b.grad!].map((t) => [...t.dataSync()])];
    };
    const fused = run();
    const composite = withFused(false, run);
    fused.forEach((f, i) =>
      f.forEach((v, j) => assert.ok(Math.abs(v - composite[i]![j]!) < 1e-12)),
    );
  });

  test('finite differences (float64) through the fused op', () => {
    const [x, w, b] = [
      input([2, 3, 4], { seed: 1 }),
      input([5, 4], { seed: 2 }),
      input([5], { seed: 3 }),
    ];
    gradcheck((x, w, b) => nb.F.linear(x, w, b).sin(), [x!, w!, b!]);
    gradcheck((x, w) => nb.F.linear(x, w).sin(), [x!, w!]);
  });
});
