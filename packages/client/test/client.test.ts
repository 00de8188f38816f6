import {
  type ClientEvent,
  type ClientOptions,
  createClient,
  NO_RETRY_REASONS,
  ThrottledError,
  withBackpressure,
} from '@spillway/client'
import { FakeTime, flush, ok, refuse, scriptedFetch } from './fake-time.js'

const URL_A = 'http://127.0.0.1:9/a'
const ORIGIN_A = 'http://127.0.0.1:9'

/** A client on fake time; throttling off unless a test turns it on, so retries are isolated. */
function setup(replies: Parameters<typeof scriptedFetch>, options: ClientOptions = {}) {
  const time = new FakeTime()
  const { fetch, calls } = scriptedFetch(...replies)
  const client = createClient({
    fetch,
    now: time.now,
    random: () => 0.5,
    timers: time,
    throttle: false,
    ...options,
  })
  return { time, calls, client }
}

describe('createClient: responses and retries', () => {
  it('returns a successful response untouched after one attempt', async () => {
    const { client, calls, time } = setup([ok('hello')])
    const response = await time.settle(client(URL_A))
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('hello')
    expect(calls).toHaveLength(1)
    expect(time.pending).toBe(0)
  })

  it('waits Retry-After plus upward jitter, then retries a 503', async () => {
    const { client, calls, time } = setup([refuse(503, '2'), ok()], { retryAfterJitter: 0.2 })
    const response = await time.settle(client(URL_A))
    expect(response.status).toBe(200)
    expect(calls).toHaveLength(2)
    // random() = 0.5: 2000 + 0.5 × 0.2 × 2000
    expect(time.delays).toEqual([2200])
  })

  it('never waits less than Retry-After asks, whatever the jitter draw', async () => {
    for (const draw of [0, 0.999]) {
      const { client, time } = setup([refuse(429, '3'), ok()], { random: () => draw })
      await time.settle(client(URL_A))
      expect(time.delays[0]).toBeGreaterThanOrEqual(3000)
      expect(time.delays[0]).toBeLessThanOrEqual(3000 * 1.2)
    }
  })

  it('waits until an HTTP-date Retry-After', async () => {
    const time = new FakeTime(Date.UTC(2026, 10, 27, 22, 0, 0))
    const { fetch } = scriptedFetch(refuse(503, 'Fri, 27 Nov 2026 22:00:04 GMT'), ok())
    const client = createClient({
      fetch,
      now: time.now,
      timers: time,
      random: () => 0,
      throttle: false,
    })
    expect((await time.settle(client(URL_A))).status).toBe(200)
    expect(time.delays).toEqual([4000])
  })

  it('backs off exponentially with full jitter when Retry-After is absent or malformed', async () => {
    const draws = [0.999, 0.999, 0.999]
    const { client, time } = setup([refuse(503), refuse(503, 'garbage'), refuse(503, '-1'), ok()], {
      maxAttempts: 4,
      baseDelayMs: 100,
      random: () => draws.shift() ?? 0,
    })
    await time.settle(client(URL_A))
    expect(time.delays).toHaveLength(3)
    expect(time.delays[0]).toBeCloseTo(99.9, 5)
    expect(time.delays[1]).toBeCloseTo(199.8, 5)
    expect(time.delays[2]).toBeCloseTo(399.6, 5)
  })

  it('caps the backoff step at maxDelayMs', async () => {
    const { client, time } = setup([refuse(503)], {
      maxAttempts: 12,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 0.999,
      retryBudget: false,
    })
    await time.settle(client(URL_A))
    expect(Math.max(...time.delays)).toBeLessThanOrEqual(1000)
  })

  it('does not wait for a Retry-After longer than maxRetryAfterMs, nor cut it short', async () => {
    const { client, calls, time } = setup([refuse(503, '31536000'), ok()], {
      maxRetryAfterMs: 5000,
      retryAfterJitter: 0,
    })
    const response = await time.settle(client(URL_A))
    expect(response.status).toBe(503)
    expect(calls).toHaveLength(1)
    expect(time.delays.filter((d) => d > 0)).toEqual([])
    expect(client.stats()[ORIGIN_A]?.counters.notRetried.retryAfterTooLong).toBe(1)
  })

  it('stops at maxAttempts and returns the last refusal as it is', async () => {
    const { client, calls, time } = setup([refuse(503, '1')], { maxAttempts: 4 })
    const response = await time.settle(client(URL_A))
    expect(response.status).toBe(503)
    expect(await response.text()).toContain('queueFull')
    expect(calls).toHaveLength(4)
    expect(client.stats()[ORIGIN_A]?.counters).toMatchObject({
      requests: 1,
      attempts: 4,
      refusals: 4,
      retries: 3,
    })
  })

  it('lets a request override maxAttempts', async () => {
    const { client, calls, time } = setup([refuse(503, '1')], { maxAttempts: 4 })
    await time.settle(client(URL_A, undefined, { maxAttempts: 1 }))
    expect(calls).toHaveLength(1)
  })

  it('does not retry other statuses, 5xx included', async () => {
    for (const status of [500, 502, 504, 404]) {
      const { client, calls, time } = setup([new Response('x', { status }), ok()])
      expect((await time.settle(client(URL_A))).status).toBe(status)
      expect(calls).toHaveLength(1)
    }
  })

  it('cancels the body of a refusal it retries, so the connection is freed', async () => {
    let cancelled = false
    const body = new ReadableStream({
      cancel() {
        cancelled = true
      },
    })
    // A function reply hands over this very Response (a copy would tee the stream).
    const { client, time } = setup([() => new Response(body, { status: 503 }), ok()])
    await time.settle(client(URL_A))
    expect(cancelled).toBe(true)
  })
})

