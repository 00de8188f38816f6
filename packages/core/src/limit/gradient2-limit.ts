/**
 * How it works — Gradient2 (Netflix concurrency-limits' `Gradient2Limit`),
 * latency-based. Per round trip:
 *
 *     shortRtt = mean rtt over about one round trip (EMA over `limit` samples)
 *     longRtt  = EMA of rtt over `longWindow` samples, kept ≤ the last probe's mean (below)
 *     gradient = clamp(longRtt / shortRtt, 0.5, 1)     (< 1 once requests queue; 0.5 on a drop)
 *     target   = limit × gradient + queueSize          (queueSize: headroom to keep probing upward)
 *     limit    ← limit × (1 − smoothing) + target × smoothing, clamped to [min, max]
 *     app-limited (inFlight < limit/2) and no drop: unchanged
 *
 * At equilibrium with an accurate baseline, limit ≈ capacity + queueSize.
 *
 * Departures from the Netflix anchor:
 * - Netflix applies the formula to each sample it is given, and is usually fed
 *   one aggregate per time window. We get one sample per request (about `limit`
 *   per round trip), so each applies `1/limit` of a step: one step per round
 *   trip. Fed per request, the original swings between 10 and 120 for a
 *   capacity of 40 in our simulation.
 * - The ratchet. Netflix's long average absorbs every sample, queued or not.
 *   Under a long overload it climbs to the loaded latency, the gradient returns
 *   to 1, the limit grows by `queueSize` again, latency climbs, and so on until
 *   `max`. Here a probe (see `rtt-probe.ts`) halves the limit for about a round
 *   trip every ~15–30 round trips and measures the mean latency at half load;
 *   the long average may not exceed it. It still follows latency down at once,
 *   and up when the service really got slower (the probe then measures more).
 * - A drop is a decrease signal (gradient 0.5), even while app-limited.
 * - `min` defaults to 1, not 20: a small downstream (8 connections) must be
 *   protectable.
 */
import type { LimitAlgorithm, LimitSample } from '../types.js'
import { checkNumber, resolveObject } from '../validate.js'
import {
  checkAlgorithmName,
  checkBoundFields,
  checkBoundsOrder,
  clamp,
  type LimitBounds,
  toLimit,
} from './bounds.js'
import type { LimitContext } from './limit-context.js'
import { RttProbe } from './rtt-probe.js'

/** Options of `{ algorithm: 'gradient2', ... }`. */
export interface Gradient2LimitOptions {
  /** Selects this algorithm inside the controller's `limit` option. */
  algorithm?: 'gradient2'
  /** Limit before the first sample, an integer in `[min, max]`. @default 10 (clamped into `[min, max]`) */
  initial?: number
  /** Lowest limit, an integer ≥ 1. @default 1 */
  min?: number
  /** Highest limit, an integer ≥ `min`. @default 200 */
  max?: number
  /** Headroom added to the target each sample so the limit keeps probing upward, in requests (≥ 0). @default 4 */
  queueSize?: number
  /** Weight of each new target in the limit, in `(0, 1]`. @default 0.2 */
  smoothing?: number
  /** Samples averaged by the long-term (baseline) latency, an integer ≥ 2. @default 600 */
  longWindow?: number
  /** A baseline probe runs every `probeMultiplier × limit` samples (× a random factor in [0.5, 1)), an integer ≥ 1. @default 30 */
  probeMultiplier?: number
}

const DEFAULTS = Object.freeze({
  algorithm: 'gradient2' as const,
  initial: 10,
  min: 1,
  max: 200,
  queueSize: 4,
  smoothing: 0.2,
  longWindow: 600,
  probeMultiplier: 30,
})

/** Samples averaged plainly before the long EMA takes over, so one outlier cannot seed it. */
const WARMUP_SAMPLES = 10

