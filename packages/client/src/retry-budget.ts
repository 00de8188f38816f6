/**
 * How it works (after Finagle's and Linkerd's retry budgets): over a sliding
 * window, retries may not exceed `ratio × requests + minPerSecond × window`.
 * `requests` are first attempts only, so under a total outage a client sends at
 * most `1 + ratio` times its own load (plus the small reserve that lets a quiet
 * client retry at all): retries can never multiply an overload.
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

export class RetryBudget {
  readonly #window: SlidingWindow
  readonly #ratio: number
  readonly #reserve: number

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

  stats(): RetryBudgetStats {
    return {
      requests: this.#window.sum(REQUESTS),
      retries: this.#window.sum(RETRIES),
      denied: this.#window.sum(DENIED),
      available: Math.max(0, this.#available()),
    }
  }

  #available(): number {
    return this.#ratio * this.#window.sum(REQUESTS) + this.#reserve - this.#window.sum(RETRIES)
  }
}
