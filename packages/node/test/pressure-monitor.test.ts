import { INVALID_OPTION } from '@spillway/core'
import { describeValue } from '@spillway/core/internal'
import {
  createPressureMonitor,
  type PressureMonitor,
  type PressureMonitorOptions,
  type PressureSignalReading,
} from '../src/pressure-monitor.js'

/** What the injected sensors read; tests change it between samples. */
interface World {
  t: number
  delayMs: number
  utilization: number
  heapUsedBytes: number
  heapLimitBytes: number
  rssBytes: number
}

const calm = (): World => ({
  t: 1_000_000,
  delayMs: 1,
  // Busy enough not to count as idle, below the utilisation signal's `low`.
  utilization: 0.7,
  heapUsedBytes: 100,
  heapLimitBytes: 1000,
  rssBytes: 100,
})

const monitors: PressureMonitor[] = []
afterEach(() => {
  for (const monitor of monitors.splice(0)) monitor.close()
})

/** A monitor over injected sensors whose timer never fires during a test: samples are taken by hand. */
function monitorOver(world: World, options: PressureMonitorOptions = {}): PressureMonitor {
  const monitor = createPressureMonitor({
    sampleIntervalMs: 2 ** 31 - 1,
    now: () => world.t,
    sensors: {
      eventLoopDelayMs: () => world.delayMs,
      eventLoopUtilization: () => world.utilization,
      heapBytes: () => ({ usedBytes: world.heapUsedBytes, limitBytes: world.heapLimitBytes }),
      rssBytes: () => world.rssBytes,
      readFile: () => undefined,
    },
    // Off by default; on here so every signal is exercised.
    eventLoopUtilization: true,
    ...options,
  })
  monitors.push(monitor)
  return monitor
}

function enabled(reading: PressureSignalReading) {
  if (!reading.enabled) throw new Error(`expected an enabled signal, got: ${reading.reason}`)
  return reading
}

