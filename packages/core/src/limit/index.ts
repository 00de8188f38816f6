export { type AimdLimitOptions, createAimdLimit } from './aimd-limit.js'
export {
  createLimit,
  LIMIT_ALGORITHMS,
  type LimitAlgorithmName,
  type LimitOptions,
} from './create-limit.js'
export { createFixedLimit, type FixedLimitOptions } from './fixed-limit.js'
export {
  createGradient2Limit,
  type Gradient2Limit,
  type Gradient2LimitOptions,
} from './gradient2-limit.js'
export type { LimitContext } from './limit-context.js'
export { createVegasLimit, type VegasLimit, type VegasLimitOptions } from './vegas-limit.js'
