import { epochNow, startTimer, stopTimer } from '../src/timers.js'

describe('startTimer()', () => {
  it('never keeps the process alive', () => {
    const handle = startTimer(() => {}, 60_000) as { hasRef(): boolean }
    expect(handle.hasRef()).toBe(false)
    stopTimer(handle)
  })

  it('caps a delay longer than timers can hold instead of letting it overflow to 1 ms', () => {
    jest.useFakeTimers({ now: 0 })
    try {
      const fired = jest.fn()
      const handle = startTimer(fired, 30 * 24 * 3600 * 1000)
      jest.advanceTimersByTime(2 ** 31 - 2)
      expect(fired).not.toHaveBeenCalled()
      jest.advanceTimersByTime(1)
      expect(fired).toHaveBeenCalledTimes(1)
      stopTimer(handle)
    } finally {
      jest.useRealTimers()
    }
  })

  it('is cancelled by stopTimer()', () => {
    jest.useFakeTimers({ now: 0 })
    try {
      const fired = jest.fn()
      stopTimer(startTimer(fired, 10))
      jest.advanceTimersByTime(100)
      expect(fired).not.toHaveBeenCalled()
      expect(jest.getTimerCount()).toBe(0)
    } finally {
      jest.useRealTimers()
    }
  })
})

describe('epochNow()', () => {
  it('reads epoch milliseconds, close to Date.now()', () => {
    // Same epoch as Date.now(): deadlines from either clock are comparable at start-up.
    expect(Math.abs(epochNow() - Date.now())).toBeLessThan(60_000)
    expect(epochNow()).toBeGreaterThan(1.6e12)
  })
})