describe('createClient: which requests may be retried', () => {
  it('does not retry a POST unless the client opts in', async () => {
    const plain = setup([refuse(503, '1'), ok()])
    const r1 = await plain.time.settle(plain.client(URL_A, { method: 'POST', body: 'x' }))
    expect(r1.status).toBe(503)
    expect(plain.calls).toHaveLength(1)

    const optedIn = setup([refuse(503, '1'), ok()], { retryNonIdempotent: true })
    const r2 = await optedIn.time.settle(optedIn.client(URL_A, { method: 'post', body: 'x' }))
    expect(r2.status).toBe(200)
    expect(optedIn.calls.map((c) => c.body)).toEqual(['x', 'x'])
  })

  it('lets one request opt in or out of non-idempotent retries', async () => {
    const a = setup([refuse(503, '1'), ok()])
    const init = { method: 'PATCH', body: 'x' }
    expect((await a.time.settle(a.client(URL_A, init, { retryNonIdempotent: true }))).status).toBe(
      200,
    )
    const b = setup([refuse(503, '1'), ok()], { retryNonIdempotent: true })
    expect((await b.time.settle(b.client(URL_A, init, { retryNonIdempotent: false }))).status).toBe(
      503,
    )
  })

  it('retries every idempotent method', async () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']) {
      const { client, calls, time } = setup([refuse(503, '1'), ok()])
      await time.settle(client(URL_A, { method }))
      expect(calls).toHaveLength(2)
    }
  })

  it('never retries a stream body, which cannot be sent twice', async () => {
    const { client, calls, time } = setup([refuse(503, '1'), ok()])
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('x'))
        c.close()
      },
    })
    const response = await time.settle(
      client(URL_A, { method: 'PUT', body, duplex: 'half' } as RequestInit),
    )
    expect(response.status).toBe(503)
    expect(calls).toHaveLength(1)
  })

  it('replays buffer, URLSearchParams and Blob bodies', async () => {
    for (const body of [Buffer.from('x'), new URLSearchParams('a=1'), new Blob(['x'])]) {
      const { client, calls, time } = setup([refuse(503, '1'), ok()])
      await time.settle(client(URL_A, { method: 'PUT', body }))
      expect(calls).toHaveLength(2)
    }
  })
})

describe('createClient: retry budget', () => {
  it('keeps retries of 1000 refused requests within 10% of them', async () => {
    // Retry-After 0 and no jitter: the clock never moves, so all of it is one window.
    const { client, calls, time } = setup([refuse(503, '0')], { maxAttempts: 5, random: () => 0 })
    for (let i = 0; i < 1000; i++) await time.settle(client(URL_A))
    // Default budget: max(0.1 × requests, 1 retry/s × 10 s window).
    expect(calls.length - 1000).toBe(100)
    const counters = client.stats()[ORIGIN_A]?.counters
    expect(counters?.retries).toBe(100)
    expect(counters?.budgetExhausted).toBeGreaterThan(0)
    expect(client.stats()[ORIGIN_A]?.retryBudget).toMatchObject({ requests: 1000, retries: 100 })
  })

  it('keeps retries within ratio × requests plus the reserve rate over a long run', async () => {
    const { client, calls, time } = setup([refuse(503, '1')], { maxAttempts: 5 })
    for (let i = 0; i < 300; i++) await time.settle(client(URL_A))
    const elapsedS = (time.nowMs - 1_700_000_000_000) / 1000
    // Over any horizon: at most ratio × requests + reserve × (elapsed + one window).
    expect(calls.length - 300).toBeLessThanOrEqual(0.1 * 300 + 1 * (elapsedS + 10))
    expect(calls.length - 300).toBeGreaterThan(0)
  })

  it('keeps retries within the budget when all requests are in flight at once', async () => {
    const { client, calls, time } = setup([refuse(503, '1')], { maxAttempts: 10 })
    const all = Array.from({ length: 1000 }, () => client(URL_A))
    await time.settle(Promise.all(all))
    expect(calls.length - 1000).toBeLessThanOrEqual(100)
    expect(calls.length - 1000).toBeGreaterThan(0)
  })

  it('retries without limit once the budget is disabled', async () => {
    const { client, calls, time } = setup([refuse(503, '1')], {
      maxAttempts: 3,
      retryBudget: false,
    })
    for (let i = 0; i < 100; i++) await time.settle(client(URL_A))
    expect(calls).toHaveLength(300)
  })
})

