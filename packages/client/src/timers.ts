/**
 * Timer plumbing with injectable timers, so tests drive time by hand. A timer
 * on a call someone awaits (a wait for `Retry-After`, an attempt's deadline)
 * keeps the process alive, like the socket of a plain `fetch` does: a script
 * that awaits one call must not exit in the middle of it. Once the call has
 * resolved, the deadline timer that still bounds the body is `unref()`ed: a
 * body being read keeps its own socket alive, one nobody reads must not hold
 * the process. Every timer is cleared on every exit path.
 */

/** The two timer functions the client uses; `globalThis`'s by default. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** `globalThis`'s timers. */
export const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** Lets the process exit while `handle` is pending (where the runtime has `unref`). */
export function unrefTimer(handle: unknown): void {
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
      timers.clearTimeout(handle)
      reject(signal?.reason)
    }
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * One signal that aborts when the caller's does, or when `deadline` passes
 * (with a `TimeoutError`, like `AbortSignal.timeout`). `dispose()` removes the
 * listener and the timer; call it when the attempt settles.
 */
export function linkSignal(
  caller: AbortSignal | undefined,
  delayMs: number | undefined,
  timers: Timers,
): { signal: AbortSignal | undefined; dispose: () => void; unref: () => void } {
  if (delayMs === undefined) return { signal: caller, dispose: () => {}, unref: () => {} }
  const controller = new AbortController()
  // Whichever fires first undoes the other, so neither outlives the link.
  const onAbort = (): void => {
    timers.clearTimeout(handle)
    controller.abort(caller?.reason)
  }
  const handle = timers.setTimeout(() => {
    caller?.removeEventListener('abort', onAbort)
    controller.abort(new DOMException('The request deadline passed.', 'TimeoutError'))
  }, delayMs)
  if (caller?.aborted) onAbort()
  else caller?.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    dispose: () => {
      timers.clearTimeout(handle)
      caller?.removeEventListener('abort', onAbort)
    },
    unref: () => unrefTimer(handle),
  }
}
