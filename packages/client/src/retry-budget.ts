/**
 * How it works: over a sliding window, retries may not exceed
 * `max(ratio × requests, minPerSecond × window)`, `requests` being first
 * attempts only. The reserve lets a quiet client retry at all; under load the
 * ratio alone binds, so a client sends at most `1 + ratio` times its own load
 * however hard the server refuses: retries can never multiply an overload.
 * Taking the larger of the two (as Envoy's retry budget does) rather than their
 * sum (Finagle, Linkerd) keeps that bound exact when many clients each hold a reserve.
 */
import { SlidingWindow } from './sliding-window.js'

const REQUESTS = 0
const RETRIES = 1
const DENIED = 2

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
  readonly #window: SlidingWindow
  readonly #ratio: number
  readonly #reserve: number

  /**
   * @param ratio - retries per first attempt, in `[0, 1]`
   * @param minPerSecond - retries per second allowed however few the requests
   * @param windowMs - sliding window, in ms
   * @param now - clock, in ms
   */
  constructor(ratio: number, minPerSecond: number, windowMs: number, now: () => number) {
    this.#window = new SlidingWindow(windowMs, BUCKETS, 3, now)
    this.#ratio = ratio
    this.#reserve = (minPerSecond * windowMs) / 1000
  }

  /** Counts one first attempt: it deposits `ratio` of a retry. */
  recordRequest(): void {
    this.#window.add(REQUESTS)
  }

  /** Spends one retry if the budget allows; returns whether it did. */
  tryRetry(): boolean {
    if (this.#available() >= 1) {
      this.#window.add(RETRIES)
      return true
    }
    this.#window.add(DENIED)
    return false
  }

  /** The window's counts and the retries still available. */
  stats(): RetryBudgetStats {
    return {
      requests: this.#window.sum(REQUESTS),
      retries: this.#window.sum(RETRIES),
      denied: this.#window.sum(DENIED),
      available: Math.max(0, this.#available()),
    }
  }

  #available(): number {
    const allowed = Math.max(this.#ratio * this.#window.sum(REQUESTS), this.#reserve)
    return allowed - this.#window.sum(RETRIES)
  }
}
