/** nb.optim: optimizers, learning-rate schedules, and JSON-safe optimizer state for checkpoints. */
export {
  Optimizer,
  type ParamGroup,
  type ParamsArg,
  type ParamState,
  type OptimizerStateDict,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export {
  serializeOptimizerState,
  deserializeOptimizerState,
  type SerializedOptimizerState,
  type SerializedParamState,
  type SerializedTensor,
} from './optimizer.js';
export {
  LRScheduler,
  constantLr,
  linearWarmup,
  cosineWithWarmup,
  noam,
  stepDecay,
  type Schedule,
  type LRSchedulerOptions,
  type LRSchedulerStateDict,
  type LinearWarmupOptions,
  type CosineWithWarmupOptions,
  type NoamOptions,
  type StepDecayOptions,
} from './schedules.js';
