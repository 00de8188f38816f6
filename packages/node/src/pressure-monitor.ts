/**
 * Process pressure from event-loop and memory sensors, as one graded level in
 * [0, 1] that the admission controller reads on every decision.
 *
 * How it works:
 *
 * - One `unref()`ed interval timer (`sampleIntervalMs`) takes a sample; nothing
 *   runs per request, and reading `level` is a field read.
 * - Each enabled signal is one object (`sensors/pressure-signal.ts`): a reader
 *   of one quantity in its own unit, and the hysteresis that grades it.
 *     eventLoopDelay        the `percentile` (p99) of `monitorEventLoopDelay`
 *                           over the window since the last sample, or a
 *                           stall it could not record if longer, in ms
 *     eventLoopUtilization  `performance.eventLoopUtilization()` over the window
 *     heap                  V8 heap used ÷ `heap_size_limit`
 *     rss                   RSS ÷ `limitBytes` (option, else the cgroup v2/v1
 *                           container limit; no limit → signal disabled)
 *     healthCheck           the user's function: 0..1, `true` → 0, `false` → 1
 * - Each signal runs through hysteresis (see `sensors/signal.ts`): it enters
 *   pressure when its value is above `high`, leaves only when below `low` and
 *   `holdMs` after its last value above `high`. While pressured:
 *       signal level = clamp((value − low) / (saturation − low), 0, 1)
 *   and, for `holdMs` after a value above `high`, at least that value's level.
 *   A calm signal's level is 0 (after the release below). `saturation`
 *   defaults to `high + (high − low)`, so a signal entering pressure at `high`
 *   starts at level 0.5.
 * - A signal's level rises at once but falls at most 1 per `releaseMs` (fast
 *   attack, slow release): shedding ends an overload at once, and following
 *   the value straight down would readmit everything together.
 * - An idle loop ends the loop's pressure: when the loop was busy less than
 *   `idleUtilization` of the window, the event-loop signals (delay,
 *   utilisation) drop to 0 at once, hold and release notwithstanding. The slow
 *   release guards against readmitting a backlog all at once; a loop that sat
 *   idle has no backlog, and refusing more would only waste the CPU (clients
 *   told to wait have gone quiet; the stall that raised the delay is over).
 * - level = the maximum over the signals.
 * - Failures fail open: a sensor or health check that throws, or returns
 *   something other than a finite number, reads as healthy (0) for that sample
 *   and is passed to `onError`. A monitor that is closed reads 0.
 *
 * Node's delay histogram drops the first interval after each reset, so a stall
 * that starts right after a sample (or fills a whole window) never reaches
 * it; the delay reader counts the time the histogram did not record, so such
 * a stall still reads in full (see `sensors/event-loop-delay.ts`).
 */
import type { PressureSource } from '@spillway/core'
import {
  type PressureMonitorOptions,
  type PressureSignalName,
  type ResolvedMonitorOptions,
  resolveMonitorOptions,
  SIGNAL_NAMES,
} from './pressure-options.js'
import { eventLoopDelayReader } from './sensors/event-loop-delay.js'
import { eventLoopUtilizationReader } from './sensors/event-loop-utilization.js'
import { healthCheckReader } from './sensors/health-check.js'
import { heapReader, rssLimit, rssReader } from './sensors/memory.js'
import {
  PressureSignal,
  type RawReadings,
  type SignalFailure,
  type SignalReader,
} from './sensors/pressure-signal.js'
import type { SignalThresholds } from './sensors/signal.js'

export type {
  EventLoopDelayOptions,
  HealthCheck,
  HealthCheckOptions,
  PressureMonitorOptions,
  PressureSensors,
  PressureSignalName,
  RatioSignalOptions,
  RssOptions,
} from './pressure-options.js'

/** One signal's latest state, for stats and debugging. */
export type PressureSignalReading =
  | {
      readonly enabled: false
      /** Why the signal is off: `'disabled by option'` or why no RSS limit is known. */
      readonly reason: string
    }
  | {
      readonly enabled: true
      /** Latest value in the signal's unit (ms for delay, a ratio otherwise); `undefined` before the first sample. */
      readonly value: number | undefined
      /** In the hysteresis state "pressured"; after leaving it the level may still be releasing. */
      readonly pressured: boolean
      /** This signal's level in [0, 1]. */
      readonly level: number
      readonly high: number
      readonly low: number
      readonly saturation: number
      /** Samples on which this signal's reader threw or returned a non-number. */
      readonly errors: number
    }

