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
import { SlidingWindow } from './sliding-window.js'

const REQUESTS = 0
const ACCEPTS = 1

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
  readonly #window: SlidingWindow

  /**
   * @param k - multiplier `K`, ≥ 1 (not checked here; `createClient` checks its options)
   * @param windowMs - sliding window, in ms
   * @param now - clock, in ms
   */
  constructor(k: number, windowMs: number, now: () => number) {
    this.k = k
    this.windowMs = windowMs
    this.#window = new SlidingWindow(windowMs, BUCKETS, 2, now)
  }

  /** The SRE book's formula over the current window. */
  rejectProbability(): number {
    const requests = this.#window.sum(REQUESTS)
    const accepts = this.#window.sum(ACCEPTS)
    return Math.max(0, (requests - this.k * accepts) / (requests + 1))
  }

  /** Records one attempt and whether the server accepted it (a local rejection is `false`). */
  record(accepted: boolean): void {
    this.#window.add(REQUESTS)
    if (accepted) this.#window.add(ACCEPTS)
  }

  /** The window's counts and the current probability. */
  stats(): ThrottleStats {
    return {
      requests: this.#window.sum(REQUESTS),
      accepts: this.#window.sum(ACCEPTS),
      rejectProbability: this.rejectProbability(),
    }
  }
}
