/** The recurrent part of nb.nn: modules, cells, truncated BPTT and gradient clipping (utils). */
export {
  RNNBase,
  RNN,
  LSTM,
  GRU,
  RNNCell,
  LSTMCell,
  GRUCell,
  type RNNNonlinearity,
  type RecurrentOptions,
  type RNNOptions,
  type RecurrentConfig,
  type RecurrentForwardOptions,
  type RecurrentStep,
  type RecurrentStepHook,
  type CellOptions,
  type RNNCellOptions,
} from './rnn.js';
export {
  truncatedBptt,
  timeChunks,
  detachState,
  type RecurrentState,
  type TimeChunk,
  type TimeChunkOptions,
  type TbpttOptimizer,
  type TbpttStep,
  type TruncatedBpttOptions,
  type TruncatedBpttResult,
} from './tbptt.js';
export * as utils from './utils.js';
