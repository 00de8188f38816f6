import { RateWindow } from '../src/rate-window.js'

describe('RateWindow', () => {
  it('reports events per second over the time since creation while younger than the window', () => {
    const w = new RateWindow(10_000)
    w.record(10_000, 5)
    // Never divides by less than one bucket.
    expect(w.perSecond(10_000)).toBe(25)
    expect(w.perSecond(11_000)).toBe(5)
    expect(w.windowMs).toBe(2000)
  })

  it('measures a burst after an idle spell over the burst, not over the quiet window', () => {
    const w = new RateWindow(0)
    for (let t = 10_000; t < 10_400; t += 10) w.record(t)
    // 40 events in the 400 ms since the burst began: 100/s, not 40 over the 2 s window.
    expect(w.perSecond(10_400, 10_000)).toBe(100)
    expect(w.perSecond(10_400)).toBe(20)
  })

  it('reports events per second over the last window once older than it', () => {
    const w = new RateWindow(0)
    for (let t = 0; t < 4000; t += 100) w.record(t)
    // Ten slots of 200 ms: at a slot boundary the newest is empty, nine hold 2 each.
    expect(w.perSecond(4000)).toBe(9)
    w.record(4000)
    expect(w.perSecond(4000)).toBe(9.5)
    const v = new RateWindow(0)
    for (let t = 0; t < 4000; t += 100) v.record(t)
    expect(v.perSecond(3999)).toBe(10)
  })

  it('lets events age out one bucket at a time', () => {
    const w = new RateWindow(0)
    w.record(0, 4)
    w.record(1000, 6)
    expect(w.perSecond(1999)).toBeCloseTo((10 * 1000) / 1999)
    expect(w.perSecond(2000)).toBe(3) // the slot of t = 0 is gone
    expect(w.perSecond(2999)).toBe(3)
    expect(w.perSecond(3000)).toBe(0)
  })

  it('forgets everything across a gap longer than the window, and keeps counting after it', () => {
    const w = new RateWindow(0)
    for (let t = 0; t < 2000; t += 10) w.record(t)
    w.record(1e12)
    expect(w.perSecond(1e12)).toBe(0.5)
    w.record(1e12 + 150, 3)
    expect(w.perSecond(1e12 + 150)).toBe(2)
  })

  it('neither loses events nor inflates the rate when the clock steps backwards', () => {
    const w = new RateWindow(10_000)
    w.record(10_000, 4)
    w.record(11_000, 4)
    const before = w.perSecond(11_000)
    expect(before).toBe(8)
    w.record(10_500, 2) // the clock stepped back 500 ms
    expect(w.perSecond(10_500)).toBe(10)
    expect(w.perSecond(9_000)).toBe(10)
    // Forward again: the events of t = 10 000 age out first, then the rest.
    expect(w.perSecond(12_000)).toBe(3)
    expect(w.perSecond(13_200)).toBe(0)
  })

  it('counts on a clock that reads negative times', () => {
    const w = new RateWindow(-5000)
    w.record(-5000, 2)
    w.record(-4500, 2)
    expect(w.perSecond(-4000)).toBe(4)
    expect(w.perSecond(-2000)).toBe(0)
  })

  it('sums the events of the window, forgetting them one bucket at a time', () => {
    const w = new RateWindow(1_000_000, 1000, 10)
    w.record(1_000_000, 5)
    w.record(1_005_000, 3)
    expect(w.sum(1_005_000)).toBe(8)
    expect(w.sum(1_010_000)).toBe(3)
    expect(w.sum(1_015_000)).toBe(0)
  })

  it('sums nothing after a gap longer than the window', () => {
    const w = new RateWindow(1_000_000, 100, 10)
    w.record(1_000_000, 4)
    expect(w.sum(2_000_000)).toBe(0)
  })

  it('keeps counting into the newest bucket when the clock steps backwards', () => {
    const w = new RateWindow(1_000_000, 100, 10)
    w.record(1_000_000)
    w.record(995_000)
    expect(w.sum(995_000)).toBe(2)
  })
})
