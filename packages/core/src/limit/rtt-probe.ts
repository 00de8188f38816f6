/**
 * Re-measures the no-load latency without letting overload pass for it.
 *
 * A latency-based limit compares each request's latency with a baseline. Under
 * a long overload every request queues, so no sample shows the no-load
 * latency; a baseline that simply follows recent samples (Netflix Gradient2's
 * long average, Vegas' periodic `rtt_noload = rtt` probe) then climbs with the
 * load, the limit climbs after it, and so on for ever. A baseline that only
 * ever falls (a running minimum) would never follow a server that really got
 * slower.
 *
 * So every `multiplier × limit` samples (jittered by ×[0.5, 1) so that many
 * instances do not probe in step) the limit is halved for about one round
 * trip, after Envoy's adaptive concurrency filter (which drops to a small fixed
 * concurrency; half costs less). The probe's result is the mean latency of
 * `cap` requests admitted with at most `cap` in flight, i.e. at half the load.
 * If the service was past its capacity only because of the limit, those
 * requests do not queue and the result is the no-load latency; if it really got
 * slower, the result says so. A probe that cannot collect enough such samples
 * within `4 × limit + cap` samples gives up and changes nothing. Cost, when
 * half the limit is below capacity: about half the throughput for 1–2 round
 * trips out of every 15–30 (2–4% in the simulations of docs/limits.md).
 */
import type { LimitSample } from '../types.js'

/** The baseline probe shared by Gradient2 and Vegas; internal to `@spillway/core`. */
export class RttProbe {
  private countdown = 0
  private active = false
  private capValue = 1
  private seen = 0
  private total = 0
  private sum = 0

  constructor(
    private readonly multiplier: number,
    private readonly random: () => number,
    limit: number,
  ) {
    this.schedule(limit)
  }

  /** True while the probe holds the limit down. */
  get probing(): boolean {
    return this.active
  }

  /** The limit while probing. */
  get cap(): number {
    return this.capValue
  }

  private schedule(limit: number): void {
    this.countdown = Math.ceil(this.multiplier * limit * (0.5 + 0.5 * this.random()))
  }

  /**
   * Feeds one sample; `limit` is the algorithm's own limit and `min` its floor.
   * Returns the mean latency at half load, in ms, when a probe completes with
   * enough such samples.
   */
  onSample(sample: LimitSample, limit: number, min: number): number | undefined {
    if (!this.active) {
      if (--this.countdown > 0) return undefined
      this.active = true
      this.capValue = Math.max(min, Math.floor(limit / 2))
      this.seen = 0
      this.total = 0
      this.sum = 0
      return undefined
    }
    this.total++
    // Requests admitted before the probe ran with the full load; they say nothing about no-load.
    if (sample.inFlight <= this.capValue && !sample.didDrop) {
      this.seen++
      this.sum += sample.rttMs
    }
    if (this.seen >= this.capValue) {
      this.active = false
      this.schedule(limit)
      return this.sum / this.seen
    }
    if (this.total >= 4 * limit + this.capValue) {
      this.active = false
      this.schedule(limit)
    }
    return undefined
  }
}
