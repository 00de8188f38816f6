/**
 * Everything the client remembers about one origin, and the bounded map that
 * holds it. Past `maxOrigins`, the map drops the least recently used origin
 * that has no call in progress, so a client that talks to many hosts does not
 * grow for ever. An origin with a call in progress is never dropped: its
 * concurrency controller counts that call, and a fresh one would let the next
 * calls exceed the cap. When every origin is busy the map holds one more per
 * call in progress, and shrinks back as they end.
 */
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { AdaptiveThrottle, type ThrottleStats } from './adaptive-throttle.js'
import { ThrottledError, type ThrottleReason } from './errors.js'
import type { AttemptFailure, Emitter, NoRetryReason } from './events.js'
import type { ResolvedOptions } from './options.js'
import { RetryBudget, type RetryBudgetStats } from './retry-budget.js'

/** Cumulative counts for one origin since its state was created. */
export interface OriginCounters {
  /** Calls made to the client (logical requests). */
  requests: number
  /** Attempts sent to the server (first attempts and retries). */
  attempts: number
  /** Attempts answered with a status other than 429 or 503. */
  accepts: number
  /** Attempts answered with 429 or 503. */
  refusals: number
  /** Attempts that failed without a response (network error, deadline). */
  errors: number
  /** Retries sent. */
  retries: number
  /** Retries not sent because the retry budget was spent (= `notRetried.budget`). */
  budgetExhausted: number
  /** Refused or failed attempts that were not retried, by reason (every reason, even 0). */
  notRetried: Record<NoRetryReason, number>
  /** Requests failed locally with `ThrottledError`, by reason. */
  localRejects: Partial<Record<ThrottleReason, number>>
}

/** What `client.stats()` reports for one origin. */
export interface OriginStats {
  readonly counters: Readonly<OriginCounters>
  /** The adaptive throttle's window, or `undefined` when throttling is off. */
  readonly throttle: ThrottleStats | undefined
  /** The retry budget's window, or `undefined` when the budget is off. */
  readonly retryBudget: RetryBudgetStats | undefined
  /** The concurrency cap, or `undefined` when there is none. */
  readonly concurrency: { limit: number; inFlight: number; queued: number } | undefined
}

/** One origin's counters, throttle, budget and optional concurrency controller. */
export class OriginState {
  readonly origin: string
  readonly counters: OriginCounters = {
    requests: 0,
    attempts: 0,
    accepts: 0,
    refusals: 0,
    errors: 0,
    retries: 0,
    budgetExhausted: 0,
    notRetried: {
      notIdempotent: 0,
      bodyNotReplayable: 0,
      attemptsExhausted: 0,
      retryAfterTooLong: 0,
      deadline: 0,
      throttle: 0,
      budget: 0,
    },
    localRejects: {},
  }
  readonly throttle: AdaptiveThrottle | undefined
  readonly budget: RetryBudget | undefined
  readonly controller: AdmissionController | undefined
  /** Calls in progress (from their start until they resolve or reject). */
  active = 0

  readonly #events: Emitter

  constructor(origin: string, options: ResolvedOptions, events: Emitter) {
    this.origin = origin
    this.#events = events
    const { now, random } = options
    this.throttle = options.throttle
      ? new AdaptiveThrottle(options.throttle.k, options.throttle.windowMs, now)
      : undefined
    const b = options.retryBudget
    this.budget = b ? new RetryBudget(b.ratio, b.minPerSecond, b.windowMs, now) : undefined
    const c = options.concurrency
    this.controller = c
      ? createAdmissionController({
          limit: c.limit,
          queue: { size: c.queueSize, timeoutMs: c.queueTimeoutMs },
          now,
          random,
        })
      : undefined
  }

  /**
   * Counts a new call to this origin and decides whether it may be sent: a
   * deadline already past, or adaptive throttling's draw, fail it locally.
   */
  startCall(
    deadline: number | undefined,
    now: number,
    random: () => number,
  ): ThrottledError | undefined {
    this.counters.requests++
    this.budget?.recordRequest()
    if (deadline !== undefined && deadline <= now) {
      this.reject('deadline')
      return new ThrottledError('deadline', this.origin)
    }
    const throttle = this.throttle
    if (throttle === undefined) return undefined
    const probability = throttle.rejectProbability()
    if (probability === 0 || random() >= probability) return undefined
    const { requests, accepts } = throttle.stats()
    throttle.record(false)
    this.reject('throttled')
    return new ThrottledError('throttled', this.origin, {
      requests,
      accepts,
      k: throttle.k,
      windowMs: throttle.windowMs,
      probability,
    })
  }

  /** Counts one local rejection. */
  reject(reason: ThrottleReason): void {
    this.counters.localRejects[reason] = (this.counters.localRejects[reason] ?? 0) + 1
  }

  /** Counts and publishes a retry about to be waited for. */
  retrying(attempt: number, delayMs: number, failure: AttemptFailure): void {
    if (this.#events.active) {
      this.#events.emit({ type: 'retry', origin: this.origin, attempt, delayMs, ...failure })
    }
  }

  /** Counts and publishes a retry not taken. */
  skipRetry(reason: NoRetryReason, attempt: number, failure: AttemptFailure): void {
    this.counters.notRetried[reason]++
    if (reason === 'budget') this.counters.budgetExhausted++
    if (this.#events.active) {
      this.#events.emit({ type: 'retrySkipped', origin: this.origin, attempt, reason, ...failure })
    }
  }

  /** A snapshot for `client.stats()`. */
  stats(): OriginStats {
    const c = this.controller?.stats()
    return {
      counters: {
        ...this.counters,
        notRetried: { ...this.counters.notRetried },
        localRejects: { ...this.counters.localRejects },
      },
      throttle: this.throttle?.stats(),
      retryBudget: this.budget?.stats(),
      concurrency: c && { limit: c.limit, inFlight: c.inFlight, queued: c.queued },
    }
  }
}

/** A `Map` capped at `max` entries, least recently used dropped first. */
export class OriginMap {
  readonly #states = new Map<string, OriginState>()
  readonly #options: ResolvedOptions
  /** Where every origin's retry decisions are published. */
  readonly events: Emitter

  constructor(options: ResolvedOptions, events: Emitter) {
    this.#options = options
    this.events = events
  }

  get size(): number {
    return this.#states.size
  }

  /**
   * The state of `origin`, created on first use and marked most recently used,
   * with one more call in progress; pair with {@link OriginMap.release}.
   */
  acquire(origin: string): OriginState {
    let state = this.#states.get(origin)
    if (state !== undefined) {
      // Re-inserting moves it to the end: Map iteration order is insertion order.
      this.#states.delete(origin)
    } else {
      state = new OriginState(origin, this.#options, this.events)
      if (this.#states.size >= this.#options.maxOrigins) this.#evictIdle()
    }
    this.#states.set(origin, state)
    state.active++
    return state
  }

  /** One call to `state`'s origin ended; an idle surplus origin is dropped. */
  release(state: OriginState): void {
    state.active--
    if (this.#states.size > this.#options.maxOrigins) this.#evictIdle()
  }

  /** Drops the least recently used origin with no call in progress, if any. */
  #evictIdle(): void {
    for (const [origin, state] of this.#states) {
      if (state.active === 0) {
        this.#states.delete(origin)
        return
      }
    }
  }

  entries(): IterableIterator<[string, OriginState]> {
    return this.#states.entries()
  }
}
