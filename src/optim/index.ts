/** nb.optim: optimizers (and, later, learning-rate schedules and gradient clipping). */
export {
  Optimizer,
  type ParamGroup,
  type ParamsArg,
  type ParamState,
  type OptimizerStateDict,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
