import { createGradient2Limit } from '../../src/limit/index.js'
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

describe('Gradient2 limit', () => {
  it('grows while latency stays at its long-term average', () => {
    const limit = createGradient2Limit(noProbe, fixedRandom)
    for (let i = 0; i < 200; i++) limit.onSample(sample({ inFlight: limit.limit }))
    // About smoothing × queueSize = 0.8 per round trip of `limit` samples.
    expect(limit.limit).toBeGreaterThanOrEqual(25)
    expect(limit.limit).toBeLessThanOrEqual(28)
  })

  it('shrinks once latency rises above its long-term average', () => {
    const limit = createGradient2Limit(noProbe, fixedRandom)
    for (let i = 0; i < 100; i++) limit.onSample(sample({ inFlight: limit.limit }))
    const before = limit.limit
    for (let i = 0; i < 300; i++) limit.onSample(sample({ rttMs: 25, inFlight: limit.limit }))
    expect(limit.limit).toBeLessThan(before - 5)
  })

  it('shrinks on drops even when latency stays flat', () => {
    const limit = createGradient2Limit(noProbe, fixedRandom)
    for (let i = 0; i < 200; i++) limit.onSample(sample({ didDrop: true }))
    expect(limit.limit).toBeLessThan(15)
  })

  it('does not grow while app-limited, yet still shrinks on drops then', () => {
    const limit = createGradient2Limit(noProbe, fixedRandom)
    for (let i = 0; i < 1000; i++) limit.onSample(sample({ inFlight: 9 }))
    expect(limit.limit).toBe(20)
    for (let i = 0; i < 100; i++) limit.onSample(sample({ inFlight: 9, didDrop: true }))
    expect(limit.limit).toBeLessThan(20)
  })

  it('stays within [min, max]', () => {
    const low = createGradient2Limit({ ...noProbe, min: 18 }, fixedRandom)
    for (let i = 0; i < 500; i++) low.onSample(sample({ didDrop: true }))
    expect(low.limit).toBe(18)
    const high = createGradient2Limit({ ...noProbe, max: 22 }, fixedRandom)
    for (let i = 0; i < 500; i++) high.onSample(sample({ inFlight: 22 }))
    expect(high.limit).toBe(22)
  })

  it('halves its limit while probing and caps its baseline at what the probe measured', () => {
    // random 0 → the first probe starts after ⌈1 × 20 × 0.5⌉ = 10 samples.
    const limit = createGradient2Limit({ ...at20, probeMultiplier: 1 }, fixedRandom)
    for (let i = 0; i < 10; i++) limit.onSample(sample({ rttMs: 30 }))
    expect(limit.limit).toBe(10)
    expect(limit.longRttMs).toBeCloseTo(30)
    // Requests admitted at full load before the probe say nothing about no-load latency.
    for (let i = 0; i < 20; i++) limit.onSample(sample({ rttMs: 30, inFlight: 20 }))
    expect(limit.limit).toBe(10)
    for (let i = 0; i < 10; i++) limit.onSample(sample({ rttMs: 12, inFlight: 10 }))
    expect(limit.limit).toBeGreaterThanOrEqual(20)
    expect(limit.longRttMs).toBeCloseTo(12)
  })

  it('gives up a probe that sees no half-load sample within 4 × limit samples', () => {
    const limit = createGradient2Limit({ ...at20, probeMultiplier: 1 }, fixedRandom)
    for (let i = 0; i < 10; i++) limit.onSample(sample())
    expect(limit.limit).toBe(10)
    for (let i = 0; i < 4 * 20 + 10; i++) limit.onSample(sample({ rttMs: 50, inFlight: 20 }))
    expect(limit.limit).toBeGreaterThanOrEqual(20)
  })

  it('keeps its baseline at the no-load latency through a long overload, instead of ratcheting up', () => {
    // Netflix's Gradient2 lets the long average absorb queued samples: under half a minute of
    // saturation its baseline and limit climb together (the baseline to 4× no-load here).
    const limit = createGradient2Limit(at20, { random: () => 0.5 })
    const trace = simulate({ algorithm: limit, phases: [{ durationMs: 30_000, capacity: 20 }] })
    expect(limit.longRttMs).toBeLessThan(11)
    const late = trace.points.filter((p) => p.timeMs > 20_000).map((p) => p.limit)
    expect(Math.max(...late)).toBeLessThanOrEqual(30)
    expect(settle(trace, 0)?.settledLimit).toBeLessThanOrEqual(30)
  })

  it('follows a backend that really got slower', () => {
    const limit = createGradient2Limit(at20, { random: () => 0.5 })
    const trace = simulate({
      algorithm: limit,
      phases: [
        { durationMs: 10_000, capacity: 20 },
        { durationMs: 10_000, capacity: 20, baseRttMs: 30 },
      ],
    })
    expect(limit.longRttMs).toBeGreaterThan(27)
    expect(limit.longRttMs).toBeLessThan(33)
    expect(settle(trace, 1)).toBeDefined()
  })
})
