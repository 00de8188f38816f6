import type { Downstream } from './downstream.js'
import { burnCpu } from './downstream.js'

/** The handler's work and the counters every target exposes on `GET /__stats`. */
export interface Work {
  /**
   * Does one request's work (CPU, then the downstream), then tells whether the
   * client is still there to receive the answer; counts the run as wasted if not.
   */
  run(clientGone: () => boolean): Promise<boolean>
  /** Handlers running now. */
  readonly active: number
  /** Handler runs finished. */
  readonly completed: number
  /** Handler runs finished for a client that had already gone. */
  readonly wasted: number
}

/** Wraps a downstream and a CPU cost into the handler body shared by every framework. */
export function createWork(downstream: Downstream, cpuMs: number): Work {
  let active = 0
  let completed = 0
  let wasted = 0
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
    async run(clientGone) {
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
        return false
      }
      return true
    },
  }
}
