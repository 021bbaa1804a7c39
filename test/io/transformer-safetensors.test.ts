// End to end: an nn.Transformer state_dict saved by PyTorch with safetensors loads into
// nb.nn.Transformer with no renaming (strict), and gives PyTorch's output.
// Fixture: scripts/fixtures/gen_transformer_safetensors.py.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as nb from '../../src/index.js';

const dir = new URL('../fixtures/safetensors/', import.meta.url);

interface Flat {
  shape: number[];
  data: number[];
}

test('a PyTorch nn.Transformer saved as safetensors loads strictly and matches its output', () => {
  const ref = JSON.parse(readFileSync(new URL('transformer-tiny.json', dir), 'utf8')) as {
    src: Flat;
    tgt: Flat;
    output: Flat;
  };
  const weights = nb.io.loadSafetensors(readFileSync(new URL('transformer-tiny.safetensors', dir)));
  const model = new nb.nn.Transformer({
    dModel: 16,
    nhead: 2,
    numEncoderLayers: 2,
    numDecoderLayers: 2,
    dimFeedforward: 32,
    dropout: 0,
    batchFirst: true,
  });
  assert.deepEqual(Object.keys(weights).sort(), Object.keys(model.stateDict()).sort());
  const result = model.loadStateDict(weights);
  assert.deepEqual(result, { missingKeys: [], unexpectedKeys: [] });
  model.eval();
  const src = nb.tensor(ref.src.data, { shape: ref.src.shape });
  const tgt = nb.tensor(ref.tgt.data, { shape: ref.tgt.shape });
  const tgtMask = nb.nn.Transformer.generateSquareSubsequentMask(tgt.shape[1]!);
  const out = nb.noGrad(() => model.forward(src, tgt, { tgtMask }));
  assert.deepEqual(out.shape, ref.output.shape);
  const got = out.dataSync();
  let worst = 0;
  ref.output.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(got[i]! - v))));
  // float32 tolerance: PyTorch and nabla sum in different orders.
  assert.ok(worst < 1e-5, `max |nabla − PyTorch| = ${worst}`);
});