describe('createPressureMonitor with injected sensors', () => {
  it('reads 0 before the first sample and while every signal is calm', () => {
    const world = calm()
    const monitor = monitorOver(world, { rss: { limitBytes: 1000 } })
    expect(monitor.level).toBe(0)
    monitor.sampleNow()
    expect(monitor.level).toBe(0)
    expect(monitor.readings()).toMatchObject({
      level: 0,
      samples: 1,
      sampledAtMs: world.t,
      eventLoopDelayMs: 1,
      eventLoopUtilization: 0.7,
      heapUsedBytes: 100,
      heapLimitBytes: 1000,
      rssBytes: 100,
      rssLimitBytes: 1000,
    })
  })

  it('leaves event-loop utilisation off by default: a busy but healthy loop is not overload', () => {
    const monitor = createPressureMonitor({ sampleIntervalMs: 2 ** 31 - 1 })
    monitors.push(monitor)
    expect(monitor.readings().signals.eventLoopUtilization).toMatchObject({ enabled: false })
  })

  it('documents its defaults in readings(): delay 100/50/150 ms, utilisation 0.95/0.85, heap and RSS 0.9/0.8', () => {
    const monitor = monitorOver(calm(), { rss: { limitBytes: 1000 }, healthCheck: () => 0 })
    const { signals } = monitor.readings()
    const thresholds = (reading: PressureSignalReading) => {
      const { high, low, saturation } = enabled(reading)
      return [high, low, saturation]
    }
    expect(thresholds(signals.eventLoopDelay)).toEqual([100, 50, 150])
    expect(thresholds(signals.eventLoopUtilization)[0]).toBe(0.95)
    expect(thresholds(signals.eventLoopUtilization)[1]).toBe(0.85)
    expect(thresholds(signals.eventLoopUtilization)[2]).toBeCloseTo(1.05)
    expect(thresholds(signals.heap)).toEqual([0.9, 0.8, expect.closeTo(1)])
    expect(thresholds(signals.rss)).toEqual([0.9, 0.8, expect.closeTo(1)])
    expect(thresholds(signals.healthCheck)).toEqual([0.5, 0.25, 0.75])
  })

  it('takes the highest signal level as the combined level', () => {
    const world = calm()
    const monitor = monitorOver(world, { rss: { limitBytes: 1000 } })
    world.delayMs = 110 // (110 − 50) / (150 − 50) = 0.6
    world.heapUsedBytes = 950 // 0.95 of the limit: (0.95 − 0.8) / (1 − 0.8) = 0.75
    monitor.sampleNow()
    expect(monitor.level).toBeCloseTo(0.75)
    const { signals } = monitor.readings()
    expect(enabled(signals.eventLoopDelay)).toMatchObject({ value: 110, pressured: true })
    expect(enabled(signals.eventLoopDelay).level).toBeCloseTo(0.6)
    expect(enabled(signals.heap).level).toBeCloseTo(0.75)
    expect(enabled(signals.eventLoopUtilization)).toMatchObject({ pressured: false, level: 0 })
    expect(enabled(signals.rss)).toMatchObject({ value: 0.1, pressured: false, level: 0 })
  })

  it('measures RSS against limitBytes and reaches level 1 at the limit', () => {
    const world = calm()
    const monitor = monitorOver(world, { rss: { limitBytes: 2000 } })
    world.rssBytes = 2000
    monitor.sampleNow()
    expect(monitor.level).toBe(1)
    expect(enabled(monitor.readings().signals.rss).value).toBe(1)
  })

  it('does not flap when the event-loop delay oscillates between low and high', () => {
    const world = calm()
    const monitor = monitorOver(world)
    world.delayMs = 120
    monitor.sampleNow()
    const levels: number[] = []
    for (const delayMs of [60, 95, 55, 99, 51, 90, 60, 95]) {
      world.t += 500
      world.delayMs = delayMs
      monitor.sampleNow()
      levels.push(monitor.level)
    }
    expect(levels.every((level) => level > 0)).toBe(true)
    expect(enabled(monitor.readings().signals.eventLoopDelay).pressured).toBe(true)
  })

  it('keeps the level for holdMs after a spike, then drops to 0 once the value is below low', () => {
    const world = calm()
    const monitor = monitorOver(world, { holdMs: 2000, releaseMs: 0 })
    world.delayMs = 150
    monitor.sampleNow()
    expect(monitor.level).toBe(1)
    world.delayMs = 0
    world.t += 1999
    monitor.sampleNow()
    expect(monitor.level).toBe(1)
    world.t += 1
    monitor.sampleNow()
    expect(monitor.level).toBe(0)
  })

  /** Samples the delays 500 ms apart; returns the levels rounded to hundredths. */
  function levelsFor(monitor: PressureMonitor, world: World, delays: readonly number[]): number[] {
    return delays.map((delayMs) => {
      world.delayMs = delayMs
      monitor.sampleNow()
      world.t += 500
      return Math.round(monitor.level * 100) / 100
    })
  }

  it('follows the worked example in PRESSURE.md without release: 0, 0.7, 0.7, 0.2, 0', () => {
    const world = calm()
    const monitor = monitorOver(world, { releaseMs: 0 })
    expect(levelsFor(monitor, world, [40, 120, 30, 70, 40])).toEqual([0, 0.7, 0.7, 0.2, 0])
  })

  it('follows the worked example in PRESSURE.md with the default release: 0, 0.7, 0.7, 0.45, 0.2, 0', () => {
    const world = calm()
    const monitor = monitorOver(world)
    expect(levelsFor(monitor, world, [40, 120, 30, 70, 40, 40])).toEqual([
      0, 0.7, 0.7, 0.45, 0.2, 0,
    ])
    expect(enabled(monitor.readings().signals.eventLoopDelay).pressured).toBe(false)
  })

  it('rises at once whatever the release, and releases at most 1 per releaseMs', () => {
    const world = calm()
    const monitor = monitorOver(world, { holdMs: 0, releaseMs: 4000 })
    expect(levelsFor(monitor, world, [150, 0, 0, 150, 0])).toEqual([1, 0.88, 0.75, 1, 0.88])
  })

  it('skips the RSS signal, saying why, when no limit is given and no cgroup limit exists', () => {
    const monitor = monitorOver(calm())
    expect(monitor.readings().signals.rss).toEqual({
      enabled: false,
      reason: 'no cgroup memory limit file could be read',
    })
    expect(monitor.readings().rssLimitBytes).toBeUndefined()
  })

  it('measures RSS against the cgroup limit when one is readable', () => {
    const world = calm()
    const cgroup: Record<string, string> = {
      '/proc/self/cgroup': '0::/\n',
      '/sys/fs/cgroup/memory.max': '1000\n',
    }
    const monitor = monitorOver(world, {
      sensors: { rssBytes: () => world.rssBytes, readFile: (path) => cgroup[path] },
      eventLoopDelay: false,
      eventLoopUtilization: false,
      heap: false,
    })
    world.rssBytes = 950
    monitor.sampleNow()
    expect(monitor.readings().rssLimitBytes).toBe(1000)
    expect(monitor.level).toBeCloseTo(0.75)
  })

  it('reports signals turned off with false as disabled and never reads them', () => {
    const heapBytes = jest.fn(() => ({ usedBytes: 1, limitBytes: 1 }))
    const monitor = monitorOver(calm(), {
      eventLoopUtilization: false,
      heap: false,
      rss: false,
      sensors: { eventLoopDelayMs: () => 0, heapBytes },
    })
    monitor.sampleNow()
    expect(heapBytes).not.toHaveBeenCalled()
    const { signals } = monitor.readings()
    expect(signals.heap).toEqual({ enabled: false, reason: 'disabled by option' })
    expect(signals.rss).toEqual({ enabled: false, reason: 'disabled by option' })
    expect(signals.healthCheck).toEqual({ enabled: false, reason: 'disabled by option' })
  })
})

