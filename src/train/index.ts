/**
 * nb.train: the training loop (Trainer / trainLoop) with gradient accumulation, clipping, LR
 * schedules, evaluation, best-checkpoint keeping, a JSONL metrics log and a non-finite guard;
 * in-memory checkpoints that resume exactly; and decoding (sampling, greedy and beam search).
 * Writing checkpoints and logs to disk is Node-only: src/io/node/checkpoint.ts.
 */
export {
  Trainer,
  trainLoop,
  type TrainerOptions,
  type TrainResult,
  type BatchSource,
  type LrSchedule,
  type AnyOptimizer,
  type StepInfo,
  type EvalInfo,
  type CheckpointInfo,
  type Hook,
} from './trainer.js';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  flattenOptimizerState,
  loadOptimizerState,
  checkModelCompatible,
  validateCheckpointState,
  tensorInfos,
  describeMismatch,
  type Checkpoint,
  type CheckpointState,
  type BestRecord,
  type TensorInfo,
  type JsonValue,
} from './checkpoint.js';
export {
  toJsonLine,
  memorySink,
  type MetricsRecord,
  type TrainRecord,
  type EvalRecord,
  type MetricsSink,
} from './metrics.js';
export { NonFiniteError, CheckpointError, type NonFiniteSource } from './errors.js';
export {
  resolveSampling,
  sampleRows,
  greedy,
  sample,
  generateTokens,
  greedyDecode,
  beamSearch,
  transformerSeq2Seq,
  type SamplingOptions,
  type Sampling,
  type Seq2SeqModel,
  type DecodeOptions,
  type BeamSearchOptions,
  type BeamHypothesis,
  type TransformerSeq2SeqParts,
} from './decode.js';
