/**
 * Counts events over a sliding window of fixed buckets: the recent completion
 * rate that `Retry-After` divides the backlog by, and the client's retry
 * budget and adaptive throttle (one window per quantity counted).
 *
 * How it works: the window is `buckets` slots of `bucketMs` each, in a ring.
 * Recording adds to the slot of the current time; moving into a new slot
 * zeroes the slots skipped over. Memory is fixed; a read sums `buckets`
 * numbers. No timer: time only advances when someone records or reads.
 */
export class RateWindow {
  readonly #counts: Float64Array
  readonly #bucketMs: number
  readonly #startMs: number
  /** Index (in bucket units since epoch) of the newest slot written. */
  #current: number
  /** Newest time seen: a clock that steps backwards reads as standing still. */
  #latestMs: number

  constructor(now: number, bucketMs = 200, buckets = 10) {
    this.#counts = new Float64Array(buckets)
    this.#bucketMs = bucketMs
    this.#startMs = now
    this.#latestMs = now
    this.#current = Math.floor(now / bucketMs)
  }

  record(now: number, count = 1): void {
    this.#advance(now)
    const slot = this.#slot(this.#current)
    this.#counts[slot] = (this.#counts[slot] as number) + count
  }

  /**
   * Events per second over the window, or over the time since `sinceMs` (or
   * creation) when that is shorter: a burst after an idle spell is measured
   * over its own length, not diluted by the quiet window before it.
   */
  perSecond(now: number, sinceMs = Number.NEGATIVE_INFINITY): number {
    const latest = this.#advance(now)
    const total = this.#total()
    const observedMs = latest - Math.max(this.#startMs, sinceMs)
    const elapsedMs = Math.min(this.windowMs, Math.max(this.#bucketMs, observedMs))
    return (total * 1000) / elapsedMs
  }

  /** Events in the window ending at `now` (exact to one bucket's width). */
  sum(now: number): number {
    this.#advance(now)
    return this.#total()
  }

  #total(): number {
    let total = 0
    for (const count of this.#counts) total += count
    return total
  }

  /** Length of the window in milliseconds. */
  get windowMs(): number {
    return this.#bucketMs * this.#counts.length
  }

  /** Moves the ring to `now` (or keeps it at the newest time seen) and returns that time. */
  #advance(now: number): number {
    // A clock that steps backwards must not corrupt the ring nor shorten the
    // elapsed time (that would inflate the rate): keep the newest time.
    const latest = Math.max(now, this.#latestMs)
    this.#latestMs = latest
    const index = Math.floor(latest / this.#bucketMs)
    if (index <= this.#current) return latest
    const steps = Math.min(index - this.#current, this.#counts.length)
    for (let i = 1; i <= steps; i++) this.#counts[this.#slot(this.#current + i)] = 0
    this.#current = index
    return latest
  }

  /** Ring slot of a bucket index; indices are negative on a clock that reads negative times. */
  #slot(index: number): number {
    const length = this.#counts.length
    return ((index % length) + length) % length
  }
}
