import { getEventListeners } from 'node:events'
import {
  type ControllerEvent,
  createAdmissionController,
  type Decision,
  type Permit,
  RejectedError,
  type Rejection,
  type RejectionReason,
} from '@spillway/core'
import {
  CountingSignal,
  fakeClockController,
  flush,
  permitOf,
  rejectionOf,
  type Tracked,
  track,
} from './harness.js'

beforeEach(() => {
  jest.useFakeTimers({ now: 0 })
})

afterEach(() => {
  jest.useRealTimers()
})

/** The permit of a tracked decision that has settled admitted. */
function admittedPermit(tracked: Tracked<Decision>): Permit {
  const decision = tracked.value
  if (decision === undefined || !decision.admitted) {
    throw new Error(`expected an admission, got ${JSON.stringify(decision)}`)
  }
  return decision.permit
}

function rejectionReason(tracked: Tracked<Decision>): RejectionReason | undefined {
  const decision = tracked.value
  return decision !== undefined && !decision.admitted ? decision.rejection.reason : undefined
}

describe('admission', () => {
  it('admits synchronously up to the limit, then queues', () => {
    const c = fakeClockController({ limit: 2 })
    const first = c.admit()
    const second = c.admit()
    expect(first).not.toBeInstanceOf(Promise)
    expect(second).not.toBeInstanceOf(Promise)
    expect(permitOf(first).released).toBe(false)
    const third = c.admit()
    expect(third).toBeInstanceOf(Promise)
    expect(c.stats()).toMatchObject({ inFlight: 2, queued: 1, limit: 2, effectiveLimit: 2 })
    expect(c.stats().counters).toMatchObject({ admitted: 2, queued: 1 })
  })

  it('hands a released slot to the waiter, which sees how long it waited', async () => {
    const c = fakeClockController({ limit: 1 })
    const events: ControllerEvent[] = []
    c.on((e) => events.push(e))
    const first = permitOf(c.admit())
    const waiter = track(c.acquire({ key: 'k' }))
    jest.advanceTimersByTime(40)
    first.release()
    await flush()
    expect(admittedPermit(waiter).priority).toBe('normal')
    expect(c.stats()).toMatchObject({ inFlight: 1, queued: 0 })
    expect(events.filter((e) => e.type === 'admit').at(-1)).toEqual({
      type: 'admit',
      priority: 'normal',
      key: 'k',
      waitedMs: 40,
      inFlight: 1,
      limit: 1,
    })
  })

  it('resolves acquire() with a promise even when the decision is immediate', async () => {
    const c = fakeClockController({ limit: 1 })
    const p = c.acquire()
    expect(p).toBeInstanceOf(Promise)
    expect((await p).admitted).toBe(true)
  })

  it('treats an unknown or non-string priority as the default priority', async () => {
    const c = fakeClockController({ limit: 1 })
    expect(permitOf(c.admit({ priority: 'CRITICAL' })).priority).toBe('normal')
    // Queued: an unknown name waits in the default bucket, behind critical, ahead of sheddable.
    const sheddable = track(c.acquire({ priority: 'sheddable' }))
    const typo = track(c.acquire({ priority: 'nromal' }))
    const hostile = track(c.acquire({ priority: 42 as unknown as string }))
    const critical = track(c.acquire({ priority: 'critical' }))
    expect(c.stats().queuedByPriority).toEqual({ critical: 1, normal: 2, sheddable: 1 })
    c.close()
    await flush()
    for (const t of [sheddable, typo, hostile, critical]) expect(rejectionReason(t)).toBe('closed')
  })

  it('takes `defaultPriority` from the options', () => {
    const c = fakeClockController({ priorities: ['high', 'low'], defaultPriority: 'low' })
    expect(permitOf(c.admit()).priority).toBe('low')
    expect(permitOf(c.admit({ priority: 'nope' })).priority).toBe('low')
    expect(c.priorities).toEqual(['high', 'low'])
  })
})

describe('queue order', () => {
  async function serveAll(c: ReturnType<typeof fakeClockController>, first: Permit, n: number) {
    const served: string[] = []
    let holder = first
    const unsubscribe = c.on((e) => {
      if (e.type === 'admit') served.push(`${e.priority}:${e.key}`)
    })
    for (let i = 0; i < n; i++) {
      const before = served.length
      holder.release()
      await flush()
      expect(served.length).toBe(before + 1)
      holder = pending.shift() as Permit
    }
    unsubscribe()
    last = holder
    return served
  }
  /** The permit held after the last `serveAll`, by the waiter served last. */
  let last: Permit | undefined
  let pending: Permit[] = []
  function enqueue(c: ReturnType<typeof fakeClockController>, priority: string, key: string) {
    void c.acquire({ priority, key }).then((d) => {
      if (d.admitted) pending.push(d.permit)
    })
  }
  beforeEach(() => {
    pending = []
  })

  it('serves every higher priority before any lower one', async () => {
    const c = fakeClockController({ limit: 1 })
    const first = permitOf(c.admit())
    enqueue(c, 'sheddable', 's1')
    enqueue(c, 'normal', 'n1')
    enqueue(c, 'sheddable', 's2')
    enqueue(c, 'critical', 'c1')
    enqueue(c, 'normal', 'n2')
    expect(await serveAll(c, first, 5)).toEqual([
      'critical:c1',
      'normal:n1',
      'normal:n2',
      'sheddable:s1',
      'sheddable:s2',
    ])
  })

  it('serves the oldest waiter of a priority first in fifo order', async () => {
    const c = fakeClockController({ limit: 1, queue: { order: 'fifo' } })
    const first = permitOf(c.admit())
    for (const key of ['a', 'b', 'c']) enqueue(c, 'normal', key)
    expect(await serveAll(c, first, 3)).toEqual(['normal:a', 'normal:b', 'normal:c'])
  })

  it('serves the newest waiter of a priority first in lifo order, still by priority', async () => {
    const c = fakeClockController({ limit: 1, queue: { order: 'lifo' } })
    const first = permitOf(c.admit())
    for (const key of ['a', 'b', 'c']) enqueue(c, 'normal', key)
    enqueue(c, 'sheddable', 's')
    enqueue(c, 'critical', 'x')
    expect(await serveAll(c, first, 5)).toEqual([
      'critical:x',
      'normal:c',
      'normal:b',
      'normal:a',
      'sheddable:s',
    ])
  })

  it('serves fifo in adaptive order while the queue keeps emptying', async () => {
    const c = fakeClockController({
      limit: 1,
      queue: { order: 'adaptive', codelIntervalMs: 100, codelTargetMs: 5, timeoutMs: 1000 },
    })
    let holder = permitOf(c.admit())
    // Each round the queue empties well within the interval: never a standing queue.
    for (let round = 0; round < 5; round++) {
      enqueue(c, 'normal', `a${round}`)
      jest.advanceTimersByTime(30)
      enqueue(c, 'normal', `b${round}`)
      jest.advanceTimersByTime(30)
      const served = await serveAll(c, holder, 2)
      expect(served).toEqual([`normal:a${round}`, `normal:b${round}`])
      holder = last as Permit
      expect(c.stats().queued).toBe(0)
    }
  })

  it('starts the CoDel clock when the first queue forms, not when the controller was created', async () => {
    const c = fakeClockController({
      limit: 1,
      queue: { order: 'adaptive', codelIntervalMs: 100, codelTargetMs: 5, timeoutMs: 1000 },
    })
    jest.advanceTimersByTime(500) // long after creation, the queue has never stood
    const first = permitOf(c.admit())
    enqueue(c, 'normal', 'a')
    jest.advanceTimersByTime(10)
    enqueue(c, 'normal', 'b')
    jest.advanceTimersByTime(10)
    // Not standing: fifo, and nobody timed out by the 5 ms target.
    expect(await serveAll(c, first, 2)).toEqual(['normal:a', 'normal:b'])
  })

  it('switches adaptive order to lifo with the CoDel target once the queue has stood for the interval', async () => {
    const c = fakeClockController({
      limit: 1,
      queue: { order: 'adaptive', codelIntervalMs: 100, codelTargetMs: 5, timeoutMs: 1000 },
    })
    const first = permitOf(c.admit())
    const old = track(c.acquire({ key: 'old' }))
    jest.advanceTimersByTime(97)
    const a = track(c.acquire({ key: 'a' }))
    jest.advanceTimersByTime(1)
    const b = track(c.acquire({ key: 'b' }))
    jest.advanceTimersByTime(1) // t = 99: not standing yet, nobody has waited 1000 ms
    await flush()
    expect(c.stats().queued).toBe(3)
    jest.advanceTimersByTime(1) // t = 100: standing; waiters older than 5 ms leave
    await flush()
    expect(rejectionReason(old)).toBe('queueTimeout')
    expect(c.stats().queued).toBe(2)
    first.release() // t = 100, standing queue: the newest is served
    await flush()
    expect(admittedPermit(b).priority).toBe('normal')
    expect(a.settled).toBe(false)
    // `a` came at t = 97; the CoDel target of 5 ms puts it out at t = 102, not at 1097.
    jest.advanceTimersByTime(1)
    await flush()
    expect(a.settled).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(rejectionReason(a)).toBe('queueTimeout')
    // The queue has emptied: the next queue is served fifo with the full timeout again.
    enqueue(c, 'normal', 'c')
    jest.advanceTimersByTime(10)
    enqueue(c, 'normal', 'd')
    jest.advanceTimersByTime(10)
    expect(await serveAll(c, admittedPermit(b), 2)).toEqual(['normal:c', 'normal:d'])
    last?.release()
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0 })
    expect(jest.getTimerCount()).toBe(0)
  })
})