describe('the health check', () => {
  it('maps false to level 1 and true to 0 once the hold has passed', () => {
    const world = calm()
    let healthy = false
    const monitor = monitorOver(world, { healthCheck: () => healthy, releaseMs: 0 })
    monitor.sampleNow()
    expect(monitor.level).toBe(1)
    healthy = true
    world.t += 1000
    monitor.sampleNow()
    expect(monitor.level).toBe(0)
  })

  it('grades a numeric answer with its own thresholds, clamping it to [0, 1]', () => {
    const world = calm()
    let answer = 0.6
    const monitor = monitorOver(world, {
      healthCheck: { check: () => answer, high: 0.4, low: 0.2, saturation: 1 },
      holdMs: 0,
    })
    monitor.sampleNow()
    expect(monitor.level).toBeCloseTo(0.5)
    answer = 7
    monitor.sampleNow()
    expect(monitor.level).toBe(1)
    expect(enabled(monitor.readings().signals.healthCheck).value).toBe(1)
  })

  it('fails open when it throws: healthy for that sample, and the error goes to onError', () => {
    const world = calm()
    const failure = new Error('pool exploded')
    const onError = jest.fn()
    const monitor = monitorOver(world, {
      healthCheck: () => {
        throw failure
      },
      onError,
    })
    monitor.sampleNow()
    expect(monitor.level).toBe(0)
    expect(onError).toHaveBeenCalledWith(failure, 'healthCheck')
    expect(enabled(monitor.readings().signals.healthCheck)).toMatchObject({ value: 0, errors: 1 })
  })

  it('fails open without onError, counting the failure instead of throwing', () => {
    const monitor = monitorOver(calm(), {
      healthCheck: () => {
        throw new Error('boom')
      },
    })
    expect(() => monitor.sampleNow()).not.toThrow()
    monitor.sampleNow()
    expect(monitor.level).toBe(0)
    expect(enabled(monitor.readings().signals.healthCheck).errors).toBe(2)
  })

  it('survives an onError that throws too', () => {
    const monitor = monitorOver(calm(), {
      healthCheck: () => {
        throw new Error('first')
      },
      onError: () => {
        throw new Error('second')
      },
    })
    expect(() => monitor.sampleNow()).not.toThrow()
    expect(monitor.level).toBe(0)
  })

  it('fails open on an asynchronous answer, telling onError it must be synchronous', () => {
    const onError = jest.fn()
    const monitor = monitorOver(calm(), {
      healthCheck: (() => Promise.resolve(1)) as unknown as () => number,
      onError,
    })
    monitor.sampleNow()
    expect(monitor.level).toBe(0)
    expect(onError).toHaveBeenCalledTimes(1)
    const [error, signal] = onError.mock.calls[0] as [Error, string]
    expect(signal).toBe('healthCheck')
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe(
      `The healthCheck sensor gave ${describeValue(Promise.resolve(1))}; expected a number in [0, 1] or a boolean, synchronously.`,
    )
  })

  it('does not end the pressure at once when it throws mid-incident (the hold still applies)', () => {
    const world = calm()
    let fail = false
    const monitor = monitorOver(world, {
      healthCheck: () => {
        if (fail) throw new Error('flaky')
        return false
      },
    })
    monitor.sampleNow()
    fail = true
    world.t += 500
    monitor.sampleNow()
    expect(monitor.level).toBe(1)
  })
})

