/**
 * The peer benchmark's initial weights and data, drawn once by nabla and written to a safetensors
 * file that every runner (nabla, TF.js, PyTorch) reads, so that all start from the same point.
 */
import * as nb from '../../src/index.node.js';
import { saveSafetensorsFile } from '../../src/io/node/files.js';
import { GPT, LSTM } from './spec.js';

const SEED = 1234;

/**
 * The initial weights and data, drawn once on the reference backend from SEED: the GPT's state
 * dict under `gpt.` (GPT-2's initialisation, lm_head tied to wte), its tokens and targets under
 * `gpt_data.`, the LSTM's (PyTorch's uniform ±1/√H initialisation) under `lstm.`, its inputs
 * (T, B, I) and targets (B, H) under `lstm_data.`.
 */
export async function makeInputs(path: string): Promise<void> {
  const previous = nb.getBackend();
  nb.setBackend('ref');
  const gen = new nb.Generator(SEED);
  const tensors: Record<string, nb.Tensor> = {};
  const gpt = new nb.models.GPT(
    {
      vocabSize: GPT.vocabSize,
      blockSize: GPT.blockSize,
      nLayer: GPT.nLayer,
      nHead: GPT.nHead,
      nEmbd: GPT.nEmbd,
      dropout: 0,
      bias: true,
    },
    { generator: gen },
  );
  for (const [k, t] of Object.entries(gpt.stateDict())) tensors[`gpt.${k}`] = t;
  const ids = (): nb.Tensor =>
    nb.randint(0, GPT.vocabSize, [GPT.batch, GPT.seqLen], { generator: gen });
  tensors['gpt_data.idx'] = ids();
  tensors['gpt_data.targets'] = ids();
  nb.manualSeed(SEED); // nn.LSTM initialises from the global generator
  const lstm = new nb.nn.LSTM(LSTM.inputSize, LSTM.hiddenSize);
  for (const [k, t] of Object.entries(lstm.stateDict())) tensors[`lstm.${k}`] = t;
  tensors['lstm_data.x'] = nb.randn([LSTM.seqLen, LSTM.batch, LSTM.inputSize], { generator: gen });
  tensors['lstm_data.y'] = nb.randn([LSTM.batch, LSTM.hiddenSize], { generator: gen });
  await saveSafetensorsFile(path, tensors);
  nb.setBackend(previous);
}
