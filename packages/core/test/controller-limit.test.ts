/**
 * The controller's side of the limit contract, observed through a spy
 * `LimitAlgorithm`: the controller builds its limit from options, so the
 * factory is swapped for one that hands out the spy.
 */
import type { LimitAlgorithm, LimitSample } from '@spillway/core'
import { fakeClockController, flush, permitOf, track } from './harness.js'

let mockLimit: LimitAlgorithm | undefined

jest.mock('../src/limit/index.js', () => {
  const actual = jest.requireActual('../src/limit/index.js')
  return {
    ...actual,
    createLimit: (...args: unknown[]) => mockLimit ?? actual.createLimit(...args),
  }
})

class SpyLimit implements LimitAlgorithm {
  readonly samples: LimitSample[] = []
  constructor(public limit: number) {}
  onSample(sample: LimitSample): void {
    this.samples.push(sample)
  }
}

let spy: SpyLimit

beforeEach(() => {
  jest.useFakeTimers({ now: 0 })
  spy = new SpyLimit(2)
  mockLimit = spy
})

afterEach(() => {
  mockLimit = undefined
  jest.useRealTimers()
})

describe('samples fed to the limit algorithm', () => {
  it('feeds one sample per release: service time without the queue wait, and in-flight at admission', async () => {
    const c = fakeClockController()
    const a = permitOf(c.admit())
    jest.advanceTimersByTime(5)
    const b = permitOf(c.admit())
    const waiter = track(c.acquire())
    jest.advanceTimersByTime(10)
    a.release('success')
    await flush()
    jest.advanceTimersByTime(7)
    const w = waiter.value
    if (!w?.admitted) throw new Error('the waiter should have been admitted')
    w.permit.release('failure')
    b.release('success')
    expect(spy.samples).toEqual([
      { startMs: 0, rttMs: 15, inFlight: 1, didDrop: false },
      // Queued from 5 to 15: only the 7 ms after admission count.
      { startMs: 15, rttMs: 7, inFlight: 2, didDrop: true },
      { startMs: 5, rttMs: 17, inFlight: 2, didDrop: false },
    ])
  })

  it('feeds no sample for an ignored release, a second release or a shadow permit', () => {
    const c = fakeClockController()
    const a = permitOf(c.admit())
    a.release('ignore')
    a.release('failure')
    const b = permitOf(c.admit())
    b.release('failure')
    b.release('failure')
    b.release('success')
    permitOf(c.admit())
    permitOf(c.admit())
    permitOf(c.admit({}, { dryRun: true })).release('failure')
    expect(spy.samples).toHaveLength(1)
    expect(spy.samples[0]?.didDrop).toBe(true)
    expect(c.stats().inFlight).toBe(2)
  })

  it('feeds no sample for a request rejected, aborted or timed out before admission', async () => {
    const c = fakeClockController({ queue: { timeoutMs: 50 } })
    permitOf(c.admit())
    permitOf(c.admit())
    const controller = new AbortController()
    void c.acquire({ signal: controller.signal })
    controller.abort()
    void c.acquire()
    jest.advanceTimersByTime(50)
    c.admit({ deadline: 0 })
    await flush()
    expect(c.stats().counters.rejected).toMatchObject({ aborted: 1, queueTimeout: 1, deadline: 1 })
    expect(spy.samples).toEqual([])
  })
})

describe('a limit that moves', () => {
  it('serves waiters as soon as the limit grows, before any newcomer', async () => {
    const c = fakeClockController()
    permitOf(c.admit())
    permitOf(c.admit())
    const waiters = [track(c.acquire({ priority: 'sheddable' })), track(c.acquire())]
    spy.limit = 4
    // The next decision notices the room: the waiters get it first.
    const newcomer = c.tryAcquire({ priority: 'critical' })
    await flush()
    expect(waiters.map((w) => w.value?.admitted)).toEqual([true, true])
    expect(newcomer).toBeUndefined()
    expect(c.stats()).toMatchObject({ limit: 4, inFlight: 4, queued: 0 })
  })

  it('admits nothing while in flight exceeds a limit that shrank', async () => {
    const c = fakeClockController()
    const held = [permitOf(c.admit()), permitOf(c.admit())]
    spy.limit = 1
    const waiter = track(c.acquire())
    held[0]?.release()
    await flush()
    expect(waiter.settled).toBe(false)
    expect(c.stats()).toMatchObject({ inFlight: 1, queued: 1 })
    held[1]?.release()
    await flush()
    expect(waiter.value?.admitted).toBe(true)
    expect(c.stats()).toMatchObject({ inFlight: 1, queued: 0 })
  })

  it('reports the limit it read in the admit event', () => {
    const c = fakeClockController()
    const limits: number[] = []
    c.on((e) => {
      if (e.type === 'admit') limits.push(e.limit)
    })
    permitOf(c.admit())
    spy.limit = 7
    permitOf(c.admit())
    expect(limits).toEqual([2, 7])
  })
})
