import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkString,
  epochNow,
  failOption,
  isPlainObject,
  resolveObject,
} from '@spillway/core/internal'
import { checkBaseUrl } from './request-input.js'
import { defaultTimers, MAX_TIMER_MS, type Timers } from './timers.js'

/** The shape of `fetch` the client wraps and exposes. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** The retry budget: retries ≤ `max(ratio × requests, minPerSecond × window)` over a sliding window. */
export interface RetryBudgetOptions {
  /** Retries allowed per first attempt, in `[0, 1]`. @default 0.1 */
  ratio?: number
  /** Retries allowed per second even with few requests, so a quiet client can still retry. @default 1 */
  minPerSecond?: number
  /** Sliding window, in ms. @default 10000 */
  windowMs?: number
}

/** Adaptive client-side throttling (Google SRE book, "Handling Overload"). */
export interface ThrottleOptions {
  /** Multiplier `K`: the client keeps sending about K times what the server accepts. @default 2 */
  k?: number
  /**
   * Sliding window, in ms. The book uses 2 minutes; 30 s forgets a surge
   * sooner, so the client recovers within seconds of the server. @default 30000
   */
  windowMs?: number
}

/** A per-origin concurrency cap, enforced by a `@spillway/core` admission controller. */
export interface ConcurrencyOptions {
  /** Requests in flight per origin (an integer ≥ 1). Required. */
  limit: number
  /** Requests that may wait for a slot per origin (an integer ≥ 0); 0 fails fast. @default 0 */
  queueSize?: number
  /** Longest wait for a slot, in ms; then the request fails with `queueTimeout`. @default 1000 */
  queueTimeoutMs?: number
}

/** Options of {@link createClient}. Every field is optional. */
export interface ClientOptions {
  /** The `fetch` to wrap. @default globalThis.fetch */
  fetch?: FetchLike
  /**
   * Absolute http(s) URL a relative input is resolved against (`new URL(input, baseUrl)`).
   * Without it a relative URL is refused with an error. @default undefined
   */
  baseUrl?: string | URL | undefined
  /** Attempts per request, the first one included (an integer ≥ 1); 1 disables retries. @default 3 */
  maxAttempts?: number
  /**
   * Retry POST, PATCH and other non-idempotent methods on 429/503 too. Only
   * safe when the server guarantees the refused request did nothing (spillway
   * sheds before the handler runs) or the request is idempotent by key. @default false
   */
  retryNonIdempotent?: boolean
  /** First backoff step without `Retry-After`, in ms (≤ 2^31 − 1); doubles per attempt, full jitter. @default 100 */
  baseDelayMs?: number
  /** Largest backoff step without `Retry-After`, in ms (≤ 2^31 − 1). @default 10000 */
  maxDelayMs?: number
  /** Clamp for a `Retry-After` the server sends, in ms: an absurd value is never trusted. @default 60000 */
  maxRetryAfterMs?: number
  /**
   * Extra random wait added to `Retry-After`, as a fraction of it (never less
   * than asked: the wait is in `[r, r × (1 + jitter)]`), so refused clients do
   * not all come back in the same instant. @default 0.2
   */
  retryAfterJitter?: number
  /** Default time budget of a request (attempts and waits), in ms (≤ 2^31 − 1); none when unset. @default undefined */
  timeoutMs?: number | undefined
  /** The retry budget per origin, or `false` to disable it (not recommended). @default {} (its defaults) */
  retryBudget?: RetryBudgetOptions | false
  /** Adaptive throttling per origin, or `false` to disable it. @default {} (its defaults) */
  throttle?: ThrottleOptions | false
  /** A concurrency cap per origin; none when unset. @default undefined */
  concurrency?: ConcurrencyOptions | undefined
  /** Header carrying the remaining time budget in whole ms, or `false`. @default 'x-request-timeout-ms' */
  deadlineHeader?: string | false
  /** Header carrying the request's priority when it has one, or `false`. @default 'x-request-priority' */
  priorityHeader?: string | false
  /** Origins whose state is kept (least recently used is dropped first). @default 1000 */
  maxOrigins?: number
  /** Clock, epoch ms; deadlines use the same clock. @default performance.timeOrigin + performance.now() */
  now?: () => number
  /** Uniform random in `[0, 1)`, for jitter and throttling. @default Math.random */
  random?: () => number
  /**
   * Timer functions, for tests. A pending call's timers keep the process alive;
   * a handle with `unref()` is unref'd once the call has resolved. @default globalThis's
   */
  timers?: Timers
}