describe('a full queue', () => {
  it('evicts the newest waiter of the lowest priority for a higher-priority arrival', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 3 } })
    permitOf(c.admit())
    const s1 = track(c.acquire({ priority: 'sheddable', key: 's1' }))
    const n1 = track(c.acquire({ priority: 'normal', key: 'n1' }))
    const s2 = track(c.acquire({ priority: 'sheddable', key: 's2' }))
    // Full: a critical arrival takes the place of the newest sheddable, not of the newer normal.
    const c1 = track(c.acquire({ priority: 'critical', key: 'c1' }))
    await flush()
    expect(rejectionReason(s2)).toBe('evicted')
    expect(s1.settled || n1.settled || c1.settled).toBe(false)
    expect((s2.value as { rejection: Rejection }).rejection.status).toBe(503)
    // A normal arrival may still evict the remaining sheddable.
    const n2 = track(c.acquire({ priority: 'normal', key: 'n2' }))
    await flush()
    expect(rejectionReason(s1)).toBe('evicted')
    expect(c.stats().queuedByPriority).toEqual({ critical: 1, normal: 2, sheddable: 0 })
    expect(c.stats().activeKeys).toBe(3)
    expect(c.stats().counters.rejected.evicted).toBe(2)
    expect(n2.settled).toBe(false)
  })

  it('stays within its size when a listener acquires as a waiter is evicted', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 1 } })
    permitOf(c.admit())
    void c.acquire({ priority: 'sheddable' })
    let retry: Tracked<Decision> | undefined
    c.on((e) => {
      // A listener that retries the evicted request at once (re-entrant acquire).
      if (e.type === 'reject' && e.rejection.reason === 'evicted') {
        retry = track(c.acquire({ priority: 'normal' }))
      }
    })
    const critical = track(c.acquire({ priority: 'critical' }))
    expect(c.stats().queued).toBe(1)
    expect(c.stats().queuedByPriority).toEqual({ critical: 1, normal: 0, sheddable: 0 })
    await flush()
    expect(retry && rejectionReason(retry)).toBe('queueFull')
    expect(critical.settled).toBe(false)
  })

  it('refuses with queueFull when no lower priority waits', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 2 } })
    permitOf(c.admit())
    void c.acquire({ priority: 'normal' })
    void c.acquire({ priority: 'critical' })
    expect(rejectionOf(c.admit({ priority: 'normal' })).reason).toBe('queueFull')
    expect(rejectionOf(c.admit({ priority: 'sheddable' })).reason).toBe('queueFull')
    expect(c.stats().queued).toBe(2)
    expect(c.stats().counters.rejected.queueFull).toBe(2)
    expect(c.stats().counters.rejected.evicted).toBe(0)
  })

  it('never queues when `queue.size` is 0', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 } })
    permitOf(c.admit())
    const rejection = rejectionOf(c.admit({ priority: 'critical' }))
    expect(rejection).toMatchObject({ reason: 'queueFull', status: 503 })
    expect(c.stats().queued).toBe(0)
    expect(jest.getTimerCount()).toBe(0)
  })
})

describe('queue timeout', () => {
  it('rejects a waiter with queueTimeout exactly at timeoutMs, not before', async () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 100 } })
    permitOf(c.admit())
    const waiter = track(c.acquire())
    jest.advanceTimersByTime(99)
    await flush()
    expect(waiter.settled).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(rejectionReason(waiter)).toBe('queueTimeout')
    expect(c.stats().queued).toBe(0)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('times each waiter out at its own time with a single timer', async () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 100 } })
    permitOf(c.admit())
    const waiters: Tracked<Decision>[] = []
    for (let i = 0; i < 5; i++) {
      waiters.push(track(c.acquire({ priority: c.priorities[i % 3] as string })))
      expect(jest.getTimerCount()).toBe(1)
      jest.advanceTimersByTime(10)
    }
    // t = 50; waiter i came at 10 i and must leave at 100 + 10 i.
    for (let i = 0; i < 5; i++) {
      jest.advanceTimersByTime(100 + 10 * i - 1 - Date.now())
      await flush()
      expect(waiters[i]?.settled).toBe(false)
      jest.advanceTimersByTime(1)
      await flush()
      expect(rejectionReason(waiters[i] as Tracked<Decision>)).toBe('queueTimeout')
      expect(jest.getTimerCount()).toBe(i < 4 ? 1 : 0)
    }
  })

  it('keeps a very long timeout pending instead of firing its timer in a loop', async () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 30 * 24 * 3600 * 1000 } })
    permitOf(c.admit())
    const setTimeoutSpy = jest.spyOn(globalThis, 'setTimeout')
    const waiter = track(c.acquire())
    jest.advanceTimersByTime(1000)
    await flush()
    expect(waiter.settled).toBe(false)
    // A delay over 2^31 - 1 ms overflows to 1 ms in Node: one timer per ms would follow.
    expect(setTimeoutSpy.mock.calls.length).toBeLessThanOrEqual(2)
    setTimeoutSpy.mockRestore()
    c.close()
    await flush()
    expect(rejectionReason(waiter)).toBe('closed')
    expect(jest.getTimerCount()).toBe(0)
  })
})

