import { createFixedLimit, createLimit } from '../../src/limit/index.js'
import { seededRandom, settle, simulate } from './simulation.js'

describe('the closed-loop simulator', () => {
  it('serves C ÷ baseRtt requests per second once the limit reaches C, and no more past it', () => {
    for (const limit of [10, 20, 40]) {
      const trace = simulate({
        algorithm: createFixedLimit(limit),
        phases: [{ durationMs: 10_000, capacity: 20 }],
        jitter: 0,
      })
      expect(trace.throughputPerSecond[0]).toBeCloseTo((Math.min(limit, 20) * 1000) / 10, -1)
      // Past capacity the excess shows up as latency, in proportion.
      expect(trace.points.at(-1)?.rttMs).toBeCloseTo(10 * Math.max(1, limit / 20))
    }
  })

  it('fails requests admitted above dropAbove × C, and only those', () => {
    const trace = simulate({
      algorithm: createFixedLimit(30),
      phases: [{ durationMs: 1000, capacity: 20 }],
      dropAbove: 1.25,
    })
    const drops = trace.points.filter((p) => p.didDrop)
    expect(drops.length).toBeGreaterThan(0)
    expect(drops.every((p) => p.inFlight > 25)).toBe(true)
    expect(trace.points.filter((p) => !p.didDrop).every((p) => p.inFlight <= 25)).toBe(true)
  })

  it('is deterministic for a seed', () => {
    const run = (seed: number) =>
      simulate({
        algorithm: createLimit({ algorithm: 'vegas' }, 'limit', undefined, seededRandom(seed)),
        phases: [{ durationMs: 2000, capacity: 20 }],
        seed,
      }).points.map((p) => p.limit)
    expect(run(7)).toEqual(run(7))
    expect(run(7)).not.toEqual(run(8))
  })

  it('reports a phase as unsettled when the limit sits outside the band', () => {
    const trace = simulate({
      algorithm: createFixedLimit(40),
      phases: [{ durationMs: 2000, capacity: 20 }],
    })
    expect(settle(trace, 0)).toBeUndefined()
    expect(settle(trace, 0, [0.7, 2])?.settledLimit).toBe(40)
  })
})

describe.each(['aimd', 'gradient2', 'vegas'])('%s in a closed loop', (algorithm) => {
  // C = 40, then it halves, then it doubles back; latency past C grows with the excess and
  // requests fail past 1.25 × C, so both loss- and latency-based algorithms have a signal.
  const phases = [
    { durationMs: 10_000, capacity: 40 },
    { durationMs: 10_000, capacity: 20 },
    { durationMs: 10_000, capacity: 40 },
  ]

  it.each([1, 2, 3])('settles within [0.7 C, 1.5 C] in each phase, seed %i', (seed) => {
    const trace = simulate({
      algorithm: createLimit({ algorithm }, 'limit', undefined, seededRandom(seed)),
      phases,
      dropAbove: 1.25,
      seed,
    })
    phases.forEach((phase, i) => {
      const settled = settle(trace, i)
      expect(settled).toBeDefined()
      // Within 2 simulated seconds of the change.
      expect(settled?.settleMs).toBeLessThanOrEqual(2000)
      expect(settled?.settledLimit).toBeGreaterThanOrEqual(0.7 * phase.capacity)
      expect(settled?.settledLimit).toBeLessThanOrEqual(1.5 * phase.capacity)
      // And the service runs near its capacity meanwhile (probes and back-offs cost a little).
      expect(trace.throughputPerSecond[i]).toBeGreaterThan(0.9 * phase.capacity * 100)
    })
  })
})

describe.each(['aimd', 'gradient2', 'vegas'])('%s under light load', (algorithm) => {
  it('does not climb while 5 clients load a service of capacity 40 (app-limited)', () => {
    // From 20: with 5 in flight, below half the limit, the load never asks for more.
    const limit = createLimit({ algorithm, initial: 20 }, 'limit', undefined, seededRandom(1))
    const trace = simulate({
      algorithm: limit,
      phases: [{ durationMs: 10_000, capacity: 40 }],
      clients: 5,
    })
    expect(Math.max(...trace.points.map((p) => p.limit))).toBeLessThanOrEqual(20)
    expect(limit.limit).toBe(20)
  })

  it('climbs from its default only until 5 in flight are under half the limit', () => {
    const limit = createLimit({ algorithm }, 'limit', undefined, seededRandom(1))
    const start = limit.limit
    const trace = simulate({
      algorithm: limit,
      phases: [{ durationMs: 10_000, capacity: 40 }],
      clients: 5,
    })
    expect(Math.max(...trace.points.map((p) => p.limit))).toBeLessThanOrEqual(Math.max(start, 12))
  })
})