/** Per-request options: the third argument of the client. */
export interface RequestOptions {
  /** Priority name sent in `priorityHeader` and used by the concurrency cap's queue. */
  priority?: string | undefined
  /** Epoch ms (same clock as `now`) after which the answer is worthless; any finite value. */
  deadline?: number | undefined
  /** Time budget from now, in ms (≤ 2^31 − 1); the earlier of this and `deadline` wins. */
  timeoutMs?: number | undefined
  /** Overrides the client's `retryNonIdempotent` for this request. */
  retryNonIdempotent?: boolean | undefined
  /** Overrides the client's `maxAttempts` for this request. */
  maxAttempts?: number | undefined
}

/** Options after checking, defaults applied (internal). */
export interface ResolvedOptions {
  /** The header names spillway sets (dropped on a cross-origin redirect). */
  spillwayHeaders: string[]
  fetch: FetchLike | undefined
  baseUrl: URL | undefined
  maxAttempts: number
  retryNonIdempotent: boolean
  baseDelayMs: number
  maxDelayMs: number
  maxRetryAfterMs: number
  retryAfterJitter: number
  timeoutMs: number | undefined
  retryBudget: Required<RetryBudgetOptions> | false
  throttle: Required<ThrottleOptions> | false
  concurrency: Required<ConcurrencyOptions> | undefined
  deadlineHeader: string | false
  priorityHeader: string | false
  maxOrigins: number
  now: () => number
  random: () => number
  timers: Timers
}

const DEFAULTS = Object.freeze({
  fetch: undefined,
  baseUrl: undefined,
  maxAttempts: 3,
  retryNonIdempotent: false,
  baseDelayMs: 100,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
  retryAfterJitter: 0.2,
  timeoutMs: undefined,
  retryBudget: {},
  throttle: {},
  concurrency: undefined,
  deadlineHeader: 'x-request-timeout-ms',
  priorityHeader: 'x-request-priority',
  maxOrigins: 1000,
  now: undefined,
  random: undefined,
  timers: undefined,
})

const BUDGET_DEFAULTS = Object.freeze({ ratio: 0.1, minPerSecond: 1, windowMs: 10_000 })
const THROTTLE_DEFAULTS = Object.freeze({ k: 2, windowMs: 30_000 })
const CONCURRENCY_DEFAULTS = Object.freeze({
  limit: undefined as unknown as number,
  queueSize: 0,
  queueTimeoutMs: 1000,
})

function checkHeader(value: unknown, option: string): string | false {
  if (value === false) return false
  const name = checkString(value, option)
  // RFC 9110 §5.1 token: a bad name would make every request throw inside fetch.
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(name)) {
    failOption('range', option, 'an HTTP header name or `false`', value)
  }
  return name.toLowerCase()
}

function checkTimers(value: unknown): Timers {
  // Any object will do (a fake clock is a class instance), as long as it has both functions.
  if (typeof value !== 'object' || value === null) {
    checkFunction(undefined, 'timers.setTimeout')
  }
  const timers = value as Partial<Timers>
  checkFunction(timers.setTimeout, 'timers.setTimeout')
  checkFunction(timers.clearTimeout, 'timers.clearTimeout')
  return timers as Timers
}

/** A nested option group: says what else is allowed (`false`, `undefined`) when it is not an object. */
function checkSection(value: unknown, option: string, expected: string): void {
  if (!isPlainObject(value)) failOption('type', option, expected, value)
}