describe('a waiter reached by a release before its timer runs', () => {
  it('is timed out, not admitted, when its wait reached timeoutMs', async () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 100 } })
    const first = permitOf(c.admit())
    const old = track(c.acquire())
    jest.setSystemTime(50)
    const young = track(c.acquire())
    jest.setSystemTime(100) // the clock moved on, the timer has not run yet
    first.release()
    await flush()
    expect(rejectionReason(old)).toBe('queueTimeout')
    expect(young.value?.admitted).toBe(true)
  })
})

describe('deadlines', () => {
  it('rejects a deadline at or before now with `deadline`, even with a free slot', () => {
    jest.setSystemTime(1000)
    const c = fakeClockController({ limit: 5 })
    expect(rejectionOf(c.admit({ deadline: 1000 })).reason).toBe('deadline')
    expect(rejectionOf(c.admit({ deadline: 999.5 })).reason).toBe('deadline')
    expect(rejectionOf(c.admit({ deadline: 0 })).reason).toBe('deadline')
    expect(permitOf(c.admit({ deadline: 1001 })).released).toBe(false)
    // Not a number: no deadline, rather than a crash or a rejection.
    expect(permitOf(c.admit({ deadline: Number.NaN })).released).toBe(false)
    expect(c.stats().inFlight).toBe(2)
    expect(c.stats().counters.rejected.deadline).toBe(3)
  })

  it('rejects a waiter with `deadline` when its deadline passes while queued', async () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 1000 } })
    permitOf(c.admit())
    const later = track(c.acquire({ deadline: 80 }))
    const sooner = track(c.acquire({ deadline: 50 }))
    const none = track(c.acquire())
    jest.advanceTimersByTime(49)
    await flush()
    expect(sooner.settled || later.settled).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(rejectionReason(sooner)).toBe('deadline')
    expect(later.settled).toBe(false)
    jest.advanceTimersByTime(30)
    await flush()
    expect(rejectionReason(later)).toBe('deadline')
    expect(none.settled).toBe(false)
    jest.advanceTimersByTime(920)
    await flush()
    expect(rejectionReason(none)).toBe('queueTimeout')
    expect(jest.getTimerCount()).toBe(0)
  })

  it('does not admit a waiter whose deadline is exactly now when a slot frees', async () => {
    const c = fakeClockController({ limit: 1 })
    const first = permitOf(c.admit())
    const due = track(c.acquire({ deadline: 50 }))
    jest.setSystemTime(50) // the timer, due now too, has not run yet
    first.release()
    await flush()
    expect(rejectionReason(due)).toBe('deadline')
  })

  it('treats a NaN deadline as none while queued too', async () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 100 } })
    permitOf(c.admit())
    const waiter = track(c.acquire({ deadline: Number.NaN }))
    jest.advanceTimersByTime(99)
    await flush()
    expect(waiter.settled).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(rejectionReason(waiter)).toBe('queueTimeout')
  })

  it('says deadline rather than queueTimeout when both fall due together', async () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 100 } })
    permitOf(c.admit())
    const both = track(c.acquire({ deadline: 100 }))
    jest.advanceTimersByTime(100)
    await flush()
    expect(rejectionReason(both)).toBe('deadline')
  })

  it('does not admit a waiter whose deadline passed before its timer ran', async () => {
    const c = fakeClockController({ limit: 1 })
    const first = permitOf(c.admit())
    const late = track(c.acquire({ deadline: 50 }))
    const next = track(c.acquire())
    jest.setSystemTime(60) // the clock moved on, the timer has not run yet
    first.release()
    await flush()
    expect(rejectionReason(late)).toBe('deadline')
    expect(admittedPermit(next).released).toBe(false)
    expect(c.stats()).toMatchObject({ inFlight: 1, queued: 0 })
  })
})

describe('abort signals', () => {
  it('rejects an already-aborted signal with `aborted`, even with a free slot', () => {
    const c = fakeClockController({ limit: 5 })
    const signal = new CountingSignal()
    signal.aborted = true
    const rejection = rejectionOf(c.admit({ signal }))
    expect(rejection).toEqual({ reason: 'aborted', status: 503, retryAfterSeconds: 1 })
    expect(signal.added).toBe(0)
    const real = new AbortController()
    real.abort()
    expect(rejectionOf(c.admit({ signal: real.signal })).reason).toBe('aborted')
    expect(c.stats().inFlight).toBe(0)
  })

  it('takes an aborted waiter out at once and removes its listener', async () => {
    const c = fakeClockController({ limit: 1 })
    permitOf(c.admit())
    const signal = new CountingSignal()
    const waiter = track(c.acquire({ signal, key: 'gone' }))
    const other = track(c.acquire())
    expect(signal.added).toBe(1)
    signal.abort()
    expect(c.stats().queued).toBe(1)
    expect(c.stats().activeKeys).toBe(0)
    await flush()
    expect(rejectionReason(waiter)).toBe('aborted')
    expect(other.settled).toBe(false)
    expect(signal.listeners.size).toBe(0)
  })

  it('does not admit a waiter whose signal reads aborted before its abort event arrives', async () => {
    const c = fakeClockController({ limit: 1 })
    const holder = permitOf(c.admit())
    const signal = new CountingSignal()
    const waiter = track(c.acquire({ signal }))
    const other = track(c.acquire())
    // Aborted, not yet told: a Node socket is destroyed a tick before its `close` event.
    signal.aborted = true
    holder.release()
    await flush()
    expect(rejectionReason(waiter)).toBe('aborted')
    expect(admittedPermit(other).released).toBe(false)
    expect(signal.listeners.size).toBe(0)
    expect(c.stats()).toMatchObject({ inFlight: 1, queued: 0 })
  })

  it('does the same with a real AbortController', async () => {
    const c = fakeClockController({ limit: 1 })
    permitOf(c.admit())
    const controller = new AbortController()
    const waiter = track(c.acquire({ signal: controller.signal }))
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    controller.abort()
    await flush()
    expect(rejectionReason(waiter)).toBe('aborted')
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect(c.stats().queued).toBe(0)
    expect(jest.getTimerCount()).toBe(0)
  })

  it.each([
    ['admitted', 'success'],
    ['timed out', 'queueTimeout'],
    ['evicted', 'evicted'],
    ['closed', 'closed'],
    ['past its deadline', 'deadline'],
  ])('removes the abort listener of a waiter that leaves %s', async (_door, expected) => {
    const c = fakeClockController({ limit: 1, queue: { size: 1, timeoutMs: 100 } })
    const first = permitOf(c.admit())
    const fake = new CountingSignal()
    const real = new AbortController()
    const waiters = [
      track(c.acquire({ signal: fake, priority: 'sheddable', deadline: 50 })),
      // Two waiters cannot both sit in a queue of one: use a second controller for the real signal.
    ]
    const c2 = fakeClockController({ limit: 1, queue: { size: 1, timeoutMs: 100 } })
    const first2 = permitOf(c2.admit())
    waiters.push(track(c2.acquire({ signal: real.signal, priority: 'sheddable', deadline: 50 })))
    if (expected === 'success') {
      first.release()
      first2.release()
    } else if (expected === 'queueTimeout') {
      // Without the deadline the timeout is what ends the wait: use fresh waiters.
    } else if (expected === 'evicted') {
      void c.acquire({ priority: 'critical' })
      void c2.acquire({ priority: 'critical' })
    } else if (expected === 'closed') {
      c.close()
      c2.close()
    } else {
      jest.advanceTimersByTime(50)
    }
    await flush()
    if (expected !== 'queueTimeout') {
      for (const w of waiters) {
        const d = w.value
        expect(d?.admitted ? 'success' : d?.rejection.reason).toBe(expected)
      }
      expect(fake.listeners.size).toBe(0)
      expect(fake.removed).toBe(1)
      expect(getEventListeners(real.signal, 'abort')).toHaveLength(0)
      return
    }
    // queueTimeout: a controller whose waiters carry no deadline.
    const c3 = fakeClockController({ limit: 1, queue: { timeoutMs: 100 } })
    permitOf(c3.admit())
    const fake3 = new CountingSignal()
    const real3 = new AbortController()
    const a = track(c3.acquire({ signal: fake3 }))
    const b = track(c3.acquire({ signal: real3.signal }))
    jest.advanceTimersByTime(100)
    await flush()
    expect([rejectionReason(a), rejectionReason(b)]).toEqual(['queueTimeout', 'queueTimeout'])
    expect(fake3.listeners.size).toBe(0)
    expect(getEventListeners(real3.signal, 'abort')).toHaveLength(0)
  })

  it('ignores an abort after the request was admitted', async () => {
    const c = fakeClockController({ limit: 1 })
    const first = permitOf(c.admit())
    const controller = new AbortController()
    const waiter = track(c.acquire({ signal: controller.signal }))
    first.release()
    await flush()
    const permit = admittedPermit(waiter)
    controller.abort()
    expect(c.stats().inFlight).toBe(1)
    expect(c.stats().counters.rejected.aborted).toBe(0)
    permit.release()
    expect(c.stats().inFlight).toBe(0)
  })
})

