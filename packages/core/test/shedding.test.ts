import { admitProbability, pressureCappedLimit } from '@spillway/core/internal'
import fc from 'fast-check'

describe('admitProbability()', () => {
  // Three priorities: sheddable falls over [0, 0.5], normal over [0.5, 1), critical at 1.
  it.each([
    [0, [1, 1, 1]],
    [0.25, [1, 1, 0.5]],
    [0.5, [1, 1, 0]],
    [0.75, [1, 0.5, 0]],
    [0.999, [1, expect.closeTo(0.002, 6), 0]],
    [1, [0, 0, 0]],
    [1.5, [0, 0, 0]],
    [-1, [1, 1, 1]],
  ])('at pressure %p gives [critical, normal, sheddable] = %p', (pressure, expected) => {
    expect([0, 1, 2].map((i) => admitProbability(i, 3, pressure))).toEqual(expected)
  })

  it('splits the range into equal bands with four priorities', () => {
    const at = (p: number) => [0, 1, 2, 3].map((i) => admitProbability(i, 4, p))
    expect(at(1 / 3)).toEqual([1, 1, 1, 0])
    expect(at(1 / 6)).toEqual([1, 1, 1, expect.closeTo(0.5, 9)])
    expect(at(2 / 3)).toEqual([1, 1, 0, 0])
    expect(at(0.5)).toEqual([1, 1, expect.closeTo(0.5, 9), 0])
    expect(at(5 / 6)).toEqual([1, expect.closeTo(0.5, 9), 0, 0])
  })

  it('sheds a single priority, and the first of two, only at full pressure', () => {
    expect(admitProbability(0, 1, 0.99)).toBe(1)
    expect(admitProbability(0, 1, 1)).toBe(0)
    expect(admitProbability(0, 2, 0.99)).toBe(1)
    expect(admitProbability(1, 2, 0.5)).toBe(0.5)
  })

  it('never rises with pressure, and never favours a lower priority', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.double({ min: -0.5, max: 1.5, noNaN: true }),
        fc.double({ min: -0.5, max: 1.5, noNaN: true }),
        (count, x, y) => {
          const [low, high] = x <= y ? [x, y] : [y, x]
          for (let i = 0; i < count; i++) {
            const p = admitProbability(i, count, low)
            expect(p).toBeGreaterThanOrEqual(0)
            expect(p).toBeLessThanOrEqual(1)
            expect(admitProbability(i, count, high)).toBeLessThanOrEqual(p)
            if (i > 0) expect(p).toBeLessThanOrEqual(admitProbability(i - 1, count, low))
          }
        },
      ),
    )
  })
})

describe('pressureCappedLimit()', () => {
  it.each([
    [10, 0, 10],
    [10, -1, 10],
    [10, 0.5, 5],
    [10, 0.55, 5],
    [10, 0.95, 1],
    [10, 1, 1],
    [10, 7, 1],
    [1, 0.5, 1],
    [7, 0.5, 4],
  ])('caps a limit of %p at pressure %p to %p', (limit, pressure, expected) => {
    expect(pressureCappedLimit(limit, pressure)).toBe(expected)
  })

  it('stays a whole number between 1 and the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.double({ min: -1, max: 2, noNaN: true }),
        (limit, pressure) => {
          const capped = pressureCappedLimit(limit, pressure)
          expect(Number.isInteger(capped)).toBe(true)
          expect(capped).toBeGreaterThanOrEqual(1)
          expect(capped).toBeLessThanOrEqual(limit)
        },
      ),
    )
  })
})
