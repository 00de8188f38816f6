/**
 * How it works (Google SRE book, "Handling Overload", client-side throttling):
 * over a sliding window the client counts `requests` (every attempt, including
 * those it rejected itself) and `accepts` (attempts the server accepted). While
 * the server accepts everything, `requests ≈ accepts` and nothing is rejected.
 * When it starts refusing, the client rejects locally with probability
 * `max(0, (requests − K·accepts) / (requests + 1))`, so it keeps sending about K
 * times what the server accepts: enough to notice recovery, too little to keep the
 * server busy saying no. Lower K is more aggressive.
 */
import { RateWindow } from '@spillway/core/internal'

/** Ten buckets: the window slides in tenths, which is smooth enough and costs 20 numbers. */
const BUCKETS = 10

/** A read-only view of one throttle. */
export interface ThrottleStats {
  /** Attempts in the window, including the ones rejected locally. */
  readonly requests: number
  /** Attempts the server accepted in the window. */
  readonly accepts: number
  /** Probability that the next attempt is rejected locally, in `[0, 1)`. */
  readonly rejectProbability: number
}

/**
 * One origin's adaptive throttle; the client keeps one per origin. Exported
 * for callers that send through something other than `fetch`.
 */
export class AdaptiveThrottle {
  /** The multiplier `K` (≥ 1). */
  readonly k: number
  /** Window length, in ms. */
  readonly windowMs: number
  readonly #requests: RateWindow
  readonly #accepts: RateWindow
  readonly #now: () => number

  /**
   * @param k - multiplier `K`, ≥ 1 (not checked here; `createClient` checks its options)
   * @param windowMs - sliding window, in ms
   * @param now - clock, in ms
   */
  constructor(k: number, windowMs: number, now: () => number) {
    this.k = k
    this.windowMs = windowMs
    const start = now()
    this.#requests = new RateWindow(start, windowMs / BUCKETS, BUCKETS)
    this.#accepts = new RateWindow(start, windowMs / BUCKETS, BUCKETS)
    this.#now = now
  }

  /** The SRE book's formula over the current window. */
  rejectProbability(): number {
    const now = this.#now()
    const requests = this.#requests.sum(now)
    const accepts = this.#accepts.sum(now)
    return Math.max(0, (requests - this.k * accepts) / (requests + 1))
  }

  /** Records one attempt and whether the server accepted it (a local rejection is `false`). */
  record(accepted: boolean): void {
    const now = this.#now()
    this.#requests.record(now)
    if (accepted) this.#accepts.record(now)
  }

  /** The window's counts and the current probability. */
  stats(): ThrottleStats {
    const now = this.#now()
    return {
      requests: this.#requests.sum(now),
      accepts: this.#accepts.sum(now),
      rejectProbability: this.rejectProbability(),
    }
  }
}
