/**
 * The pressure monitor's options: their types, defaults and resolution into
 * the checked shape the monitor and its signals are built from. Resolved
 * once, at construction: unknown keys rejected, each field checked, then the
 * cross-field rules (`low < high ≤ saturation` for every signal).
 */
import {
  checkFunction,
  checkNumber,
  epochNow,
  failOption,
  isPlainObject,
  resolveObject,
} from '@spillway/core/internal'
import type { SignalThresholds } from './sensors/signal.js'

/** The signals a monitor combines. */
export type PressureSignalName =
  | 'eventLoopDelay'
  | 'eventLoopUtilization'
  | 'heap'
  | 'rss'
  | 'healthCheck'

/**
 * Thresholds of a ratio signal (utilisation, heap, RSS, health check), all
 * unitless fractions.
 */
export interface RatioSignalOptions {
  /**
   * The signal enters pressure when its value is above this.
   * Defaults: utilisation 0.95, heap 0.9, RSS 0.9, health check 0.5.
   */
  high?: number | undefined
  /**
   * The signal leaves pressure only when its value is below this (and
   * `holdMs` have passed); must be below `high`.
   * Defaults: utilisation 0.85, heap 0.8, RSS 0.8, health check 0.25.
   */
  low?: number | undefined
  /**
   * The value at which this signal's level reaches 1; `≥ high`. Above 1 means
   * the signal alone never reaches full pressure.
   * @default high + (high − low)
   */
  saturation?: number | undefined
}

/** Event-loop delay: how late timers run, i.e. how long every request waits for the loop. */
export interface EventLoopDelayOptions {
  /**
   * Which percentile of the window's delays is the signal, in (0, 100].
   * @default 99
   */
  percentile?: number | undefined
  /**
   * Milliseconds of delay above which the signal enters pressure.
   * @default 100
   */
  highMs?: number | undefined
  /**
   * Milliseconds of delay below which the signal may leave pressure; `< highMs`.
   * @default 50
   */
  lowMs?: number | undefined
  /**
   * Milliseconds of delay at which this signal's level reaches 1; `≥ highMs`.
   * @default highMs + (highMs − lowMs)
   */
  saturationMs?: number | undefined
  /**
   * Sampling period of `monitorEventLoopDelay`, in milliseconds: finer costs
   * more wake-ups; delays shorter than this are not seen.
   * @default 10
   */
  resolutionMs?: number | undefined
}

/** RSS against the memory limit. */
export interface RssOptions extends RatioSignalOptions {
  /**
   * The memory limit in bytes. When omitted, the container's cgroup limit
   * (v2 `memory.max`, v1 `memory.limit_in_bytes`) is used; when there is none
   * or it cannot be read, the RSS signal is disabled.
   * @default the cgroup limit
   */
  limitBytes?: number | undefined
}

/**
 * A synchronous check of something the sensors cannot see (a downstream, a
 * pool): a pressure in [0, 1] (0 healthy, 1 overloaded; clamped), or a
 * boolean (`true` healthy → 0, `false` → 1). Called once per sample, never
 * per request.
 */
export type HealthCheck = () => number | boolean

export interface HealthCheckOptions extends RatioSignalOptions {
  /** The check itself. */
  check: HealthCheck
}

/**
 * Raw readers, replaceable for tests and for unusual runtimes. Each one
 * given replaces the built-in reader of that quantity.
 */
export interface PressureSensors {
  /**
   * Event-loop delay over the window since the previous call, in
   * milliseconds. Replaces the built-in histogram (none is created).
   */
  eventLoopDelayMs?: (() => number) | undefined
  /** Event-loop utilisation over the window since the previous call, in [0, 1]. */
  eventLoopUtilization?: (() => number) | undefined
  /** V8 heap in use and its limit, in bytes. */
  heapBytes?: (() => { usedBytes: number; limitBytes: number }) | undefined
  /** Resident set size, in bytes. */
  rssBytes?: (() => number) | undefined
  /**
   * Reads a whole small file, for the cgroup memory limit; returns
   * `undefined` (or throws) when it is missing or unreadable. Read once, at
   * construction.
   */
  readFile?: ((path: string) => string | undefined) | undefined
}

