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

  it('never refuses while none of its requests is in flight: refusing would only idle the process', () => {
    const controller = createAdmissionController({ limit: 100, pressure: { level: 1 } })
    const first = controller.admit({ priority: 'sheddable' }) as Decision
    expect(first.admitted).toBe(true)
    const second = controller.admit({ priority: 'critical' }) as Decision
    expect(second).toMatchObject({ admitted: false, rejection: { reason: 'overloaded' } })
    if (first.admitted) first.permit.release()
    // Idle again: the next one runs, and holds the floor for the others.
    const third = controller.admit({ priority: 'sheddable' }) as Decision
    expect(third.admitted).toBe(true)
    expect((controller.admit() as Decision).admitted).toBe(false)
    if (third.admitted) third.permit.release()
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
    controller.close()
  })

  it('refuses outright (overloaded), not by chance (sampled), once a priority is past its band', () => {
    // Three priorities: sheddable's band is [0, 0.5), so at 0.6 none of it is sampled.
    expect(shedShare(0.6, 'sheddable', 5)).toMatchObject({ sampled: 0, overloaded: REQUESTS })
  })
})
