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
