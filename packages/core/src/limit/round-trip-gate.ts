import type { LimitSample } from '../types.js'

/**
 * Lets a limit back off at most once per round trip (TCP NewReno's "one
 * reduction per window"). When an overload fails a whole round trip of
 * requests, each failure was caused by the limit in force when it was
 * admitted; backing off once per failure would multiply the decrease by the
 * number of requests in flight and collapse the limit to its minimum.
 */
export class RoundTripGate {
  /** End time of the sample that last opened the gate, in the samples' clock (ms). */
  private lastMs = Number.NEGATIVE_INFINITY

  /** True if this drop should back off: its request started after the last back-off ended. */
  pass(sample: LimitSample): boolean {
    if (sample.startMs < this.lastMs) return false
    this.lastMs = sample.startMs + sample.rttMs
    return true
  }
}
