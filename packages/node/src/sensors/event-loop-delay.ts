/**
 * The event-loop delay reader: how late the loop runs, i.e. how long every
 * request waits for it, in milliseconds.
 *
 * How it works: `monitorEventLoopDelay` runs a timer every `resolutionMs` and
 * records each interval between its ticks. A read takes two views of the
 * window since the previous read, then resets the histogram:
 *
 *   recorded    the `percentile` of the recorded intervals, minus the
 *               resolution (each interval includes it: an idle loop records
 *               about `resolutionMs`);
 *   unrecorded  the window's length minus the sum of the recorded intervals
 *               (count × mean), minus two resolutions. Node drops the first
 *               interval after each reset, and the tail since the last tick is
 *               not recorded yet: on a free loop each is at most one
 *               resolution, so this reads about 0. A stall in either one —
 *               one that starts right after a sample, or lasts past the next
 *               sample and so fills the whole window (the histogram then
 *               counted nothing) — shows here in full, and not at all in the
 *               histogram.
 *
 * The value is the larger of the two: a stall the histogram could not record
 * counts as one interval of that length.
 */
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { RawReadings, SignalReader } from './pressure-signal.js'

export interface EventLoopDelaySettings {
  /** Which percentile of the window's delays is the value, in (0, 100]. */
  readonly percentile: number
  /** Histogram sampling period, in ms. */
  readonly resolutionMs: number
}

/**
 * Reads the delay from `injected` when given (no histogram is created), else
 * from a histogram enabled now and disabled by `close()`.
 */
export function eventLoopDelayReader(
  settings: EventLoopDelaySettings,
  injected: (() => number) | undefined,
  raw: RawReadings,
): SignalReader {
  if (injected !== undefined) {
    return {
      expected: 'a finite number',
      read: () => {
        const ms = injected()
        raw.eventLoopDelayMs = ms as number | undefined
        return ms
      },
    }
  }
  const { percentile, resolutionMs } = settings
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: resolutionMs })
  histogram.enable()
  // The loop's own clock, not the monitor's injectable `now`: this measures the real loop.
  let windowStartMs = performance.now()
  return {
    expected: 'a finite number',
    read: () => {
      const nowMs = performance.now()
      const { count } = histogram
      const percentileMs = count === 0 ? 0 : histogram.percentile(percentile) / 1e6
      const recordedMs = count === 0 ? 0 : (histogram.mean * count) / 1e6
      histogram.reset()
      const unrecordedMs = nowMs - windowStartMs - recordedMs
      windowStartMs = nowMs
      const delayMs = Math.max(0, percentileMs - resolutionMs, unrecordedMs - 2 * resolutionMs)
      raw.eventLoopDelayMs = delayMs
      return delayMs
    },
    close: () => histogram.disable(),
  }
}