describe('createClient: adaptive throttling', () => {
  /** Records `refused` refusals then `accepted` successes through the client. */
  async function primed(refused: number, accepted: number, draw: { value: number }) {
    const replies = [
      ...Array.from({ length: refused }, () => refuse(503)),
      ...Array.from({ length: accepted }, () => ok()),
    ]
    const s = setup(replies, { throttle: { k: 2 }, maxAttempts: 1, random: () => draw.value })
    // Priming must not be throttled: draw 1 never falls below a probability < 1.
    draw.value = 1
    for (let i = 0; i < refused + accepted; i++) await s.time.settle(s.client(URL_A))
    return s
  }

  it('fails fast with ThrottledError when the draw falls below the formula', async () => {
    const draw = { value: 1 }
    const s = await primed(30, 5, draw)
    const p = (35 - 2 * 5) / (35 + 1)
    expect(s.client.stats()[ORIGIN_A]?.throttle?.rejectProbability).toBeCloseTo(p, 12)
    draw.value = p - 1e-9
    const error = await s.time.settle(s.client(URL_A)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ThrottledError)
    expect(error).toMatchObject({
      reason: 'throttled',
      code: 'ERR_SPILLWAY_THROTTLED',
      origin: ORIGIN_A,
      throttle: { requests: 35, accepts: 5, k: 2, probability: p, windowMs: 30_000 },
    })
    expect((error as Error).message).toMatch(/accepted 5 of the last 35 requests in 30 s \(K = 2\)/)
    expect(s.calls).toHaveLength(35)
    expect(s.client.stats()[ORIGIN_A]?.counters.localRejects).toEqual({ throttled: 1 })
  })

  it('sends the request when the draw is at or above the formula', async () => {
    const draw = { value: 1 }
    const s = await primed(30, 5, draw)
    draw.value = (35 - 2 * 5) / (35 + 1)
    await s.time.settle(s.client(URL_A))
    expect(s.calls).toHaveLength(36)
  })

  it('counts a local rejection as a request without an accept', async () => {
    const draw = { value: 1 }
    const s = await primed(10, 0, draw)
    draw.value = 0
    await s.time.settle(s.client(URL_A)).catch(() => {})
    expect(s.client.stats()[ORIGIN_A]?.throttle).toMatchObject({ requests: 11, accepts: 0 })
  })

  it('rejects about the fraction the formula predicts over many draws', async () => {
    // Counts fixed by a window the draws cannot change: each local rejection adds a
    // request, so compare against the formula evaluated before each draw.
    let seed = 42
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    const time = new FakeTime()
    const { fetch } = scriptedFetch(refuse(503))
    const client = createClient({ fetch, now: time.now, timers: time, random, maxAttempts: 1 })
    let expected = 0
    let rejected = 0
    for (let i = 0; i < 2000; i++) {
      expected += client.stats()[ORIGIN_A]?.throttle?.rejectProbability ?? 0
      await time.settle(client(URL_A)).catch((e: unknown) => {
        if (e instanceof ThrottledError) rejected++
      })
    }
    expect(Math.abs(rejected - expected) / expected).toBeLessThan(0.05)
  })

  it('skips a retry with the throttle probability, and counts the call once, by its end', async () => {
    for (const [retryDraw, status] of [
      [0, 503],
      [0.999, 200],
    ] as const) {
      const draws: number[] = []
      const s = setup([refuse(503), refuse(503), refuse(503, '1'), ok()], {
        throttle: {},
        random: () => draws.shift() ?? 0,
      })
      // Two calls refused to the end (only the second draws: p = 0 for the first);
      // the throttle now rejects with probability 2/3.
      draws.push(0.999)
      for (let i = 0; i < 2; i++) {
        await s.time.settle(s.client(URL_A, undefined, { maxAttempts: 1 }))
      }
      expect(s.client.stats()[ORIGIN_A]?.throttle?.rejectProbability).toBeCloseTo(2 / 3, 12)
      // The call passes its draw; then the jitter draw; then the retry's own throttle draw.
      draws.push(0.999, 0, retryDraw)
      expect((await s.time.settle(s.client(URL_A))).status).toBe(status)
      expect(s.calls).toHaveLength(status === 200 ? 4 : 3)
      expect(s.client.stats()[ORIGIN_A]?.counters.notRetried.throttle).toBe(status === 200 ? 0 : 1)
      expect(s.client.stats()[ORIGIN_A]?.throttle).toMatchObject({
        requests: 3,
        accepts: status === 200 ? 1 : 0,
      })
    }
  })

  it('counts a call refused to its last attempt as one request without an accept', async () => {
    const s = setup([refuse(503, '1')], { throttle: {}, random: () => 0.999, maxAttempts: 3 })
    expect((await s.time.settle(s.client(URL_A))).status).toBe(503)
    expect(s.calls).toHaveLength(3)
    expect(s.client.stats()[ORIGIN_A]?.throttle).toMatchObject({ requests: 1, accepts: 0 })
  })

  it('counts a network error as a request the server did not accept', async () => {
    const { client, time } = setup([new TypeError('fetch failed')], { throttle: {} })
    await expect(time.settle(client(URL_A))).rejects.toThrow('fetch failed')
    expect(client.stats()[ORIGIN_A]?.throttle).toMatchObject({ requests: 1, accepts: 0 })
    expect(client.stats()[ORIGIN_A]?.counters.errors).toBe(1)
  })

  it('does not count an attempt the caller aborted', async () => {
    const controller = new AbortController()
    const { client } = setup(
      [
        (call) =>
          new Promise<Response>((_, reject) =>
            call.signal?.addEventListener('abort', () => reject(call.signal?.reason)),
          ),
      ],
      { throttle: {}, timeoutMs: 10_000 },
    )
    const pending = client(URL_A, { signal: controller.signal })
    await flush()
    controller.abort(new Error('caller left'))
    await expect(pending).rejects.toThrow('caller left')
    expect(client.stats()[ORIGIN_A]?.throttle).toMatchObject({ requests: 0, accepts: 0 })
  })
})

