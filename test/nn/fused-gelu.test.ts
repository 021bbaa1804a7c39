/**
 * GELU's single kernels (forward, and the gradient kernel of its backward) against the composite
 * x·Φ(x) built from elementwise ops (the oracle, `F.setFusedKernels(false)`), exact and tanh, in
 * float32 and float64, on contiguous, transposed and broadcast inputs, on ref and native.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import { BACKENDS, compareFused, onBackend } from './fused-helpers.js';

describe('fused GELU matches the composite', () => {
  for (const backend of BACKENDS) {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const approximate of ['none', 'tanh'] as const) {
        test(`${backend.name} ${dtype} approximate '${approximate}'`, () =>
          onBackend(backend, () => {
            const build = (shape: number[], view: (t: nb.Tensor) => nb.Tensor) => () => {
              nb.manualSeed(7);
              const leaf = nb.randn(shape, { dtype }).mul(3).detach().requiresGrad_();
              return { outputs: [view(leaf).gelu(approximate)], leaves: [leaf] };
            };
            compareFused(
              build([257], (t) => t),
              dtype,
              'contiguous',
            );
            compareFused(
              build([9, 13], (t) => t.mT),
              dtype,
              'transposed',
            );
            compareFused(
              build([1, 6], (t) => t.expand(5, 6)),
              dtype,
              'broadcast',
            );
          }));
      }
    }
  }

  test('the kernels run unless the switch is off (one op recorded instead of five)', () => {
    const x = nb.randn([4], { requiresGrad: true });
    const names = (on: boolean): string => {
      const previous = nb.F.setFusedKernels(on);
      try {
        return x.gelu().gradFn!.name;
      } finally {
        nb.F.setFusedKernels(previous);
      }
    };
    assert.equal(names(true), 'gelu');
    assert.equal(names(false), 'mul');
  });
});
