/**
 * Graded shedding measured over many requests: at a given pressure, the share
 * of each priority the controller sheds matches the curve in `shedding.ts`.
 */
import { createAdmissionController, type Decision } from '@spillway/core'
import { admitProbability } from '@spillway/core/internal'
import { seededRandom as seeded } from './limit/simulation.js'

const PRIORITIES = ['critical', 'normal', 'sheddable'] as const
const REQUESTS = 20_000
// Binomial standard error at n = 20 000 is at most 0.0036: 0.015 is over 4 of them.
const TOLERANCE = 0.015

function shedShare(level: number, priority: string, seed: number) {
  const controller = createAdmissionController({
    limit: 100,
    pressure: { level },
    random: seeded(seed),
  })
  // Pressure refuses only while something is in flight (see the last case).
  const running = controller.admit({ priority: 'critical' }) as Decision
  if (!running.admitted) throw new Error('the first request is admitted whatever the pressure')
  let sampled = 0
  let overloaded = 0
  for (let i = 0; i < REQUESTS; i++) {
    const decision = controller.admit({ priority }) as Decision
    if (decision.admitted) decision.permit.release()
    else if (decision.rejection.reason === 'sampled') sampled++
    else if (decision.rejection.reason === 'overloaded') overloaded++
    else throw new Error(`unexpected rejection ${decision.rejection.reason}`)
  }
  running.permit.release()
  const { inFlight, queued } = controller.stats()
  controller.close()
  return { shed: (sampled + overloaded) / REQUESTS, sampled, overloaded, inFlight, queued }
}

describe('graded shedding over many requests', () => {
  const levels = [0.1, 0.25, 0.4, 0.6, 0.75, 0.9]

  it.each(levels)('sheds each priority at its curve within ±0.015 at pressure %p', (level) => {
    PRIORITIES.forEach((priority, index) => {
      const expected = 1 - admitProbability(index, PRIORITIES.length, level)
      const measured = shedShare(level, priority, 1000 * level + index)
      expect(Math.abs(measured.shed - expected)).toBeLessThanOrEqual(TOLERANCE)
      expect(measured).toMatchObject({ inFlight: 0, queued: 0 })
    })
  })

  it('sheds the lowest priority first: at every level, less important means more shed', () => {
    for (const level of levels) {
      const shares = PRIORITIES.map((p, i) => shedShare(level, p, 7 + i).shed)
      expect(shares[0]).toBeLessThanOrEqual(shares[1] as number)
      expect(shares[1]).toBeLessThanOrEqual(shares[2] as number)
    }
  })

  it('never sheds the highest priority below full saturation, and sheds it outright at 1', () => {
    expect(shedShare(0.99, 'critical', 3).shed).toBe(0)
    const saturated = shedShare(1, 'critical', 3)
    expect(saturated).toMatchObject({ shed: 1, sampled: 0, overloaded: REQUESTS })
  })

  it('refuses nothing once none of its requests has been in flight for 10 ms: refusing would only idle the process', () => {
    let t = 0
    const controller = createAdmissionController({
      limit: 100,
      pressure: { level: 1 },
      now: () => t,
    })
    const admitted = (priority?: string) => (controller.admit({ priority }) as Decision).admitted
    const first = controller.tryAcquire({ priority: 'sheddable' })
    expect(first).toBeDefined()
    expect(admitted('critical')).toBe(false)
    t = 100
    first?.release()
    // Idle for less than 10 ms: a server deciding requests one after another.
    t = 109
    expect(admitted('critical')).toBe(false)
    // Idle for 10 ms: the next one runs, and the others are refused behind it.
    t = 110
    const second = controller.tryAcquire({ priority: 'sheddable' })
    expect(second).toBeDefined()
    expect(admitted()).toBe(false)
    second?.release()
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
    expect(controller.stats().counters.rejected.overloaded).toBe(3)
    controller.close()
  })

  it('refuses outright (overloaded), not by chance (sampled), once a priority is past its band', () => {
    // Three priorities: sheddable's band is [0, 0.5), so at 0.6 none of it is sampled.
    expect(shedShare(0.6, 'sheddable', 5)).toMatchObject({ sampled: 0, overloaded: REQUESTS })
  })
})
