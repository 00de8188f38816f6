import fc from 'fast-check'
import { Signal } from '../../src/sensors/signal.js'

// Delay-like thresholds: enter above 100, leave below 50, level 1 at 150.
const thresholds = { high: 100, low: 50, saturation: 150 }

/** Feeds `values` one per `stepMs`, starting at t = 0; returns the level after each. */
function feed(signal: Signal, values: readonly number[], stepMs = 500): number[] {
  return values.map((value, i) => signal.update(value, i * stepMs))
}

describe('Signal hysteresis', () => {
  it('stays calm at level 0 while the value never exceeds high', () => {
    const signal = new Signal(thresholds, 1000)
    expect(feed(signal, [0, 60, 99, 100, 80])).toEqual([0, 0, 0, 0, 0])
    expect(signal.pressured).toBe(false)
  })

  it('enters pressure only when the value is strictly above high', () => {
    const signal = new Signal(thresholds, 1000)
    signal.update(100, 0)
    expect(signal.pressured).toBe(false)
    signal.update(100.5, 500)
    expect(signal.pressured).toBe(true)
  })

  it('does not flap when the value oscillates between low and high after entering', () => {
    const signal = new Signal(thresholds, 0)
    signal.update(120, 0)
    const levels = feed(signal, [95, 55, 99, 51, 90, 60, 75, 52])
    expect(signal.pressured).toBe(true)
    // Every level is the graded value: nothing fell back to 0 on the way.
    expect(levels).toEqual([95, 55, 99, 51, 90, 60, 75, 52].map((v) => (v - 50) / 100))
  })

  it('never enters pressure when a calm value oscillates between low and high', () => {
    const signal = new Signal(thresholds, 1000)
    expect(feed(signal, [95, 55, 99, 51, 90, 60, 100]).every((level) => level === 0)).toBe(true)
    expect(signal.pressured).toBe(false)
  })

  it('leaves pressure below low once the hold time has passed since the last value above high', () => {
    const signal = new Signal(thresholds, 1000)
    signal.update(120, 0)
    signal.update(40, 500) // below low, but only 500 ms after 120
    expect(signal.pressured).toBe(true)
    signal.update(40, 999)
    expect(signal.pressured).toBe(true)
    expect(signal.update(40, 1000)).toBe(0)
    expect(signal.pressured).toBe(false)
  })

  it('restarts the hold on every value above high', () => {
    const signal = new Signal(thresholds, 1000)
    signal.update(120, 0)
    signal.update(110, 900)
    signal.update(10, 1500) // 1500 ms after the first spike, 600 ms after the second
    expect(signal.pressured).toBe(true)
    signal.update(10, 1900)
    expect(signal.pressured).toBe(false)
  })

  it('stays pressured below high and above low after the hold, following the value', () => {
    const signal = new Signal(thresholds, 1000)
    signal.update(150, 0)
    expect(signal.update(70, 5000)).toBeCloseTo(0.2)
    expect(signal.pressured).toBe(true)
  })

  it('holds the level of the last value above high through a dip during the hold time', () => {
    const signal = new Signal(thresholds, 1000)
    expect(signal.update(130, 0)).toBeCloseTo(0.8)
    // A quiet sample between two spikes: the level must not fall to 0.2 and spring back.
    expect(signal.update(70, 500)).toBeCloseTo(0.8)
    expect(signal.update(10, 900)).toBeCloseTo(0.8)
    // After the hold the level is the graded value again (here: calm).
    expect(signal.update(10, 1000)).toBe(0)
  })

  it('lets a higher value raise the level during the hold', () => {
    const signal = new Signal(thresholds, 1000)
    signal.update(110, 0)
    expect(signal.update(140, 100)).toBeCloseTo(0.9)
  })

  it('holds the last value above high, not the highest one, so an old spike does not linger', () => {
    const signal = new Signal(thresholds, 1000)
    signal.update(150, 0) // level 1
    signal.update(110, 800) // level 0.6, and the new held level
    expect(signal.update(60, 1200)).toBeCloseTo(0.6)
  })
})

