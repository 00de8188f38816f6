/**
 * Telling an admission that may concern a request left unread in the kernel,
 * and waiting until Node has read what came after it.
 *
 * How it works: a client that leaves while the event loop is blocked (a long
 * synchronous task, a GC pause, the process stopped) leaves its request and
 * its FIN unread in the kernel. When the loop runs again, Node parses the
 * request and emits `request` in one turn's poll phase but reads the FIN only
 * in the next turn's; a queued request admitted in the timers phase as the
 * loop wakes comes before any read at all. In that turn the socket still
 * looks live, and a handler would run for nobody.
 *
 * So while admissions happen, an unref'ed heartbeat timer runs every
 * {@link BEAT_MS} (one timer per process, never one per request; it stops
 * after {@link IDLE_AFTER_MS} without an admission, once beats come on time).
 * A turn is late when the pending beat is more than {@link LATE_TURN_MS}
 * overdue (the loop is blocked or busy right now), or until
 * {@link CATCH_UP_BEATS} beats in a row have come on time since one ran that late (the poll phases since are still
 * reading what piled up while the loop was held: requests on open connections
 * first, then on the connections that waited in the accept queue, over many
 * turns). A request that comes in a late turn is decided in the check phase
 * after the next poll phase, when the socket tells the truth, and only if its
 * client is still there; one admitted from the queue in a late turn starts
 * its handler then. One `setImmediate` per turn, then one per late request:
 * each runs on its own, so a synchronous handler has run, and freed its slot,
 * before the next late request is decided. An idle server (no beat pending)
 * is never late: it read each request as it came. Not covered: a server
 * stalled after a second or more without admissions.
 */

/** The heartbeat's period while admissions happen, ms. */
export const BEAT_MS = 20

/**
 * How overdue a beat must be for the turn to count as late, ms. Longer than
 * a healthy turn (a few ms), shorter than any client's patience.
 */
export const LATE_TURN_MS = 50

/** On-time beats in a row after a late one before admissions are no longer late. */
export const CATCH_UP_BEATS = 5

/** The heartbeat stops after this long without an admission (once no longer late), ms. */
export const IDLE_AFTER_MS = 1000

// Read once, at load: on Node `performance` is a lazy accessor on the global
// object, and reading it costs more than the clock read itself (see core's timers.ts).
const clock = performance

let timer: NodeJS.Timeout | undefined
let armed = false
let dueAt = 0
let lastAdmissionAt = 0
let late = false
let onTimeBeats = CATCH_UP_BEATS

function beat(): void {
  const now = clock.now()
  const overdue = now - dueAt > LATE_TURN_MS
  // Late until beats come on time again, {@link CATCH_UP_BEATS} in a row: the
  // poll phases after a stall read what piled up on open connections first,
  // then the connections that piled up in the accept queue, over many turns.
  onTimeBeats = overdue ? 0 : onTimeBeats + 1
  late = onTimeBeats < CATCH_UP_BEATS
  // A long gap since the last admission is idleness only once beats come on
  // time again; after a stall it is the stall (and requests are waiting to be
  // read). Never stop while late: `late` would outlive the heartbeat, and the
  // next admission, however much later, would be late on an idle server.
  if (!late && now - lastAdmissionAt > IDLE_AFTER_MS) {
    armed = false
    return
  }
  dueAt = now + BEAT_MS
  ;(timer as NodeJS.Timeout).refresh()
}

/**
 * True when a request admitted now may have waited unread, its client gone
 * without Node knowing yet (see the module's comment). Keeps the heartbeat going.
 */
export function turnIsLate(): boolean {
  const now = clock.now()
  lastAdmissionAt = now
  if (!armed) {
    armed = true
    dueAt = now + BEAT_MS
    if (timer === undefined) timer = setTimeout(beat, BEAT_MS).unref()
    else timer.refresh()
    return late
  }
  return late || now - dueAt > LATE_TURN_MS
}

let batch: Array<() => void> | undefined

function flip(): void {
  const callbacks = batch as Array<() => void>
  batch = undefined
  // This check phase follows the poll phase the request was parsed in; the next
  // one follows a poll phase that has read its socket again. One immediate per
  // callback: Node runs ticks and microtasks after each, so what one request
  // starts (its handler, a synchronous handler's release) happens before the next.
  for (const callback of callbacks) setImmediate(callback)
}

/**
 * Calls `callback` (which must not throw) in the check phase after the next
 * poll phase: the next turn's, or this turn's when called in the timers phase.
 */
export function afterNextPoll(callback: () => void): void {
  if (batch === undefined) {
    batch = []
    setImmediate(flip)
  }
  batch.push(callback)
}
