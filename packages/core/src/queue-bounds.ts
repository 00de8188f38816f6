/**
 * How many may wait, and for how long: numbers the user gave, or `'auto'`,
 * sized from the limit in force and the measured service time.
 *
 * How it works (`'auto'`):
 *
 *     size      = max(1, ⌈limit / 2⌉)
 *     timeoutMs = clamp(2 × serviceMs, 5, 1000)        (1000 before the first sample)
 *     serviceMs = mean service time (admission to release) of the last ~50 permits (EMA)
 *
 * A FIFO queue that never empties (a sustained overload) makes every admitted
 * request wait about `min(timeout, size ÷ throughput)` before its work starts,
 * and throughput is about `limit ÷ serviceMs`: half a limit's worth of waiters
 * wait about half a service time. A fixed 100 places and 1000 ms know nothing
 * of either: in front of a 20 ms service they added 250 ms to every request
 * (docs/limits.md, "The queue"). The timeout binds only when throughput drops
 * (a stall, a limit that just fell): nobody waits more than two service times.
 */

/** `'auto'` queue size per unit of limit. */
const SIZE_PER_LIMIT = 0.5
/** `'auto'` queue timeout per mean service time. */
const TIMEOUT_PER_SERVICE = 2
/** `'auto'` timeout floor: below it timers are coarser than the wait. */
const TIMEOUT_MIN_MS = 5
/** `'auto'` timeout ceiling, and the timeout before any sample: the fixed default. */
const TIMEOUT_MAX_MS = 1000
/** The service-time EMA's window, in samples (a plain mean until that many). */
const SERVICE_WINDOW = 50

/** The queue's bounds, read by the controller at each decision; internal to `@spillway/core`. */
export class QueueBounds {
  private serviceMs = Number.NaN
  private samples = 0

  constructor(
    private readonly fixedSize: number | 'auto',
    private readonly fixedTimeoutMs: number | 'auto',
  ) {}

  /** Waiters allowed with `limit` in force. */
  size(limit: number): number {
    if (this.fixedSize !== 'auto') return this.fixedSize
    return Math.max(1, Math.ceil(SIZE_PER_LIMIT * limit))
  }

  /** How long a waiter may wait, in ms. */
  get timeoutMs(): number {
    if (this.fixedTimeoutMs !== 'auto') return this.fixedTimeoutMs
    if (Number.isNaN(this.serviceMs)) return TIMEOUT_MAX_MS
    return Math.min(TIMEOUT_MAX_MS, Math.max(TIMEOUT_MIN_MS, TIMEOUT_PER_SERVICE * this.serviceMs))
  }

  /** Feeds the service time of one released permit, in ms. */
  onServiceTime(ms: number): void {
    // A NaN or infinite time (a broken clock) would poison the average for good.
    if (this.fixedTimeoutMs !== 'auto' || !(ms >= 0 && ms < Number.POSITIVE_INFINITY)) return
    if (this.samples < SERVICE_WINDOW) this.samples++
    this.serviceMs = Number.isNaN(this.serviceMs)
      ? ms
      : this.serviceMs + (ms - this.serviceMs) / this.samples
  }
}
