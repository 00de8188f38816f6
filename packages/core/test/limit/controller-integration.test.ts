/** The algorithms behind the real controller: what `stats().limit` shows after real releases. */
import { createAdmissionController, type Permit } from '@spillway/core'

function admitAll(c: ReturnType<typeof createAdmissionController>, n: number): Permit[] {
  const permits: Permit[] = []
  for (let i = 0; i < n; i++) {
    const permit = c.tryAcquire({})
    if (permit === undefined) throw new Error(`request ${i} was not admitted`)
    permits.push(permit)
  }
  return permits
}

describe('adaptive limits inside the controller', () => {
  it('AIMD backs off once when a whole round trip of requests fails, not once per failure', () => {
    let t = 0
    const c = createAdmissionController({ limit: { algorithm: 'aimd', initial: 10 }, now: () => t })
    const permits = admitAll(c, 10)
    t = 50
    for (const p of permits) p.release('failure')
    expect(c.stats().limit).toBe(9)
    expect(c.stats().inFlight).toBe(0)
  })

  it('AIMD grows only from samples admitted with at least half the limit in flight, never from `ignore`', () => {
    let t = 0
    const c = createAdmissionController({ limit: { algorithm: 'aimd', initial: 16 }, now: () => t })
    for (const p of admitAll(c, 16)) {
      t += 1
      p.release('ignore')
    }
    expect(c.stats().limit).toBe(16)
    const round = () => {
      const permits = admitAll(c, 16)
      t += 10
      for (const p of permits) p.release('success')
    }
    // The 1st to 7th admitted saw fewer than 8 in flight: app-limited. 9 × 1/16 per round.
    round()
    expect(c.stats().limit).toBe(16)
    round()
    expect(c.stats().limit).toBe(17)
  })

  it('Vegas shrinks when service time doubles at the same load, from the controller’s samples', () => {
    let t = 0
    const c = createAdmissionController({
      limit: { algorithm: 'vegas', initial: 20, probeMultiplier: 1000 },
      now: () => t,
      random: () => 0.5,
    })
    const round = (rttMs: number) => {
      const permits = admitAll(c, c.stats().limit)
      t += rttMs
      for (const p of permits) p.release('success')
    }
    for (let i = 0; i < 5; i++) round(10)
    const grown = c.stats().limit
    expect(grown).toBeGreaterThan(20)
    for (let i = 0; i < 20; i++) round(20)
    expect(c.stats().limit).toBeLessThan(grown)
    expect(c.stats().inFlight).toBe(0)
  })
})
