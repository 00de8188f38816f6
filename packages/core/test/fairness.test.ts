/**
 * Fair queuing across keys (issue 9, part 1). The first three tests are the
 * issue's reproductions, as they were reported.
 */
import {
  type AdmissionController,
  type ControllerEvent,
  createAdmissionController,
  type Decision,
  type Permit,
} from '@spillway/core'
import { fakeClockController, flush, permitOf, rejectionOf } from './harness.js'

beforeEach(() => {
  jest.useFakeTimers({ now: 0 })
})

afterEach(() => {
  jest.useRealTimers()
})

/** Records every request's outcome by key, and keeps the permits to release later. */
class Book {
  readonly outcomes = new Map<string, string[]>()
  readonly permits: Permit[] = []
  readonly served: string[] = []

  constructor(readonly c: AdmissionController) {
    c.on((e) => {
      if (e.type === 'admit') this.served.push(e.key ?? '-')
    })
  }

  send(key: string | undefined, priority?: string): void {
    const d = this.c.admit({ key, priority })
    if (d instanceof Promise) void d.then((x) => this.#record(key, x))
    else this.#record(key, d)
  }

  #record(key: string | undefined, d: Decision): void {
    const name = key ?? '-'
    const list = this.outcomes.get(name) ?? []
    list.push(d.admitted ? 'served' : d.rejection.reason)
    this.outcomes.set(name, list)
    if (d.admitted) this.permits.push(d.permit)
  }

  count(key: string, outcome: string): number {
    return (this.outcomes.get(key) ?? []).filter((o) => o === outcome).length
  }

  /** Releases the oldest held permit and lets the woken waiter settle. */
  async releaseOne(): Promise<void> {
    this.permits.shift()?.release()
    await flush()
  }

  async releaseAll(): Promise<void> {
    for (let i = 0; i < 100 && this.permits.length > 0; i++) await this.releaseOne()
  }
}

describe('the reproductions of issue 9', () => {
  it("queues a key's critical request by evicting its own sheddable one, instead of refusing it with quota", async () => {
    const c = fakeClockController({ limit: 4, queue: { size: 4 } })
    const book = new Book(c)
    for (let i = 0; i < 8; i++) book.send('acme', 'sheddable')
    await flush()
    expect(c.stats()).toMatchObject({ inFlight: 4, queued: 4 })
    book.send('acme', 'critical')
    await flush()
    expect(book.count('acme', 'evicted')).toBe(1)
    expect(book.count('acme', 'quota')).toBe(0)
    await book.releaseOne()
    // The critical request is served first.
    expect(c.stats().queuedByPriority).toEqual({ critical: 0, normal: 0, sheddable: 3 })
    await book.releaseAll()
    expect(book.count('acme', 'served')).toBe(8)
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, activeKeys: 0 })
  })

  it('serves a light tenant that arrives after a heavy one filled the slots and the queue', async () => {
    const c = fakeClockController({ limit: 4, queue: { size: 4 } })
    const book = new Book(c)
    for (let i = 0; i < 12; i++) book.send('acme')
    for (let i = 0; i < 4; i++) book.send('small')
    await flush()
    await book.releaseAll()
    expect(book.count('small', 'served')).toBe(4)
    expect(book.outcomes.get('small')).toEqual(['served', 'served', 'served', 'served'])
    // acme: 4 served at once; 4 queued, then evicted for small; 4 refused as over its share.
    expect(book.count('acme', 'served')).toBe(4)
    expect(book.count('acme', 'evicted')).toBe(4)
    expect(book.count('acme', 'quota')).toBe(4)
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, activeKeys: 0 })
  })

  it('keeps an honest tenant served while a client sends a fresh key on every request', async () => {
    const c = fakeClockController({ limit: 10, queue: { size: 10 } })
    const book = new Book(c)
    for (let i = 0; i < 3; i++) book.send('honest')
    for (let i = 0; i < 17; i++) book.send(`rotating-${i}`)
    await flush()
    expect(c.stats()).toMatchObject({ inFlight: 10, queued: 10 })
    book.send('honest')
    await flush()
    // Queued, not refused: the rotating keys past `fairness.maxKeys` weigh as one flow.
    expect(book.outcomes.get('honest')).toEqual(['served', 'served', 'served'])
    expect(c.stats().queued).toBe(10)
    // Served within two turns, not behind the ten rotating waiters.
    book.served.length = 0
    await book.releaseOne()
    await book.releaseOne()
    expect(book.served).toContain('honest')
    await book.releaseAll()
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, activeKeys: 0 })
  })
})

