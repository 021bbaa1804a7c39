/**
 * PyTorch parity of the Transformer layers, stacks and the full model: outputs and the gradients
 * of every input and parameter, against test/fixtures/transformer-layers.json and
 * transformer-model.json (scripts/fixtures/gen_transformer.py, torch float64, dropout 0).
 *
 * Tolerances: float32 runs within atol 1e-5 + rtol 1e-4 of the float64 reference; float64 runs
 * within atol 1e-8 + rtol 1e-6 (the fixtures store 8 significant digits). State dicts are loaded
 * with strict loadStateDict, which proves the key names (encoder.layers.0.self_attn.in_proj_weight,
 * decoder.norm.weight, ...) match PyTorch's.
 */
import { describe, test } from 'node:test';
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

const cases = [...loadFixture('transformer-layers.json'), ...loadFixture('transformer-model.json')];
const DTYPES: [nb.FloatDType, Tol][] = [
  ['float32', TOL32],
  ['float64', TOL64],
];

type Config = nb.nn.TransformerLayerOptions & {
  numLayers?: number;
  numEncoderLayers?: number;
  numDecoderLayers?: number;
};

function build(c: FixtureCase, dtype: nb.FloatDType): nb.nn.Module {
  const cfg = { ...(c.config as unknown as Config), dtype };
  switch (c.kind) {
    case 'encoder_layer':
      return new nb.nn.TransformerEncoderLayer(cfg);
    case 'decoder_layer':
      return new nb.nn.TransformerDecoderLayer(cfg);
    case 'encoder':
      return new nb.nn.TransformerEncoder(
        new nb.nn.TransformerEncoderLayer(cfg),
        cfg.numLayers!,
        new nb.nn.LayerNorm(cfg.dModel, { dtype }),
      );
    case 'decoder':
      return new nb.nn.TransformerDecoder(
        new nb.nn.TransformerDecoderLayer(cfg),
        cfg.numLayers!,
        new nb.nn.LayerNorm(cfg.dModel, { dtype }),
      );
    case 'transformer':
      return new nb.nn.Transformer(cfg);
    default:
      throw new Error(`unknown case kind ${c.kind}`);
  }
}

function forward(
  m: nb.nn.Module,
  c: FixtureCase,
  x: Record<string, nb.Tensor>,
  k: Record<string, nb.Tensor>,
): nb.Tensor {
  if (m instanceof nb.nn.TransformerEncoderLayer) {
    return m.forward(x.src!, { srcMask: k.srcMask, srcKeyPaddingMask: k.srcKeyPaddingMask });
  }
  if (m instanceof nb.nn.TransformerEncoder) {
    return m.forward(x.src!, { mask: k.srcMask, srcKeyPaddingMask: k.srcKeyPaddingMask });
  }
  if (m instanceof nb.nn.TransformerDecoderLayer || m instanceof nb.nn.TransformerDecoder) {
    return m.forward(x.tgt!, x.memory!, k);
  }
  if (m instanceof nb.nn.Transformer) return m.forward(x.src!, x.tgt!, k);
  throw new Error(`no forward for ${c.kind}`);
}

function run(c: FixtureCase, dtype: nb.FloatDType, tol: Tol): void {
  const m = build(c, dtype).eval();
  m.loadStateDict(stateFromFixture(c, dtype)); // strict: same keys as PyTorch
  const inputs: Record<string, nb.Tensor> = {};
  for (const [n, t] of Object.entries(c.inputs)) inputs[n] = fromFixture(t, dtype, true);
  const out = forward(m, c, inputs, masksFromFixture(c, dtype));
  assertMatches(out, c.output, tol, `${c.name}: output`);
  out.mul(fromFixture(c.grad_output, dtype)).sum().backward();
  for (const [n, t] of Object.entries(inputs)) {
    assertMatches(t.grad, c.grads[`input:${n}`]!, tol, `${c.name}: grad of ${n}`);
  }
  assertParamGrads(m, c, tol);
}

describe('Transformer layers, stacks and model vs torch.nn', () => {
  for (const [dtype, tol] of DTYPES) {
    for (const c of cases) test(`${c.name} (${dtype})`, () => run(c, dtype, tol));
  }
});