export interface PressureMonitorOptions {
  /**
   * Milliseconds between samples: the window of the delay and utilisation
   * signals and how quickly the level follows the process.
   * @default 500
   */
  sampleIntervalMs?: number | undefined
  /**
   * Milliseconds a signal stays pressured after its last value above `high`,
   * even if it falls below `low` sooner; its level is held at least at that
   * value's level meanwhile.
   * @default 1000
   */
  holdMs?: number | undefined
  /**
   * Milliseconds for a signal's level to fall from 1 to 0 at the fastest. The
   * level rises at once but falls gradually (fast attack, slow release), so
   * once the overload is shed, work is readmitted highest priority first
   * rather than all at once (which would overload the process again). `0`
   * lets the level follow the value down at once.
   * @default 2000
   */
  releaseMs?: number | undefined
  /**
   * Event-loop utilisation below which the loop counts as idle for a window:
   * the event-loop signals (delay, utilisation) then end their pressure at
   * once, hold and release notwithstanding. A loop with time to spare is not
   * overloaded, and refusing work for it would only leave the CPU idle (as
   * when the refused clients have gone quiet, or the stall that raised the
   * delay is over). Memory and the health check are not affected. Read from
   * `performance.eventLoopUtilization()` on every sample while the delay
   * signal is on, whether or not the utilisation signal is. `0` turns it off.
   * @default 0.5
   */
  idleUtilization?: number | undefined
  /**
   * Event-loop delay signal, `true` for the defaults, or `false` to disable it.
   * @default { percentile: 99, highMs: 100, lowMs: 50, saturationMs: 150, resolutionMs: 10 }
   */
  eventLoopDelay?: EventLoopDelayOptions | boolean | undefined
  /**
   * Event-loop utilisation signal (fraction of the window the loop was busy),
   * `true` for the defaults `{ high: 0.95, low: 0.85, saturation: 1.05 }`, or
   * `false`. Off by default: a CPU-bound server that is merely busy runs near
   * 1 and would shed steadily; event-loop delay is the overload signal.
   * @default false
   */
  eventLoopUtilization?: RatioSignalOptions | boolean | undefined
  /**
   * V8 heap used as a fraction of `heap_size_limit`, `true` for the defaults,
   * or `false` to disable it.
   * @default { high: 0.9, low: 0.8, saturation: 1 }
   */
  heap?: RatioSignalOptions | boolean | undefined
  /**
   * RSS as a fraction of the memory limit, `true` for the defaults, or `false`
   * to disable it. Disabled by itself when no limit is known.
   * @default { high: 0.9, low: 0.8, saturation: 1 } against the cgroup limit
   */
  rss?: RssOptions | boolean | undefined
  /**
   * A user health check (a function, or `{ check, high, low, saturation }`);
   * a throw counts as healthy and goes to `onError`.
   * @default undefined (no health check); thresholds { high: 0.5, low: 0.25 }
   */
  healthCheck?: HealthCheck | HealthCheckOptions | false | undefined
  /**
   * Told when a sensor or the health check throws or returns a non-number.
   * Its own throws are ignored (it runs on a timer, where a throw would crash
   * the process).
   * @default undefined (failures are only counted in `readings()`)
   */
  onError?: ((error: unknown, signal: PressureSignalName) => void) | undefined
  /**
   * Clock in milliseconds, for the hold time and `readings().sampledAtMs`.
   * @default () => performance.timeOrigin + performance.now()
   */
  now?: (() => number) | undefined
  /** Raw readers, for tests and unusual runtimes. @default the built-in Node readers */
  sensors?: PressureSensors | undefined
}

/** Every signal, in the order a sample reads them and `readings()` lists them. */
export const SIGNAL_NAMES: readonly PressureSignalName[] = [
  'eventLoopDelay',
  'eventLoopUtilization',
  'heap',
  'rss',
  'healthCheck',
]

const DEFAULTS = Object.freeze({
  sampleIntervalMs: 500,
  holdMs: 1000,
  releaseMs: 2000,
  idleUtilization: 0.5,
  eventLoopDelay: true as EventLoopDelayOptions | boolean,
  eventLoopUtilization: false as RatioSignalOptions | boolean,
  heap: true as RatioSignalOptions | boolean,
  rss: true as RssOptions | boolean,
  healthCheck: undefined as HealthCheck | HealthCheckOptions | false | undefined,
  onError: undefined as PressureMonitorOptions['onError'],
  now: epochNow,
  sensors: undefined as PressureSensors | undefined,
})

const DELAY_DEFAULTS = Object.freeze({
  percentile: 99,
  highMs: 100,
  lowMs: 50,
  saturationMs: undefined as number | undefined,
  resolutionMs: 10,
})

