import {
  type ControllerEvent,
  createAdmissionController,
  createMemoryKeyStore,
  type Decision,
  type KeyLease,
  type KeyLeaseResult,
  type KeyStore,
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

function reasonOf(tracked: Tracked<Decision>): string | undefined {
  const d = tracked.value
  if (d === undefined) return undefined
  return d.admitted ? 'admitted' : d.rejection.reason
}

/** A store that answers only when the test says so, and counts every lease. */
class DeferredStore implements KeyStore {
  readonly calls: {
    key: string
    limit: number
    resolve: (r: KeyLeaseResult) => void
    reject: (e: unknown) => void
  }[] = []
  granted = 0
  released = 0
  doubleReleases = 0
  closed = 0
  report: ((source: string, error: unknown) => void) | undefined

  acquire(key: string, limit: number): Promise<KeyLeaseResult> {
    return new Promise((resolve, reject) => this.calls.push({ key, limit, resolve, reject }))
  }

  attach(report: (source: string, error: unknown) => void): void {
    this.report = report
  }

  close(): void {
    this.closed++
  }

  /** Answers the oldest call with a lease. */
  grant(): void {
    const call = this.calls.shift()
    if (call === undefined) throw new Error('no pending call')
    this.granted++
    let done = false
    const lease: KeyLease = {
      release: () => {
        if (done) {
          this.doubleReleases++
          return
        }
        done = true
        this.released++
      },
    }
    call.resolve({ acquired: true, lease })
  }

  refuse(reason: 'quota' | 'unavailable', held?: number): void {
    this.calls.shift()?.resolve({ acquired: false, reason, held })
  }

  fail(error: unknown): void {
    this.calls.shift()?.reject(error)
  }

  get outstanding(): number {
    return this.granted - this.released
  }
}

describe('perKey with the in-memory store', () => {
  it('refuses a key at its cap at once with quota and 429, even while slots are free', () => {
    const c = fakeClockController({ limit: 100, perKey: { limit: 2 } })
    const a1 = permitOf(c.admit({ key: 'a' }))
    permitOf(c.admit({ key: 'a' }))
    const refused = c.admit({ key: 'a' })
    expect(refused).not.toBeInstanceOf(Promise)
    expect(rejectionOf(refused)).toMatchObject({ reason: 'quota', status: 429 })
    // Other keys and keyless requests are not affected.
    permitOf(c.admit({ key: 'b' }))
    permitOf(c.admit())
    a1.release()
    permitOf(c.admit({ key: 'a' }))
    expect(c.stats().counters.rejected.quota).toBe(1)
  })

  it('counts queued requests as places held, and never queues one over the cap', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 5 }, perKey: { limit: 2 } })
    const first = permitOf(c.admit({ key: 'a' }))
    const queued = track(c.acquire({ key: 'a' }))
    expect(rejectionOf(c.admit({ key: 'a' })).reason).toBe('quota')
    expect(c.stats().queued).toBe(1)
    first.release()
    return flush().then(() => expect(reasonOf(queued)).toBe('admitted'))
  })

  it('gives a lease back by every door: release, queue timeout, abort, eviction, queueFull, close', async () => {
    const store = createMemoryKeyStore()
    const c = fakeClockController({
      limit: 1,
      queue: { size: 2, timeoutMs: 100 },
      perKey: { limit: 10, store },
    })
    const holder = permitOf(c.admit({ key: 'h' }))
    expect(store.heldBy('h')).toBe(1)
    // Queue timeout.
    const timedOut = track(c.acquire({ key: 't' }))
    jest.advanceTimersByTime(100)
    await flush()
    expect(reasonOf(timedOut)).toBe('queueTimeout')
    expect(store.heldBy('t')).toBe(0)
    // Abort while queued.
    const signal = new CountingSignal()
    const aborted = track(c.acquire({ key: 'a', signal }))
    signal.abort()
    await flush()
    expect(reasonOf(aborted)).toBe('aborted')
    expect(store.heldBy('a')).toBe(0)
    // Eviction by a higher priority, then queueFull for one that cannot evict.
    const evicted = track(c.acquire({ key: 'e', priority: 'sheddable' }))
    const stays = track(c.acquire({ key: 's', priority: 'normal' }))
    void c.acquire({ key: 'c', priority: 'critical' })
    await flush()
    expect(reasonOf(evicted)).toBe('evicted')
    expect(store.heldBy('e')).toBe(0)
    expect(rejectionOf(c.admit({ key: 'q', priority: 'sheddable' })).reason).toBe('queueFull')
    expect(store.heldBy('q')).toBe(0)
    expect(store.size).toBe(3)
    // Close: both waiters leave.
    expect(reasonOf(stays)).toBeUndefined()
    c.close()
    await flush()
    expect(reasonOf(stays)).toBe('closed')
    expect(store.size).toBe(1)
    holder.release()
    holder.release()
    expect(store.size).toBe(0)
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, activeKeys: 0 })
  })

  it('gives the lease back when a waiter outlives its deadline', async () => {
    const store = createMemoryKeyStore()
    const c = fakeClockController({ limit: 1, perKey: { limit: 3, store } })
    const holder = permitOf(c.admit({ key: 'k' }))
    const late = track(c.acquire({ key: 'k', deadline: 50 }))
    jest.advanceTimersByTime(50)
    await flush()
    expect(reasonOf(late)).toBe('deadline')
    expect(store.heldBy('k')).toBe(1)
    holder.release()
    expect(store.size).toBe(0)
  })

  it("answers Retry-After from the key's own pace once it has completed work", () => {
    const c = fakeClockController({
      limit: 100,
      perKey: { limit: 2 },
      retryAfter: { jitter: 0, maxSeconds: 60 },
    })
    // The controller as a whole completes fast: keyless work of 10 ms.
    for (let i = 0; i < 50; i++) {
      const p = permitOf(c.admit())
      jest.advanceTimersByTime(10)
      p.release()
    }
    // Before `slow` has completed anything, its pace is unknown: the controller's own answer.
    const s1 = permitOf(c.admit({ key: 'slow' }))
    const s2 = permitOf(c.admit({ key: 'slow' }))
    expect(rejectionOf(c.admit({ key: 'slow' })).retryAfterSeconds).toBe(1)
    // `slow` takes 8 s a request: with two places, one frees about every 4 s.
    jest.advanceTimersByTime(8000)
    s1.release()
    permitOf(c.admit({ key: 'slow' }))
    expect(rejectionOf(c.admit({ key: 'slow' }))).toEqual({
      reason: 'quota',
      status: 429,
      retryAfterSeconds: 4,
    })
    s2.release()
  })

  it('takes a per-key limit from a function, reports one that fails, and never caps on its failure', () => {
    const errors: unknown[] = []
    const limits: Record<string, number> = { gold: 3, banned: 0, free: Number.POSITIVE_INFINITY }
    const store = createMemoryKeyStore()
    const acquire = jest.spyOn(store, 'acquire')
    const c = fakeClockController({
      limit: 100,
      perKey: {
        limit: (key) => {
          if (key === 'throws') throw new Error('lookup failed')
          return limits[key] ?? (key === 'weird' ? -1 : 1)
        },
        store,
      },
    })
    c.on((e) => {
      if (e.type === 'error') errors.push(e)
    })
    for (let i = 0; i < 3; i++) permitOf(c.admit({ key: 'gold' }))
    expect(rejectionOf(c.admit({ key: 'gold' })).reason).toBe('quota')
    expect(rejectionOf(c.admit({ key: 'banned' })).reason).toBe('quota')
    permitOf(c.admit({ key: 'other' }))
    expect(rejectionOf(c.admit({ key: 'other' })).reason).toBe('quota')
    acquire.mockClear()
    for (let i = 0; i < 5; i++) permitOf(c.admit({ key: 'free' }))
    expect(acquire).not.toHaveBeenCalled()
    permitOf(c.admit({ key: 'throws' }))
    permitOf(c.admit({ key: 'weird' }))
    expect(errors).toEqual([
      { type: 'error', source: 'perKey.limit', error: new Error('lookup failed') },
      {
        type: 'error',
        source: 'perKey.limit',
        error: new RangeError(
          'Expected `perKey.limit` to answer an integer ≥ 0 or Infinity, got `-1` (number).',
        ),
      },
    ])
    expect(c.stats().counters.errors).toBe(2)
  })

  it('never calls the store for a request without a key, nor without perKey', () => {
    const store = createMemoryKeyStore()
    const acquire = jest.spyOn(store, 'acquire')
    const c = fakeClockController({ perKey: { limit: 1, store } })
    permitOf(c.admit()).release()
    permitOf(c.admit({ key: 7 as unknown as string })).release()
    expect(acquire).not.toHaveBeenCalled()
    const plain = fakeClockController()
    for (let i = 0; i < 3; i++) permitOf(plain.admit({ key: 'a' }))
  })

  it('keeps a dry run honest: a key over its cap is let through and counted, and its lease goes back', () => {
    const store = createMemoryKeyStore()
    const c = fakeClockController({ limit: 10, perKey: { limit: 1, store } })
    const d1 = c.admit({ key: 'a' }, { dryRun: true })
    const d2 = c.admit({ key: 'a' }, { dryRun: true })
    expect(d2).toMatchObject({ admitted: true, dryRun: { reason: 'quota', status: 429 } })
    expect(c.stats().counters.dryRun.wouldReject.quota).toBe(1)
    permitOf(d2).release()
    expect(store.heldBy('a')).toBe(1)
    permitOf(d1).release()
    expect(store.size).toBe(0)
  })

  it('shares a cap between two controllers given the same store', () => {
    const store = createMemoryKeyStore()
    const one = fakeClockController({ perKey: { limit: 2, store } })
    const two = fakeClockController({ perKey: { limit: 2, store } })
    permitOf(one.admit({ key: 'a' }))
    permitOf(two.admit({ key: 'a' }))
    expect(rejectionOf(one.admit({ key: 'a' })).reason).toBe('quota')
    expect(rejectionOf(two.admit({ key: 'a' })).reason).toBe('quota')
  })
})