describe('an idle event loop', () => {
  /** Samples each monitor now, then again 500 ms later with `next` applied to the world. */
  function twoWindows(world: World, next: Partial<World>, ...sampled: PressureMonitor[]): void {
    for (const monitor of sampled) monitor.sampleNow()
    world.t += 500
    Object.assign(world, next)
    for (const monitor of sampled) monitor.sampleNow()
  }

  it('ends the delay pressure at once, hold and release notwithstanding', () => {
    const world = calm()
    const monitor = monitorOver(world)
    world.delayMs = 150
    twoWindows(world, { delayMs: 20, utilization: 0.3 }, monitor)
    expect(monitor.level).toBe(0)
    expect(enabled(monitor.readings().signals.eventLoopDelay)).toMatchObject({
      pressured: false,
      level: 0,
    })
    // A new overload is met at once, as before.
    world.t += 500
    Object.assign(world, { delayMs: 110, utilization: 0.9 })
    monitor.sampleNow()
    expect(monitor.level).toBeCloseTo(0.6)
  })

  it('calms even a delay above high read in the same window: the loop had time to spare', () => {
    const world = calm()
    const monitor = monitorOver(world)
    world.delayMs = 400 // one long task in an otherwise quiet window
    world.utilization = 0.45
    monitor.sampleNow()
    expect(monitor.level).toBe(0)
  })

  it('needs utilisation strictly below idleUtilization, and honours the option', () => {
    const world = calm()
    const atThreshold = monitorOver(world)
    const custom = monitorOver(world, { idleUtilization: 0.8 })
    world.delayMs = 150
    twoWindows(world, { delayMs: 20, utilization: 0.5 }, atThreshold, custom)
    expect(atThreshold.level).toBe(1)
    expect(custom.level).toBe(0)
  })

  it('is off with idleUtilization 0: the hold applies however idle the loop', () => {
    const world = calm()
    const monitor = monitorOver(world, { idleUtilization: 0 })
    world.delayMs = 150
    twoWindows(world, { delayMs: 0, utilization: 0 }, monitor)
    expect(monitor.level).toBe(1)
  })

  it("leaves memory and the health check alone: their pressure is not the loop's", () => {
    const world = calm()
    const monitor = monitorOver(world, { rss: { limitBytes: 1000 }, healthCheck: () => false })
    Object.assign(world, { heapUsedBytes: 950, rssBytes: 1000, delayMs: 150 })
    twoWindows(world, { utilization: 0.1 }, monitor)
    const { signals } = monitor.readings()
    expect(enabled(signals.eventLoopDelay).level).toBe(0)
    expect(enabled(signals.heap).level).toBeCloseTo(0.75)
    expect(enabled(signals.rss).level).toBe(1)
    expect(enabled(signals.healthCheck).level).toBe(1)
    expect(monitor.level).toBe(1)
  })

  it('reads utilisation once per sample, whether or not its signal is on', () => {
    for (const eventLoopUtilization of [true, false]) {
      const world = calm()
      const read = jest.fn(() => world.utilization)
      const monitor = monitorOver(world, {
        eventLoopUtilization,
        sensors: { eventLoopDelayMs: () => world.delayMs, eventLoopUtilization: read },
      })
      world.delayMs = 150
      twoWindows(world, { utilization: 0.2 }, monitor)
      expect(read).toHaveBeenCalledTimes(2)
      expect(monitor.level).toBe(0)
      expect(monitor.readings().eventLoopUtilization).toBe(0.2)
    }
  })

  it('does not read utilisation when the check is off or no loop signal is', () => {
    const read = jest.fn(() => 0)
    monitorOver(calm(), {
      eventLoopUtilization: false,
      idleUtilization: 0,
      sensors: { eventLoopDelayMs: () => 0, eventLoopUtilization: read },
    }).sampleNow()
    monitorOver(calm(), {
      eventLoopUtilization: false,
      eventLoopDelay: false,
      sensors: { eventLoopUtilization: read },
    }).sampleNow()
    expect(read).not.toHaveBeenCalled()
  })

  it('keeps the level when utilisation cannot be read, telling onError', () => {
    for (const eventLoopUtilization of [true, false]) {
      const world = calm()
      const onError = jest.fn()
      let fail = false
      const monitor = monitorOver(world, {
        eventLoopUtilization,
        onError,
        sensors: {
          eventLoopDelayMs: () => world.delayMs,
          eventLoopUtilization: () => {
            if (fail) throw new Error('no utilisation')
            return 0.1
          },
        },
      })
      world.delayMs = 150
      world.utilization = 1
      fail = true
      monitor.sampleNow()
      expect(monitor.level).toBe(1)
      expect(onError).toHaveBeenCalledWith(expect.any(Error), 'eventLoopUtilization')
      expect(monitor.readings().eventLoopUtilization).toBeUndefined()
    }
  })
})