const RATIO_DEFAULTS = {
  eventLoopUtilization: Object.freeze({ high: 0.95, low: 0.85 }),
  heap: Object.freeze({ high: 0.9, low: 0.8 }),
  rss: Object.freeze({ high: 0.9, low: 0.8 }),
  healthCheck: Object.freeze({ high: 0.5, low: 0.25 }),
}

const SENSOR_DEFAULTS = Object.freeze({
  eventLoopDelayMs: undefined,
  eventLoopUtilization: undefined,
  heapBytes: undefined,
  rssBytes: undefined,
  readFile: undefined,
})

// setInterval stores its delay in a signed 32-bit integer; larger values fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1

/** `false` → off; `true`/`undefined` → the defaults; an object → checked keys over the defaults. */
function resolveSignal<T extends object>(
  value: unknown,
  path: string,
  defaults: Readonly<T>,
): T | false {
  if (value === false) return false
  if (value === true || value === undefined) return { ...defaults }
  if (!isPlainObject(value)) failOption('type', path, 'an object or a boolean', value)
  return resolveObject(value, path, defaults)
}

interface ThresholdNames {
  readonly high: string
  readonly low: string
  readonly saturation: string
}

/**
 * Checks one signal's threshold fields and queues its cross-field rule
 * (`low < high ≤ saturation`) on `crossRules`, run once every field is checked.
 */
function checkThresholds(
  raw: { high?: unknown; low?: unknown; saturation?: unknown },
  path: string,
  names: ThresholdNames,
  max: number | undefined,
  crossRules: (() => void)[],
): SignalThresholds {
  const rule = max === undefined ? { min: 0 } : { min: 0, max }
  const highOption = `${path}.${names.high}`
  const lowOption = `${path}.${names.low}`
  const saturationOption = `${path}.${names.saturation}`
  const high = checkNumber(raw.high, highOption, rule)
  const low = checkNumber(raw.low, lowOption, rule)
  const saturation =
    raw.saturation === undefined
      ? high + (high - low)
      : checkNumber(raw.saturation, saturationOption, { min: 0 })
  crossRules.push(() => {
    if (low >= high) failOption('range', lowOption, `< \`${highOption}\` (${high})`, low)
    if (saturation < high) {
      failOption('range', saturationOption, `≥ \`${highOption}\` (${high})`, saturation)
    }
  })
  return { high, low, saturation }
}

const RATIO_NAMES: ThresholdNames = { high: 'high', low: 'low', saturation: 'saturation' }
const DELAY_NAMES: ThresholdNames = { high: 'highMs', low: 'lowMs', saturation: 'saturationMs' }

/** The options after resolution: every field checked, every default applied; `undefined` = signal off. */
export interface ResolvedMonitorOptions {
  readonly sampleIntervalMs: number
  readonly holdMs: number
  readonly releaseMs: number
  readonly idleUtilization: number
  readonly now: () => number
  readonly onError: ((error: unknown, signal: PressureSignalName) => void) | undefined
  readonly sensors: {
    readonly [K in keyof PressureSensors]-?: NonNullable<PressureSensors[K]> | undefined
  }
  readonly delay: (SignalThresholds & { percentile: number; resolutionMs: number }) | undefined
  readonly utilization: SignalThresholds | undefined
  readonly heap: SignalThresholds | undefined
  readonly rss: (SignalThresholds & { limitBytes: number | undefined }) | undefined
  readonly health: (SignalThresholds & { check: HealthCheck }) | undefined
}