describe('close()', () => {
  it('rejects waiters and later requests with `closed`, keeping granted permits valid', async () => {
    const closeSource = jest.fn()
    const c = fakeClockController({ limit: 2, pressure: { level: 0, close: closeSource } })
    const a = permitOf(c.admit({ key: 'a' }))
    const b = permitOf(c.admit())
    const waiters = [track(c.acquire({ key: 'w' })), track(c.acquire({ priority: 'critical' }))]
    c.close()
    await flush()
    for (const w of waiters) expect(rejectionReason(w)).toBe('closed')
    expect(c.closed).toBe(true)
    expect(c.stats()).toMatchObject({ closed: true, inFlight: 2, queued: 0, activeKeys: 1 })
    expect(jest.getTimerCount()).toBe(0)
    expect(closeSource).toHaveBeenCalledTimes(1)

    expect(rejectionOf(c.admit()).reason).toBe('closed')
    expect((await c.acquire({ priority: 'critical' })).admitted).toBe(false)
    expect(c.tryAcquire()).toBeUndefined()
    await expect(c.run(() => 1)).rejects.toBeInstanceOf(RejectedError)

    a.release()
    expect(c.stats()).toMatchObject({ inFlight: 1, activeKeys: 0 })
    b.release('failure')
    expect(c.stats().inFlight).toBe(0)
    expect(c.stats().counters.released).toEqual({ success: 1, failure: 1, ignore: 0 })

    c.close()
    expect(closeSource).toHaveBeenCalledTimes(1)
    expect(c.stats().counters.rejected.closed).toBe(6)
  })

  it('rejects with closed a request during whose decision a listener closed the controller', async () => {
    const source = { level: 0.5 }
    const c = fakeClockController({ limit: 2, pressure: source })
    permitOf(c.admit())
    const waiter = track(c.acquire())
    let closeOnAdmit = true
    c.on((e) => {
      // Closing from a listener, e.g. a shutdown hook watching the events.
      if (e.type === 'admit' && closeOnAdmit) {
        closeOnAdmit = false
        c.close()
      }
    })
    source.level = 0
    // The eased pressure frees a slot: this decision first admits the waiter, which closes.
    const late = track(c.acquire())
    await flush()
    expect(waiter.value?.admitted).toBe(true)
    expect(rejectionReason(late)).toBe('closed')
    expect(c.stats()).toMatchObject({ queued: 0, inFlight: 2 })
    expect(jest.getTimerCount()).toBe(0)
  })

  it('reports a pressure source whose close() throws, and still closes', () => {
    const c = fakeClockController({
      pressure: {
        level: 0,
        close() {
          throw new Error('sensor stuck')
        },
      },
    })
    const events: ControllerEvent[] = []
    c.on((e) => events.push(e))
    expect(() => c.close()).not.toThrow()
    expect(c.closed).toBe(true)
    expect(events).toEqual([
      { type: 'error', source: 'pressure.close', error: new Error('sensor stuck') },
    ])
    expect(c.stats().counters.errors).toBe(1)
  })
})

describe('permit.release()', () => {
  it('is idempotent: a second release frees no second slot and admits no second waiter', async () => {
    const c = fakeClockController({ limit: 1 })
    const permit = permitOf(c.admit())
    const w1 = track(c.acquire())
    const w2 = track(c.acquire())
    permit.release()
    permit.release()
    permit.release('failure')
    await flush()
    expect(permit.released).toBe(true)
    expect(w1.value?.admitted).toBe(true)
    expect(w2.settled).toBe(false)
    expect(c.stats()).toMatchObject({ inFlight: 1, queued: 1 })
    expect(c.stats().counters.released).toEqual({ success: 1, failure: 0, ignore: 0 })
    admittedPermit(w1).release()
    admittedPermit(w1).release()
    await flush()
    admittedPermit(w2).release()
    admittedPermit(w2).release()
    expect(c.stats().inFlight).toBe(0)
    // No negative in-flight count lets an extra request in above the limit.
    permitOf(c.admit())
    expect(c.admit()).toBeInstanceOf(Promise)
  })

  it('counts success, failure and ignore outcomes, and treats an unknown outcome as ignore', () => {
    const c = fakeClockController({ limit: 10 })
    permitOf(c.admit()).release()
    permitOf(c.admit()).release('success')
    permitOf(c.admit()).release('failure')
    permitOf(c.admit()).release('ignore')
    permitOf(c.admit()).release('bogus' as 'ignore')
    expect(c.stats().counters.released).toEqual({ success: 2, failure: 1, ignore: 2 })
    expect(c.stats().inFlight).toBe(0)
  })

  it('survives a release listener that releases the same permit again', () => {
    const c = fakeClockController({ limit: 2 })
    const permit = permitOf(c.admit())
    c.on((e) => {
      if (e.type === 'release') permit.release()
    })
    permit.release()
    expect(c.stats().inFlight).toBe(0)
    expect(c.stats().counters.released.success).toBe(1)
  })
})