describe('perKey with an asynchronous store', () => {
  it('makes admit() a promise for a keyed request only, and releases the lease exactly once', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({ limit: 4, perKey: { limit: 2, store } })
    expect(c.admit()).not.toBeInstanceOf(Promise)
    const pending = c.admit({ key: 'a' })
    expect(pending).toBeInstanceOf(Promise)
    expect(store.calls[0]).toMatchObject({ key: 'a', limit: 2 })
    const decided = track(pending)
    store.grant()
    await flush()
    const permit = (decided.value as Decision & { admitted: true }).permit
    expect(c.stats().inFlight).toBe(2)
    permit.release()
    permit.release()
    expect(store.released).toBe(1)
    expect(store.doubleReleases).toBe(0)
  })

  it('turns a store refusal into quota (429) or unavailable (503), counted', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({ perKey: { limit: 2, store } })
    const quota = track(c.acquire({ key: 'a' }))
    const down = track(c.acquire({ key: 'b' }))
    store.refuse('quota', 2)
    store.refuse('unavailable')
    await flush()
    expect(quota.value).toMatchObject({
      admitted: false,
      rejection: { reason: 'quota', status: 429 },
    })
    expect(down.value).toMatchObject({
      admitted: false,
      rejection: { reason: 'unavailable', status: 503 },
    })
    expect(c.stats().counters.rejected).toMatchObject({ quota: 1, unavailable: 1 })
    expect(c.stats().inFlight).toBe(0)
  })

  it('answers a request that aborts while the store thinks at once, and gives back the lease that arrives later', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({ perKey: { limit: 2, store } })
    const signal = new CountingSignal()
    const decided = track(c.acquire({ key: 'a', signal }))
    expect(signal.added).toBe(1)
    signal.abort()
    await flush()
    expect(reasonOf(decided)).toBe('aborted')
    store.grant()
    await flush()
    expect(store.outstanding).toBe(0)
    expect(signal.listeners.size).toBe(0)
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0 })
  })

  it('removes its abort listener once the store answers', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({ perKey: { limit: 2, store } })
    const signal = new CountingSignal()
    const decided = track(c.acquire({ key: 'a', signal }))
    store.grant()
    await flush()
    expect(reasonOf(decided)).toBe('admitted')
    expect(signal.listeners.size).toBe(0)
    signal.abort()
    ;(decided.value as Decision & { admitted: true }).permit.release()
    expect(store.outstanding).toBe(0)
  })

  it('holds the lease while the request queues and gives it back when it times out', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({
      limit: 1,
      queue: { timeoutMs: 50 },
      perKey: { limit: 2, store },
    })
    const holder = permitOf(c.admit())
    const decided = track(c.acquire({ key: 'a' }))
    store.grant()
    await flush()
    expect(c.stats().queued).toBe(1)
    expect(store.outstanding).toBe(1)
    jest.advanceTimersByTime(50)
    await flush()
    expect(reasonOf(decided)).toBe('queueTimeout')
    expect(store.outstanding).toBe(0)
    holder.release()
  })

  it('refuses with deadline when the deadline passed while the store answered, giving the lease back', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({ perKey: { limit: 2, store } })
    const decided = track(c.acquire({ key: 'a', deadline: 20 }))
    jest.advanceTimersByTime(25)
    store.grant()
    await flush()
    expect(reasonOf(decided)).toBe('deadline')
    expect(store.outstanding).toBe(0)
  })

  it('reports a store that rejects or throws, and admits without a cap (fails open)', async () => {
    const errors: ControllerEvent[] = []
    const store = new DeferredStore()
    const c = fakeClockController({ limit: 4, perKey: { limit: 2, store } })
    c.on((e) => {
      if (e.type === 'error') errors.push(e)
    })
    const decided = track(c.acquire({ key: 'a' }))
    store.fail(new Error('connection reset'))
    await flush()
    expect(reasonOf(decided)).toBe('admitted')
    const throwing = createAdmissionController({
      perKey: {
        limit: 1,
        store: {
          acquire: () => {
            throw new Error('boom')
          },
        },
      },
    })
    const seen: ControllerEvent[] = []
    throwing.on((e) => seen.push(e))
    permitOf(throwing.admit({ key: 'a' })).release()
    const malformed = createAdmissionController({
      perKey: { limit: 1, store: { acquire: () => ({ nope: true }) as unknown as KeyLeaseResult } },
    })
    permitOf(malformed.admit({ key: 'a' })).release()
    expect(malformed.stats().counters.errors).toBe(1)
    expect(errors).toEqual([
      { type: 'error', source: 'perKey.store', error: new Error('connection reset') },
    ])
    expect(seen.filter((e) => e.type === 'error')).toEqual([
      { type: 'error', source: 'perKey.store', error: new Error('boom') },
    ])
  })

  it('reports a lease whose release throws, and still frees the slot', async () => {
    const c = fakeClockController({
      perKey: {
        limit: 1,
        store: {
          acquire: () => ({
            acquired: true,
            lease: {
              release() {
                throw new Error('release failed')
              },
            },
          }),
        },
      },
    })
    permitOf(c.admit({ key: 'a' })).release()
    expect(c.stats()).toMatchObject({ inFlight: 0, counters: { errors: 1 } })
  })

  it('answers waiting requests with closed on close(), gives back leases that arrive after, and closes the store', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({ perKey: { limit: 2, store } })
    const signal = new CountingSignal()
    const first = track(c.acquire({ key: 'a', signal }))
    const second = track(c.acquire({ key: 'b' }))
    c.close()
    c.close()
    await flush()
    expect(reasonOf(first)).toBe('closed')
    expect(reasonOf(second)).toBe('closed')
    expect(signal.listeners.size).toBe(0)
    expect(store.closed).toBe(1)
    store.grant()
    store.refuse('quota')
    await flush()
    expect(store.outstanding).toBe(0)
    expect(c.stats().counters.rejected.closed).toBe(2)
  })

  it('hands the store the controller reportError, whose reports become error events', () => {
    const store = new DeferredStore()
    const c = fakeClockController({ perKey: { limit: 2, store } })
    const events: ControllerEvent[] = []
    c.on((e) => events.push(e))
    store.report?.('redis', new Error('down'))
    expect(events).toEqual([{ type: 'error', source: 'redis', error: new Error('down') }])
  })

  it('refuses tryAcquire() with unavailable when the store cannot answer at once, and gives back the lease', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({ perKey: { limit: 2, store } })
    expect(c.tryAcquire({ key: 'a' })).toBeUndefined()
    expect(c.stats().counters.rejected.unavailable).toBe(1)
    store.grant()
    await flush()
    expect(store.outstanding).toBe(0)
    expect(c.tryAcquire()).toBeDefined()
  })

  it('leaks no lease over many random aborts, timeouts and answers', async () => {
    const store = new DeferredStore()
    const c = fakeClockController({
      limit: 2,
      queue: { size: 3, timeoutMs: 30 },
      perKey: { limit: 3, store },
    })
    const permits: { release(): void }[] = []
    let seed = 7
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    for (let step = 0; step < 400; step++) {
      const r = rand()
      if (r < 0.35) {
        const signal = new CountingSignal()
        void c.acquire({ key: `k${Math.floor(rand() * 3)}`, signal }).then((d) => {
          if (d.admitted) permits.push(d.permit)
        })
        if (rand() < 0.3) setTimeout(() => signal.abort(), Math.floor(rand() * 40))
      } else if (r < 0.6 && store.calls.length > 0) {
        const x = rand()
        if (x < 0.7) store.grant()
        else if (x < 0.85) store.refuse('quota')
        else store.fail(new Error('flaky'))
      } else if (r < 0.8) {
        permits.splice(Math.floor(rand() * permits.length), 1)[0]?.release()
      } else {
        jest.advanceTimersByTime(Math.floor(rand() * 20))
      }
      await flush()
    }
    while (store.calls.length > 0) store.grant()
    await flush()
    for (let round = 0; round < 20 && (permits.length > 0 || c.stats().queued > 0); round++) {
      for (const p of permits.splice(0)) p.release()
      jest.advanceTimersByTime(50)
      await flush()
    }
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, activeKeys: 0 })
    expect(store.outstanding).toBe(0)
    expect(store.doubleReleases).toBe(0)
    expect(jest.getTimerCount()).toBe(0)
  })
})