describe('fair queuing', () => {
  async function order(
    c: AdmissionController,
    arrivals: [key: string, priority?: string][],
  ): Promise<string[]> {
    const book = new Book(c)
    book.send('holder')
    for (const [key, priority] of arrivals) book.send(key, priority)
    await flush()
    book.served.length = 0
    await book.releaseAll()
    return book.served
  }

  it('serves waiters round-robin across keys within a priority, in fifo order', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 10 } })
    const served = await order(c, [['a'], ['a'], ['a'], ['a'], ['a'], ['b'], ['b'], ['c']])
    expect(served).toEqual(['a', 'b', 'c', 'a', 'b', 'a', 'a', 'a'])
  })

  it('serves round-robin in lifo order too, starting with the key that joined last', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 10, order: 'lifo' } })
    const events: string[] = []
    c.on((e) => {
      if (e.type === 'queue') events.push(e.key ?? '-')
    })
    const served = await order(c, [['a'], ['a'], ['a'], ['b'], ['c']])
    expect(served).toEqual(['c', 'b', 'a', 'a', 'a'])
  })

  it('puts priority first, then fairness', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 10 } })
    const served = await order(c, [
      ['light', 'normal'],
      ['heavy', 'critical'],
      ['heavy', 'critical'],
      ['heavy', 'critical'],
      ['light', 'sheddable'],
      ['heavy', 'normal'],
    ])
    expect(served).toEqual(['heavy', 'heavy', 'heavy', 'light', 'heavy', 'light'])
  })

  it('treats requests without a key as one more flow', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 10 } })
    const book = new Book(c)
    book.send('holder')
    for (let i = 0; i < 3; i++) book.send(undefined)
    book.send('a')
    await flush()
    book.served.length = 0
    await book.releaseAll()
    expect(book.served).toEqual(['-', 'a', '-', '-'])
  })

  it('makes room for a lighter key by evicting the newest waiter of the heaviest one', async () => {
    const c = fakeClockController({ limit: 2, queue: { size: 4 } })
    const book = new Book(c)
    book.send('heavy')
    book.send('mid')
    for (let i = 0; i < 3; i++) book.send('heavy') // heavy weighs 4
    book.send('mid') // mid weighs 2
    await flush()
    book.send('new')
    await flush()
    expect(book.outcomes.get('heavy')).toEqual(['served', 'evicted'])
    // The heaviest now weighs 3, mid 2: one more newcomer still evicts from heavy.
    book.send('new2')
    await flush()
    expect(book.count('heavy', 'evicted')).toBe(2)
    // heavy 2, mid 2, new 1, new2 1: mid finds no one two heavier, and it holds more
    // than an equal share, (2 + 4) / 4 shares: refused as the one to slow down.
    book.send('mid')
    await flush()
    expect(book.outcomes.get('mid')).toEqual(['served', 'quota'])
    await book.releaseAll()
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, activeKeys: 0 })
  })

  it('evicts the lowest priority first, whoever holds it, and never a higher priority for fairness', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 3 } })
    const book = new Book(c)
    book.send('heavy', 'critical')
    book.send('heavy', 'critical')
    book.send('heavy', 'critical')
    book.send('light', 'sheddable')
    await flush()
    // A normal newcomer: the only lower-priority waiter is light's.
    book.send('new', 'normal')
    await flush()
    expect(book.outcomes.get('light')).toEqual(['evicted'])
    // A sheddable newcomer cannot take a critical or normal place, however heavy its holder.
    book.send('new2', 'sheddable')
    await flush()
    expect(book.outcomes.get('new2')).toEqual(['queueFull'])
    await book.releaseAll()
  })

  it('refuses with quota (429) a key over an equal share, and with queueFull (503) the others', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 3 } })
    const book = new Book(c)
    for (let i = 0; i < 4; i++) book.send('a')
    await flush()
    const quota = rejectionOf(c.admit({ key: 'a' }))
    expect(quota).toMatchObject({ reason: 'quota', status: 429 })
    // Requests without a key are one lighter flow: two take places from a, the third is
    // refused, and never with quota.
    book.send(undefined)
    book.send(undefined)
    await flush()
    expect(book.count('a', 'evicted')).toBe(2)
    const keyless = rejectionOf(c.admit())
    expect(keyless).toMatchObject({ reason: 'queueFull', status: 503 })
    await book.releaseAll()
  })

  it('shares one overflow flow between the keys past fairness.maxKeys', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 10 }, fairness: { maxKeys: 2 } })
    const served = await order(c, [['a'], ['a'], ['a'], ['x'], ['y'], ['z']])
    // holder and a have flows of their own; x, y and z share one, served in arrival order.
    expect(served).toEqual(['a', 'x', 'a', 'y', 'a', 'z'])
  })

  it('gives a key back its own flow once its work drained', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 10 }, fairness: { maxKeys: 1 } })
    const first = await order(c, [['a'], ['b'], ['b']])
    // holder owns the only flow; a and b overflow together.
    expect(first).toEqual(['a', 'b', 'b'])
    expect(c.stats().activeKeys).toBe(0)
    const second = await order(c, [['b'], ['b'], ['a']])
    expect(second).toEqual(['b', 'b', 'a'])
  })

  it('keeps per-key state bounded by the work in flight and queued', async () => {
    const c = fakeClockController({ limit: 3, queue: { size: 5, timeoutMs: 10 } })
    const book = new Book(c)
    for (let i = 0; i < 1000; i++) {
      book.send(`k${i}`)
      const s = c.stats()
      expect(s.activeKeys).toBeLessThanOrEqual(s.inFlight + s.queued)
      if (i % 7 === 0) await book.releaseOne()
      if (i % 11 === 0) jest.advanceTimersByTime(10)
    }
    await book.releaseAll()
    jest.advanceTimersByTime(10)
    await flush()
    await book.releaseAll()
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, activeKeys: 0 })
  })

  it("lets a key's higher-priority request take the place of its own lower-priority waiter under perKey", async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 5 }, perKey: { limit: 2 } })
    const book = new Book(c)
    book.send('acme', 'normal')
    book.send('acme', 'sheddable')
    await flush()
    book.send('acme', 'critical')
    await flush()
    expect(book.outcomes.get('acme')).toEqual(['served', 'evicted'])
    // With no lower waiter of its own left, the cap applies.
    book.send('acme', 'critical')
    await flush()
    expect(book.outcomes.get('acme')).toEqual(['served', 'evicted', 'quota'])
    await book.releaseAll()
    expect(book.count('acme', 'served')).toBe(2)
  })

  it('echoes every evicted request on a reject event with its key', async () => {
    const c = fakeClockController({ limit: 1, queue: { size: 1 } })
    const events: ControllerEvent[] = []
    c.on((e) => events.push(e))
    const book = new Book(c)
    book.send('heavy')
    book.send('heavy')
    book.send('light')
    await flush()
    expect(
      events.filter((e) => e.type === 'reject').map((e) => e.type === 'reject' && e.key),
    ).toEqual(['heavy'])
    await book.releaseAll()
  })
})

describe('fairness and priorities options', () => {
  it.each([
    [
      { fairness: { maxKeys: 0 } },
      RangeError,
      'fairness.maxKeys',
      'Expected `fairness.maxKeys` to be an integer ≥ 1, got `0` (number).',
    ],
    [
      { fairness: { maxkeys: 3 } },
      TypeError,
      'fairness.maxkeys',
      'Unknown option `fairness.maxkeys`. Did you mean `fairness.maxKeys`? Allowed: `maxKeys`.',
    ],
    [
      // biome-ignore lint/suspicious/noSparseArray: the sparse array is the case under test.
      { priorities: ['a', , 'b'] },
      TypeError,
      'priorities[1]',
      'Expected `priorities[1]` to be a string, got `undefined`.',
    ],
  ])('rejects %j with the house message', (options, errorClass, option, message) => {
    let thrown: unknown
    try {
      createAdmissionController(options as never)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(errorClass)
    expect(thrown).toMatchObject({ code: 'ERR_SPILLWAY_INVALID_OPTION', option, message })
  })

  it('accepts permitOf in harness (sanity)', () => {
    const c = fakeClockController({ fairness: { maxKeys: 3 } })
    permitOf(c.admit({ key: 'a' })).release()
  })
})