describe('a failing sensor', () => {
  it('reads as healthy and leaves the other signals working', () => {
    const world = calm()
    const onError = jest.fn()
    const monitor = monitorOver(world, {
      onError,
      sensors: {
        eventLoopDelayMs: () => world.delayMs,
        heapBytes: () => {
          throw new Error('no heap for you')
        },
        eventLoopUtilization: () => Number.NaN,
      },
      rss: false,
    })
    world.delayMs = 150
    monitor.sampleNow()
    expect(monitor.level).toBe(1)
    expect(onError.mock.calls.map(([, signal]) => signal)).toEqual(['eventLoopUtilization', 'heap'])
    const { signals } = monitor.readings()
    expect(enabled(signals.heap)).toMatchObject({ value: 0, level: 0, errors: 1 })
    expect(enabled(signals.eventLoopUtilization)).toMatchObject({ value: 0, level: 0, errors: 1 })
  })

  it('never lets an infinite ratio (a zero heap limit) reach the level', () => {
    const world = calm()
    world.heapLimitBytes = 0
    const monitor = monitorOver(world, { rss: false })
    monitor.sampleNow()
    expect(monitor.level).toBe(0)
    expect(enabled(monitor.readings().signals.heap).errors).toBe(1)
  })
})

describe('close()', () => {
  it('reads 0 afterwards, stops sampling and is idempotent', () => {
    const world = calm()
    const delay = jest.fn(() => world.delayMs)
    const monitor = monitorOver(world, { sensors: { eventLoopDelayMs: delay }, rss: false })
    world.delayMs = 150
    monitor.sampleNow()
    expect(monitor.level).toBe(1)
    monitor.close()
    monitor.close()
    expect(monitor.level).toBe(0)
    monitor.sampleNow()
    expect(delay).toHaveBeenCalledTimes(1)
    expect(monitor.readings()).toMatchObject({ closed: true, level: 0, samples: 1 })
  })
})