describe('createClient: deadlines and aborts', () => {
  it('rejects at once with the abort reason when aborted during a backoff, leaving no timer', async () => {
    const controller = new AbortController()
    const { client, calls, time } = setup([refuse(503, '5'), ok()])
    const pending = client(URL_A, { signal: controller.signal })
    pending.catch(() => {})
    await flush()
    expect(time.pending).toBe(1)
    const reason = new Error('user navigated away')
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
    expect(time.pending).toBe(0)
    expect(calls).toHaveLength(1)
  })

  it('rejects with the abort reason, sending nothing, when the signal is already aborted', async () => {
    const { client, calls, time } = setup([ok()])
    const reason = new Error('gone')
    await expect(time.settle(client(URL_A, { signal: AbortSignal.abort(reason) }))).rejects.toBe(
      reason,
    )
    expect(calls).toHaveLength(0)
  })

  it('returns the refusal instead of waiting past the deadline', async () => {
    const { client, calls, time } = setup([refuse(503, '5'), ok()])
    const response = await time.settle(client(URL_A, undefined, { timeoutMs: 3000 }))
    expect(response.status).toBe(503)
    expect(calls).toHaveLength(1)
    // Only the deadline timer that bounds reading the body is left, and it ends with it.
    expect(time.pending).toBe(1)
    time.advance(3000)
    expect(time.pending).toBe(0)
  })

  it('retries when the wait ends before the deadline', async () => {
    const { client, calls, time } = setup([refuse(503, '1'), ok()])
    const deadline = time.now() + 3000
    expect((await time.settle(client(URL_A, undefined, { deadline }))).status).toBe(200)
    expect(calls).toHaveLength(2)
  })

  it('sends the remaining time budget in whole ms, less on each retry', async () => {
    const { client, calls, time } = setup([refuse(503, '1'), ok()], { retryAfterJitter: 0 })
    time.nowMs += 0.6
    await time.settle(client(URL_A, undefined, { timeoutMs: 5000 }))
    expect(calls.map((c) => c.headers.get('x-request-timeout-ms'))).toEqual(['5000', '4000'])
  })

  it('aborts an attempt with a TimeoutError when the deadline passes mid-flight', async () => {
    const { client, calls, time } = setup(
      [
        (call) =>
          new Promise<Response>((_, reject) =>
            call.signal?.addEventListener('abort', () => reject(call.signal?.reason)),
          ),
      ],
      { throttle: {} },
    )
    const error = await time.settle(client(URL_A, undefined, { timeoutMs: 2000 })).catch((e) => e)
    expect(error).toMatchObject({ name: 'TimeoutError' })
    expect(calls[0]?.signal?.aborted).toBe(true)
    expect(time.pending).toBe(0)
    expect(client.stats()[ORIGIN_A]?.throttle).toMatchObject({ requests: 1, accepts: 0 })
  })

  it('fails with ThrottledError reason deadline when the deadline has already passed', async () => {
    const { client, calls, time } = setup([ok()])
    const error = await time
      .settle(client(URL_A, undefined, { deadline: time.now() - 1 }))
      .catch((e) => e)
    expect(error).toBeInstanceOf(ThrottledError)
    expect(error).toMatchObject({ reason: 'deadline' })
    expect(calls).toHaveLength(0)
  })

  it('passes the caller signal through, so an abort while reading the body still works', async () => {
    const controller = new AbortController()
    const { client, calls, time } = setup([ok()], { timeoutMs: 1000 })
    await time.settle(client(URL_A, { signal: controller.signal }))
    controller.abort(new Error('stop'))
    expect(calls[0]?.signal?.aborted).toBe(true)
  })

  it('removes its abort listener from the caller signal after each retried attempt', async () => {
    const controller = new AbortController()
    let added = 0
    let removed = 0
    const signal = controller.signal
    const add = signal.addEventListener.bind(signal)
    const remove = signal.removeEventListener.bind(signal)
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++
      add(...args)
    }) as typeof add
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      removed++
      remove(...args)
    }) as typeof remove
    const { client, time } = setup([refuse(503, '1')], { maxAttempts: 5, timeoutMs: 60_000 })
    await time.settle(client(URL_A, { signal }))
    // The final attempt keeps its link until the deadline; every other one is gone.
    expect(added - removed).toBe(1)
    time.advance(60_000)
    expect(added - removed).toBe(0)
    expect(time.pending).toBe(0)
  })
})

