/**
 * Build an encoder–decoder Transformer, load weights that PyTorch saved (a plain
 * `safetensors.torch.save_file(model.state_dict(), ...)`, no renaming), and run it.
 * Run from the repository root after `npm install` (which builds dist/):
 *   node --import tsx examples/load-pytorch-transformer.ts
 * The weights come from scripts/fixtures/gen_transformer_safetensors.py.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as nb from 'nabla';
import { loadSafetensorsFile } from 'nabla/node';

const dir = new URL('../test/fixtures/safetensors/', import.meta.url);

// Same configuration as the PyTorch model: nn.Transformer(d_model=16, nhead=2, ...).
const model = new nb.nn.Transformer({
  dModel: 16,
  nhead: 2,
  numEncoderLayers: 2,
  numDecoderLayers: 2,
  dimFeedforward: 32,
  dropout: 0,
  batchFirst: true,
});
model.loadStateDict(
  await loadSafetensorsFile(fileURLToPath(new URL('transformer-tiny.safetensors', dir))),
);
model.eval();

// The input pair PyTorch ran, and its output, for comparison.
const ref = JSON.parse(readFileSync(new URL('transformer-tiny.json', dir), 'utf8')) as {
  src: { shape: number[]; data: number[] };
  tgt: { shape: number[]; data: number[] };
  output: { shape: number[]; data: number[] };
};
const src = nb.tensor(ref.src.data, { shape: ref.src.shape }); // (N, S, E)
const tgt = nb.tensor(ref.tgt.data, { shape: ref.tgt.shape }); // (N, T, E)
const tgtMask = nb.nn.Transformer.generateSquareSubsequentMask(tgt.shape[1]!);

const out = nb.noGrad(() => model.forward(src, tgt, { tgtMask })); // (N, T, E)
const expected = nb.tensor(ref.output.data, { shape: ref.output.shape });
const maxDiff = out.sub(expected).abs().max().item();
console.log(
  `output ${JSON.stringify(out.shape)}, max |nabla - PyTorch| = ${maxDiff.toExponential(2)}`,
);
