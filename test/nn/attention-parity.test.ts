/**
 * PyTorch parity of scaled dot-product attention and MultiheadAttention: outputs, attention
 * weights, and the gradients of every input and parameter, against
 * test/fixtures/transformer-attention.json (scripts/fixtures/gen_transformer.py, torch float64).
 *
 * Tolerances: float32 runs within atol 1e-5 + rtol 1e-4 of the float64 reference; float64 runs
 * within atol 1e-8 + rtol 1e-6 (the fixtures store 8 significant digits). The MHA state dicts are
 * loaded with strict loadStateDict, which proves the parameter names match PyTorch's.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nb from '../../src/index.js';
import {
  assertMatches,
  assertParamGrads,
  fromFixture,
  loadFixture,
  masksFromFixture,
  stateFromFixture,
  TOL32,
  TOL64,
  type FixtureCase,
  type Tol,
} from './transformer-fixture-helpers.js';

const cases = loadFixture('transformer-attention.json');
const sdpaCases = cases.filter((c) => c.kind === 'sdpa');
const mhaCases = cases.filter((c) => c.kind === 'mha');
const DTYPES: [nb.FloatDType, Tol][] = [
  ['float32', TOL32],
  ['float64', TOL64],
];

function runSdpa(c: FixtureCase, dtype: nb.FloatDType, tol: Tol): void {
  const q = fromFixture(c.inputs.q!, dtype, true);
  const k = fromFixture(c.inputs.k!, dtype, true);
  const v = fromFixture(c.inputs.v!, dtype, true);
  const attnMask = c.inputs.attnMask ? fromFixture(c.inputs.attnMask, dtype) : null;
  const options = {
    attnMask,
    isCausal: c.options!.isCausal as boolean,
    scale: (c.options!.scale as number | null) ?? null,
  };
  const out = nb.nn.scaledDotProductAttention(q, k, v, options);
  assertMatches(out, c.output, tol, `${c.name}: output`);
  out.mul(fromFixture(c.grad_output, dtype)).sum().backward();
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const) {
    assertMatches(t.grad, c.grads[`input:${name}`]!, tol, `${c.name}: grad of ${name}`);
  }
  const [out2, w] = nb.nn.scaledDotProductAttentionWithWeights(q, k, v, options);
  assertMatches(out2, c.output, tol, `${c.name}: output (with weights)`);
  assertMatches(w, c.weights!, tol, `${c.name}: weights`);
}

function runMha(c: FixtureCase, dtype: nb.FloatDType, tol: Tol): void {
  const cfg = c.config as unknown as nb.nn.MultiheadAttentionOptions;
  const mha = new nb.nn.MultiheadAttention({ ...cfg, dtype }).eval();
  mha.loadStateDict(stateFromFixture(c, dtype)); // strict
  const masks = masksFromFixture(c, dtype);
  const inputs: Record<string, nb.Tensor> = {};
  for (const [n, t] of Object.entries(c.inputs)) inputs[n] = fromFixture(t, dtype, true);
  const [q, k, v] = c.self
    ? [inputs.x!, inputs.x!, inputs.x!]
    : [inputs.query!, inputs.key!, inputs.value!];
  const [out, w] = mha.forward(q, k, v, {
    attnMask: masks.attnMask,
    keyPaddingMask: masks.keyPaddingMask,
    needWeights: c.options!.needWeights as boolean,
    averageAttnWeights: c.options!.averageAttnWeights as boolean,
    isCausal: c.options!.isCausal as boolean,
  });
  assertMatches(out, c.output, tol, `${c.name}: output`);
  let loss = out.mul(fromFixture(c.grad_output, dtype)).sum();
  if (c.weights) {
    assertMatches(w, c.weights, tol, `${c.name}: weights`);
    loss = loss.add(w!.mul(fromFixture(c.grad_weights!, dtype)).sum());
  } else {
    assert.equal(w, null);
  }
  loss.backward();
  for (const [n, t] of Object.entries(inputs)) {
    assertMatches(t.grad, c.grads[`input:${n}`]!, tol, `${c.name}: grad of input ${n}`);
  }
  assertParamGrads(mha, c, tol);
}

describe('scaledDotProductAttention vs torch.nn.functional.scaled_dot_product_attention', () => {
  test('the fixture covers the required cases', () => {
    assert.ok(sdpaCases.length >= 6);
    assert.ok(mhaCases.length >= 6);
  });
  for (const [dtype, tol] of DTYPES) {
    for (const c of sdpaCases) {
      test(`${c.name} (${dtype})`, () => runSdpa(c, dtype, tol));
    }
  }
});

describe('MultiheadAttention vs torch.nn.MultiheadAttention', () => {
  for (const [dtype, tol] of DTYPES) {
    for (const c of mhaCases) {
      test(`${c.name} (${dtype})`, () => runMha(c, dtype, tol));
    }
  }
});
