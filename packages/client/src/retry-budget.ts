/**
 * How it works: over a sliding window, retries may not exceed
 * `max(ratio × requests, minPerSecond × window)`, `requests` being first
 * attempts only. The reserve lets a quiet client retry at all; under load the
 * ratio alone binds, so a client sends at most `1 + ratio` times its own load
 * however hard the server refuses: retries can never multiply an overload.
 * Taking the larger of the two (as Envoy's retry budget does) rather than their
 * sum (Finagle, Linkerd) keeps that bound exact when many clients each hold a reserve.
 */
import { RateWindow } from '@spillway/core/internal'

/** Ten buckets: the window slides in tenths, which is smooth enough and costs 30 numbers. */
const BUCKETS = 10

/** A read-only view of one retry budget. */
export interface RetryBudgetStats {
  /** First attempts in the window. */
  readonly requests: number
  /** Retries spent in the window. */
  readonly retries: number
  /** Retries refused in the window because the budget was spent. */
  readonly denied: number
  /** Retries that may still be spent now (may be fractional; a retry needs ≥ 1). */
  readonly available: number
}

/**
 * One origin's retry budget; the client keeps one per origin. Exported for
 * callers that retry something other than `fetch`.
 */
export class RetryBudget {
  readonly #requests: RateWindow
  readonly #retries: RateWindow
  readonly #denied: RateWindow
  readonly #now: () => number
  readonly #ratio: number
  readonly #reserve: number

  /**
   * @param ratio - retries per first attempt, in `[0, 1]`
   * @param minPerSecond - retries per second allowed however few the requests
   * @param windowMs - sliding window, in ms
   * @param now - clock, in ms
   */
  constructor(ratio: number, minPerSecond: number, windowMs: number, now: () => number) {
    const start = now()
    this.#requests = new RateWindow(start, windowMs / BUCKETS, BUCKETS)
    this.#retries = new RateWindow(start, windowMs / BUCKETS, BUCKETS)
    this.#denied = new RateWindow(start, windowMs / BUCKETS, BUCKETS)
    this.#now = now
    this.#ratio = ratio
    this.#reserve = (minPerSecond * windowMs) / 1000
  }

  /** Counts one first attempt: it deposits `ratio` of a retry. */
  recordRequest(): void {
    this.#requests.record(this.#now())
  }

  /** Spends one retry if the budget allows; returns whether it did. */
  tryRetry(): boolean {
    const now = this.#now()
    if (this.#available(now) >= 1) {
      this.#retries.record(now)
      return true
    }
    this.#denied.record(now)
    return false
  }

  /** The window's counts and the retries still available. */
  stats(): RetryBudgetStats {
    const now = this.#now()
    return {
      requests: this.#requests.sum(now),
      retries: this.#retries.sum(now),
      denied: this.#denied.sum(now),
      available: Math.max(0, this.#available(now)),
    }
  }

  #available(now: number): number {
    const allowed = Math.max(this.#ratio * this.#requests.sum(now), this.#reserve)
    return allowed - this.#retries.sum(now)
  }
}
