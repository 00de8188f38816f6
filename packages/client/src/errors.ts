import type { RejectionReason } from '@spillway/core'

/** Code carried by every {@link ThrottledError}, for `err.code === …` checks. */
export const THROTTLED = 'ERR_SPILLWAY_THROTTLED'

/**
 * Why the client refused to send a request:
 * - `throttled`: adaptive throttling (the server has been refusing work);
 * - `deadline`: the request's deadline had passed before an attempt could start;
 * - any other core reason (`queueFull`, `queueTimeout`, `evicted`, …): the
 *   per-origin concurrency cap, which is a `@spillway/core` controller, said no.
 */
export type ThrottleReason = 'throttled' | RejectionReason

/** The numbers behind an adaptive-throttling rejection. */
export interface ThrottleDetails {
  /** Attempts to this origin in the window, including local rejections. */
  readonly requests: number
  /** Attempts the origin accepted in the window. */
  readonly accepts: number
  /** The throttle's `K`. */
  readonly k: number
  /** Window length, in ms. */
  readonly windowMs: number
  /** Probability with which this attempt was rejected, in `[0, 1)`. */
  readonly probability: number
}

/**
 * A request failed fast, on the client, without reaching the server. Nothing
 * was sent for the attempt that failed, so it is always safe to report or retry
 * later; `reason` says why and the message gives the numbers.
 */
export class ThrottledError extends Error {
  override readonly name = 'ThrottledError'
  readonly code = THROTTLED
  readonly reason: ThrottleReason
  /** Origin (`scheme://host:port`) the request was for. */
  readonly origin: string
  /** Present when `reason === 'throttled'`. */
  readonly throttle: ThrottleDetails | undefined

  constructor(reason: ThrottleReason, origin: string, throttle?: ThrottleDetails) {
    super(message(reason, origin, throttle))
    this.reason = reason
    this.origin = origin
    this.throttle = throttle
  }
}

function message(reason: ThrottleReason, origin: string, t: ThrottleDetails | undefined): string {
  if (reason === 'throttled' && t !== undefined) {
    const percent = Math.round(t.probability * 100)
    return (
      `Request to ${origin} rejected by adaptive throttling: the server accepted ` +
      `${t.accepts} of the last ${t.requests} requests in ${t.windowMs / 1000} s ` +
      `(K = ${t.k}), so ${percent}% of requests are failed locally until it recovers.`
    )
  }
  if (reason === 'deadline') {
    return `Request to ${origin} not sent: its deadline had passed.`
  }
  return `Request to ${origin} rejected by the client's concurrency cap: ${reason}.`
}