describe('createClient: propagation headers', () => {
  it('sends priority and remaining time in the default headers, keeping the caller headers', async () => {
    const { client, calls, time } = setup([ok()])
    await time.settle(
      client(
        URL_A,
        { headers: { authorization: 'Bearer t' } },
        {
          priority: 'critical',
          timeoutMs: 1500,
        },
      ),
    )
    const headers = calls[0]?.headers
    expect(headers?.get('x-request-priority')).toBe('critical')
    expect(headers?.get('x-request-timeout-ms')).toBe('1500')
    expect(headers?.get('authorization')).toBe('Bearer t')
  })

  it('keeps the headers of a Request input', async () => {
    const { client, calls, time } = setup([ok()])
    await time.settle(
      client(new Request(URL_A, { headers: { 'x-trace': '1' } }), undefined, {
        priority: 'sheddable',
      }),
    )
    expect(calls[0]?.headers.get('x-trace')).toBe('1')
    expect(calls[0]?.headers.get('x-request-priority')).toBe('sheddable')
  })

  it('uses custom header names, and sends nothing when disabled', async () => {
    const custom = setup([ok()], { deadlineHeader: 'Grpc-Timeout-Ms', priorityHeader: 'x-prio' })
    await custom.time.settle(custom.client(URL_A, undefined, { priority: 'a', timeoutMs: 10 }))
    expect(custom.calls[0]?.headers.get('grpc-timeout-ms')).toBe('10')
    expect(custom.calls[0]?.headers.get('x-prio')).toBe('a')

    const off = setup([ok()], { deadlineHeader: false, priorityHeader: false })
    await off.time.settle(off.client(URL_A, undefined, { priority: 'a', timeoutMs: 10 }))
    expect([...(off.calls[0]?.headers.keys() ?? [])]).toEqual([])
  })

  it('sends no deadline header when the request has no deadline', async () => {
    const { client, calls, time } = setup([ok()])
    await time.settle(client(URL_A))
    expect(calls[0]?.headers.has('x-request-timeout-ms')).toBe(false)
  })
})

describe('createClient: concurrency cap (a core controller per origin)', () => {
  function held() {
    const gates: Array<() => void> = []
    const reply = () =>
      new Promise<Response>((resolve) => {
        gates.push(() => resolve(ok()))
      })
    return { gates, reply }
  }

  it('fails fast with the core reason when the cap and its queue are full', async () => {
    const { gates, reply } = held()
    const { client, time } = setup([reply, reply], { concurrency: { limit: 1 } })
    const first = client(URL_A)
    await flush()
    const error = await client(URL_A).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ThrottledError)
    expect(error).toMatchObject({ reason: 'queueFull' })
    gates.shift()?.()
    expect((await time.settle(first)).status).toBe(200)
    expect(client.stats()[ORIGIN_A]?.concurrency).toEqual({ limit: 1, inFlight: 0, queued: 0 })
    expect(client.stats()[ORIGIN_A]?.counters.localRejects).toEqual({ queueFull: 1 })
  })

  it('queues past the cap and sends when a slot frees', async () => {
    const { gates, reply } = held()
    const { client, calls } = setup([reply, reply], {
      concurrency: { limit: 1, queueSize: 1, queueTimeoutMs: 60_000 },
    })
    const first = client(URL_A)
    const second = client(URL_A)
    await flush()
    expect(calls).toHaveLength(1)
    expect(client.stats()[ORIGIN_A]?.concurrency).toEqual({ limit: 1, inFlight: 1, queued: 1 })
    gates.shift()?.()
    await first
    await flush()
    expect(calls).toHaveLength(2)
    gates.shift()?.()
    await second
    expect(client.stats()[ORIGIN_A]?.concurrency).toEqual({ limit: 1, inFlight: 0, queued: 0 })
  })

  it('leaves the queue with the abort reason when the caller aborts while waiting', async () => {
    const { gates, reply } = held()
    const { client, calls } = setup([reply], {
      concurrency: { limit: 1, queueSize: 4, queueTimeoutMs: 60_000 },
    })
    const first = client(URL_A)
    const controller = new AbortController()
    const second = client(URL_A, { signal: controller.signal })
    second.catch(() => {})
    await flush()
    const reason = new Error('bye')
    controller.abort(reason)
    await expect(second).rejects.toBe(reason)
    expect(client.stats()[ORIGIN_A]?.concurrency).toEqual({ limit: 1, inFlight: 1, queued: 0 })
    gates.shift()?.()
    await first
    expect(calls).toHaveLength(1)
    expect(client.stats()[ORIGIN_A]?.concurrency).toEqual({ limit: 1, inFlight: 0, queued: 0 })
  })

  it('holds no slot when a header value is invalid, and throws before sending', async () => {
    const { client, calls } = setup([ok()], { concurrency: { limit: 1 } })
    await expect(client(URL_A, undefined, { priority: 'bad\nvalue' })).rejects.toMatchObject({
      name: 'TypeError',
    })
    await expect(client(URL_A, { headers: { 'x-a': 'bad\r\nvalue' } })).rejects.toMatchObject({
      name: 'TypeError',
    })
    expect(calls).toHaveLength(0)
    expect(client.stats()[ORIGIN_A]?.concurrency?.inFlight ?? 0).toBe(0)
  })

  it('frees the slot when fetch throws and while waiting between attempts', async () => {
    const { client, time } = setup([refuse(503, '1'), new TypeError('fetch failed')], {
      concurrency: { limit: 1 },
    })
    const pending = client(URL_A)
    pending.catch(() => {})
    await flush()
    expect(client.stats()[ORIGIN_A]?.concurrency?.inFlight).toBe(0)
    await expect(time.settle(pending)).rejects.toThrow('fetch failed')
    expect(client.stats()[ORIGIN_A]?.concurrency).toEqual({ limit: 1, inFlight: 0, queued: 0 })
  })
})

