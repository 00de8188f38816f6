/**
 * The behaviours every adapter must show, over real sockets on 127.0.0.1.
 * "Slot taken" states are built with latches the handlers await and with the
 * controller's own events, never with sleeps; every case ends drained.
 */
import http from 'node:http'
import { PassThrough } from 'node:stream'
import {
  type AdmissionController,
  type AdmissionControllerOptions,
  createAdmissionController,
} from '@spillway/core'
import { errorsOf, expectDrained, http1Client, latch, nextEvent, type Reply } from './support.js'
import { contractTargets, type Route, type Running, type Target } from './targets.js'

describe.each(contractTargets)('$name', (target: Target) => {
  const { get, rawRequest, stream } = target.client ?? http1Client
  let controller: AdmissionController
  let running: Running | undefined

  async function serve(
    routes: Route[],
    options: AdmissionControllerOptions = { limit: 1, queue: { size: 0 } },
  ): Promise<number> {
    controller = createAdmissionController(options)
    running = await target.start(controller, routes)
    return running.port
  }

  /**
   * Takes a slot with a request to `path` (whose handler awaits a latch) and
   * resolves once it is admitted, with the pending reply boxed: an async
   * function returning a bare promise would wait for the reply itself.
   */
  async function takeSlot(port: number, path: string): Promise<{ reply: Promise<Reply> }> {
    const admitted = nextEvent(controller, 'admit')
    const reply = get(port, path)
    await admitted
    return { reply }
  }

  afterEach(async () => {
    await running?.close()
    running = undefined
    controller.close()
  })

  it('admits a request and releases its permit as a success when the response finishes', async () => {
    const port = await serve([{ path: '/ok', handler: { reply: 'ok' } }])
    const reply = await get(port, '/ok')
    expect(reply).toMatchObject({ status: 200, body: '/ok' })
    await expectDrained(controller)
    expect(controller.stats().counters).toMatchObject({
      admitted: 1,
      released: { success: 1, failure: 0, ignore: 0 },
    })
  })

  it('makes its own controller from options and exposes it on the middleware', async () => {
    const own = await target.startOwn(
      { limit: 2, queue: { size: 0 }, priority: 'critical' },
      { path: '/own', handler: { reply: 'ok' } },
    )
    running = own
    controller = own.controller
    expect(await get(own.port, '/own')).toMatchObject({ status: 200, body: '/own' })
    expect(own.controller.stats()).toMatchObject({ limit: 2, counters: { admitted: 1 } })
    await expectDrained(own.controller)
  })

  it('queues a request while the slot is taken and serves it once the slot frees', async () => {
    const hold = latch()
    const entered: string[] = []
    const port = await serve(
      [
        {
          path: '/hold',
          handler: { reply: 'ok', wait: () => hold.promise, onEnter: () => entered.push('hold') },
        },
        { path: '/next', handler: { reply: 'ok', onEnter: () => entered.push('next') } },
      ],
      { limit: 1, queue: { size: 1, timeoutMs: 30_000 } },
    )
    const first = await takeSlot(port, '/hold')
    const queued = nextEvent(controller, 'queue')
    const second = get(port, '/next')
    await queued
    expect(controller.stats()).toMatchObject({ inFlight: 1, queued: 1 })
    expect(entered).toEqual(['hold'])
    hold.open()
    expect(await first.reply).toMatchObject({ status: 200 })
    expect(await second).toMatchObject({ status: 200, body: '/next' })
    expect(entered).toEqual(['hold', 'next'])
    await expectDrained(controller)
  })

  it('rejects with 503, a whole-second Retry-After and problem+json when the queue is full', async () => {
    const hold = latch()
    let ran = 0
    const port = await serve([
      { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
      { path: '/shed', handler: { reply: 'ok', onEnter: () => ran++ } },
    ])
    const first = await takeSlot(port, '/hold')
    const rejected = await get(port, '/shed')
    expect(rejected.status).toBe(503)
    expect(rejected.headers['retry-after']).toMatch(/^[1-9]\d*$/)
    expect(rejected.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(rejected.headers['cache-control']).toBe('no-store')
    expect(JSON.parse(rejected.body)).toEqual({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: expect.any(String),
      reason: 'queueFull',
    })
    expect(ran).toBe(0)
    hold.open()
    await first.reply
    await expectDrained(controller)
    expect(controller.stats().counters.rejected.queueFull).toBe(1)
  })

  it('answers a rejection with onRejected when given', async () => {
    const hold = latch()
    const port = await serve([
      { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
      {
        path: '/custom',
        options: { onRejected: target.customRejection() },
        handler: { reply: 'ok' },
      },
    ])
    const first = await takeSlot(port, '/hold')
    expect(await get(port, '/custom')).toMatchObject({ status: 503, body: 'busy' })
    hold.open()
    await first.reply
    await expectDrained(controller)
  })

  it('serves the waiter of the higher-priority route first', async () => {
    const hold = latch()
    const entered: string[] = []
    const route = (path: string, priority: string): Route => ({
      path,
      options: { priority },
      handler: { reply: 'ok', onEnter: () => entered.push(path) },
    })
    const port = await serve(
      [
        { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
        route('/report', 'sheddable'),
        route('/checkout', 'critical'),
      ],
      { limit: 1, queue: { size: 4, timeoutMs: 30_000 } },
    )
    const first = await takeSlot(port, '/hold')
    let queued = nextEvent(controller, 'queue')
    const low = get(port, '/report')
    await queued
    queued = nextEvent(controller, 'queue')
    const high = get(port, '/checkout')
    await queued
    hold.open()
    await Promise.all([first.reply, low, high])
    expect(entered).toEqual(['/checkout', '/report'])
    await expectDrained(controller)
  })

  it('releases the permit as a failure when the handler throws', async () => {
    const port = await serve([{ path: '/throw', handler: { reply: 'throw' } }])
    expect((await get(port, '/throw')).status).toBe(500)
    await expectDrained(controller)
    expect(controller.stats().counters.released).toMatchObject({ failure: 1, success: 0 })
    // The slot is free again.
    expect((await get(port, '/throw')).status).toBe(500)
    await expectDrained(controller)
  })

  if (target.hasNextError) {
    it('releases the permit as a failure when the handler passes an error to next()', async () => {
      const port = await serve([{ path: '/next-error', handler: { reply: 'nextError' } }])
      expect((await get(port, '/next-error')).status).toBe(500)
      await expectDrained(controller)
      expect(controller.stats().counters.released).toMatchObject({ failure: 1, success: 0 })
    })
  }

  it('drops a queued request whose client leaves at once, and never runs its handler', async () => {
    const hold = latch()
    let ran = 0
    const port = await serve(
      [
        { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
        { path: '/queued', handler: { reply: 'ok', onEnter: () => ran++ } },
      ],
      { limit: 1, queue: { size: 1, timeoutMs: 30_000 } },
    )
    const first = await takeSlot(port, '/hold')
    const queued = nextEvent(controller, 'queue')
    const socket = await rawRequest(port, '/queued')
    await queued
    const aborted = nextEvent(controller, 'reject')
    socket.destroy()
    expect((await aborted).rejection.reason).toBe('aborted')
    // Left the queue while the slot is still taken, not when it frees.
    expect(controller.stats()).toMatchObject({ inFlight: 1, queued: 0 })
    hold.open()
    await first.reply
    await expectDrained(controller)
    expect(ran).toBe(0)
  })

  it("releases the permit as ignore when the client leaves, once the handler's work has settled", async () => {
    const hold = latch()
    const entered = latch()
    const port = await serve([
      {
        path: '/slow',
        handler: { reply: 'ok', wait: () => hold.promise, onEnter: () => entered.open() },
      },
    ])
    const socket = await rawRequest(port, '/slow')
    // The handler, not only the admission: one admitted in a late turn of a busy
    // loop starts a turn later, and not at all if its client has left by then.
    await entered.promise
    let released = false
    const release = nextEvent(controller, 'release').then((event) => {
      released = true
      return event
    })
    socket.destroy()
    // The handler still works for the departed client: its slot stays taken.
    expect((await get(port, '/slow')).status).toBe(503)
    expect(released).toBe(false)
    hold.open()
    expect((await release).outcome).toBe('ignore')
    await expectDrained(controller)
    await new Promise((resolve) => setImmediate(resolve))
    expect(controller.stats().counters.released).toEqual({ success: 0, failure: 0, ignore: 1 })
  })

  it('holds the permit of a streamed body until the stream ends', async () => {
    const body = new PassThrough()
    const port = await serve([
      { path: '/stream', handler: { reply: 'stream', stream: () => body } },
    ])
    const done = stream(port, '/stream', (text) => {
      if (text === 'first ') {
        // Headers and a first chunk are out, the handler has returned: still held.
        expect(controller.stats().inFlight).toBe(1)
        body.end('last')
      }
    })
    await nextEvent(controller, 'admit')
    body.write('first ')
    expect(await done).toBe('first last')
    await expectDrained(controller)
    expect(controller.stats().counters.released.success).toBe(1)
  })

  it('releases when a middleware after it ends the response instead of the handler', async () => {
    let ran = 0
    const port = await serve([
      { path: '/cached', endedAfter: true, handler: { reply: 'ok', onEnter: () => ran++ } },
    ])
    expect(await get(port, '/cached')).toMatchObject({ status: 200, body: 'ended' })
    await expectDrained(controller)
    expect(controller.stats().counters.admitted).toBe(1)
    expect(ran).toBe(0)
  })

  it('takes no slot for a response a middleware before it already ended', async () => {
    const port = await serve([{ path: '/early', endedBefore: true, handler: { reply: 'ok' } }])
    expect(await get(port, '/early')).toMatchObject({ status: 200, body: 'early' })
    await expectDrained(controller)
    expect(controller.stats().counters.admitted).toBe(0)
  })

  it('lets a request through in dry run and counts what would have happened', async () => {
    const hold = latch()
    const port = await serve([
      { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
      { path: '/dry', options: { dryRun: true }, handler: { reply: 'ok' } },
    ])
    const first = await takeSlot(port, '/hold')
    expect(await get(port, '/dry')).toMatchObject({ status: 200, body: '/dry' })
    expect(controller.stats().counters.dryRun.wouldReject.queueFull).toBe(1)
    expect(controller.stats().counters.rejected.queueFull).toBe(0)
    hold.open()
    await first.reply
    await expectDrained(controller)
  })

  it('serves the request and reports the error when a classifying hook throws', async () => {
    const errors: string[] = []
    const port = await serve([
      {
        path: '/hooks',
        options: Object.fromEntries(
          ['priority', 'key', 'deadline', 'skip'].map((name) => [
            name,
            () => {
              errors.push(name)
              throw new Error(`${name} failed`)
            },
          ]),
        ),
        handler: { reply: 'ok' },
      },
    ])
    const reported = errorsOf(controller)
    expect(await get(port, '/hooks')).toMatchObject({ status: 200, body: '/hooks' })
    await expectDrained(controller)
    expect(reported.map((e) => e.source).sort()).toEqual(['deadline', 'key', 'priority', 'skip'])
    expect(errors.sort()).toEqual(['deadline', 'key', 'priority', 'skip'])
    expect(controller.stats().counters.admitted).toBe(1)
  })

  it('classifies the outcome by status and reports when isFailure throws', async () => {
    const port = await serve([
      {
        path: '/outcome',
        options: {
          isFailure: () => {
            throw new Error('isFailure failed')
          },
        },
        handler: { reply: 'ok' },
      },
    ])
    const reported = errorsOf(controller)
    expect((await get(port, '/outcome')).status).toBe(200)
    await expectDrained(controller)
    expect(reported.map((e) => e.source)).toEqual(['isFailure'])
    expect(controller.stats().counters.released.success).toBe(1)
  })

  it('answers the default rejection and reports when onRejected throws', async () => {
    const hold = latch()
    const port = await serve([
      { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
      {
        path: '/broken',
        options: {
          onRejected: () => {
            throw new Error('onRejected failed')
          },
        },
        handler: { reply: 'ok' },
      },
    ])
    const reported = errorsOf(controller)
    const first = await takeSlot(port, '/hold')
    const rejected = await get(port, '/broken')
    expect(rejected.status).toBe(503)
    expect(JSON.parse(rejected.body)).toMatchObject({ reason: 'queueFull' })
    expect(reported.map((e) => e.source)).toEqual(['onRejected'])
    hold.open()
    await first.reply
    await expectDrained(controller)
  })

  it('lets skipped requests bypass admission while the server is saturated', async () => {
    const hold = latch()
    const port = await serve([
      { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
      { path: '/health', options: { skip: () => true }, handler: { reply: 'ok' } },
    ])
    const first = await takeSlot(port, '/hold')
    expect(await get(port, '/health')).toMatchObject({ status: 200, body: '/health' })
    expect(controller.stats().counters.admitted).toBe(1)
    hold.open()
    await first.reply
    await expectDrained(controller)
  })

  it('rejects a request whose client budget header has run out, and ignores a malformed one', async () => {
    const port = await serve([
      {
        path: '/budget',
        options: { deadlineHeader: 'X-Request-Timeout-Ms' },
        handler: { reply: 'ok' },
      },
    ])
    const late = await get(port, '/budget', { 'x-request-timeout-ms': '0' })
    expect(late.status).toBe(503)
    expect(JSON.parse(late.body)).toMatchObject({ reason: 'deadline' })
    const hostile = await get(port, '/budget', { 'x-request-timeout-ms': '-1e309' })
    expect(hostile.status).toBe(200)
    expect(await get(port, '/budget', { 'x-request-timeout-ms': '5000' })).toMatchObject({
      status: 200,
    })
    await expectDrained(controller)
  })

  it('answers a greedy key with 429 while a polite key is served', async () => {
    const hold = latch()
    const key = (input: unknown): string | undefined => target.header(input, 'x-tenant')
    const port = await serve(
      [
        { path: '/hold', options: { key }, handler: { reply: 'ok', wait: () => hold.promise } },
        { path: '/work', options: { key }, handler: { reply: 'ok' } },
      ],
      // Fair queuing queues a greedy key while there is room: one place, which polite takes.
      { limit: 2, queue: { size: 1, timeoutMs: 30_000 } },
    )
    const greedy = { 'x-tenant': 'greedy' }
    let admitted = nextEvent(controller, 'admit')
    const held1 = get(port, '/hold', greedy)
    await admitted
    admitted = nextEvent(controller, 'admit')
    const held2 = get(port, '/hold', greedy)
    await admitted
    const queued = nextEvent(controller, 'queue')
    const polite = get(port, '/work', { 'x-tenant': 'polite' })
    await queued
    const over = await get(port, '/work', greedy)
    expect(over.status).toBe(429)
    expect(JSON.parse(over.body)).toMatchObject({ status: 429, reason: 'quota' })
    hold.open()
    expect(await polite).toMatchObject({ status: 200 })
    await Promise.all([held1, held2])
    await expectDrained(controller)
  })

  ;(target.holdsEarlyRetries === false ? it.skip : it)(
    'holds the answer to a keep-alive retry that pressure refuses again until its Retry-After',
    async () => {
      const hold = latch()
      const port = await serve(
        [
          { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
          {
            path: '/work',
            options: { holdEarlyRetries: { maxMs: 300 } },
            handler: { reply: 'ok' },
          },
        ],
        { limit: 2, pressure: { level: 1 } },
      )
      // Pressure refuses only while something runs: the first request is admitted.
      const running = await takeSlot(port, '/hold')
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      const timed = (): Promise<{ status: number; ms: number; reused: boolean }> =>
        new Promise((resolve, reject) => {
          const started = performance.now()
          const req = http.get({ host: '127.0.0.1', port, path: '/work', agent }, (res) => {
            res.resume()
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                ms: performance.now() - started,
                reused: req.reusedSocket,
              }),
            )
          })
          req.on('error', reject)
        })
      const first = await timed()
      const retry = await timed()
      agent.destroy()
      expect(first).toMatchObject({ status: 503, reused: false })
      expect(first.ms).toBeLessThan(250)
      expect(retry).toMatchObject({ status: 503, reused: true })
      expect(retry.ms).toBeGreaterThanOrEqual(280)
      hold.open()
      expect((await running.reply).status).toBe(200)
      await expectDrained(controller)
    },
  )
})