describe('tryAcquire()', () => {
  it('returns a permit or undefined synchronously and never queues', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 10 } })
    const permit = c.tryAcquire({ priority: 'critical' })
    expect(permit?.priority).toBe('critical')
    expect(c.tryAcquire({ priority: 'critical' })).toBeUndefined()
    expect(c.stats()).toMatchObject({ inFlight: 1, queued: 0 })
    expect(c.stats().counters.queued).toBe(0)
    expect(c.stats().counters.rejected.queueFull).toBe(1)
    expect(jest.getTimerCount()).toBe(0)
    permit?.release()
    expect(c.tryAcquire()).toBeDefined()
  })

  it('never constructs a promise', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 10 } })
    const original = globalThis.Promise
    let constructed = 0
    globalThis.Promise = class extends original<unknown> {
      constructor(executor: ConstructorParameters<typeof Promise<unknown>>[0]) {
        constructed++
        super(executor)
      }
    } as PromiseConstructor
    try {
      const permit = c.tryAcquire()
      c.tryAcquire()
      c.tryAcquire({ deadline: -1 })
      permit?.release()
    } finally {
      globalThis.Promise = original
    }
    expect(constructed).toBe(0)
  })

  it('does not take a slot ahead of a waiter', async () => {
    const c = fakeClockController({ limit: 1 })
    const first = permitOf(c.admit())
    const waiter = track(c.acquire({ priority: 'sheddable' }))
    // A grown limit or a release is what frees a slot; the waiter gets it first either way.
    first.release()
    expect(c.tryAcquire({ priority: 'critical' })).toBeUndefined()
    await flush()
    expect(waiter.value?.admitted).toBe(true)
  })
})

describe('run()', () => {
  it('returns the result and releases with success', async () => {
    const c = fakeClockController({ limit: 1 })
    await expect(c.run(async () => 'done')).resolves.toBe('done')
    await expect(c.run(() => 7)).resolves.toBe(7)
    expect(c.stats().inFlight).toBe(0)
    expect(c.stats().counters.released).toEqual({ success: 2, failure: 0, ignore: 0 })
  })

  it('releases with failure when the function throws, synchronously or not', async () => {
    const c = fakeClockController({ limit: 1 })
    const boom = new Error('boom')
    await expect(
      c.run(() => {
        throw boom
      }),
    ).rejects.toBe(boom)
    await expect(c.run(async () => Promise.reject(boom))).rejects.toBe(boom)
    expect(c.stats().inFlight).toBe(0)
    expect(c.stats().counters.released).toEqual({ success: 0, failure: 2, ignore: 0 })
  })

  it('waits its turn in the queue before running', async () => {
    const c = fakeClockController({ limit: 1 })
    const first = permitOf(c.admit())
    const fn = jest.fn(() => 'late')
    const result = track(c.run(fn))
    await flush()
    expect(fn).not.toHaveBeenCalled()
    first.release()
    await flush()
    expect(result.value).toBe('late')
    expect(c.stats().inFlight).toBe(0)
  })

  it('rejects with a RejectedError carrying the rejection when not admitted', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 } })
    permitOf(c.admit())
    const fn = jest.fn()
    const error = await c.run(fn).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RejectedError)
    expect(error).toBeInstanceOf(Error)
    const rejected = error as RejectedError
    expect(rejected.name).toBe('RejectedError')
    expect(rejected.rejection).toEqual({ reason: 'queueFull', status: 503, retryAfterSeconds: 1 })
    expect(rejected.message).toBe('Request rejected: queueFull (503)')
    expect(fn).not.toHaveBeenCalled()
  })
})

describe('dry run', () => {
  it('holds a shadow slot, never a real one, when a slot is free', () => {
    const c = fakeClockController({ limit: 1 })
    const decision = c.admit({}, { dryRun: true })
    const permit = permitOf(decision)
    expect((decision as { dryRun?: unknown }).dryRun).toBeUndefined()
    expect(c.stats()).toMatchObject({ inFlight: 0, dryRun: { inFlight: 1, queued: 0 } })
    // A dry run never takes a slot from real traffic.
    permitOf(c.admit()).release()
    permit.release()
    expect(c.stats()).toMatchObject({ inFlight: 0, dryRun: { inFlight: 0, queued: 0 } })
    expect(c.stats().counters).toMatchObject({ admitted: 1, dryRun: { wouldAdmit: 1 } })
  })

  it('lets a request that would queue through with a shadow permit', () => {
    const c = fakeClockController({ limit: 1 })
    permitOf(c.admit())
    const decision = c.admit({}, { dryRun: true })
    expect(decision).not.toBeInstanceOf(Promise)
    expect((decision as { dryRun?: unknown }).dryRun).toBe('queue')
    const shadow = permitOf(decision)
    expect(c.stats()).toMatchObject({ inFlight: 1, queued: 0 })
    shadow.release()
    shadow.release()
    expect(shadow.released).toBe(true)
    expect(c.stats().inFlight).toBe(1)
    expect(c.stats().counters).toMatchObject({ queued: 0, admitted: 1 })
    expect(c.stats().counters.dryRun.wouldQueue).toBe(1)
    expect(jest.getTimerCount()).toBe(0)
  })

  it('lets a request that would be rejected through and records why', () => {
    jest.setSystemTime(100)
    const c = fakeClockController({ limit: 1, queue: { size: 0 } })
    permitOf(c.admit())
    const full = c.admit({}, { dryRun: true })
    expect((full as { dryRun?: Rejection }).dryRun).toMatchObject({ reason: 'queueFull' })
    const late = c.admit({ deadline: 50, priority: 'critical' }, { dryRun: true })
    expect((late as { dryRun?: Rejection }).dryRun).toMatchObject({ reason: 'deadline' })
    expect(permitOf(late).priority).toBe('critical')
    const { counters } = c.stats()
    expect(counters.dryRun.wouldReject).toMatchObject({ queueFull: 1, deadline: 1 })
    expect(counters.rejected.queueFull + counters.rejected.deadline).toBe(0)
    expect(c.stats().inFlight).toBe(1)
  })
})

describe('fair share', () => {
  it('queues a key over its share while there is room, and refuses it with quota (429) only when the queue is full', async () => {
    const c = fakeClockController({ limit: 2, queue: { size: 2 } })
    const a1 = permitOf(c.admit({ key: 'a' }))
    permitOf(c.admit({ key: 'a' }))
    // Saturated, with room: a queues even though it holds more than b.
    const b1 = track(c.acquire({ key: 'b' }))
    const a3 = track(c.acquire({ key: 'a' }))
    // Full: b (weight 1) takes the place of a's waiter (a weighs 3).
    const b2 = track(c.acquire({ key: 'b' }))
    await flush()
    expect(a3.value).toMatchObject({ admitted: false, rejection: { reason: 'evicted' } })
    // Two shares of (2 + 2) / 2 = 2: a and b each hold 2, so neither may take more.
    const a4 = rejectionOf(c.admit({ key: 'a' }))
    expect(a4).toMatchObject({ reason: 'quota', status: 429 })
    expect(a4.retryAfterSeconds).toBeGreaterThanOrEqual(1)
    expect(rejectionOf(c.admit({ key: 'b' })).reason).toBe('quota')
    // A key with nothing held takes a place from the heaviest; a request without a key
    // then finds no one two heavier than its flow, and the queue simply full.
    const c1 = track(c.acquire({ key: 'c' }))
    await flush()
    expect(b2.value).toMatchObject({ admitted: false, rejection: { reason: 'evicted' } })
    expect(rejectionOf(c.admit()).reason).toBe('queueFull')
    expect(c.stats().activeKeys).toBe(3)
    a1.release()
    await flush()
    expect(b1.value?.admitted).toBe(true)
    expect(c1.settled).toBe(false)
  })

  it('ignores a key that is not a string', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 } })
    permitOf(c.admit({ key: 7 as unknown as string }))
    expect(c.stats().activeKeys).toBe(0)
    expect(rejectionOf(c.admit({ key: 7 as unknown as string })).reason).toBe('queueFull')
  })

  it('never refuses with quota while a slot is free', () => {
    const c = fakeClockController({ limit: 5, queue: { size: 0 } })
    permitOf(c.admit({ key: 'b' }))
    for (let i = 0; i < 4; i++) permitOf(c.admit({ key: 'a' }))
    expect(rejectionOf(c.admit({ key: 'a' })).reason).toBe('quota')
    expect(c.stats().counters.rejected.quota).toBe(1)
  })

  it('forgets every key once its work has left by any door', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 2, timeoutMs: 100 } })
    const first = permitOf(c.admit({ key: 'a' }))
    const controller = new AbortController()
    void c.acquire({ key: 'b', signal: controller.signal, priority: 'sheddable' })
    void c.acquire({ key: 'c', priority: 'sheddable' })
    void c.acquire({ key: 'd', priority: 'critical' }) // evicts c
    expect(c.stats().activeKeys).toBe(3)
    controller.abort()
    expect(c.stats().activeKeys).toBe(2)
    void c.acquire({ key: 'e' })
    jest.advanceTimersByTime(100) // e times out
    await flush()
    expect(c.stats().activeKeys).toBe(1)
    const held: Permit[] = []
    const f = c.acquire({ key: 'f' }).then((d) => {
      if (d.admitted) held.push(d.permit)
    })
    first.release()
    await flush()
    void f
    expect(c.stats().activeKeys).toBe(1)
    for (const p of held) p.release()
    expect(c.stats()).toMatchObject({ activeKeys: 0, inFlight: 0, queued: 0 })
  })
})

