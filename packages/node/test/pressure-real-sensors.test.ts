import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { IntervalHistogram } from 'node:perf_hooks'
import { createPressureMonitor, type PressureMonitor } from '../src/pressure-monitor.js'

// The module object itself (not an import's namespace copy), so a spy reaches the monitor's calls.
const perfHooks: typeof import('node:perf_hooks') = require('node:perf_hooks')

const repoRoot = join(__dirname, '..', '..', '..')
const monitorSource = join(__dirname, '..', 'src', 'pressure-monitor.ts')

const monitors: PressureMonitor[] = []
afterEach(() => {
  for (const monitor of monitors.splice(0)) monitor.close()
})

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Keeps the event loop busy for `ms`: the overload the sensors exist to see. */
function blockEventLoop(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // spin
  }
}

/** A monitor (delay signal only, sampled by hand) whose latest sample saw a 300 ms stall start right after the one before. */
async function monitorAfterStall(): Promise<PressureMonitor> {
  const monitor = createPressureMonitor({ sampleIntervalMs: 2 ** 31 - 1, heap: false, rss: false })
  monitors.push(monitor)
  // Node's histogram drops the first interval after enable/reset: let it record one first.
  await pause(30)
  monitor.sampleNow()
  blockEventLoop(300)
  await pause(30)
  monitor.sampleNow()
  return monitor
}

/** Runs a TypeScript snippet in a fresh Node process; resolves with its exit code and output, or kills it after `limitMs`. */
function runChild(
  source: string,
  limitMs: number,
): Promise<{ code: number | null; stdout: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', source],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    let stdout = ''
    let killed = false
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    const guard = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, limitMs)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(guard)
      resolve({ code, stdout, killed })
    })
  })
}

