/**
 * nb.data: tokenizers (characters, byte-level BPE), seeded shuffling and batching, language-model
 * windows, sentence-pair batches with padding masks, and built-in synthetic tasks.
 */
export type { Tokenizer, DecodeOptions } from './tokenizer.js';
export { tokenizerFromJSON } from './from-json.js';
export { utf8Encode, utf8Decode } from './utf8.js';
export {
  CharTokenizer,
  type CharTokenizerOptions,
  type CharTokenizerJSON,
} from './char-tokenizer.js';
export {
  ByteLevelBPETokenizer,
  GPT2_PATTERN,
  type BPEOptions,
  type BPETrainOptions,
  type ByteLevelBPEJSON,
} from './bpe.js';
export {
  shuffle,
  randperm,
  defaultCollate,
  DataLoader,
  type Dataset,
  type DataLoaderOptions,
  type Collated,
  type NumericArray,
} from './loader.js';
export {
  split,
  LanguageModelDataset,
  type LanguageModelDatasetOptions,
  type LMExample,
  type LMBatch,
} from './lm-dataset.js';
export {
  collateSeq2Seq,
  parseSentencePairs,
  splitShuffled,
  sentencePairTokenizers,
  SentencePairDataset,
  SEQ2SEQ_SPECIAL_TOKENS,
  type Seq2SeqExample,
  type Seq2SeqSpecialIds,
  type Seq2SeqBatch,
  type SentencePair,
  type SentencePairTokenizerOptions,
  type SentencePairDatasetOptions,
} from './seq2seq.js';
export {
  syntheticVocabulary,
  reversalPairs,
  sortingPairs,
  additionPairs,
  syntheticPairs,
  syntheticBatch,
  SYNTHETIC_SPECIAL_IDS,
  type SyntheticTask,
  type SyntheticOptions,
} from './synthetic.js';
export { corpusBleu, tokenize13a, exactMatch, type BleuOptions, type BleuScore } from './bleu.js';