describe('pressure', () => {
  it('sheds the lowest priority first, sampled then overloaded, as pressure rises', () => {
    const source = { level: 0.25 }
    let draw = 0
    const c = fakeClockController({ limit: 100, pressure: source }, () => draw)
    // At 0.25 a sheddable request is admitted with probability 0.5.
    draw = 0.49
    expect(permitOf(c.admit({ priority: 'sheddable' })).priority).toBe('sheddable')
    draw = 0.5
    expect(rejectionOf(c.admit({ priority: 'sheddable' })).reason).toBe('sampled')
    expect(permitOf(c.admit({ priority: 'normal' })).priority).toBe('normal')
    source.level = 0.5
    draw = 0
    expect(rejectionOf(c.admit({ priority: 'sheddable' })).reason).toBe('overloaded')
    expect(permitOf(c.admit({ priority: 'normal' })).priority).toBe('normal')
    source.level = 0.75
    draw = 0.5
    expect(rejectionOf(c.admit({ priority: 'normal' })).reason).toBe('sampled')
    expect(permitOf(c.admit({ priority: 'critical' })).priority).toBe('critical')
    source.level = 1
    draw = 0
    expect(rejectionOf(c.admit({ priority: 'critical' })).reason).toBe('overloaded')
    expect(c.stats().counters.rejected).toMatchObject({ sampled: 2, overloaded: 2 })
  })

  it('caps the limit in force and frees the slots again when pressure eases', async () => {
    const source = { level: 0.5 }
    const c = fakeClockController({ limit: 10, pressure: source })
    expect(c.stats()).toMatchObject({ limit: 10, effectiveLimit: 5, pressure: 0.5 })
    for (let i = 0; i < 5; i++) permitOf(c.admit({ priority: 'critical' }))
    const waiter = track(c.acquire({ priority: 'critical' }))
    await flush()
    expect(waiter.settled).toBe(false)
    source.level = 0
    expect(permitOf(c.admit({ priority: 'critical' })).priority).toBe('critical')
    await flush()
    expect(waiter.value?.admitted).toBe(true)
    expect(c.stats()).toMatchObject({ effectiveLimit: 10, inFlight: 7, queued: 0 })
  })

  it('admits waiters into slots freed by eased pressure at the next timer tick', async () => {
    const source = { level: 0.5 }
    const c = fakeClockController({ limit: 2, pressure: source, queue: { timeoutMs: 100 } })
    permitOf(c.admit({ priority: 'critical' }))
    const old = track(c.acquire({ priority: 'critical' }))
    jest.advanceTimersByTime(50)
    const young = track(c.acquire({ priority: 'critical' }))
    source.level = 0 // no request arrives or completes to notice
    jest.advanceTimersByTime(50)
    await flush()
    expect(rejectionReason(old)).toBe('queueTimeout')
    expect(young.value?.admitted).toBe(true)
  })

  it.each([Number.NaN, -0.5, Number.NEGATIVE_INFINITY])(
    'fails open when the pressure level is broken (%p)',
    (level) => {
      const c = fakeClockController({ limit: 3, pressure: { level } }, () => 0.999)
      for (let i = 0; i < 3; i++) permitOf(c.admit({ priority: 'sheddable' }))
      expect(c.stats()).toMatchObject({ pressure: 0, effectiveLimit: 3, inFlight: 3 })
    },
  )

  it('fails open and reports it when reading the pressure level throws', () => {
    const broken = new Error('sensor gone')
    let failing = false
    const pressure = {
      get level(): number {
        if (failing) throw broken
        return 0
      },
    }
    const c = fakeClockController({ limit: 2, pressure })
    failing = true
    const errors: ControllerEvent[] = []
    c.on((e) => {
      if (e.type === 'error') errors.push(e)
    })
    permitOf(c.admit({ priority: 'sheddable' })).release()
    expect(c.stats()).toMatchObject({ pressure: 0, effectiveLimit: 2, inFlight: 0 })
    expect(errors[0]).toEqual({ type: 'error', source: 'pressure', error: broken })
  })
})

