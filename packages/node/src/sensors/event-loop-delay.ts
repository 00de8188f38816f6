/**
 * The event-loop delay reader: how late the loop runs, i.e. how long every
 * request waits for it, in milliseconds.
 *
 * How it works: `monitorEventLoopDelay` runs a timer every `resolutionMs` and
 * records how late each tick was. A read takes the `percentile` of the ticks
 * recorded since the previous read, minus the resolution (each recorded
 * interval includes it: an idle loop records about `resolutionMs`), then
 * resets the histogram so each read covers one window.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks'
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
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: settings.resolutionMs })
  histogram.enable()
  return {
    expected: 'a finite number',
    read: () => {
      const ms = histogram.count === 0 ? 0 : histogram.percentile(settings.percentile) / 1e6
      histogram.reset()
      const delayMs = Math.max(0, ms - settings.resolutionMs)
      raw.eventLoopDelayMs = delayMs
      return delayMs
    },
    close: () => histogram.disable(),
  }
}
