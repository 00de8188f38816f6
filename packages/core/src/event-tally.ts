/**
 * Per-priority counts that `stats().counters` does not break down: admissions
 * by priority, rejections by priority and reason, and queue waits.
 *
 * How it works: one `on()` listener per collector. An event costs a map
 * look-up of its priority and an increment in a preallocated array; a reason
 * the tally has not met before (a new core version may add one) gets its row
 * on first sight, so the set of reasons is never hard-coded here. Memory is
 * bounded by priorities × reasons, both fixed by the controller.
 */
import type { AdmissionController, ControllerEvent } from './controller.js'

/** What the tally hands out at scrape time. */
export interface EventTally {
  /** Admissions per priority index (order of `controller.priorities`). */
  readonly admitted: Float64Array
  /** Rejections per reason, each a row per priority index. */
  readonly rejected: ReadonlyMap<string, Float64Array>
  /** Stops listening. Idempotent. */
  dispose(): void
}

/**
 * Subscribes to `controller` and counts from now on. `onAdmit` receives the
 * priority index and the queue wait in milliseconds, for a histogram.
 */
export function tallyEvents(
  controller: AdmissionController,
  onAdmit: (priorityIndex: number, waitedMs: number) => void,
): EventTally {
  const priorities = controller.priorities
  const index = new Map(priorities.map((name, i) => [name, i]))
  const admitted = new Float64Array(priorities.length)
  const rejected = new Map<string, Float64Array>()
  const rowOf = (reason: string): Float64Array => {
    let row = rejected.get(reason)
    if (row === undefined) {
      row = new Float64Array(priorities.length)
      rejected.set(reason, row)
    }
    return row
  }
  // Known reasons first, so every series exists (at 0) from the first scrape.
  for (const reason of Object.keys(controller.stats().counters.rejected)) rowOf(reason)

  const listener = (event: ControllerEvent): void => {
    if (event.type === 'admit') {
      const i = index.get(event.priority)
      if (i === undefined) return
      admitted[i] = (admitted[i] as number) + 1
      onAdmit(i, event.waitedMs)
    } else if (event.type === 'reject') {
      const i = index.get(event.priority)
      if (i === undefined) return
      const row = rowOf(event.rejection.reason)
      row[i] = (row[i] as number) + 1
    }
  }
  const unsubscribe = controller.on(listener)
  return { admitted, rejected, dispose: unsubscribe }
}