/** The latest raw values and per-signal state. A fresh object per call. */
export interface PressureReadings {
  /** Combined level: the maximum over the signals. */
  readonly level: number
  readonly closed: boolean
  /** Samples taken so far. */
  readonly samples: number
  /** `now()` at the latest sample, `undefined` before the first. */
  readonly sampledAtMs: number | undefined
  readonly eventLoopDelayMs: number | undefined
  readonly eventLoopUtilization: number | undefined
  readonly heapUsedBytes: number | undefined
  readonly heapLimitBytes: number | undefined
  readonly rssBytes: number | undefined
  /** The limit RSS is measured against, `undefined` when none is known. */
  readonly rssLimitBytes: number | undefined
  readonly signals: { readonly [name in PressureSignalName]: PressureSignalReading }
}

/** A `PressureSource` for `createAdmissionController({ pressure })`, built from process sensors. */
export interface PressureMonitor extends PressureSource {
  /** Combined pressure in [0, 1]: 0 is calm, 1 is fully overloaded. A field read. */
  readonly level: number
  /** Latest raw values and per-signal state, for stats and debugging. */
  readings(): PressureReadings
  /**
   * Takes one sample now and updates `level`; the timer calls it. Useful in
   * tests with injected sensors. Does nothing once closed; never throws (a
   * sensor failure reads as healthy), unless the injected `now` does.
   */
  sampleNow(): void
  /** Stops the timer and the histogram; `level` reads 0 afterwards. Idempotent. */
  close(): void
}

const DISABLED_BY_OPTION = 'disabled by option'

/** The signals the options enable, and why each other one is off. */
interface Signals {
  readonly enabled: readonly PressureSignal[]
  /** The event-loop signals, which an idle loop calms. */
  readonly loop: readonly PressureSignal[]
  /**
   * Reads the loop's utilisation for the idle check when the utilisation
   * signal, which would read it anyway, is off; `undefined` when the check is.
   */
  readonly idleReader: SignalReader | undefined
  readonly disabled: Partial<Record<PressureSignalName, string>>
  readonly rssLimitBytes: number | undefined
}

function buildSignals(options: ResolvedMonitorOptions, raw: RawReadings): Signals {
  const { sensors, holdMs, releaseMs } = options
  const enabled: PressureSignal[] = []
  const disabled: Partial<Record<PressureSignalName, string>> = {}
  const add = <T extends SignalThresholds>(
    name: PressureSignalName,
    settings: T | undefined,
    reader: (settings: T) => SignalReader,
  ): void => {
    if (settings === undefined) disabled[name] ??= DISABLED_BY_OPTION
    else enabled.push(new PressureSignal(name, reader(settings), settings, holdMs, releaseMs))
  }
  const utilization = eventLoopUtilizationReader(sensors.eventLoopUtilization, raw)
  add('eventLoopDelay', options.delay, (delay) =>
    eventLoopDelayReader(delay, sensors.eventLoopDelayMs, raw),
  )
  add('eventLoopUtilization', options.utilization, () => utilization)
  const loop = enabled.slice()
  add('heap', options.heap, () => heapReader(sensors.heapBytes, raw))
  let rss: (SignalThresholds & { limitBytes: number }) | undefined
  if (options.rss !== undefined) {
    const limit = rssLimit(options.rss.limitBytes, sensors.readFile)
    if (limit.limitBytes === undefined) disabled.rss = limit.detail
    else rss = { ...options.rss, limitBytes: limit.limitBytes }
  }
  add('rss', rss, (settings) => rssReader(settings.limitBytes, sensors.rssBytes, raw))
  add('healthCheck', options.health, (health) => healthCheckReader(health.check))
  const idleChecked = options.idleUtilization > 0 && loop.length > 0
  return {
    enabled,
    loop: idleChecked ? loop : [],
    idleReader: idleChecked && options.utilization === undefined ? utilization : undefined,
    disabled,
    rssLimitBytes: rss?.limitBytes,
  }
}

