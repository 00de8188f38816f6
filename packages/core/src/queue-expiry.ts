/**
 * When waiters must leave the queue without being served: their queue
 * timeout, their deadline, and the CoDel rule of `adaptive` order. Shared by
 * the real queue (driven by one timer) and dry run's shadow queue (replayed
 * lazily, with no timer).
 *
 * How it works: every waiter of a priority shares one timeout, so the oldest
 * (the head of its arrival list) expires first: the next timeout is a scan of
 * the priorities, a small constant. Deadlines come from the queue's
 * min-heap. In `adaptive` order the queue turns standing once it has not
 * been empty for `codelIntervalMs`; from then on the timeout shrinks to
 * `codelTargetMs`, so that moment is an expiry of its own.
 */
import type { FairNode, FairQueue } from './fair-queue.js'
import type { QueueBounds } from './queue-bounds.js'
import { startTimer, stopTimer } from './timers.js'
import type { RejectionReason } from './types.js'

export interface ExpiryRules {
  readonly priorityCount: number
  /** The queue timeout, fixed or `'auto'` (read at each decision). */
  readonly bounds: QueueBounds
  readonly adaptive: boolean
  readonly codelTargetMs: number
  readonly codelIntervalMs: number
}

export class QueueExpiry<W extends FairNode<W>> {
  readonly #rules: ExpiryRules
  readonly #queue: FairQueue<W>
  /** Last time the queue was seen empty: the CoDel clock. */
  #lastEmptyAt: number

  constructor(rules: ExpiryRules, queue: FairQueue<W>, now: number) {
    this.#rules = rules
    this.#queue = queue
    this.#lastEmptyAt = now
  }

  /** Call when the queue is found empty, or is about to stop being empty. */
  markEmpty(now: number): void {
    this.#lastEmptyAt = now
  }

  /** A standing queue: not empty for a whole interval (adaptive order only). */
  congested(now: number): boolean {
    return (
      this.#rules.adaptive &&
      this.#queue.size > 0 &&
      now - this.#lastEmptyAt >= this.#rules.codelIntervalMs
    )
  }

  timeoutMs(congested: boolean): number {
    const { codelTargetMs } = this.#rules
    const queueTimeoutMs = this.#rules.bounds.timeoutMs
    return congested ? Math.min(queueTimeoutMs, codelTargetMs) : queueTimeoutMs
  }

  /** The earliest moment a waiter may have to leave, as the queue stands at `now`. */
  nextAt(now: number): number {
    if (this.#queue.size === 0) return Number.POSITIVE_INFINITY
    const congested = this.congested(now)
    const timeoutMs = this.timeoutMs(congested)
    let next = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.#rules.priorityCount; i++) {
      const oldest = this.#queue.oldest(i)
      if (oldest !== undefined) next = Math.min(next, oldest.enqueuedAt + timeoutMs)
    }
    const earliest = this.#queue.earliestDeadline()
    if (earliest !== undefined) next = Math.min(next, earliest.deadline)
    // The moment the queue turns standing, timeouts shrink to the CoDel target.
    if (this.#rules.adaptive && !congested) {
      next = Math.min(next, this.#lastEmptyAt + this.#rules.codelIntervalMs)
    }
    return next
  }

  /** Hands every waiter due at `now` to `leave` (which must take it out of the queue). */
  expire(now: number, leave: (waiter: W, reason: RejectionReason) => void): void {
    const timeoutMs = this.timeoutMs(this.congested(now))
    for (let i = 0; i < this.#rules.priorityCount; i++) {
      for (let w = this.#queue.oldest(i); w !== undefined; w = this.#queue.oldest(i)) {
        if (now - w.enqueuedAt < timeoutMs) break
        leave(w, w.deadline <= now ? 'deadline' : 'queueTimeout')
      }
    }
    for (let w = this.#queue.earliestDeadline(); w !== undefined; ) {
      if (w.deadline > now) break
      leave(w, 'deadline')
      w = this.#queue.earliestDeadline()
    }
  }
}

/**
 * The one timer of a controller's queue, armed for the earliest expiry: none
 * runs per request, and it never keeps the process alive.
 */
export class ExpiryTimer {
  readonly #onFire: () => void
  #handle: unknown = undefined
  /** When the armed timer fires; `Infinity` when none is armed. */
  #at = Number.POSITIVE_INFINITY

  constructor(onFire: () => void) {
    this.#onFire = onFire
  }

  /** Arms for `at`, unless already armed for that moment or earlier. */
  arm(at: number, now: number): void {
    if (at >= this.#at) return
    this.disarm()
    this.#at = at
    this.#handle = startTimer(
      () => {
        this.#handle = undefined
        this.#at = Number.POSITIVE_INFINITY
        this.#onFire()
      },
      Math.max(0, Math.ceil(at - now)),
    )
  }

  disarm(): void {
    if (this.#handle === undefined) return
    stopTimer(this.#handle)
    this.#handle = undefined
    this.#at = Number.POSITIVE_INFINITY
  }
}
