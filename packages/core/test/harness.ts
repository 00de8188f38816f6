/**
 * Shared helpers of the core test files: a controller on jest's fake clock, a
 * promise tracker, and an abort signal that counts its listeners.
 */
import {
  type AbortSignalLike,
  type AdmissionController,
  type AdmissionControllerOptions,
  createAdmissionController,
  type Decision,
  type Permit,
  type Rejection,
} from '@spillway/core'

/** A controller on jest's fake clock (`jest.useFakeTimers({ now: 0 })` first). */
export function fakeClockController(
  options: AdmissionControllerOptions = {},
  random: () => number = () => 0,
): AdmissionController {
  return createAdmissionController({ now: () => Date.now(), random, ...options })
}

/** Lets every queued promise callback run (no timers involved). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

/** Watches a promise so a test can ask, after `flush()`, whether and how it settled. */
export interface Tracked<T> {
  readonly settled: boolean
  readonly value: T | undefined
}

export function track<T>(promise: Promise<T> | T): Tracked<T> {
  const state = { settled: false, value: undefined as T | undefined }
  Promise.resolve(promise).then(
    (value) => {
      state.settled = true
      state.value = value
    },
    () => {
      state.settled = true
    },
  )
  return state
}

/** The permit of an admitted decision; fails the test otherwise. */
export function permitOf(decision: Decision | Promise<Decision> | undefined): Permit {
  if (decision === undefined || decision instanceof Promise || !decision.admitted) {
    throw new Error(`expected an immediate admission, got ${JSON.stringify(decision)}`)
  }
  return decision.permit
}

/** The rejection of a rejected decision; fails the test otherwise. */
export function rejectionOf(decision: Decision | Promise<Decision> | undefined): Rejection {
  if (decision === undefined || decision instanceof Promise || decision.admitted) {
    throw new Error(`expected an immediate rejection, got ${String(decision)}`)
  }
  return decision.rejection
}

/** An `AbortSignalLike` that records how often listeners were added and removed. */
export class CountingSignal implements AbortSignalLike {
  aborted = false
  added = 0
  removed = 0
  readonly listeners = new Set<() => void>()

  addEventListener(_type: 'abort', listener: () => void): void {
    this.added++
    this.listeners.add(listener)
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.removed++
    this.listeners.delete(listener)
  }

  abort(): void {
    this.aborted = true
    // `once` semantics: each listener runs at most once, as with a real AbortSignal.
    for (const listener of [...this.listeners]) {
      this.listeners.delete(listener)
      listener()
    }
  }
}