describe('createClient: memory and options', () => {
  it('keeps state for at most maxOrigins origins, dropping the least recently used', async () => {
    const { client, time } = setup([ok()], { maxOrigins: 2 })
    for (const port of [1, 2, 1, 3]) await time.settle(client(`http://127.0.0.1:${port}/`))
    expect(Object.keys(client.stats()).sort()).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:3'])
  })

  it('never drops an origin with a call in flight, so its concurrency cap holds', async () => {
    const gates: Array<() => void> = []
    const held = () =>
      new Promise<Response>((resolve) => {
        gates.push(() => resolve(ok()))
      })
    const { client, calls, time } = setup([held, ok(), ok()], {
      maxOrigins: 1,
      concurrency: { limit: 1 },
    })
    const first = client(URL_A)
    await flush()
    // Another origin while A's only slot is taken: A keeps its state and its controller,
    // and the surplus idle origin goes as soon as its call ends.
    await time.settle(client('http://127.0.0.1:2/'))
    expect(Object.keys(client.stats())).toEqual([ORIGIN_A])
    await expect(client(URL_A)).rejects.toMatchObject({ reason: 'queueFull' })
    expect(calls).toHaveLength(2)
    expect(client.stats()[ORIGIN_A]?.concurrency).toEqual({ limit: 1, inFlight: 1, queued: 0 })
    gates.shift()?.()
    await first
    // Once A is idle it may go like any other origin.
    await time.settle(client('http://127.0.0.1:3/'))
    expect(Object.keys(client.stats())).toEqual(['http://127.0.0.1:3'])
  })

  it('wraps a given fetch with withBackpressure', async () => {
    const time = new FakeTime()
    const { fetch, calls } = scriptedFetch(refuse(429, '1'), ok())
    const wrapped = withBackpressure(fetch, { now: time.now, timers: time, throttle: false })
    expect((await time.settle(wrapped(URL_A))).status).toBe(200)
    expect(calls).toHaveLength(2)
  })

  it('rejects unknown options with a suggestion', () => {
    expect(() => createClient({ maxAtempts: 3 } as ClientOptions)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'ERR_SPILLWAY_INVALID_OPTION',
        option: 'maxAtempts',
        message: expect.stringContaining('Did you mean `maxAttempts`?'),
      }),
    )
    expect(() => createClient({ throttle: { K: 2 } } as unknown as ClientOptions)).toThrow(
      /Unknown option `throttle.K`. Did you mean `throttle.k`\?/,
    )
  })

  it('rejects out-of-range values naming the option, the value and what is allowed', () => {
    expect(() => createClient({ maxAttempts: 0 })).toThrow(
      new RangeError('Expected `maxAttempts` to be an integer ≥ 1 and ≤ 100, got `0` (number).'),
    )
    expect(() => createClient({ retryBudget: { ratio: 2 } })).toThrow(RangeError)
    expect(() => createClient({ throttle: { k: 0.5 } })).toThrow(/`throttle.k`/)
    expect(() => createClient({ concurrency: {} as { limit: number } })).toThrow(
      /`concurrency.limit`/,
    )
    expect(() => createClient({ deadlineHeader: 'bad header' })).toThrow(/`deadlineHeader`/)
    expect(() => createClient({ fetch: 'fetch' as never })).toThrow(TypeError)
    expect(() => createClient({ baseDelayMs: 500, maxDelayMs: 100 })).toThrow(/`maxDelayMs`/)
    expect(() => createClient('x' as never)).toThrow(/`options` to be an object/)
  })

  it('rejects bad per-request options', async () => {
    const { client } = setup([ok()])
    await expect(client(URL_A, undefined, { timeoutMs: -1 })).rejects.toThrow(
      /`requestOptions.timeoutMs`/,
    )
    await expect(client(URL_A, undefined, { prio: 'x' } as never)).rejects.toThrow(
      /Unknown option `requestOptions.prio`/,
    )
  })
})