describe('createPressureMonitor with the real Node sensors', () => {
  it('sees the event-loop delay and utilisation rise while the loop is blocked for 300 ms', async () => {
    const monitor = createPressureMonitor({
      sampleIntervalMs: 2 ** 31 - 1,
      rss: false,
      eventLoopUtilization: true,
    })
    monitors.push(monitor)
    // Node's histogram drops the first interval after enable/reset: let it record one first.
    await pause(30)
    monitor.sampleNow()
    await pause(30)
    blockEventLoop(300)
    // The histogram records the stall when its timer next runs, after the loop is free again.
    await pause(30)
    monitor.sampleNow()

    const readings = monitor.readings()
    expect(readings.eventLoopDelayMs).toBeGreaterThanOrEqual(200)
    expect(readings.eventLoopUtilization).toBeGreaterThan(0.5)
    expect(readings.signals.eventLoopDelay).toMatchObject({ enabled: true, pressured: true })
    expect(monitor.level).toBeGreaterThan(0)
  })

  it('ends the pressure of a stall at the first sample that finds the loop idle, before holdMs', async () => {
    const monitor = await monitorAfterStall()
    expect(monitor.level).toBeGreaterThan(0)
    // Well within the default holdMs (1 s): without the idle check the level would stand.
    await pause(300)
    monitor.sampleNow()
    expect(monitor.readings().eventLoopUtilization).toBeLessThan(0.5)
    expect(monitor.level).toBe(0)
  })

  it('sees a stall longer than sampleIntervalMs that starts right after a sample, which the histogram drops', async () => {
    const monitor = createPressureMonitor({ sampleIntervalMs: 100, heap: false, rss: false })
    monitors.push(monitor)
    // A sample resets the histogram, and Node drops the first interval after a reset: a
    // stall that starts now and lasts past the next sample leaves that window empty.
    monitor.sampleNow()
    blockEventLoop(400)
    // The sampling timer, due 100 ms after construction, fires about 300 ms late.
    const deadline = performance.now() + 5000
    while (monitor.readings().samples < 2 && performance.now() < deadline) await pause(5)

    const readings = monitor.readings()
    expect(readings.samples).toBeGreaterThanOrEqual(2)
    expect(readings.eventLoopDelayMs).toBeGreaterThanOrEqual(200)
    expect(readings.signals.eventLoopDelay).toMatchObject({ enabled: true, pressured: true })
    expect(monitor.level).toBeGreaterThan(0)
  })

  it('sees a stall shorter than the window that starts right after a sample, which the histogram drops', async () => {
    const monitor = await monitorAfterStall()
    expect(monitor.readings().eventLoopDelayMs).toBeGreaterThanOrEqual(250)
    expect(monitor.level).toBeGreaterThan(0)
  })

  it('reads an idle loop as calm: the time the histogram did not record is only its own ticks', async () => {
    const monitor = createPressureMonitor({
      sampleIntervalMs: 2 ** 31 - 1,
      heap: false,
      rss: false,
    })
    monitors.push(monitor)
    for (let i = 0; i < 5; i++) {
      await pause(50)
      monitor.sampleNow()
    }
    expect(monitor.readings().eventLoopDelayMs).toBeLessThan(50)
    expect(monitor.level).toBe(0)
  })

  it('disables its event-loop delay histogram on close(), so nothing keeps waking the loop', () => {
    const created: IntervalHistogram[] = []
    const real = perfHooks.monitorEventLoopDelay
    const spy = jest.spyOn(perfHooks, 'monitorEventLoopDelay').mockImplementation((options) => {
      const histogram = real(options)
      created.push(histogram)
      jest.spyOn(histogram, 'disable')
      return histogram
    })
    try {
      const monitor = createPressureMonitor({ eventLoopDelay: { resolutionMs: 20 } })
      monitors.push(monitor)
      expect(spy).toHaveBeenCalledWith({ resolution: 20 })
      expect(created).toHaveLength(1)
      monitor.close()
      monitor.close()
      expect(created[0]?.disable).toHaveBeenCalledTimes(1)
    } finally {
      spy.mockRestore()
    }
  })

  it('creates no histogram when the delay is read by an injected sensor or disabled', () => {
    const spy = jest.spyOn(perfHooks, 'monitorEventLoopDelay')
    try {
      monitors.push(createPressureMonitor({ sensors: { eventLoopDelayMs: () => 0 } }))
      monitors.push(createPressureMonitor({ eventLoopDelay: false }))
      expect(spy).not.toHaveBeenCalled()
    } finally {
      spy.mockRestore()
    }
  })

  it('reads the V8 heap against its limit and RSS against a given limit', () => {
    const monitor = createPressureMonitor({
      sampleIntervalMs: 2 ** 31 - 1,
      rss: { limitBytes: 64 * 2 ** 30 },
    })
    monitors.push(monitor)
    monitor.sampleNow()
    const { heapUsedBytes, heapLimitBytes, rssBytes, rssLimitBytes } = monitor.readings()
    expect(heapUsedBytes).toBeGreaterThan(0)
    expect(heapLimitBytes).toBeGreaterThan(heapUsedBytes as number)
    expect(rssBytes).toBeGreaterThan(heapUsedBytes as number)
    expect(rssLimitBytes).toBe(64 * 2 ** 30)
  })

  it('either finds a cgroup memory limit or disables RSS, saying why', () => {
    const monitor = createPressureMonitor({ sampleIntervalMs: 2 ** 31 - 1 })
    monitors.push(monitor)
    const { signals, rssLimitBytes } = monitor.readings()
    if (rssLimitBytes === undefined) {
      expect(signals.rss).toEqual({ enabled: false, reason: expect.stringMatching(/cgroup/) })
    } else {
      expect(signals.rss.enabled).toBe(true)
    }
  })

  it('never keeps the process alive: a process that forgets close() still exits', async () => {
    // If the sampling timer (or the histogram) held the loop open, this child would run until killed.
    const source = `
      import { createPressureMonitor } from ${JSON.stringify(monitorSource)}
      const monitor = createPressureMonitor({ sampleIntervalMs: 20 })
      setTimeout(() => console.log('samples', monitor.readings().samples), 300)
    `
    const result = await runChild(source, 15_000)
    expect(result.killed).toBe(false)
    expect(result.code).toBe(0)
    // The timer did run while something else kept the process alive.
    expect(Number(/samples (\d+)/.exec(result.stdout)?.[1])).toBeGreaterThanOrEqual(2)
  })
})
