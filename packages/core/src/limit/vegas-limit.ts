/**
 * How it works — Vegas (TCP Vegas, as in Netflix concurrency-limits' `VegasLimit`),
 * latency-based:
 *
 *     rtt       = mean latency over about one round trip (EMA over `limit` samples)
 *     noLoadRtt = lowest such rtt seen, re-measured by a bounded probe (below)
 *     queue     = ⌈inFlight × (1 − noLoadRtt / rtt)⌉     requests waiting rather than served (Little's law)
 *     f         = max(1, ⌊log10 limit⌋)                  so thresholds grow slowly with the limit
 *     queue ≤ f          → limit + beta × f     (no queueing: grow fast)
 *     queue < alpha × f  → limit + f
 *     queue > beta × f   → limit − f
 *     otherwise          → unchanged            (the sweet spot: a little queueing, not much)
 *     didDrop            → limit × backoffRatio, at most once per round trip
 *     app-limited (inFlight < limit/2): unchanged
 *
 * Each change above is per round trip. One sample arrives per request, about
 * `limit` per round trip, so each sample applies `1/limit` of it (Netflix feeds
 * one sample per request too, and so moves `limit` times faster than the
 * formula reads). Netflix subtracts f per dropped request, which lets errors
 * from a fail-fast backend (low latency, so Vegas sees no queue) barely dent the
 * limit while a burst of failures collapses it; a multiplicative back-off once
 * per round trip does neither.
 *
 * The baseline: Netflix re-probes it by taking one sample's latency as the new
 * `rtt_noload` every ~30 × limit samples. Under a long overload that sample is
 * itself queued, the baseline rises, the limit rises after it, and so on for
 * ever. Here the probe halves the limit for about a round trip and takes the
 * mean latency of requests admitted at that half load (see `rtt-probe.ts`);
 * a mean, not a minimum, because a minimum of single requests is biased low by
 * their noise, and Vegas would read that noise as queueing at large limits.
 */
import type { LimitAlgorithm, LimitSample } from '../types.js'
import { checkNumber, fail, resolveObject } from '../validate.js'
import {
  checkAlgorithmName,
  checkBoundFields,
  checkBoundsOrder,
  checkRatio,
  clamp,
  type LimitBounds,
  toLimit,
} from './bounds.js'
import type { LimitContext } from './limit-context.js'
import { RoundTripGate } from './round-trip-gate.js'
import { RttProbe } from './rtt-probe.js'

/** Options of `{ algorithm: 'vegas', ... }`. */
export interface VegasLimitOptions {
  /** Selects this algorithm inside the controller's `limit` option. */
  algorithm?: 'vegas'
  /** Limit before the first sample, an integer in `[min, max]`. @default 10 (clamped into `[min, max]`) */
  initial?: number
  /** Lowest limit, an integer ≥ 1. @default 1 */
  min?: number
  /** Highest limit, an integer ≥ `min`. @default 1000 */
  max?: number
  /** Below `alpha × max(1, ⌊log10 limit⌋)` queued requests the limit grows, in requests (> 1). @default 3 */
  alpha?: number
  /** Above `beta × max(1, ⌊log10 limit⌋)` queued requests the limit shrinks, in requests (≥ `alpha`). @default 6 */
  beta?: number
  /** A baseline probe runs every `probeMultiplier × limit` samples (× a random factor in [0.5, 1)), an integer ≥ 1. @default 30 */
  probeMultiplier?: number
  /** Factor applied to the limit on a drop (at most once per round trip), in `[0.5, 1)`. @default 0.9 */
  backoffRatio?: number
}

const DEFAULTS = Object.freeze({
  algorithm: 'vegas' as const,
  initial: 10,
  min: 1,
  max: 1000,
  alpha: 3,
  beta: 6,
  probeMultiplier: 30,
  backoffRatio: 0.9,
})

