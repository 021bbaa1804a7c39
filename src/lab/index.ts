/** nb.lab: instruments that measure what the theory predicts (THEORY.md). */
export {
  elmanBptt,
  gradientNormsThroughTime,
  fitGrowthRate,
  type ElmanBpttInput,
  type ElmanBpttResult,
  type GradientNormsOptions,
  type MatrixLike,
  type VectorLike,
} from './bptt.js';
