/**
 * The event-loop utilisation reader: the fraction of the window since the
 * previous read that the loop spent busy (`performance.eventLoopUtilization`),
 * in [0, 1].
 */
import { performance } from 'node:perf_hooks'
import type { RawReadings, SignalReader } from './pressure-signal.js'

/** Reads the utilisation from `injected` when given, else from `performance`. */
export function eventLoopUtilizationReader(
  injected: (() => number) | undefined,
  raw: RawReadings,
): SignalReader {
  let read: () => number
  if (injected !== undefined) {
    read = injected
  } else {
    // The first window runs from construction, not from process start.
    let last = performance.eventLoopUtilization()
    read = () => {
      const current = performance.eventLoopUtilization()
      const window = performance.eventLoopUtilization(current, last)
      last = current
      return window.utilization
    }
  }
  return {
    expected: 'a finite number',
    read: () => {
      const ratio = read()
      raw.eventLoopUtilization = ratio as number | undefined
      return ratio
    },
  }
}
