import { AdaptiveThrottle, RetryBudget } from '@spillway/client'

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t }
  return c
}

describe('AdaptiveThrottle', () => {
  it('matches max(0, (requests − K·accepts) / (requests + 1)) for any counts', () => {
    for (const k of [1, 1.5, 2, 3]) {
      for (const [requests, accepts] of [
        [0, 0],
        [1, 0],
        [10, 10],
        [100, 40],
        [100, 10],
        [1000, 0],
        [57, 3],
      ] as const) {
        const c = clock()
        const t = new AdaptiveThrottle(k, 30_000, c.now)
        for (let i = 0; i < requests; i++) t.record(i < accepts)
        const expected = Math.max(0, (requests - k * accepts) / (requests + 1))
        expect(t.rejectProbability()).toBeCloseTo(expected, 12)
        expect(t.stats()).toEqual({ requests, accepts, rejectProbability: t.rejectProbability() })
      }
    }
  })

  it('rejects nothing while the server accepts at least 1/K of requests', () => {
    const c = clock()
    const t = new AdaptiveThrottle(2, 30_000, c.now)
    for (let i = 0; i < 1000; i++) t.record(i % 2 === 0)
    expect(t.rejectProbability()).toBe(0)
  })

  it('recovers once the refusals leave the window', () => {
    const c = clock()
    const t = new AdaptiveThrottle(2, 30_000, c.now)
    for (let i = 0; i < 100; i++) t.record(false)
    expect(t.rejectProbability()).toBeGreaterThan(0.9)
    c.t += 30_000
    expect(t.rejectProbability()).toBe(0)
  })
})

describe('RetryBudget', () => {
  it('allows the larger of ratio × requests and the per-second reserve over the window, no more', () => {
    const c = clock()
    const b = new RetryBudget(0.1, 1, 10_000, c.now)
    for (let i = 0; i < 1000; i++) b.recordRequest()
    let granted = 0
    for (let i = 0; i < 1000; i++) if (b.tryRetry()) granted++
    expect(granted).toBe(100)
    expect(b.stats()).toMatchObject({ requests: 1000, retries: 100, denied: 900 })
    expect(b.stats().available).toBeLessThan(1)
  })

  it('lets a quiet client retry from the reserve alone', () => {
    const c = clock()
    const b = new RetryBudget(0.1, 1, 10_000, c.now)
    b.recordRequest()
    expect(b.tryRetry()).toBe(true)
  })

  it('refills as spent retries leave the window', () => {
    const c = clock()
    const b = new RetryBudget(0, 0.5, 4000, c.now)
    expect(b.tryRetry()).toBe(true)
    expect(b.tryRetry()).toBe(true)
    expect(b.tryRetry()).toBe(false)
    c.t += 4000
    expect(b.tryRetry()).toBe(true)
  })
})