describe('perKey options', () => {
  it.each([
    [{ perKey: 3 }, TypeError, 'perKey', 'Expected `perKey` to be an object, got `3` (number).'],
    [
      { perKey: {} },
      TypeError,
      'perKey.limit',
      'Expected `perKey.limit` to be an integer ≥ 1 or a function of the key, got `undefined`.',
    ],
    [
      { perKey: { limit: 0 } },
      RangeError,
      'perKey.limit',
      'Expected `perKey.limit` to be an integer ≥ 1 or a function of the key, got `0` (number).',
    ],
    [
      { perKey: { limit: 1.5 } },
      RangeError,
      'perKey.limit',
      'Expected `perKey.limit` to be an integer ≥ 1 or a function of the key, got `1.5` (number).',
    ],
    [
      { perKey: { limit: 2, stor: {} } },
      TypeError,
      'perKey.stor',
      'Unknown option `perKey.stor`. Did you mean `perKey.store`? Allowed: `limit`, `store`.',
    ],
    [
      { perKey: { limit: 2, store: {} } },
      TypeError,
      'perKey.store',
      'Expected `perKey.store` to be an object with an `acquire` method (a KeyStore), got an object.',
    ],
    [
      { perKey: { limit: 2, store: { acquire() {}, close: 1 } } },
      TypeError,
      'perKey.store.close',
      'Expected `perKey.store.close` to be a function, got `1` (number).',
    ],
  ])('rejects %j', (options, errorClass, option, message) => {
    let thrown: unknown
    try {
      createAdmissionController(options as never)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(errorClass)
    expect(thrown).toMatchObject({ code: 'ERR_SPILLWAY_INVALID_OPTION', option, message })
  })
})