describe('createClient: timers longer than 2^31 - 1 ms', () => {
  const MAX = 2 ** 31 - 1

  it('rejects durations a timer cannot hold, naming the option and the bound', async () => {
    for (const option of ['timeoutMs', 'maxRetryAfterMs', 'maxDelayMs', 'baseDelayMs'] as const) {
      expect(() => createClient({ maxDelayMs: MAX, [option]: 2 ** 31 })).toThrow(
        expect.objectContaining({
          name: 'RangeError',
          code: 'ERR_SPILLWAY_INVALID_OPTION',
          option,
          message: expect.stringContaining(`≤ ${MAX}`),
        }),
      )
    }
    expect(() => createClient({ concurrency: { limit: 1, queueTimeoutMs: 2 ** 32 } })).toThrow(
      /`concurrency.queueTimeoutMs`/,
    )
    const { client } = setup([ok()])
    await expect(client(URL_A, undefined, { timeoutMs: 2 ** 31 })).rejects.toMatchObject({
      code: 'ERR_SPILLWAY_INVALID_OPTION',
      option: 'requestOptions.timeoutMs',
    })
  })

  it('keeps a far-future deadline: the attempt is not aborted after 1 ms', async () => {
    const { client, time } = setup([
      (call) =>
        new Promise<Response>((resolve, reject) => {
          time.setTimeout(() => resolve(ok('late')), 5000)
          call.signal?.addEventListener('abort', () => reject(call.signal?.reason))
        }),
    ])
    const response = await time.settle(client(URL_A, undefined, { deadline: time.now() + 2 ** 33 }))
    expect(await response.text()).toBe('late')
  })

  it('bounds a call by a deadline three timers away, chaining timers', async () => {
    const { client, calls, time } = setup([
      (call) =>
        new Promise<Response>((_, reject) =>
          call.signal?.addEventListener('abort', () => reject(call.signal?.reason)),
        ),
    ])
    const start = time.now()
    const error = await time
      .settle(client(URL_A, undefined, { deadline: start + 3 * MAX }))
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'TimeoutError' })
    expect(time.now() - start).toBe(3 * MAX)
    expect(calls).toHaveLength(1)
    expect(time.pending).toBe(0)
  })

  it('waits a Retry-After whose jitter takes it past 2^31 - 1 ms in full', async () => {
    const start = 1_700_000_000_000
    const { client, calls, time } = setup([refuse(503, '2000000'), ok()], {
      maxRetryAfterMs: MAX,
      retryAfterJitter: 0.2,
    })
    await time.settle(client(URL_A))
    expect(calls).toHaveLength(2)
    // random() = 0.5: 2e9 ms + 0.5 × 0.2 × 2e9 ms = 2.2e9 ms, more than one timer holds.
    expect(time.now() - start).toBeGreaterThanOrEqual(2.2e9)
  })
})