/** Builds a Gradient2 limit; throws `TypeError`/`RangeError` (`ERR_SPILLWAY_INVALID_OPTION`) for bad options. */
export function createGradient2Limit(
  options: Gradient2LimitOptions = {},
  context: LimitContext = {},
): Gradient2Limit {
  const option = context.option ?? 'limit'
  const resolved = resolveObject(options, option, DEFAULTS)
  checkAlgorithmName(resolved.algorithm, option, 'gradient2')
  checkBoundFields(resolved, option)
  const queueSize = checkNumber(resolved.queueSize, `${option}.queueSize`, { min: 0 })
  const smoothing = checkNumber(resolved.smoothing, `${option}.smoothing`, {
    min: 0,
    exclusiveMin: true,
    max: 1,
  })
  const longWindow = checkNumber(resolved.longWindow, `${option}.longWindow`, {
    integer: true,
    min: 2,
  })
  const probeMultiplier = checkNumber(resolved.probeMultiplier, `${option}.probeMultiplier`, {
    integer: true,
    min: 1,
  })
  const bounds = checkBoundsOrder(
    resolved,
    (options as { initial?: unknown }).initial !== undefined,
    option,
  )
  const probe = new RttProbe(probeMultiplier, context.random ?? Math.random, bounds.initial)
  return new Gradient2Limit(bounds, queueSize, smoothing, longWindow, probe)
}

/** A Gradient2 limit; `longRttMs` is exposed read-only for tests and metrics. */
export class Gradient2Limit implements LimitAlgorithm {
  private estimate: number
  private long = 0
  private short = Number.NaN
  private samples = 0
  /** Mean latency the last probe measured at half the load, in ms. */
  private ceiling = Number.POSITIVE_INFINITY
  private readonly factor: number

  /** @internal use `createGradient2Limit`, which validates. */
  private readonly min: number
  private readonly max: number

  /** @internal use `createGradient2Limit`, which validates. */
  constructor(
    bounds: LimitBounds,
    private readonly queueSize: number,
    private readonly smoothing: number,
    longWindow: number,
    private readonly probe: RttProbe | undefined,
  ) {
    this.estimate = bounds.initial
    this.min = bounds.min
    this.max = bounds.max
    this.factor = 2 / (longWindow + 1)
  }

  get limit(): number {
    const limit = toLimit(this.estimate, this.min, this.max)
    return this.probe?.probing ? Math.min(limit, this.probe.cap) : limit
  }

  /** The long-term (baseline) latency, in ms; `0` before the first sample. */
  get longRttMs(): number {
    return this.long
  }

  onSample(sample: LimitSample): void {
    const rtt = sample.rttMs
    // A NaN, infinite or negative time (a clock stepping back) would poison the averages for good.
    if (!(rtt >= 0 && rtt < Number.POSITIVE_INFINITY)) return
    const limit = toLimit(this.estimate, this.min, this.max)
    // About `limit` samples arrive per round trip: averaging over that many is one round trip,
    // like the sampling windows Netflix feeds Gradient2, and keeps per-request noise out.
    this.short = Number.isNaN(this.short) ? rtt : this.short + (rtt - this.short) / limit
    const short = this.short
    if (this.samples < WARMUP_SAMPLES) {
      this.samples++
      this.long += (rtt - this.long) / this.samples
    } else {
      this.long += (rtt - this.long) * this.factor
    }
    if (this.long > 2 * short) this.long *= 0.9
    if (this.probe !== undefined) {
      const wasProbing = this.probe.probing
      const result = this.probe.onSample(sample, limit, this.min)
      if (result !== undefined) this.ceiling = result
      // The guard against the ratchet: the baseline may follow latency down, but not above what
      // the last probe measured with half the load.
      if (this.long > this.ceiling) this.long = this.ceiling
      if (wasProbing) return
    }

    if (sample.inFlight * 2 < this.limit && !sample.didDrop) return
    // short is 0 only on a clock too coarse to time requests: nothing measurable queued.
    const gradient = sample.didDrop ? 0.5 : short > 0 ? clamp(this.long / short, 0.5, 1) : 1
    const target = this.estimate * gradient + this.queueSize
    // One sample per request arrives, about `limit` per round trip: each moves the limit by a
    // `1/limit` share of a smoothing step, i.e. one step per round trip, as with Netflix's windows.
    const step = this.smoothing / Math.max(1, this.estimate)
    this.estimate = clamp(this.estimate + (target - this.estimate) * step, this.min, this.max)
  }
}