describe('events', () => {
  it('publishes queue, reject and release events with their fields', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 1, timeoutMs: 100 } })
    const events: ControllerEvent[] = []
    c.on((e) => events.push(e))
    const http = { method: 'GET', route: '/report' }
    const first = permitOf(c.admit({ priority: 'critical', key: 'x', ...http }))
    void c.acquire({ priority: 'sheddable', key: 'y', method: 'POST', route: '/orders' })
    const rejected = rejectionOf(c.admit({ priority: 'sheddable', key: 'z', ...http }))
    jest.advanceTimersByTime(30)
    first.release('failure')
    await flush()
    const y = { key: 'y', method: 'POST', route: '/orders' }
    expect(events).toEqual([
      {
        type: 'admit',
        priority: 'critical',
        key: 'x',
        ...http,
        waitedMs: 0,
        inFlight: 1,
        limit: 1,
      },
      { type: 'queue', priority: 'sheddable', ...y, queued: 1 },
      { type: 'reject', priority: 'sheddable', key: 'z', ...http, rejection: rejected },
      {
        type: 'release',
        priority: 'critical',
        key: 'x',
        ...http,
        outcome: 'failure',
        serviceMs: 30,
        inFlight: 0,
      },
      { type: 'admit', priority: 'sheddable', ...y, waitedMs: 30, inFlight: 1, limit: 1 },
    ])
  })

  it('leaves method and route out of every decision: they are only echoed', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 } })
    const events: ControllerEvent[] = []
    c.on((e) => events.push(e))
    const permit = permitOf(c.admit({ method: 'DELETE', route: '/x' }))
    expect(rejectionOf(c.admit({ method: 'GET', route: '/x' })).reason).toBe('queueFull')
    permit.release()
    // Non-string values are not echoed (a hostile or broken hook cannot smuggle objects into logs).
    permitOf(c.admit({ method: 7 as unknown as string, route: {} as unknown as string })).release()
    expect(events.map((e) => (e.type === 'error' ? e.type : [e.type, e.method, e.route]))).toEqual([
      ['admit', 'DELETE', '/x'],
      ['reject', 'GET', '/x'],
      ['release', 'DELETE', '/x'],
      ['admit', undefined, undefined],
      ['release', undefined, undefined],
    ])
  })

  it('publishes reportError() as an error event and counts it', () => {
    const c = fakeClockController()
    const events: ControllerEvent[] = []
    const error = new Error('priority hook threw')
    c.reportError('priority', error) // nobody listens yet: counted only
    c.on((e) => events.push(e))
    c.reportError('priority', error)
    expect(events).toEqual([{ type: 'error', source: 'priority', error }])
    expect(c.stats().counters.errors).toBe(2)
  })

  it('keeps admitting when a listener throws, and still calls the other listeners', async () => {
    const c = fakeClockController({ limit: 1 })
    c.on(() => {
      throw new Error('listener bug')
    })
    const seen: string[] = []
    c.on((e) => seen.push(e.type))
    const first = permitOf(c.admit())
    const waiter = track(c.acquire())
    expect(rejectionOf(c.admit({ deadline: -1 })).reason).toBe('deadline')
    first.release()
    await flush()
    expect(waiter.value?.admitted).toBe(true)
    expect(() => c.reportError('x', 1)).not.toThrow()
    expect(seen).toEqual(['admit', 'queue', 'reject', 'release', 'admit', 'error'])
  })

  it('stops calling a listener once unsubscribed, even from inside an event', () => {
    const c = fakeClockController({ limit: 10 })
    const a = jest.fn()
    const b = jest.fn()
    const offA = c.on(a)
    let offB = (): void => {}
    c.on(() => offB())
    offB = c.on(b)
    permitOf(c.admit())
    expect(a).toHaveBeenCalledTimes(1)
    expect(b).toHaveBeenCalledTimes(1) // the snapshot taken for this event still includes b
    offA()
    permitOf(c.admit())
    expect(a).toHaveBeenCalledTimes(1)
    expect(b).toHaveBeenCalledTimes(1)
  })

  it('unsubscribes only its own subscription of a listener subscribed twice', () => {
    const c = fakeClockController({ limit: 10 })
    const listener = jest.fn()
    const offFirst = c.on(listener)
    c.on(listener)
    permitOf(c.admit())
    expect(listener).toHaveBeenCalledTimes(2)
    offFirst()
    offFirst() // a second call is a no-op, not the removal of the other subscription
    permitOf(c.admit())
    expect(listener).toHaveBeenCalledTimes(3)
  })

  it('rejects a listener that is not a function', () => {
    const c = fakeClockController()
    expect(() => c.on('nope' as never)).toThrow(TypeError)
  })
})

describe('Retry-After', () => {
  /** Drives `completions` releases spread over the last second, one every 1000 / n ms. */
  function warmUp(c: ReturnType<typeof fakeClockController>, completions: number) {
    for (let i = 0; i < completions; i++) {
      permitOf(c.admit({ priority: 'critical' })).release()
      jest.advanceTimersByTime(1000 / completions)
    }
  }

  it('answers backlog ÷ completion rate, rounded up, with no jitter drawn', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 50 }, retryAfter: { maxSeconds: 60 } })
    warmUp(c, 10)
    permitOf(c.admit())
    for (const queued of [0, 9, 19, 49]) {
      while (c.stats().queued < queued) void c.acquire({ priority: 'critical' })
      const rate = c.stats().completionRatePerSecond
      expect(rate).toBeGreaterThan(0)
      const rejection = rejectionOf(c.admit({ deadline: Date.now() }))
      expect(rejection.retryAfterSeconds).toBe(Math.max(1, Math.ceil((queued + 1) / rate)))
    }
  })

  it('grows with the backlog and shrinks with the completion rate', () => {
    const answer = (completions: number, queued: number): number => {
      jest.setSystemTime(0)
      const c = fakeClockController({
        limit: 1,
        queue: { size: 100 },
        retryAfter: { maxSeconds: 600 },
      })
      warmUp(c, completions)
      permitOf(c.admit())
      for (let i = 0; i < queued; i++) void c.acquire()
      const value = rejectionOf(c.admit({ deadline: 0 })).retryAfterSeconds
      c.close()
      return value
    }
    expect(answer(5, 40)).toBeGreaterThan(answer(5, 10))
    expect(answer(5, 10)).toBeGreaterThan(answer(5, 0))
    expect(answer(20, 40)).toBeLessThan(answer(5, 40))
  })

  it('spreads answers with jitter, in whole seconds within [minSeconds, maxSeconds]', () => {
    let draw = 0
    const c = fakeClockController(
      { limit: 1, queue: { size: 100 }, retryAfter: { minSeconds: 2, maxSeconds: 9, jitter: 0.5 } },
      () => draw,
    )
    warmUp(c, 10)
    permitOf(c.admit())
    const seen = new Set<number>()
    for (let queued = 0; queued < 100; queued += 7) {
      while (c.stats().queued < queued) void c.acquire()
      for (draw = 0; draw < 1; draw += 0.125) {
        const seconds = rejectionOf(c.admit({ deadline: 0 })).retryAfterSeconds
        expect(Number.isInteger(seconds)).toBe(true)
        expect(seconds).toBeGreaterThanOrEqual(2)
        expect(seconds).toBeLessThanOrEqual(9)
        seen.add(seconds)
      }
    }
    // Same backlog, different draws: different answers.
    draw = 0
    const c2 = fakeClockController({ limit: 1, retryAfter: { maxSeconds: 60 } }, () => draw)
    warmUp(c2, 10)
    permitOf(c2.admit())
    const low = rejectionOf(c2.admit({ deadline: 0 })).retryAfterSeconds
    draw = 0.99
    const high = rejectionOf(c2.admit({ deadline: 0 })).retryAfterSeconds
    expect(high).toBeGreaterThan(low)
    expect(seen.size).toBeGreaterThan(3)
  })

  it('answers maxSeconds when nothing completed in a whole window while work is in flight', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 }, retryAfter: { maxSeconds: 17 } })
    permitOf(c.admit())
    // Too young to call it stalled.
    expect(rejectionOf(c.admit()).retryAfterSeconds).toBe(1)
    jest.advanceTimersByTime(2000)
    expect(rejectionOf(c.admit()).retryAfterSeconds).toBe(17)
  })

  it('answers minSeconds, not maxSeconds, to the first rejections of a burst after an idle spell', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 }, retryAfter: { maxSeconds: 17 } })
    permitOf(c.admit()).release()
    jest.advanceTimersByTime(5000)
    permitOf(c.admit())
    expect(rejectionOf(c.admit()).retryAfterSeconds).toBe(1)
    // Still nothing completed a whole window later: now it is stalled.
    jest.advanceTimersByTime(2000)
    expect(rejectionOf(c.admit()).retryAfterSeconds).toBe(17)
  })

  it('measures a burst after an idle spell over the burst, not over the quiet window', () => {
    const c = fakeClockController({ limit: 1 })
    jest.advanceTimersByTime(5000)
    for (let i = 0; i < 40; i++) {
      permitOf(c.admit()).release()
      jest.advanceTimersByTime(10)
    }
    // 40 completions in 400 ms: 100 per second, not 40 over a 2 s window.
    expect(c.stats().completionRatePerSecond).toBeCloseTo(100, 0)
  })

  it('keeps measuring over the window across a brief pause in a long busy spell', () => {
    const c = fakeClockController({ limit: 2 })
    const long = permitOf(c.admit())
    // 3 s busy: one request always in flight, another completing every 100 ms.
    let short = permitOf(c.admit())
    for (let t = 0; t < 3000; t += 100) {
      jest.advanceTimersByTime(100)
      short.release()
      short = permitOf(c.admit())
    }
    short.release()
    long.release()
    jest.advanceTimersByTime(50) // a pause far shorter than the window
    permitOf(c.admit())
    // About 10 completions per second, not 20 in the 50 ms since the pause.
    const rate = c.stats().completionRatePerSecond
    expect(rate).toBeGreaterThan(8)
    expect(rate).toBeLessThan(13)
  })

  it('is no longer stalled once a request completes', () => {
    const c = fakeClockController({ limit: 2, queue: { size: 0 }, retryAfter: { maxSeconds: 17 } })
    const stuck = permitOf(c.admit())
    permitOf(c.admit())
    jest.advanceTimersByTime(3000)
    expect(rejectionOf(c.admit()).retryAfterSeconds).toBe(17)
    stuck.release()
    permitOf(c.admit())
    expect(rejectionOf(c.admit()).retryAfterSeconds).toBeLessThan(17)
  })

  it('answers minSeconds when idle', () => {
    const c = fakeClockController({ retryAfter: { minSeconds: 3 } })
    jest.advanceTimersByTime(5000)
    expect(rejectionOf(c.admit({ deadline: 0 })).retryAfterSeconds).toBe(3)
  })

  it('answers 503 for every reason but quota, which is 429', async () => {
    const source = { level: 0 }
    let draw = 0
    const c = fakeClockController(
      { limit: 1, queue: { size: 1, timeoutMs: 100 }, pressure: source },
      () => draw,
    )
    const rejections = new Map<RejectionReason, Rejection>()
    c.on((e) => {
      if (e.type === 'reject') rejections.set(e.rejection.reason, e.rejection)
    })
    permitOf(c.admit({ key: 'a' }))
    void c.acquire({ priority: 'sheddable', key: 'b' })
    c.admit({ priority: 'critical', key: 'c' }) // evicts b
    c.admit({ key: 'c' }) // quota: c holds its share (1 + 1) / 2 = 1
    c.admit({ priority: 'critical' }) // queueFull
    jest.advanceTimersByTime(100) // c times out
    c.admit({ deadline: 0 })
    const aborted = new AbortController()
    aborted.abort()
    c.admit({ signal: aborted.signal })
    source.level = 0.25
    draw = 0.9
    c.admit({ priority: 'sheddable' })
    source.level = 0.5
    c.admit({ priority: 'sheddable' })
    source.level = 0
    void c.acquire()
    c.close()
    await flush()
    expect([...rejections.keys()].sort()).toEqual(
      [
        'aborted',
        'closed',
        'deadline',
        'evicted',
        'overloaded',
        'queueFull',
        'queueTimeout',
        'quota',
        'sampled',
      ].sort(),
    )
    for (const [reason, rejection] of rejections) {
      expect(rejection.status).toBe(reason === 'quota' ? 429 : 503)
      expect(Number.isInteger(rejection.retryAfterSeconds)).toBe(true)
      expect(rejection.retryAfterSeconds).toBeGreaterThanOrEqual(1)
    }
  })
})

