/**
 * The two timer functions core needs, typed here because core compiles
 * without Node's or the DOM's types (it must load in any runtime).
 */
declare function setTimeout(callback: () => void, ms: number): unknown
declare function clearTimeout(handle: unknown): void

/** Longest delay timers honour: 2^31 - 1 ms; a longer one overflows and fires after 1 ms. */
const MAX_DELAY_MS = 2_147_483_647

/**
 * Starts a timer that never keeps the process alive (`unref` where the runtime
 * has it). Delays are capped at `MAX_DELAY_MS`: firing early is harmless (the
 * controller re-arms), an overflow would fire every millisecond.
 */
export function startTimer(callback: () => void, ms: number): unknown {
  const handle = setTimeout(callback, Math.min(ms, MAX_DELAY_MS))
  ;(handle as { unref?: () => void } | undefined)?.unref?.()
  return handle
}

export function stopTimer(handle: unknown): void {
  clearTimeout(handle)
}

declare const performance: { readonly timeOrigin: number; now(): number }

// Read once, at load: on Node `performance` is a lazy accessor on the global
// object, and reading it costs hundreds of instructions, twice per request.
// A fake clock installed later (jest's fake timers) is therefore not seen:
// inject `now` for one, as the tests do.
const clock = performance
const timeOrigin = clock.timeOrigin

/** Epoch milliseconds from a monotonic source, so deadlines and durations share one clock. */
export function epochNow(): number {
  return timeOrigin + clock.now()
}