describe('the sampling timer', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['performance'] })
  })
  afterEach(() => {
    jest.useRealTimers()
  })

  it('samples once per sampleIntervalMs and is cleared by close()', () => {
    const world = calm()
    const delay = jest.fn(() => world.delayMs)
    const monitor = monitorOver(world, {
      sampleIntervalMs: 500,
      sensors: { eventLoopDelayMs: delay },
      eventLoopUtilization: false,
      heap: false,
      rss: false,
    })
    expect(jest.getTimerCount()).toBe(1)
    jest.advanceTimersByTime(499)
    expect(delay).not.toHaveBeenCalled()
    world.delayMs = 150
    jest.advanceTimersByTime(1)
    expect(delay).toHaveBeenCalledTimes(1)
    expect(monitor.level).toBe(1)
    jest.advanceTimersByTime(1000)
    expect(delay).toHaveBeenCalledTimes(3)

    monitor.close()
    expect(jest.getTimerCount()).toBe(0)
    jest.advanceTimersByTime(10_000)
    expect(delay).toHaveBeenCalledTimes(3)
  })

  it('is not started when every signal is disabled', () => {
    const monitor = monitorOver(calm(), {
      eventLoopDelay: false,
      eventLoopUtilization: false,
      heap: false,
      rss: false,
    })
    expect(jest.getTimerCount()).toBe(0)
    monitor.sampleNow()
    expect(monitor.readings()).toMatchObject({ level: 0, samples: 1 })
  })

  it('survives a tick whose onError throws, and keeps sampling', () => {
    const world = calm()
    let calls = 0
    const monitor = monitorOver(world, {
      sampleIntervalMs: 100,
      healthCheck: () => {
        calls++
        throw new Error('down')
      },
      onError: () => {
        throw new Error('and the reporter too')
      },
      rss: false,
    })
    jest.advanceTimersByTime(300)
    expect(calls).toBe(3)
    expect(monitor.readings().samples).toBe(3)
  })
})