describe('the single timer', () => {
  it('is gone once the queue drains by admission', async () => {
    const c = fakeClockController({ limit: 2 })
    const held = [permitOf(c.admit()), permitOf(c.admit())]
    const waiters = [track(c.acquire({ deadline: 500 })), track(c.acquire())]
    expect(jest.getTimerCount()).toBe(1)
    for (const p of held) p.release()
    await flush()
    expect(jest.getTimerCount()).toBe(0)
    for (const w of waiters) admittedPermit(w).release()
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, activeKeys: 0 })
  })

  it('is started once for many waiters that share the timeout, not once per request', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 200 } })
    permitOf(c.admit())
    const setTimeoutSpy = jest.spyOn(globalThis, 'setTimeout')
    for (let i = 0; i < 100; i++) void c.acquire({ priority: c.priorities[i % 3] as string })
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1)
    setTimeoutSpy.mockRestore()
    c.close()
  })

  it('stays single with many waiters and is gone after close()', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 200 } })
    permitOf(c.admit())
    for (let i = 0; i < 150; i++) {
      void c.acquire({ deadline: 5000 - i * 7, priority: c.priorities[i % 3] as string })
      expect(jest.getTimerCount()).toBe(1)
    }
    c.close()
    expect(jest.getTimerCount()).toBe(0)
    expect(c.stats().queued).toBe(0)
  })

  it('is gone once the last waiter is aborted', () => {
    const c = fakeClockController({ limit: 1 })
    permitOf(c.admit())
    const controller = new AbortController()
    void c.acquire({ signal: controller.signal })
    void c.acquire({ signal: controller.signal })
    expect(jest.getTimerCount()).toBe(1)
    controller.abort()
    expect(c.stats().queued).toBe(0)
    expect(jest.getTimerCount()).toBe(0)
  })
})

describe('stats()', () => {
  it('returns a snapshot that later activity and the caller cannot change', () => {
    const c = fakeClockController({ limit: 1 })
    const before = c.stats()
    ;(before.counters.rejected as Record<string, number>).queueFull = 99
    ;(before.queuedByPriority as Record<string, number>).normal = 99
    permitOf(c.admit())
    void c.acquire()
    const after = c.stats()
    expect(before).toMatchObject({ inFlight: 0, queued: 0 })
    expect(before.counters.admitted).toBe(0)
    expect(after.counters.rejected.queueFull).toBe(0)
    expect(after.queuedByPriority).toEqual({ critical: 0, normal: 1, sheddable: 0 })
  })
})

describe('a single priority', () => {
  it('queues, times out and sheds only at full pressure', async () => {
    const source = { level: 0.99 }
    const c = fakeClockController(
      {
        limit: 1,
        priorities: ['only'],
        defaultPriority: 'only',
        pressure: source,
        queue: { size: 1 },
      },
      () => 0.999,
    )
    const first = permitOf(c.admit({ priority: 'anything' }))
    expect(first.priority).toBe('only')
    const waiter = track(c.acquire())
    expect(rejectionOf(c.admit()).reason).toBe('queueFull')
    source.level = 1
    expect(rejectionOf(c.admit()).reason).toBe('overloaded')
    first.release()
    await flush()
    expect(waiter.value?.admitted).toBe(true)
  })
})

describe('createAdmissionController()', () => {
  it('exposes its clock as now()', () => {
    let t = 1234.5
    const c = createAdmissionController({ now: () => t })
    expect(c.now()).toBe(1234.5)
    t = 2000
    expect(c.now()).toBe(2000)
  })

  it('works with every option left out', async () => {
    jest.useRealTimers()
    const c = createAdmissionController()
    const decision = await c.acquire()
    expect(permitOf(decision).priority).toBe('normal')
    expect(c.stats()).toMatchObject({ limit: 100, inFlight: 1, closed: false })
    permitOf(decision).release()
    c.close()
  })
})
