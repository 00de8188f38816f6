export {
  createLimit,
  LIMIT_ALGORITHMS,
  type LimitAlgorithmName,
  type LimitOptions,
} from './create-limit.js'
export { createFixedLimit, type FixedLimitOptions, type LimitContext } from './fixed-limit.js'
