export { AdaptiveThrottle, type ThrottleStats } from './adaptive-throttle.js'
export { type Client, createClient, withBackpressure } from './client.js'
export { THROTTLED, type ThrottleDetails, ThrottledError, type ThrottleReason } from './errors.js'
export {
  type AttemptFailure,
  type ClientEvent,
  type ClientListener,
  NO_RETRY_REASONS,
  type NoRetryReason,
} from './events.js'
export type {
  ClientOptions,
  ConcurrencyOptions,
  FetchLike,
  RequestOptions,
  RetryBudgetOptions,
  ThrottleOptions,
} from './options.js'
export type { OriginCounters, OriginStats } from './origin-state.js'
export { parseHttpDate, parseRetryAfter } from './retry-after.js'
export { RetryBudget, type RetryBudgetStats } from './retry-budget.js'
export type { Timers } from './timers.js'
export {
  type Dispatch,
  type DispatchController,
  type DispatchHandler,
  type DispatchOptions,
  type Interceptor,
  interceptors,
  spillwayInterceptor,
} from './undici-interceptor.js'
