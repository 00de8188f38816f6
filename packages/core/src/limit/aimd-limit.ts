/**
 * How it works — AIMD (additive increase, multiplicative decrease), loss-based,
 * as TCP Reno's congestion avoidance and Netflix concurrency-limits' `AIMDLimit`:
 *
 *     drop (didDrop, or rttMs > timeoutMs):  limit ← limit × backoffRatio   (at most once per round trip)
 *     success while busy (inFlight ≥ limit/2): limit ← limit + 1/limit        (≈ +1 per round trip)
 *     success while app-limited:              unchanged
 *     limit clamped to [min, max]; the controller reads ⌊limit⌋.
 *
 * Two departures from the Netflix anchor, both to keep the limit stable:
 * - Netflix adds 1 per sample, which doubles the limit every round trip (slow
 *   start, never congestion avoidance); we add 1/limit per sample, i.e. 1 per
 *   round trip, as TCP does once it has found the ceiling.
 * - Netflix backs off once per dropped sample, so one overflow that fails a whole
 *   round trip of requests multiplies by 0.9 once per request and collapses the
 *   limit to its minimum. We back off once per round trip: a drop from a request
 *   that started before the last decrease was caused by the old limit and is
 *   already answered (TCP NewReno's "one reduction per window").
 */
import type { LimitAlgorithm, LimitSample } from '../types.js'
import { checkNumber, resolveObject } from '../validate.js'
import {
  checkAlgorithmName,
  checkBoundFields,
  checkBoundsOrder,
  checkRatio,
  clamp,
  toLimit,
} from './bounds.js'
import type { LimitContext } from './limit-context.js'
import { RoundTripGate } from './round-trip-gate.js'

/** Options of `{ algorithm: 'aimd', ... }`. */
export interface AimdLimitOptions {
  /** Selects this algorithm inside the controller's `limit` option. */
  algorithm?: 'aimd'
  /** Limit before the first sample, an integer in `[min, max]`. @default 20 (clamped into `[min, max]`) */
  initial?: number
  /** Lowest limit, an integer ≥ 1. @default 1 */
  min?: number
  /** Highest limit, an integer ≥ `min`. @default 200 */
  max?: number
  /** Factor applied to the limit on a drop, in `[0.5, 1)`. @default 0.9 */
  backoffRatio?: number
  /** Service time above which a successful request still counts as a drop, in ms (> 0). @default 5000 */
  timeoutMs?: number
}

const DEFAULTS = Object.freeze({
  algorithm: 'aimd' as const,
  initial: 20,
  min: 1,
  max: 200,
  backoffRatio: 0.9,
  timeoutMs: 5000,
})

/** Builds an AIMD limit; throws `TypeError`/`RangeError` (`ERR_SPILLWAY_INVALID_OPTION`) for bad options. */
export function createAimdLimit(
  options: AimdLimitOptions = {},
  context: LimitContext = {},
): LimitAlgorithm {
  const option = context.option ?? 'limit'
  const resolved = resolveObject(options, option, DEFAULTS)
  checkAlgorithmName(resolved.algorithm, option, 'aimd')
  checkBoundFields(resolved, option)
  const backoffRatio = checkRatio(resolved.backoffRatio, `${option}.backoffRatio`, 0.5)
  const timeoutMs = checkNumber(resolved.timeoutMs, `${option}.timeoutMs`, {
    min: 0,
    exclusiveMin: true,
  })
  const bounds = checkBoundsOrder(
    resolved,
    (options as { initial?: unknown }).initial !== undefined,
    option,
  )
  return new AimdLimit(bounds.initial, bounds.min, bounds.max, backoffRatio, timeoutMs)
}

class AimdLimit implements LimitAlgorithm {
  private estimate: number
  private readonly gate = new RoundTripGate()

  constructor(
    initial: number,
    private readonly min: number,
    private readonly max: number,
    private readonly backoffRatio: number,
    private readonly timeoutMs: number,
  ) {
    this.estimate = initial
  }

  get limit(): number {
    return toLimit(this.estimate, this.min, this.max)
  }

  onSample(sample: LimitSample): void {
    if (sample.didDrop || sample.rttMs > this.timeoutMs) {
      if (!this.gate.pass(sample)) return
      // Back off from the limit the controller enforced, not from a fraction above it.
      this.estimate = clamp(Math.floor(this.estimate) * this.backoffRatio, this.min, this.max)
      return
    }
    // App-limited: the limit was not what held the load back, so success says nothing about it.
    if (sample.inFlight * 2 < this.limit) return
    this.estimate = clamp(this.estimate + 1 / Math.floor(this.estimate), this.min, this.max)
  }
}