describe('option validation', () => {
  /** The thrown error, for checking its class, message, code and option together. */
  function errorOf(options: unknown): Error & { code?: string; option?: string } {
    try {
      monitors.push(createPressureMonitor(options as PressureMonitorOptions))
    } catch (error) {
      return error as Error
    }
    throw new Error('expected createPressureMonitor to throw')
  }

  function expectError(
    options: unknown,
    kind: typeof TypeError | typeof RangeError,
    option: string,
    message: string,
  ): void {
    const error = errorOf(options)
    expect(error).toBeInstanceOf(kind)
    expect(error.message).toBe(message)
    expect(error.code).toBe(INVALID_OPTION)
    expect(error.option).toBe(option)
  }

  it('rejects a non-object', () => {
    expectError(5, TypeError, 'options', 'Expected `options` to be an object, got `5` (number).')
  })

  it('rejects an unknown key with a suggestion', () => {
    expectError(
      { sampleInterval: 100 },
      TypeError,
      'sampleInterval',
      'Unknown option `sampleInterval`. Did you mean `sampleIntervalMs`? Allowed: `sampleIntervalMs`, `holdMs`, `releaseMs`, `idleUtilization`, `eventLoopDelay`, `eventLoopUtilization`, `heap`, `rss`, `healthCheck`, `onError`, `now`, `sensors`.',
    )
  })

  it('rejects an unknown key inside a signal', () => {
    expectError(
      { eventLoopDelay: { high: 100 } },
      TypeError,
      'eventLoopDelay.high',
      'Unknown option `eventLoopDelay.high`. Did you mean `eventLoopDelay.highMs`? Allowed: `percentile`, `highMs`, `lowMs`, `saturationMs`, `resolutionMs`.',
    )
  })

  it('rejects a signal that is neither an object nor a boolean', () => {
    expectError(
      { heap: 'yes' },
      TypeError,
      'heap',
      'Expected `heap` to be an object or a boolean, got `"yes"` (string).',
    )
  })

  it('rejects a sampling interval outside what setInterval accepts', () => {
    expectError(
      { sampleIntervalMs: 0 },
      RangeError,
      'sampleIntervalMs',
      'Expected `sampleIntervalMs` to be an integer ≥ 1 and ≤ 2147483647, got `0` (number).',
    )
    expectError(
      { sampleIntervalMs: '500' },
      TypeError,
      'sampleIntervalMs',
      'Expected `sampleIntervalMs` to be an integer ≥ 1 and ≤ 2147483647, got `"500"` (string).',
    )
  })

  it('rejects a negative release time', () => {
    expectError(
      { releaseMs: -5 },
      RangeError,
      'releaseMs',
      'Expected `releaseMs` to be a finite number ≥ 0, got `-5` (number).',
    )
  })

  it('rejects an idleUtilization outside [0, 1]', () => {
    expectError(
      { idleUtilization: 1.5 },
      RangeError,
      'idleUtilization',
      'Expected `idleUtilization` to be a finite number ≥ 0 and ≤ 1, got `1.5` (number).',
    )
  })

  it('rejects a negative hold time', () => {
    expectError(
      { holdMs: -1 },
      RangeError,
      'holdMs',
      'Expected `holdMs` to be a finite number ≥ 0, got `-1` (number).',
    )
  })

  it('rejects a ratio threshold above 1', () => {
    expectError(
      { heap: { high: 1.5 } },
      RangeError,
      'heap.high',
      'Expected `heap.high` to be a finite number ≥ 0 and ≤ 1, got `1.5` (number).',
    )
  })

  it('rejects low at or above high, naming both', () => {
    expectError(
      { eventLoopDelay: { highMs: 40 } },
      RangeError,
      'eventLoopDelay.lowMs',
      'Expected `eventLoopDelay.lowMs` to be < `eventLoopDelay.highMs` (40), got `50` (number).',
    )
    expectError(
      { rss: { high: 0.8, low: 0.8 } },
      RangeError,
      'rss.low',
      'Expected `rss.low` to be < `rss.high` (0.8), got `0.8` (number).',
    )
  })

  it('rejects a saturation below high', () => {
    expectError(
      { eventLoopDelay: { saturationMs: 90 } },
      RangeError,
      'eventLoopDelay.saturationMs',
      'Expected `eventLoopDelay.saturationMs` to be ≥ `eventLoopDelay.highMs` (100), got `90` (number).',
    )
  })

  it('checks every field before the cross-field rules', () => {
    expectError(
      { eventLoopDelay: { highMs: 40 }, heap: { low: -0.1 } },
      RangeError,
      'heap.low',
      'Expected `heap.low` to be a finite number ≥ 0 and ≤ 1, got `-0.1` (number).',
    )
  })

  it('rejects a percentile outside (0, 100]', () => {
    expectError(
      { eventLoopDelay: { percentile: 0 } },
      RangeError,
      'eventLoopDelay.percentile',
      'Expected `eventLoopDelay.percentile` to be a finite number > 0 and ≤ 100, got `0` (number).',
    )
  })

  it('rejects an RSS limit that is not a positive integer', () => {
    expectError(
      { rss: { limitBytes: 1.5 } },
      RangeError,
      'rss.limitBytes',
      'Expected `rss.limitBytes` to be an integer ≥ 1, got `1.5` (number).',
    )
  })

  it('rejects a health check that is not a function or an object with check', () => {
    expectError(
      { healthCheck: true },
      TypeError,
      'healthCheck',
      'Expected `healthCheck` to be a function, an object with `check`, or `false`, got `true` (boolean).',
    )
    expectError(
      { healthCheck: { high: 0.5 } },
      TypeError,
      'healthCheck.check',
      'Expected `healthCheck.check` to be a function, got `undefined`.',
    )
  })

  it('rejects a non-function onError, now or sensor', () => {
    expectError(
      { onError: 'log' },
      TypeError,
      'onError',
      'Expected `onError` to be a function, got `"log"` (string).',
    )
    expectError({ now: 0 }, TypeError, 'now', 'Expected `now` to be a function, got `0` (number).')
    expectError(
      { sensors: { rssBytes: 5 } },
      TypeError,
      'sensors.rssBytes',
      'Expected `sensors.rssBytes` to be a function, got `5` (number).',
    )
  })

  it('rejects an unknown sensor with a suggestion', () => {
    expectError(
      { sensors: { rssbytes: () => 0 } },
      TypeError,
      'sensors.rssbytes',
      'Unknown option `sensors.rssbytes`. Did you mean `sensors.rssBytes`? Allowed: `eventLoopDelayMs`, `eventLoopUtilization`, `heapBytes`, `rssBytes`, `readFile`.',
    )
  })

  it('accepts true, undefined fields and an explicit false for each signal', () => {
    const monitor = createPressureMonitor({
      eventLoopDelay: true,
      eventLoopUtilization: { high: undefined },
      heap: false,
      rss: false,
      healthCheck: false,
      sensors: { eventLoopDelayMs: () => 0, eventLoopUtilization: () => 0 },
    })
    monitors.push(monitor)
    expect(monitor.readings().signals.heap.enabled).toBe(false)
    expect(enabled(monitor.readings().signals.eventLoopUtilization).high).toBe(0.95)
  })
})
