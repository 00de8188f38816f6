/**
 * Timer plumbing with injectable timers, so tests drive time by hand. A timer
 * on a call someone awaits (a wait for `Retry-After`, an attempt's deadline)
 * keeps the process alive, like the socket of a plain `fetch` does: a script
 * that awaits one call must not exit in the middle of it. Once the call has
 * resolved, the deadline timer that still bounds the body is `unref()`ed: a
 * body being read keeps its own socket alive, one nobody reads must not hold
 * the process. Every timer is cleared on every exit path.
 *
 * Timers take at most 2^31 − 1 ms; a longer delay overflows and fires after
 * 1 ms. A longer wait (a far-future `deadline`) is a chain of timers, each at
 * most that long, so it fires when asked, never early.
 */

/** The two timer functions the client uses; `globalThis`'s by default. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** Longest delay one timer honours: 2^31 − 1 ms (about 24.8 days). */
export const MAX_TIMER_MS = 2_147_483_647

/** `globalThis`'s timers. */
export const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** A timer of any length; `cancel()` and `unref()` act on whichever link of the chain is pending. */
export interface Timer {
  cancel(): void
  /** Lets the process exit while it is pending (where the runtime has `unref`). */
  unref(): void
}

/** Calls `callback` after `ms` (any length, chained past {@link MAX_TIMER_MS}). */
export function startTimer(timers: Timers, callback: () => void, ms: number): Timer {
  let remaining = Math.max(0, ms)
  let handle: unknown
  let unrefd = false
  const arm = (): void => {
    const step = Math.min(remaining, MAX_TIMER_MS)
    remaining -= step
    handle = timers.setTimeout(remaining > 0 ? arm : callback, step)
    if (unrefd) unrefHandle(handle)
  }
  arm()
  return {
    cancel: () => timers.clearTimeout(handle),
    unref: () => {
      unrefd = true
      unrefHandle(handle)
    },
  }
}

function unrefHandle(handle: unknown): void {
  ;(handle as { unref?: () => void } | undefined)?.unref?.()
}

/**
 * Resolves after `ms`, or rejects at once with `signal.reason` when the signal
 * aborts; either way the timer and the listener are gone when it settles.
 */
export function sleep(ms: number, signal: AbortSignal | undefined, timers: Timers): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = (): void => {
      timer.cancel()
      reject(signal?.reason)
    }
    const timer = startTimer(
      timers,
      () => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      },
      ms,
    )
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * One signal that aborts when the caller's does, or when `delayMs` passes
 * (with a `TimeoutError`, like `AbortSignal.timeout`). `dispose()` removes the
 * listener and the timer; call it when the call settles. A caller's signal is
 * always linked, never handed to `fetch` itself, so whatever `fetch` attaches
 * to it goes to this call's own signal and dies with it.
 */
export function linkSignal(
  caller: AbortSignal | undefined,
  delayMs: number | undefined,
  timers: Timers,
): { signal: AbortSignal | undefined; dispose: () => void; unref: () => void } {
  if (caller === undefined && delayMs === undefined) {
    return { signal: undefined, dispose: () => {}, unref: () => {} }
  }
  const controller = new AbortController()
  // Whichever fires first undoes the other, so neither outlives the link.
  const onAbort = (): void => {
    timer?.cancel()
    controller.abort(caller?.reason)
  }
  const timer =
    delayMs === undefined
      ? undefined
      : startTimer(
          timers,
          () => {
            caller?.removeEventListener('abort', onAbort)
            controller.abort(new DOMException('The request deadline passed.', 'TimeoutError'))
          },
          delayMs,
        )
  if (caller?.aborted) onAbort()
  else caller?.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    dispose: () => {
      timer?.cancel()
      caller?.removeEventListener('abort', onAbort)
    },
    unref: () => timer?.unref(),
  }
}
