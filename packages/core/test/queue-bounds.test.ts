import { fakeClockController, flush, permitOf, rejectionOf, track } from './harness.js'

beforeEach(() => {
  jest.useFakeTimers({ now: 0 })
})

afterEach(() => {
  jest.useRealTimers()
})

/** Admits and releases `n` requests one after the other, each taking `ms`. */
function serve(c: ReturnType<typeof fakeClockController>, n: number, ms: number): void {
  for (let i = 0; i < n; i++) {
    const permit = permitOf(c.admit())
    jest.advanceTimersByTime(ms)
    permit.release('success')
  }
}

describe('the queue of an adaptive limit, by default', () => {
  it('holds half the limit', () => {
    const c = fakeClockController({ limit: { algorithm: 'gradient2', initial: 20 } })
    expect(c.stats().limit).toBe(20)
    for (let i = 0; i < 20; i++) permitOf(c.admit())
    for (let i = 0; i < 10; i++) void c.acquire()
    expect(c.stats().queued).toBe(10)
    expect(rejectionOf(c.admit()).reason).toBe('queueFull')
    c.close()
  })

  it('waits 1000 ms before any request has completed', async () => {
    const c = fakeClockController({ limit: { algorithm: 'vegas', initial: 2 } })
    permitOf(c.admit())
    permitOf(c.admit())
    const waiter = track(c.acquire())
    jest.advanceTimersByTime(999)
    await flush()
    expect(waiter.settled).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(waiter.value).toMatchObject({ admitted: false, rejection: { reason: 'queueTimeout' } })
  })

  it('lets a waiter wait twice the measured service time', async () => {
    const c = fakeClockController({ limit: { algorithm: 'gradient2', initial: 2, min: 2, max: 2 } })
    serve(c, 5, 30)
    const held = [permitOf(c.admit()), permitOf(c.admit())]
    const waiter = track(c.acquire())
    jest.advanceTimersByTime(59)
    await flush()
    expect(waiter.settled).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(waiter.value).toMatchObject({ admitted: false, rejection: { reason: 'queueTimeout' } })
    for (const permit of held) permit.release()
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0 })
  })

  it('keeps a size or timeout the user gave', async () => {
    const c = fakeClockController({
      limit: { algorithm: 'gradient2', initial: 2, min: 2, max: 2 },
      queue: { size: 3, timeoutMs: 500 },
    })
    serve(c, 5, 30)
    permitOf(c.admit())
    permitOf(c.admit())
    const waiters = [track(c.acquire()), track(c.acquire()), track(c.acquire())]
    expect(rejectionOf(c.admit()).reason).toBe('queueFull')
    jest.advanceTimersByTime(499)
    await flush()
    expect(waiters.some((w) => w.settled)).toBe(false)
    c.close()
  })
})

describe("'auto' with a fixed limit", () => {
  it('follows the service time as it changes, ignoring released-as-ignore permits', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 'auto', timeoutMs: 'auto' } })
    serve(c, 50, 10)
    // An `ignore` release says nothing about service time.
    const ignored = permitOf(c.admit())
    jest.advanceTimersByTime(5000)
    ignored.release('ignore')
    const held = permitOf(c.admit())
    const fast = track(c.acquire())
    jest.advanceTimersByTime(20)
    await flush()
    expect(fast.value).toMatchObject({ rejection: { reason: 'queueTimeout' } })
    held.release()
    // Slower now: the timeout grows with the average (never above 1000 ms).
    serve(c, 200, 600)
    const held2 = permitOf(c.admit())
    const slow = track(c.acquire())
    jest.advanceTimersByTime(999)
    await flush()
    expect(slow.settled).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(slow.value).toMatchObject({ rejection: { reason: 'queueTimeout' } })
    held2.release()
  })

  it('holds at least one waiter with a limit of 1', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 'auto' } })
    permitOf(c.admit())
    void c.acquire()
    expect(c.stats().queued).toBe(1)
    expect(rejectionOf(c.admit()).reason).toBe('queueFull')
    c.close()
  })

  it('never times a waiter out sooner than 5 ms, however fast the service', async () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 'auto' } })
    serve(c, 50, 0)
    permitOf(c.admit())
    const waiter = track(c.acquire())
    jest.advanceTimersByTime(4)
    await flush()
    expect(waiter.settled).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(waiter.value).toMatchObject({ rejection: { reason: 'queueTimeout' } })
  })
})