/** Checks every option once, at construction; throws `TypeError`/`RangeError` naming it. */
export function resolveOptions(options: unknown): ResolvedOptions {
  const o = resolveObject<Record<string, unknown>>(options, '', DEFAULTS)
  const resolved: ResolvedOptions = {
    spillwayHeaders: [],
    fetch: o.fetch === undefined ? undefined : checkFunction<FetchLike>(o.fetch, 'fetch'),
    baseUrl: o.baseUrl === undefined ? undefined : checkBaseUrl(o.baseUrl),
    maxAttempts: checkNumber(o.maxAttempts, 'maxAttempts', { integer: true, min: 1, max: 100 }),
    retryNonIdempotent: checkBoolean(o.retryNonIdempotent, 'retryNonIdempotent'),
    // Upper bounds: a wait longer than a timer can hold (24.8 days) is a unit mistake.
    baseDelayMs: checkNumber(o.baseDelayMs, 'baseDelayMs', { min: 0, max: MAX_TIMER_MS }),
    maxDelayMs: checkNumber(o.maxDelayMs, 'maxDelayMs', { min: 0, max: MAX_TIMER_MS }),
    maxRetryAfterMs: checkNumber(o.maxRetryAfterMs, 'maxRetryAfterMs', {
      min: 0,
      max: MAX_TIMER_MS,
    }),
    retryAfterJitter: checkNumber(o.retryAfterJitter, 'retryAfterJitter', { min: 0, max: 10 }),
    timeoutMs:
      o.timeoutMs === undefined
        ? undefined
        : checkNumber(o.timeoutMs, 'timeoutMs', { min: 0, exclusiveMin: true, max: MAX_TIMER_MS }),
    retryBudget: false,
    throttle: false,
    concurrency: undefined,
    deadlineHeader: checkHeader(o.deadlineHeader, 'deadlineHeader'),
    priorityHeader: checkHeader(o.priorityHeader, 'priorityHeader'),
    maxOrigins: checkNumber(o.maxOrigins, 'maxOrigins', { integer: true, min: 1 }),
    now: o.now === undefined ? epochNow : checkFunction<() => number>(o.now, 'now'),
    random: o.random === undefined ? Math.random : checkFunction<() => number>(o.random, 'random'),
    timers: o.timers === undefined ? defaultTimers : checkTimers(o.timers),
  }
  if (o.retryBudget !== false) {
    checkSection(o.retryBudget, 'retryBudget', 'an object or `false`')
    const b = resolveObject(o.retryBudget, 'retryBudget', BUDGET_DEFAULTS)
    resolved.retryBudget = {
      ratio: checkNumber(b.ratio, 'retryBudget.ratio', { min: 0, max: 1 }),
      minPerSecond: checkNumber(b.minPerSecond, 'retryBudget.minPerSecond', { min: 0 }),
      windowMs: checkNumber(b.windowMs, 'retryBudget.windowMs', { min: 0, exclusiveMin: true }),
    }
  }
  if (o.throttle !== false) {
    checkSection(o.throttle, 'throttle', 'an object or `false`')
    const t = resolveObject(o.throttle, 'throttle', THROTTLE_DEFAULTS)
    resolved.throttle = {
      k: checkNumber(t.k, 'throttle.k', { min: 1 }),
      windowMs: checkNumber(t.windowMs, 'throttle.windowMs', { min: 0, exclusiveMin: true }),
    }
  }
  if (o.concurrency !== undefined) {
    checkSection(o.concurrency, 'concurrency', 'an object such as `{ limit: 8 }`, or `undefined`')
    const c = resolveObject(o.concurrency, 'concurrency', CONCURRENCY_DEFAULTS)
    resolved.concurrency = {
      limit: checkNumber(c.limit, 'concurrency.limit', { integer: true, min: 1 }),
      queueSize: checkNumber(c.queueSize, 'concurrency.queueSize', { integer: true, min: 0 }),
      queueTimeoutMs: checkNumber(c.queueTimeoutMs, 'concurrency.queueTimeoutMs', {
        min: 0,
        exclusiveMin: true,
        max: MAX_TIMER_MS,
      }),
    }
  }
  for (const name of [resolved.deadlineHeader, resolved.priorityHeader]) {
    if (name !== false) resolved.spillwayHeaders.push(name)
  }
  // Cross-field rules come after every field is known to be valid.
  if (resolved.maxDelayMs < resolved.baseDelayMs) {
    checkNumber(resolved.maxDelayMs, 'maxDelayMs', { min: resolved.baseDelayMs })
  }
  return resolved
}

const REQUEST_DEFAULTS = Object.freeze({
  priority: undefined,
  deadline: undefined,
  timeoutMs: undefined,
  retryNonIdempotent: undefined,
  maxAttempts: undefined,
})

/** Checks the per-request options (cheap: a handful of typeof checks). */
export function resolveRequestOptions(options: unknown): RequestOptions {
  if (options === undefined) return {}
  const o = resolveObject<Record<string, unknown>>(options, 'requestOptions', REQUEST_DEFAULTS)
  const r: RequestOptions = {}
  if (o.priority !== undefined) r.priority = checkString(o.priority, 'requestOptions.priority')
  if (o.deadline !== undefined) r.deadline = checkNumber(o.deadline, 'requestOptions.deadline')
  if (o.timeoutMs !== undefined) {
    r.timeoutMs = checkNumber(o.timeoutMs, 'requestOptions.timeoutMs', {
      min: 0,
      max: MAX_TIMER_MS,
    })
  }
  if (o.retryNonIdempotent !== undefined) {
    r.retryNonIdempotent = checkBoolean(o.retryNonIdempotent, 'requestOptions.retryNonIdempotent')
  }
  if (o.maxAttempts !== undefined) {
    r.maxAttempts = checkNumber(o.maxAttempts, 'requestOptions.maxAttempts', {
      integer: true,
      min: 1,
      max: 100,
    })
  }
  return r
}
