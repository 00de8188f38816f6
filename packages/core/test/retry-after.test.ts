import { computeRetryAfterSeconds, type RetryAfterInput } from '@spillway/core/internal'
import fc from 'fast-check'

const base: RetryAfterInput = {
  queued: 0,
  completionsPerSecond: 10,
  stalled: false,
  minSeconds: 1,
  maxSeconds: 30,
  jitter: 0.5,
  random: 0,
}
const retryAfter = (input: Partial<RetryAfterInput>) =>
  computeRetryAfterSeconds({ ...base, ...input })

describe('computeRetryAfterSeconds()', () => {
  it('divides the backlog, this request included, by the completion rate', () => {
    expect(retryAfter({ queued: 19, completionsPerSecond: 10 })).toBe(2)
    expect(retryAfter({ queued: 20, completionsPerSecond: 10 })).toBe(3)
    expect(retryAfter({ queued: 99, completionsPerSecond: 20 })).toBe(5)
  })

  it('adds up to max(1 s, base × jitter) on top, drawn from random, and nothing for jitter 0', () => {
    // base 10 s, jitter 0.5: spread 5 s.
    expect(retryAfter({ queued: 99, random: 0.5 })).toBe(13)
    expect(retryAfter({ queued: 99, random: 0.99 })).toBe(15)
    // base 0.1 s: the spread is one whole second, so answers split between 1 and 2.
    expect(retryAfter({ queued: 0, random: 0.85 })).toBe(1)
    expect(retryAfter({ queued: 0, random: 0.95 })).toBe(2)
    // jitter 0 asks for no spread: the base, rounded up, whatever the draw.
    expect(retryAfter({ queued: 99, jitter: 0, random: 0.99 })).toBe(10)
    expect(retryAfter({ queued: 0, jitter: 0, random: 0.99 })).toBe(1)
  })

  it('clamps to [minSeconds, maxSeconds]', () => {
    expect(retryAfter({ queued: 10_000 })).toBe(30)
    expect(retryAfter({ queued: 0, minSeconds: 4 })).toBe(4)
    expect(retryAfter({ queued: 10_000, minSeconds: 5, maxSeconds: 5 })).toBe(5)
  })

  it('answers maxSeconds when stalled and minSeconds when there is no rate yet', () => {
    expect(retryAfter({ completionsPerSecond: 0, stalled: true, queued: 0 })).toBe(30)
    expect(retryAfter({ completionsPerSecond: 0, stalled: false, queued: 500 })).toBe(1)
  })

  it('always answers whole seconds within the bounds, growing with backlog and shrinking with rate', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 100_000 }),
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.boolean(),
        (queued, rate, jitter, random, minSeconds, extra, stalled) => {
          const input = {
            queued,
            completionsPerSecond: rate,
            jitter,
            random,
            minSeconds,
            maxSeconds: minSeconds + extra,
            stalled,
          }
          const seconds = retryAfter(input)
          expect(Number.isInteger(seconds)).toBe(true)
          expect(seconds).toBeGreaterThanOrEqual(minSeconds)
          expect(seconds).toBeLessThanOrEqual(minSeconds + extra)
          expect(retryAfter({ ...input, queued: queued + 10 })).toBeGreaterThanOrEqual(seconds)
          if (rate > 0) {
            expect(retryAfter({ ...input, completionsPerSecond: rate * 2 })).toBeLessThanOrEqual(
              seconds,
            )
          }
        },
      ),
    )
  })
})
