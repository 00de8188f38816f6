import { createVegasLimit } from '../../src/limit/index.js'
import type { LimitSample } from '../../src/types.js'
import { settle, simulate } from './simulation.js'

function sample(overrides: Partial<LimitSample> = {}): LimitSample {
  return { startMs: 0, rttMs: 10, inFlight: 20, didDrop: false, ...overrides }
}

/** The unit tests' arithmetic starts from a limit of 20 (samples carry 20 in flight). */
const at20 = { initial: 20 }
/** Probes every 1000 × limit samples at the earliest: out of the way of the unit tests. */
const noProbe = { ...at20, probeMultiplier: 1000 }
const fixedRandom = { random: () => 0 }

describe('Vegas limit', () => {
  it('grows fast while latency shows no queueing', () => {
    const limit = createVegasLimit(noProbe, fixedRandom)
    for (let i = 0; i < 20; i++) limit.onSample(sample({ inFlight: limit.limit }))
    // beta × f = 6 per round trip of `limit` samples.
    expect(limit.limit).toBeGreaterThanOrEqual(24)
    expect(limit.limit).toBeLessThanOrEqual(26)
  })

  it('holds while the estimated queue is between alpha and beta', () => {
    const limit = createVegasLimit(noProbe, fixedRandom)
    limit.onSample(sample()) // baseline 10 ms
    // 20 in flight at 12.5 ms against 10 ms no-load: ⌈20 × (1 − 10/12.5)⌉ = 4 queued.
    for (let i = 0; i < 500; i++) limit.onSample(sample({ rttMs: 12.5 }))
    const settled = limit.limit
    for (let i = 0; i < 500; i++) limit.onSample(sample({ rttMs: 12.5 }))
    expect(limit.limit).toBe(settled)
    expect(limit.noLoadRttMs).toBe(10)
  })

  it('shrinks while the estimated queue exceeds beta', () => {
    const limit = createVegasLimit(noProbe, fixedRandom)
    limit.onSample(sample())
    // ⌈20 × (1 − 10/20)⌉ = 10 queued > 6.
    for (let i = 0; i < 200; i++) limit.onSample(sample({ rttMs: 20 }))
    expect(limit.limit).toBeLessThan(15)
  })

  it('backs off multiplicatively on a drop, once per round trip', () => {
    const limit = createVegasLimit(noProbe, fixedRandom)
    limit.onSample(sample({ startMs: 0, rttMs: 10, didDrop: true }))
    expect(limit.limit).toBe(18)
    for (let i = 0; i < 20; i++) limit.onSample(sample({ startMs: 5, rttMs: 10, didDrop: true }))
    expect(limit.limit).toBe(18)
    limit.onSample(sample({ startMs: 10, rttMs: 10, didDrop: true }))
    expect(limit.limit).toBe(16)
  })

  it('does not grow while app-limited, but still learns the no-load latency then', () => {
    const limit = createVegasLimit(noProbe, fixedRandom)
    for (let i = 0; i < 1000; i++) limit.onSample(sample({ rttMs: 8, inFlight: 9 }))
    expect(limit.limit).toBe(20)
    expect(limit.noLoadRttMs).toBe(8)
  })

  it('stays within [min, max]', () => {
    const low = createVegasLimit({ ...noProbe, min: 19 }, fixedRandom)
    for (let i = 0; i < 10; i++) low.onSample(sample({ startMs: i * 100, didDrop: true }))
    expect(low.limit).toBe(19)
    const high = createVegasLimit({ ...noProbe, max: 22 }, fixedRandom)
    for (let i = 0; i < 500; i++) high.onSample(sample({ inFlight: 22 }))
    expect(high.limit).toBe(22)
  })

  it('re-measures its baseline from half-load samples only, halving its limit meanwhile', () => {
    // random 0 → the first probe starts after ⌈1 × 20 × 0.5⌉ = 10 samples.
    const limit = createVegasLimit({ ...at20, probeMultiplier: 1 }, fixedRandom)
    for (let i = 0; i < 10; i++) limit.onSample(sample({ inFlight: 5 }))
    expect(limit.limit).toBe(10)
    expect(limit.noLoadRttMs).toBe(10)
    // Admitted at full load before the probe: ignored however slow.
    for (let i = 0; i < 20; i++) limit.onSample(sample({ rttMs: 50, inFlight: 20 }))
    expect(limit.limit).toBe(10)
    expect(limit.noLoadRttMs).toBe(10)
    // The backend really is slower now: the probe may raise the baseline.
    for (let i = 0; i < 10; i++) limit.onSample(sample({ rttMs: 14, inFlight: 10 }))
    expect(limit.noLoadRttMs).toBe(14)
    expect(limit.limit).toBe(20)
  })

  it('gives up a probe that sees no half-load sample within 4 × limit samples', () => {
    const limit = createVegasLimit({ ...at20, probeMultiplier: 1 }, fixedRandom)
    for (let i = 0; i < 10; i++) limit.onSample(sample({ inFlight: 5 }))
    expect(limit.limit).toBe(10)
    for (let i = 0; i < 4 * 20 + 10; i++) limit.onSample(sample({ rttMs: 50, inFlight: 20 }))
    expect(limit.limit).toBe(20)
    expect(limit.noLoadRttMs).toBe(10)
  })

  it('keeps its baseline at the no-load latency through a long overload, instead of ratcheting up', () => {
    // Netflix's Vegas probe takes one (queued) sample as the new baseline: under half a minute of
    // saturation its baseline and limit climb probe after probe (the baseline to 2× no-load here).
    const limit = createVegasLimit(at20, { random: () => 0.5 })
    const trace = simulate({ algorithm: limit, phases: [{ durationMs: 30_000, capacity: 20 }] })
    expect(limit.noLoadRttMs).toBeLessThan(11)
    const late = trace.points.filter((p) => p.timeMs > 20_000).map((p) => p.limit)
    expect(Math.max(...late)).toBeLessThanOrEqual(30)
    expect(settle(trace, 0)?.settledLimit).toBeLessThanOrEqual(30)
  })

  it('follows a backend that really got slower', () => {
    const limit = createVegasLimit(at20, { random: () => 0.5 })
    const trace = simulate({
      algorithm: limit,
      phases: [
        { durationMs: 10_000, capacity: 20 },
        { durationMs: 10_000, capacity: 20, baseRttMs: 30 },
      ],
    })
    expect(limit.noLoadRttMs).toBeGreaterThan(27)
    expect(limit.noLoadRttMs).toBeLessThan(33)
    expect(settle(trace, 1)).toBeDefined()
  })
})
