import type { Downstream } from './downstream.js'
import { burnCpu } from './downstream.js'

/** The handler's work and the counters every target exposes on `GET /__stats`. */
export interface Work {
  /**
   * Does one request's work (CPU, then the downstream), then tells whether the
   * client is still there to receive the answer; counts the run as wasted if not.
   * `announced` carries what the client said of its own patience (see {@link ClientTimes}).
   */
  run(clientGone: () => boolean, announced?: ClientTimes): Promise<boolean>
  /** Handlers running now. */
  readonly active: number
  /** Handler runs finished. */
  readonly completed: number
  /** Handler runs finished for a client that had already gone. */
  readonly wasted: number
  /**
   * Handler runs started for a client already gone: its socket was closed at
   * the start, or the start came after the time the client said it would
   * leave and its socket was closed by the end (Node may not have read a
   * departed client's FIN yet when the handler starts).
   */
  readonly startedGone: number
  /** Handler runs started after the request's deadline (`x-deadline`). */
  readonly startedPastDeadline: number
  /** Of {@link startedGone}, the longest a start came after the time its client said it would leave, ms. */
  readonly startedGoneMaxLateMs: number
  /**
   * Of {@link startedGone}, those that started more than {@link LONG_GONE_MS} after
   * their client left: not a race with a client leaving that very moment (or a
   * load generator's late timer), but a request the server could have known dead.
   */
  readonly startedLongGone: number
}

/** See {@link Work.startedLongGone}, ms. */
export const LONG_GONE_MS = 100

/**
 * What the soak's clients announce in headers (epoch ms): `x-deadline`, the
 * client's whole patience, a deadline the server may honour; `x-give-up-at`,
 * when this client will actually leave (earlier for an aborting client), read
 * only by the target's counters.
 */
export interface ClientTimes {
  deadline?: number | undefined
  giveUpAt?: number | undefined
}

/** Reads {@link ClientTimes} from request headers; absent or malformed values are left out. */
export function clientTimesOf(headers: Record<string, string | string[] | undefined>): ClientTimes {
  const read = (name: string): number | undefined => {
    const value = headers[name]
    const n = typeof value === 'string' ? Number(value) : Number.NaN
    return Number.isFinite(n) ? n : undefined
  }
  return { deadline: read('x-deadline'), giveUpAt: read('x-give-up-at') }
}

/** Wraps a downstream and a CPU cost into the handler body shared by every framework. */
export function createWork(downstream: Downstream, cpuMs: number): Work {
  let active = 0
  let completed = 0
  let wasted = 0
  let startedGone = 0
  let startedPastDeadline = 0
  let startedGoneMaxLateMs = 0
  let startedLongGone = 0
  return {
    get active() {
      return active
    },
    get completed() {
      return completed
    },
    get wasted() {
      return wasted
    },
    get startedGone() {
      return startedGone
    },
    get startedPastDeadline() {
      return startedPastDeadline
    },
    get startedGoneMaxLateMs() {
      return startedGoneMaxLateMs
    },
    get startedLongGone() {
      return startedLongGone
    },
    async run(clientGone, announced) {
      const startedAt = Date.now()
      const goneAtStart = clientGone()
      if (announced?.deadline !== undefined && startedAt > announced.deadline) startedPastDeadline++
      const pastGiveUp = announced?.giveUpAt !== undefined && startedAt > announced.giveUpAt
      active++
      try {
        burnCpu(cpuMs)
        await downstream.call()
      } finally {
        active--
        completed++
      }
      if (clientGone()) {
        wasted++
        if (goneAtStart || pastGiveUp) {
          startedGone++
          const lateMs = pastGiveUp ? startedAt - (announced?.giveUpAt as number) : 0
          startedGoneMaxLateMs = Math.max(startedGoneMaxLateMs, lateMs)
          if (lateMs > LONG_GONE_MS) startedLongGone++
        }
        return false
      }
      return true
    },
  }
}
