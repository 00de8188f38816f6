import { createAimdLimit } from '../../src/limit/index.js'
import type { LimitSample } from '../../src/types.js'

function sample(overrides: Partial<LimitSample> = {}): LimitSample {
  return { startMs: 0, rttMs: 10, inFlight: 16, didDrop: false, ...overrides }
}

describe('AIMD limit', () => {
  it('grows by one after a round trip of successes (one per admitted request)', () => {
    // 16 is a power of two, so 16 steps of 1/16 add up to exactly 1.
    const limit = createAimdLimit({ initial: 16 })
    for (let i = 0; i < 15; i++) limit.onSample(sample())
    expect(limit.limit).toBe(16)
    limit.onSample(sample())
    expect(limit.limit).toBe(17)
  })

  it('does not grow while app-limited, when fewer than half the limit were in flight', () => {
    const limit = createAimdLimit({ initial: 16 })
    for (let i = 0; i < 1000; i++) limit.onSample(sample({ inFlight: 7 }))
    expect(limit.limit).toBe(16)
    for (let i = 0; i < 16; i++) limit.onSample(sample({ inFlight: 8 }))
    expect(limit.limit).toBe(17)
  })

  it('backs off multiplicatively by backoffRatio on a drop', () => {
    const limit = createAimdLimit({ initial: 20 })
    limit.onSample(sample({ didDrop: true }))
    expect(limit.limit).toBe(18)
    const halving = createAimdLimit({ initial: 20, backoffRatio: 0.5 })
    halving.onSample(sample({ didDrop: true }))
    expect(halving.limit).toBe(10)
  })

  it('treats a success slower than timeoutMs as a drop', () => {
    const limit = createAimdLimit({ initial: 20, timeoutMs: 100 })
    limit.onSample(sample({ rttMs: 100, inFlight: 20 }))
    expect(limit.limit).toBe(20)
    limit.onSample(sample({ startMs: 1, rttMs: 100.5, inFlight: 20 }))
    expect(limit.limit).toBe(18)
  })

  it('backs off once per round trip: drops from requests started before the last back-off are ignored', () => {
    const limit = createAimdLimit({ initial: 20 })
    limit.onSample(sample({ startMs: 0, rttMs: 10, didDrop: true })) // backs off at t = 10
    // Twenty more failures of requests admitted under the old limit, finishing later.
    for (let i = 0; i < 20; i++) limit.onSample(sample({ startMs: 9, rttMs: 5, didDrop: true }))
    expect(limit.limit).toBe(18)
    limit.onSample(sample({ startMs: 10, rttMs: 10, didDrop: true })) // admitted after it
    expect(limit.limit).toBe(16)
  })

  it('never goes below min nor above max', () => {
    const limit = createAimdLimit({ initial: 16, min: 15, max: 17 })
    for (let i = 0; i < 10; i++) limit.onSample(sample({ startMs: i * 100, didDrop: true }))
    expect(limit.limit).toBe(15)
    for (let i = 0; i < 500; i++) limit.onSample(sample())
    expect(limit.limit).toBe(17)
    // Growing past max left no hidden credit: one back-off is felt at once.
    limit.onSample(sample({ startMs: 10_000, didDrop: true }))
    expect(limit.limit).toBe(15)
  })

  it('never goes below 1, even with min 1 and repeated drops', () => {
    const limit = createAimdLimit({ initial: 3 })
    for (let i = 0; i < 10; i++) limit.onSample(sample({ startMs: i * 100, didDrop: true }))
    expect(limit.limit).toBe(1)
  })
})
