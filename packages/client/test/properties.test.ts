import { AdaptiveThrottle, parseRetryAfter, RetryBudget } from '@spillway/client'
import fc from 'fast-check'

const NOW = Date.UTC(2026, 10, 27, 22, 0, 0)

describe('properties', () => {
  it('grants a retry only when the window stays within max(ratio × requests, reserve)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('request' as const) }),
            fc.record({ kind: fc.constant('retry' as const) }),
            fc.record({
              kind: fc.constant('tick' as const),
              ms: fc.integer({ min: 0, max: 4000 }),
            }),
          ),
          { maxLength: 400 },
        ),
        (ratio, minPerSecond, steps) => {
          const clock = { t: 1_000_000 }
          const windowMs = 10_000
          const budget = new RetryBudget(ratio, minPerSecond, windowMs, () => clock.t)
          for (const step of steps) {
            if (step.kind === 'request') budget.recordRequest()
            else if (step.kind === 'tick') clock.t += step.ms
            else if (budget.tryRetry()) {
              // The guarantee holds when a retry is granted: counting it, the window is within budget.
              const s = budget.stats()
              const allowed = Math.max(ratio * s.requests, (minPerSecond * windowMs) / 1000)
              expect(s.retries).toBeLessThanOrEqual(allowed + 1e-9)
            }
          }
        },
      ),
    )
  })

  it('keeps the throttle probability in [0, 1) and equal to the formula', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.array(fc.boolean(), { maxLength: 300 }),
        (k, outcomes) => {
          const t = new AdaptiveThrottle(k, 30_000, () => 0)
          for (const accepted of outcomes) t.record(accepted)
          const requests = outcomes.length
          const accepts = outcomes.filter(Boolean).length
          const p = t.rejectProbability()
          expect(p).toBeGreaterThanOrEqual(0)
          expect(p).toBeLessThan(1)
          expect(p).toBeCloseTo(Math.max(0, (requests - k * accepts) / (requests + 1)), 12)
        },
      ),
    )
  })

  it('reads any delay-seconds exactly, clamped, and any other string as malformed or a date', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 10_000_000 }), (seconds, maxMs) => {
        expect(parseRetryAfter(String(seconds), NOW, maxMs)).toBe(Math.min(seconds * 1000, maxMs))
      }),
    )
    fc.assert(
      fc.property(fc.string(), (value) => {
        const ms = parseRetryAfter(value, NOW, 60_000)
        if (ms !== undefined) {
          expect(ms).toBeGreaterThanOrEqual(0)
          expect(ms).toBeLessThanOrEqual(60_000)
        }
      }),
    )
  })

  it('reads back any IMF-fixdate it is given', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 365 * 24 * 3600 }), (aheadS) => {
        const date = new Date(NOW + aheadS * 1000).toUTCString()
        expect(parseRetryAfter(date, NOW)).toBe(aheadS * 1000)
      }),
    )
  })
})
