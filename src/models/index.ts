/** nb.models: ready-made architectures built from nb.nn. */
export {
  GPT,
  GPTTransformer,
  Block,
  CausalSelfAttention,
  MLP,
  KVCache,
  gptPresets,
  IGNORE_INDEX,
  type GPTConfig,
  type ResolvedGPTConfig,
  type GPTOptions,
  type GPTOutput,
  type GenerateOptions,
} from './gpt.js';
export {
  TransformerSeq2Seq,
  type TransformerSeq2SeqConfig,
  type ResolvedTransformerSeq2SeqConfig,
  type Seq2SeqMasks,
  type Seq2SeqTrainingBatch,
  type Seq2SeqMemory,
  type Seq2SeqDecodeOptions,
} from './seq2seq.js';
export {
  RNNLanguageModel,
  type RNNCellType,
  type RNNLanguageModelConfig,
  type ResolvedRNNLanguageModelConfig,
  type RecurrentState,
  type RNNLanguageModelOutput,
} from './rnn-lm.js';