describe('Signal release', () => {
  it('falls at most 1 per releaseMs after the hold, down to the graded value', () => {
    const signal = new Signal(thresholds, 500, 2000)
    signal.update(150, 0) // level 1
    expect(signal.update(0, 500)).toBeCloseTo(0.75) // hold over, calm: 1 − 500 / 2000
    expect(signal.pressured).toBe(false)
    expect(signal.update(80, 1000)).toBeCloseTo(0.5) // 80 is below high: still calm, still releasing
    expect(signal.update(0, 3000)).toBe(0)
  })

  it('stops releasing at the graded value of a signal that is still pressured', () => {
    const signal = new Signal(thresholds, 0, 1000)
    signal.update(150, 0)
    expect(signal.update(70, 100)).toBeCloseTo(0.9)
    expect(signal.update(70, 5000)).toBeCloseTo(0.2)
  })

  it('rises at once, whatever the release', () => {
    const signal = new Signal(thresholds, 0, 60_000)
    expect(signal.update(150, 0)).toBe(1)
    signal.update(0, 30_000)
    expect(signal.update(130, 30_001)).toBeCloseTo(0.8)
  })

  it('releases nothing while the clock stands still or steps back', () => {
    const signal = new Signal(thresholds, 0, 1000)
    signal.update(150, 10_000)
    expect(signal.update(0, 10_000)).toBe(1)
    expect(signal.update(0, 9_000)).toBe(1)
  })

  it('never falls faster than 1 per releaseMs, for any readings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -10, max: 400, noNaN: true }), fc.nat({ max: 2000 })), {
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 5000 }),
        (steps, releaseMs) => {
          const signal = new Signal(thresholds, 1000, releaseMs)
          let t = 0
          let previous = 0
          for (const [value, stepMs] of steps) {
            t += stepMs
            const level = signal.update(value, t)
            expect(level).toBeGreaterThanOrEqual(previous - stepMs / releaseMs - 1e-12)
            previous = level
          }
        },
      ),
    )
  })
})

describe('Signal grading', () => {
  it('grades linearly from low (0) to saturation (1) and clamps beyond', () => {
    const signal = new Signal(thresholds, 0)
    expect(signal.grade(50)).toBe(0)
    expect(signal.grade(25)).toBe(0)
    expect(signal.grade(75)).toBeCloseTo(0.25)
    expect(signal.grade(100)).toBeCloseTo(0.5)
    expect(signal.grade(150)).toBe(1)
    expect(signal.grade(10_000)).toBe(1)
  })

  it('reports level 1 for a value at or beyond saturation', () => {
    const signal = new Signal(thresholds, 0)
    expect(signal.update(151, 0)).toBe(1)
    expect(signal.update(1e9, 1)).toBe(1)
  })

  it('saturates at high itself when saturation equals high', () => {
    const signal = new Signal({ high: 0.9, low: 0.8, saturation: 0.9 }, 0)
    expect(signal.update(0.91, 0)).toBe(1)
    expect(signal.update(0.85, 1)).toBeCloseTo(0.5)
  })
})

describe('Signal properties', () => {
  const value = fc.double({ min: -10, max: 400, noNaN: true })

  it('keeps every level within [0, 1] and at 0 whenever calm', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 60 }), fc.nat({ max: 3000 }), (values, holdMs) => {
        const signal = new Signal(thresholds, holdMs)
        values.forEach((v, i) => {
          const level = signal.update(v, i * 250)
          expect(level).toBeGreaterThanOrEqual(0)
          expect(level).toBeLessThanOrEqual(1)
          if (!signal.pressured) expect(level).toBe(0)
        })
      }),
    )
  })

  it('keeps its state, calm or pressured, while the value stays inside the hysteresis band', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.double({ min: 50, max: 100, noNaN: true }), { maxLength: 60 }),
        (startPressured, values) => {
          const signal = new Signal(thresholds, 1000)
          if (startPressured) signal.update(120, -10_000)
          for (const [i, v] of values.entries()) {
            signal.update(v, i * 250)
            expect(signal.pressured).toBe(startPressured)
          }
        },
      ),
    )
  })

  it('never reads 0 within the hold time after a value above high', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 60 }), (values) => {
        const signal = new Signal(thresholds, 1000)
        let lastAboveHighMs = Number.NEGATIVE_INFINITY
        values.forEach((v, i) => {
          const t = i * 250
          if (v > thresholds.high) lastAboveHighMs = t
          const level = signal.update(v, t)
          if (t - lastAboveHighMs < 1000) expect(level).toBeGreaterThan(0)
        })
      }),
    )
  })
})