/** Builds a Vegas limit; throws `TypeError`/`RangeError` (`ERR_SPILLWAY_INVALID_OPTION`) for bad options. */
export function createVegasLimit(
  options: VegasLimitOptions = {},
  context: LimitContext = {},
): VegasLimit {
  const option = context.option ?? 'limit'
  const resolved = resolveObject(options, option, DEFAULTS)
  checkAlgorithmName(resolved.algorithm, option, 'vegas')
  checkBoundFields(resolved, option)
  // alpha > 1 keeps "grow fast" (queue ≤ f) and "grow" (queue < alpha × f) distinct.
  const alpha = checkNumber(resolved.alpha, `${option}.alpha`, { min: 1, exclusiveMin: true })
  const beta = checkNumber(resolved.beta, `${option}.beta`, { min: 1, exclusiveMin: true })
  const probeMultiplier = checkNumber(resolved.probeMultiplier, `${option}.probeMultiplier`, {
    integer: true,
    min: 1,
  })
  const backoffRatio = checkRatio(resolved.backoffRatio, `${option}.backoffRatio`, 0.5)
  if (beta < alpha) fail('range', `${option}.beta`, `≥ \`${option}.alpha\` (${alpha})`, beta)
  const bounds = checkBoundsOrder(
    resolved,
    (options as { initial?: unknown }).initial !== undefined,
    option,
  )
  const probe = new RttProbe(probeMultiplier, context.random ?? Math.random, bounds.initial)
  return new VegasLimit(bounds, alpha, beta, backoffRatio, probe)
}

/** `max(1, ⌊log10 limit⌋)`: 1 below 100, 2 below 1000, … */
function log10Floor(limit: number): number {
  return Math.max(1, Math.floor(Math.log10(limit)))
}

/** A Vegas limit; `noLoadRttMs` is exposed read-only for tests and metrics. */
export class VegasLimit implements LimitAlgorithm {
  private estimate: number
  private noLoad = Number.POSITIVE_INFINITY
  private recent = Number.NaN
  private readonly min: number
  private readonly max: number
  private readonly gate = new RoundTripGate()

  /** @internal use `createVegasLimit`, which validates. */
  constructor(
    bounds: LimitBounds,
    private readonly alpha: number,
    private readonly beta: number,
    private readonly backoffRatio: number,
    private readonly probe: RttProbe,
  ) {
    this.estimate = bounds.initial
    this.min = bounds.min
    this.max = bounds.max
  }

  get limit(): number {
    const limit = toLimit(this.estimate, this.min, this.max)
    return this.probe.probing ? Math.min(limit, this.probe.cap) : limit
  }

  /** The baseline (no-load) latency, in ms; `Infinity` before the first sample. */
  get noLoadRttMs(): number {
    return this.noLoad
  }

  onSample(sample: LimitSample): void {
    const rtt = sample.rttMs
    // A NaN, infinite or negative time (a clock stepping back) would poison the baseline for good.
    if (!(rtt >= 0 && rtt < Number.POSITIVE_INFINITY)) return
    const limit = toLimit(this.estimate, this.min, this.max)
    const f = log10Floor(limit)
    const wasProbing = this.probe.probing
    const result = this.probe.onSample(sample, limit, this.min)
    if (result !== undefined) this.noLoad = result
    // About `limit` samples arrive per round trip: averaging over that many is one round trip,
    // so that per-request noise is neither mistaken for queueing nor caught by the minimum.
    this.recent = Number.isNaN(this.recent) ? rtt : this.recent + (rtt - this.recent) / limit
    if (sample.didDrop) {
      // Back off from the limit that was enforced, once per round trip (see `round-trip-gate.ts`).
      if (this.gate.pass(sample)) {
        this.estimate = clamp(limit * this.backoffRatio, this.min, this.max)
      }
      return
    }
    if (wasProbing) return
    if (this.recent < this.noLoad) {
      this.noLoad = this.recent
      return
    }
    if (sample.inFlight * 2 < limit) return

    // recent is 0 only on a clock too coarse to time requests: nothing measurable queued.
    const queue = this.recent > 0 ? Math.ceil(sample.inFlight * (1 - this.noLoad / this.recent)) : 0
    let change: number
    if (queue <= f) change = this.beta * f
    else if (queue < this.alpha * f) change = f
    else if (queue > this.beta * f) change = -f
    else return
    this.estimate = clamp(this.estimate + change / limit, this.min, this.max)
  }
}