class ProcessPressureMonitor implements PressureMonitor {
  #level = 0
  #closed = false
  #samples = 0
  #sampledAtMs: number | undefined
  readonly #now: () => number
  readonly #idleUtilization: number
  readonly #signals: Signals
  readonly #onFailure: SignalFailure
  readonly #timer: NodeJS.Timeout | undefined
  readonly #raw: RawReadings = {
    eventLoopDelayMs: undefined,
    eventLoopUtilization: undefined,
    heapUsedBytes: undefined,
    heapLimitBytes: undefined,
    rssBytes: undefined,
  }

  constructor(options: ResolvedMonitorOptions) {
    this.#now = options.now
    this.#idleUtilization = options.idleUtilization
    const { onError } = options
    this.#onFailure = (error, signal) => {
      if (onError === undefined) return
      try {
        onError(error, signal)
      } catch {
        // onError runs on the sampling timer: a throw here would crash the process.
      }
    }
    this.#signals = buildSignals(options, this.#raw)
    // Nothing to measure, nothing to wake up for.
    if (this.#signals.enabled.length > 0) {
      this.#timer = setInterval(() => this.sampleNow(), options.sampleIntervalMs)
      this.#timer.unref()
    }
  }

  get level(): number {
    return this.#level
  }

  sampleNow(): void {
    if (this.#closed) return
    const nowMs = this.#now()
    const { enabled, loop } = this.#signals
    // Read afresh below; a failed read must not leave the last window's value.
    this.#raw.eventLoopUtilization = undefined
    for (const signal of enabled) signal.sample(nowMs, this.#onFailure)
    if (loop.length > 0 && this.#loopIdle()) {
      for (const signal of loop) signal.calm(nowMs)
    }
    let level = 0
    for (const signal of enabled) if (signal.level > level) level = signal.level
    this.#samples++
    this.#sampledAtMs = nowMs
    this.#level = level
  }

  /** Whether the loop was busy less than `idleUtilization` of this sample's window. */
  #loopIdle(): boolean {
    const reader = this.#signals.idleReader
    if (reader !== undefined) {
      try {
        reader.read()
      } catch (error) {
        // Not known to be idle: the levels stand.
        this.#onFailure(error, 'eventLoopUtilization')
        return false
      }
    }
    const utilization = this.#raw.eventLoopUtilization
    return (
      typeof utilization === 'number' &&
      Number.isFinite(utilization) &&
      utilization < this.#idleUtilization
    )
  }

  readings(): PressureReadings {
    const { enabled, disabled, rssLimitBytes } = this.#signals
    const signals = {} as Record<PressureSignalName, PressureSignalReading>
    for (const name of SIGNAL_NAMES) {
      const signal = enabled.find((s) => s.name === name)
      signals[name] =
        signal === undefined
          ? { enabled: false, reason: disabled[name] ?? DISABLED_BY_OPTION }
          : signal.reading()
    }
    return {
      level: this.#level,
      closed: this.#closed,
      samples: this.#samples,
      sampledAtMs: this.#sampledAtMs,
      ...this.#raw,
      rssLimitBytes,
      signals,
    }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    for (const signal of this.#signals.enabled) signal.close()
    // Nothing is measured any more, so nothing may be shed on its account.
    this.#level = 0
  }
}

/**
 * Creates a pressure monitor: pass it as `pressure` to
 * `createAdmissionController`, which reads `level` on every decision and calls
 * `close()` from its own `close()`. One monitor may serve several controllers:
 * it is closed when the last of them closes.
 *
 * @example
 * const controller = createAdmissionController({ limit: 64, pressure: createPressureMonitor() })
 *
 * @throws TypeError | RangeError with `code: 'ERR_SPILLWAY_INVALID_OPTION'` for a bad option.
 */
export function createPressureMonitor(options?: PressureMonitorOptions): PressureMonitor {
  return new ProcessPressureMonitor(resolveMonitorOptions(options))
}
