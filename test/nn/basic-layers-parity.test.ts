/**
 * PyTorch parity of the basic layers and losses: for each case of test/fixtures/nn-basic.json
 * (written by scripts/fixtures/gen_nn_basic.py with PyTorch), build the nabla module, load
 * PyTorch's state_dict with `loadStateDict` (strict, so the key names must be PyTorch's), run
 * forward and backward with the same upstream gradient in float32, and compare the output and the
 * gradients of the input, of a float target and of every parameter.
 *
 * Tolerance: |nabla − torch| <= 1e-5 + 1e-4·|torch| per element. Both sides compute in float32 from
 * identical inputs, so only summation order differs (errors of a few 1e-7 in practice); the
 * fixture's 8 significant digits are far below that.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as nb from '../../src/index.js';

const ATOL = 1e-5;
const RTOL = 1e-4;

type Nested = number | Nested[];
interface TensorJson {
  dtype: 'float32' | 'int64';
  data: Nested;
}
interface Case {
  name: string;
  module: string;
  config: Record<string, unknown>;
  state_dict: Record<string, Nested>;
  input: TensorJson;
  target: TensorJson | null;
  upstream: Nested;
  output: Nested;
  grads: Record<string, Nested>;
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/nn-basic.json', import.meta.url), 'utf8'),
) as { torch_version: string; cases: Case[] };

function shapeOf(v: Nested): number[] {
  const shape: number[] = [];
  for (let p = v; Array.isArray(p); p = p[0]!) {
    shape.push(p.length);
    if (p.length === 0) break;
  }
  return shape;
}

function flat(v: Nested): number[] {
  return Array.isArray(v) ? v.flatMap(flat) : [v];
}

function fromJson(t: TensorJson, requiresGrad = false): nb.Tensor {
  return nb.tensor(t.data, { dtype: t.dtype === 'int64' ? 'int32' : 'float32', requiresGrad });
}

function assertClose(actual: nb.Tensor | null, expected: Nested, what: string): void {
  assert.ok(actual, `${what}: missing`);
  assert.deepEqual(actual.shape, shapeOf(expected), `${what}: shape`);
  const a = actual.dataSync();
  const e = flat(expected);
  for (let i = 0; i < e.length; i++) {
    const err = Math.abs(a[i]! - e[i]!);
    assert.ok(
      err <= ATOL + RTOL * Math.abs(e[i]!),
      `${what}[${i}]: nabla ${a[i]} vs torch ${e[i]} (error ${err})`,
    );
  }
}

/** A same-shaped placeholder for a buffer that loadStateDict then fills. */
function placeholder(c: Case, key: string): nb.Tensor | undefined {
  const v = c.state_dict[key];
  return v === undefined ? undefined : nb.zeros(shapeOf(v));
}

type LossModule = nb.nn.Module & { forward(input: nb.Tensor, target: nb.Tensor): nb.Tensor };
type LayerModule = nb.nn.Module & { forward(input: nb.Tensor): nb.Tensor };

/** The nabla module for a case, from PyTorch's constructor arguments. */
function build(c: Case): LossModule | LayerModule {
  const k = c.config as Record<string, never>;
  const reduction = k.reduction as nb.F.Reduction | undefined;
  switch (c.module) {
    case 'Linear':
      return new nb.nn.Linear(k.in_features, k.out_features, { bias: k.bias ?? true });
    case 'LayerNorm':
      return new nb.nn.LayerNorm(k.normalized_shape, {
        eps: k.eps,
        elementwiseAffine: k.elementwise_affine,
        bias: k.bias,
      });
    case 'Embedding':
      return new nb.nn.Embedding(k.num_embeddings, k.embedding_dim, { paddingIdx: k.padding_idx });
    case 'CrossEntropyLoss':
      return new nb.nn.CrossEntropyLoss({
        weight: placeholder(c, 'weight'),
        ignoreIndex: k.ignore_index,
        labelSmoothing: k.label_smoothing,
        reduction,
      });
    case 'NLLLoss':
      return new nb.nn.NLLLoss({
        weight: placeholder(c, 'weight'),
        ignoreIndex: k.ignore_index,
        reduction,
      });
    case 'MSELoss':
      return new nb.nn.MSELoss({ reduction });
    case 'L1Loss':
      return new nb.nn.L1Loss({ reduction });
    case 'BCEWithLogitsLoss':
      return new nb.nn.BCEWithLogitsLoss({
        weight: placeholder(c, 'weight'),
        posWeight: placeholder(c, 'pos_weight'),
        reduction,
      });
    default:
      throw new Error(`no builder for ${c.module}`);
  }
}

describe(`PyTorch parity of basic layers and losses (torch ${fixture.torch_version})`, () => {
  test('the fixture covers every layer and loss kind', () => {
    const kinds = new Set(fixture.cases.map((c) => c.module));
    for (const k of ['Linear', 'LayerNorm', 'Embedding', 'CrossEntropyLoss', 'NLLLoss', 'MSELoss'])
      assert.ok(kinds.has(k), `no ${k} case`);
  });

  for (const c of fixture.cases) {
    test(c.name, () => {
      const module = build(c);
      const stateDict = Object.fromEntries(
        Object.entries(c.state_dict).map(([key, v]) => [key, nb.tensor(v)]),
      );
      // Strict: the key sets must be identical, so the names are PyTorch's.
      const result = module.loadStateDict(stateDict);
      assert.deepEqual(result, { missingKeys: [], unexpectedKeys: [] });
      assert.deepEqual(Object.keys(module.stateDict()).sort(), Object.keys(c.state_dict).sort());

      const x = fromJson(c.input, c.input.dtype === 'float32');
      const target = c.target ? fromJson(c.target, 'target' in c.grads) : null;
      const out = target
        ? (module as LossModule).forward(x, target)
        : (module as LayerModule).forward(x);
      assertClose(out, c.output, 'output');
      out.backward(nb.tensor(c.upstream));

      if (x.requiresGrad) assertClose(x.grad, c.grads.input!, 'grad of input');
      if (target?.requiresGrad) assertClose(target.grad, c.grads.target!, 'grad of target');
      const params = module.namedParameters();
      const expectedKeys = Object.keys(c.grads).filter(
        (key) => key !== 'input' && key !== 'target',
      );
      assert.deepEqual(params.map(([key]) => key).sort(), expectedKeys.sort(), 'parameter names');
      for (const [key, p] of params) assertClose(p.grad, c.grads[key]!, `grad of ${key}`);
    });
  }
});