/** Checks `createPressureMonitor`'s argument; throws the house option error on the first bad field. */
export function resolveMonitorOptions(options: unknown): ResolvedMonitorOptions {
  const top = resolveObject(options, '', DEFAULTS as PressureMonitorOptions)
  const delayRaw = resolveSignal<EventLoopDelayOptions>(
    top.eventLoopDelay,
    'eventLoopDelay',
    DELAY_DEFAULTS,
  )
  const utilizationRaw = resolveSignal<RatioSignalOptions>(
    top.eventLoopUtilization,
    'eventLoopUtilization',
    { ...RATIO_DEFAULTS.eventLoopUtilization, saturation: undefined },
  )
  const heapRaw = resolveSignal<RatioSignalOptions>(top.heap, 'heap', {
    ...RATIO_DEFAULTS.heap,
    saturation: undefined,
  })
  const rssRaw = resolveSignal<RssOptions>(top.rss, 'rss', {
    ...RATIO_DEFAULTS.rss,
    saturation: undefined,
    limitBytes: undefined,
  })
  const healthRaw = resolveHealthCheck(top.healthCheck)
  const sensorsRaw = resolveObject<PressureSensors>(top.sensors, 'sensors', SENSOR_DEFAULTS)

  // Each field first, then the rules that relate fields.
  const sampleIntervalMs = checkNumber(top.sampleIntervalMs, 'sampleIntervalMs', {
    integer: true,
    min: 1,
    max: MAX_TIMER_MS,
  })
  const holdMs = checkNumber(top.holdMs, 'holdMs', { min: 0 })
  const releaseMs = checkNumber(top.releaseMs, 'releaseMs', { min: 0 })
  const idleUtilization = checkNumber(top.idleUtilization, 'idleUtilization', { min: 0, max: 1 })
  const now = checkFunction<() => number>(top.now, 'now')
  const onError =
    top.onError === undefined
      ? undefined
      : checkFunction<(error: unknown, signal: PressureSignalName) => void>(top.onError, 'onError')
  const sensors = {
    eventLoopDelayMs: optionalFunction<() => number>(
      sensorsRaw.eventLoopDelayMs,
      'eventLoopDelayMs',
    ),
    eventLoopUtilization: optionalFunction<() => number>(
      sensorsRaw.eventLoopUtilization,
      'eventLoopUtilization',
    ),
    heapBytes: optionalFunction<() => { usedBytes: number; limitBytes: number }>(
      sensorsRaw.heapBytes,
      'heapBytes',
    ),
    rssBytes: optionalFunction<() => number>(sensorsRaw.rssBytes, 'rssBytes'),
    readFile: optionalFunction<(path: string) => string | undefined>(
      sensorsRaw.readFile,
      'readFile',
    ),
  }

  const crossRules: (() => void)[] = []
  let delay: ResolvedMonitorOptions['delay']
  if (delayRaw !== false) {
    const percentile = checkNumber(delayRaw.percentile, 'eventLoopDelay.percentile', {
      min: 0,
      exclusiveMin: true,
      max: 100,
    })
    const resolutionMs = checkNumber(delayRaw.resolutionMs, 'eventLoopDelay.resolutionMs', {
      integer: true,
      min: 1,
    })
    const thresholds = checkThresholds(
      { high: delayRaw.highMs, low: delayRaw.lowMs, saturation: delayRaw.saturationMs },
      'eventLoopDelay',
      DELAY_NAMES,
      undefined,
      crossRules,
    )
    delay = { ...thresholds, percentile, resolutionMs }
  }
  const ratio = (raw: RatioSignalOptions | false, path: string) =>
    raw === false ? undefined : checkThresholds(raw, path, RATIO_NAMES, 1, crossRules)
  const utilization = ratio(utilizationRaw, 'eventLoopUtilization')
  const heap = ratio(heapRaw, 'heap')
  let rss: ResolvedMonitorOptions['rss']
  if (rssRaw !== false) {
    const limitBytes =
      rssRaw.limitBytes === undefined
        ? undefined
        : checkNumber(rssRaw.limitBytes, 'rss.limitBytes', { integer: true, min: 1 })
    rss = { ...checkThresholds(rssRaw, 'rss', RATIO_NAMES, 1, crossRules), limitBytes }
  }
  const health =
    healthRaw === undefined
      ? undefined
      : {
          ...checkThresholds(healthRaw, 'healthCheck', RATIO_NAMES, 1, crossRules),
          check: healthRaw.check,
        }
  for (const rule of crossRules) rule()
  return {
    sampleIntervalMs,
    holdMs,
    releaseMs,
    idleUtilization,
    now,
    onError,
    sensors,
    delay,
    utilization,
    heap,
    rss,
    health,
  }
}

function optionalFunction<F extends (...args: never[]) => unknown>(
  value: unknown,
  key: string,
): F | undefined {
  return value === undefined ? undefined : checkFunction<F>(value, `sensors.${key}`)
}

function resolveHealthCheck(
  value: unknown,
): (RatioSignalOptions & { check: HealthCheck }) | undefined {
  if (value === undefined || value === false) return undefined
  const defaults = { ...RATIO_DEFAULTS.healthCheck, saturation: undefined }
  if (typeof value === 'function') return { ...defaults, check: value as HealthCheck }
  if (!isPlainObject(value)) {
    failOption('type', 'healthCheck', 'a function, an object with `check`, or `false`', value)
  }
  const raw = resolveObject(value, 'healthCheck', { ...defaults, check: undefined as unknown })
  return { ...raw, check: checkFunction<HealthCheck>(raw.check, 'healthCheck.check') }
}