describe('createClient: bad arguments and relative URLs', () => {
  const invalid = (option: string, message: RegExp) =>
    expect.objectContaining({
      code: 'ERR_SPILLWAY_INVALID_OPTION',
      option,
      message: expect.stringMatching(message),
    })

  it('refuses a method that is not a string with the house error', async () => {
    const { client, calls } = setup([ok()])
    const error = await client(URL_A, { method: 5 as never }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toEqual(
      invalid(
        'init.method',
        /^Expected `init.method` to be an HTTP method name such as `"GET"`, got `5` \(number\)\.$/,
      ),
    )
    await expect(client(URL_A, { method: 'GE T' })).rejects.toEqual(
      invalid('init.method', /`"GE T"`/),
    )
    expect(calls).toHaveLength(0)
    expect(client.stats()).toEqual({})
  })

  it('refuses an input that is no URL, and an init that is no object', async () => {
    const { client } = setup([ok()])
    await expect(client(42 as never)).rejects.toEqual(
      invalid('input', /a URL string, a `URL` or a `Request`/),
    )
    await expect(client(URL_A, 'GET' as never)).rejects.toEqual(invalid('init', /RequestInit/))
    await expect(client(URL_A, { signal: {} as never })).rejects.toEqual(
      invalid('init.signal', /AbortSignal/),
    )
  })

  it('says `false` is allowed when an option group is given something else', () => {
    expect(() => createClient({ throttle: true as never })).toThrow(
      new TypeError('Expected `throttle` to be an object or `false`, got `true` (boolean).'),
    )
    expect(() => createClient({ retryBudget: 0.1 as never })).toThrow(
      invalid('retryBudget', /an object or `false`, got `0.1`/),
    )
    expect(() => createClient({ concurrency: 8 as never })).toThrow(
      invalid('concurrency', /`\{ limit: 8 \}`, or `undefined`, got `8`/),
    )
  })

  it('refuses a relative URL without baseUrl, sending nothing', async () => {
    const { client, calls } = setup([ok()])
    const error = await client('/items/1').catch((e: unknown) => e)
    expect(error).toEqual(
      invalid(
        'input',
        /absolute URL, got `"\/items\/1"` \(string\)\. A relative URL needs the client’s `baseUrl` option/,
      ),
    )
    expect(calls).toHaveLength(0)
  })

  it('resolves a relative URL against baseUrl, with throttling, retries and the deadline header', async () => {
    const { client, calls, time } = setup([refuse(503, '1'), ok()], {
      baseUrl: 'http://127.0.0.1:9/api/',
      timeoutMs: 5000,
    })
    expect((await time.settle(client('items/1'))).status).toBe(200)
    expect(calls.map((c) => c.url)).toEqual([
      'http://127.0.0.1:9/api/items/1',
      'http://127.0.0.1:9/api/items/1',
    ])
    expect(calls[0]?.headers.get('x-request-timeout-ms')).toBe('5000')
    expect(client.stats()[ORIGIN_A]?.counters).toMatchObject({ requests: 1, retries: 1 })
  })

  it('checks baseUrl at construction', () => {
    expect(() => createClient({ baseUrl: '/api' })).toThrow(
      invalid('baseUrl', /absolute http\(s\) URL/),
    )
    expect(() => createClient({ baseUrl: 'ftp://x/' })).toThrow(
      invalid('baseUrl', /absolute http\(s\) URL/),
    )
  })

  it('hands a data: URL to fetch untouched: there is no server to protect', async () => {
    const { client, calls, time } = setup([ok('inline')])
    expect(await (await time.settle(client('data:text/plain,x'))).text()).toBe('inline')
    expect(calls).toHaveLength(1)
    expect(client.stats()).toEqual({})
  })
})

describe('createClient: why a retry was not taken', () => {
  it('names every reason in stats() and in a retrySkipped event, per origin', async () => {
    const stream = () =>
      new ReadableStream({
        start(c) {
          c.close()
        },
      })
    const cases: Array<[string, ClientOptions, RequestInit | undefined, object | undefined]> = [
      ['notIdempotent', {}, { method: 'POST', body: 'x' }, undefined],
      [
        'bodyNotReplayable',
        {},
        { method: 'PUT', body: stream(), duplex: 'half' } as RequestInit,
        undefined,
      ],
      ['attemptsExhausted', { maxAttempts: 1 }, undefined, undefined],
      ['retryAfterTooLong', { maxRetryAfterMs: 1000 }, undefined, undefined],
      ['deadline', {}, undefined, { timeoutMs: 1500 }],
      ['budget', { retryBudget: { ratio: 0, minPerSecond: 0 } }, undefined, undefined],
    ]
    for (const [reason, options, init, request] of cases) {
      const { client, time } = setup([refuse(429, '2'), ok()], options)
      const events: ClientEvent[] = []
      client.on((event) => events.push(event))
      const response = await time.settle(client(URL_A, init, request as never))
      expect(response.status).toBe(429)
      const notRetried = client.stats()[ORIGIN_A]?.counters.notRetried
      expect(notRetried).toEqual({ ...zeroReasons(), [reason]: 1 })
      expect(events).toEqual([
        { type: 'retrySkipped', origin: ORIGIN_A, attempt: 1, reason, status: 429 },
      ])
    }
  })

  it('accounts for every refusal handed back: one reason each', async () => {
    // The run: budget available, none exhausted, yet 429s came back without
    // retry. Here the 2 s waits would not fit the 1.5 s deadline, and stats() says so.
    const { client, time } = setup([refuse(429, '2')], { retryBudget: { minPerSecond: 0.2 } })
    for (let i = 0; i < 10; i++) await time.settle(client(URL_A, undefined, { timeoutMs: 1500 }))
    const stats = client.stats()[ORIGIN_A]
    expect(stats?.retryBudget?.available).toBe(2)
    expect(stats?.counters.budgetExhausted).toBe(0)
    expect(stats?.counters.notRetried.deadline).toBe(10)
  })

  it('publishes each retry taken, and survives a listener that throws', async () => {
    const { client, time } = setup([refuse(503, '1'), new TypeError('fetch failed')], {
      retryAfterJitter: 0,
    })
    const events: ClientEvent[] = []
    client.on(() => {
      throw new Error('listener bug')
    })
    const off = client.on((event) => events.push(event))
    await expect(
      time.settle(client(URL_A, { method: 'POST' }, { retryNonIdempotent: true })),
    ).rejects.toThrow('fetch failed')
    expect(events[0]).toEqual({
      type: 'retry',
      origin: ORIGIN_A,
      attempt: 1,
      delayMs: 1000,
      status: 503,
    })
    expect(events).toHaveLength(1)
    off()
    await time.settle(client(URL_A, undefined, { maxAttempts: 1 })).catch(() => {})
    expect(events).toHaveLength(1)
  })
})

function zeroReasons() {
  return Object.fromEntries(NO_RETRY_REASONS.map((r) => [r, 0]))
}

describe('createClient: network errors', () => {
  const connectionError = (code: string) =>
    new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) })

  it('retries an idempotent call whose connection was refused or reset, with backoff', async () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET']) {
      const { client, calls, time } = setup([connectionError(code), ok('back')], {
        random: () => 0.5,
      })
      const response = await time.settle(client(URL_A))
      expect(await response.text()).toBe('back')
      expect(calls).toHaveLength(2)
      // Full jitter over the first step: 0.5 × 100 ms.
      expect(time.delays[0]).toBe(50)
      expect(client.stats()[ORIGIN_A]?.counters).toMatchObject({
        errors: 1,
        retries: 1,
        accepts: 1,
      })
    }
  })

  it('does not retry a non-idempotent call, even one opted in to retries of refusals', async () => {
    const { client, calls, time } = setup([connectionError('ECONNRESET'), ok()], {
      retryNonIdempotent: true,
    })
    await expect(time.settle(client(URL_A, { method: 'POST', body: 'x' }))).rejects.toThrow(
      'fetch failed',
    )
    expect(calls).toHaveLength(1)
    expect(client.stats()[ORIGIN_A]?.counters.notRetried.notIdempotent).toBe(1)
  })

  it('spends the same retry budget, and throws the error once it is spent', async () => {
    const { client, calls, time } = setup([connectionError('ECONNREFUSED')], {
      retryBudget: { ratio: 0, minPerSecond: 0.1 },
      maxAttempts: 5,
    })
    await expect(time.settle(client(URL_A))).rejects.toThrow('fetch failed')
    // The reserve is 0.1/s × 10 s = 1 retry.
    expect(calls).toHaveLength(2)
    expect(client.stats()[ORIGIN_A]?.counters.notRetried.budget).toBe(1)
    expect(client.stats()[ORIGIN_A]?.counters.errors).toBe(2)
  })

  it('does not retry an error that says nothing about the connection', async () => {
    const { client, calls, time } = setup([new TypeError('fetch failed'), ok()])
    await expect(time.settle(client(URL_A))).rejects.toThrow('fetch failed')
    expect(calls).toHaveLength(1)
  })
})
