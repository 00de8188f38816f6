/**
 * Rate-limited process warnings for mistakes that are otherwise invisible.
 * Nothing here runs per request unless the mistake is happening.
 */

/** One warning per scope and code per minute at most: a warning per request would drown the log. */
const INTERVAL_MS = 60_000

const last = new WeakMap<object, Map<string, number>>()

/** `process.emitWarning` with type `SpillwayWarning`, at most once a minute per `scope` and `code`. */
export function warnOnce(scope: object, code: string, message: string): void {
  const now = Date.now()
  let seen = last.get(scope)
  if (seen === undefined) {
    seen = new Map()
    last.set(scope, seen)
  }
  const at = seen.get(code)
  if (at !== undefined && now - at < INTERVAL_MS) return
  seen.set(code, now)
  process.emitWarning(message, { type: 'SpillwayWarning', code })
}

const PROCESS = {}
/** Controllers made by `shed(options)` within `MADE_WINDOW_MS` that suggest one per request. */
export const MADE_THRESHOLD = 100
const MADE_WINDOW_MS = 10_000
let windowStart = 0
let made = 0

/**
 * Counts a controller made by `shed(options)`. An app makes a handful at
 * start-up; a hundred within ten seconds means `shed(options)` is being called
 * inside a handler, where every request gets a fresh controller that never
 * sees another request, so nothing is ever limited.
 */
export function noteOwnController(): void {
  const now = Date.now()
  if (now - windowStart > MADE_WINDOW_MS) {
    windowStart = now
    made = 0
  }
  if (++made !== MADE_THRESHOLD) return
  warnOnce(
    PROCESS,
    'SPILLWAY_CONTROLLER_PER_REQUEST',
    `${MADE_THRESHOLD} controllers were made by shed(options) within ${MADE_WINDOW_MS / 1000} s. ` +
      'Calling shed(options) per request (inside a handler) gives every request its own ' +
      'controller, so nothing is limited: create the middleware once, at start-up. ' +
      'Silence with `warnings: false`.',
  )
}
