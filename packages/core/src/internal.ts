/**
 * `@spillway/core/internal`: what the other spillway packages build on —
 * option checking in the house style, the epoch clock, the sliding rate
 * window, the shedding curve and the `Retry-After` formula (for simulations
 * and docs), a seeded PRNG for tests. Not part of the public API: semver binds
 * only the root export, and these may change in any release.
 */
export { invalidOption } from './errors.js'
export { type EventTally, tallyEvents } from './event-tally.js'
export { PROBLEM_CONTENT_TYPE, problemJson, retryAfterValue } from './problem.js'
export { checkBuckets, QUEUE_WAIT_BUCKETS } from './queue-wait-buckets.js'
export { type RateLimitHeaders, rateLimitFields } from './rate-limit-fields.js'
export { RateWindow } from './rate-window.js'
export { computeRetryAfterSeconds, type RetryAfterInput } from './retry-after.js'
export { seededRandom } from './seeded-random.js'
export { admitProbability, pressureCappedLimit } from './shedding.js'
export { epochNow } from './timers.js'
export {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  checkString,
  describeValue,
  fail as failOption,
  isPlainObject,
  type NumberRule,
  resolveObject,
} from './validate.js'
