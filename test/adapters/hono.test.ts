/**
 * Hono through `app.fetch(new Request(...))`, no sockets: what the contract
 * checks over node-server, here on bare Web Request/Response/AbortSignal as
 * Bun, Deno and Workers hand them over.
 */
import fs from 'node:fs'
import path from 'node:path'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { readiness, shed } from '@spillway/hono'
import { Hono } from 'hono'
import { expectDrained, latch, nextEvent } from '../contract/support.js'

const url = (p: string): string => `http://localhost${p}`

describe('@spillway/hono over app.fetch', () => {
  let controller: AdmissionController

  beforeEach(() => {
    controller = createAdmissionController({ limit: 1, queue: { size: 1, timeoutMs: 30_000 } })
  })
  afterEach(() => controller.close())

  it('releases the permit as a success once the body has been read', async () => {
    const app = new Hono().get('/ok', shed(controller), (c) => c.text('ok'))
    const res = await app.fetch(new Request(url('/ok')))
    // Built but not yet read: the slot is still taken.
    expect(controller.stats().inFlight).toBe(1)
    expect(await res.text()).toBe('ok')
    await expectDrained(controller)
    expect(controller.stats().counters.released.success).toBe(1)
  })

  it('holds the slot of a streamed body until it ends, and releases it when the reader cancels', async () => {
    let push!: ReadableStreamDefaultController<Uint8Array>
    const app = new Hono().get('/stream', shed(controller), (c) =>
      c.body(
        new ReadableStream<Uint8Array>({
          start(stream) {
            push = stream
          },
        }),
      ),
    )
    const res = await app.fetch(new Request(url('/stream')))
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    push.enqueue(new TextEncoder().encode('first'))
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first')
    expect(controller.stats().inFlight).toBe(1)
    await reader.cancel()
    await expectDrained(controller)
    expect(controller.stats().counters.released).toMatchObject({ ignore: 1, success: 0 })
  })

  it('releases a streamed body when the client signal aborts mid-stream', async () => {
    const app = new Hono().get('/stream', shed(controller), (c) =>
      c.body(new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) })),
    )
    const client = new AbortController()
    await app.fetch(new Request(url('/stream'), { signal: client.signal }))
    expect(controller.stats().inFlight).toBe(1)
    client.abort()
    await expectDrained(controller)
    expect(controller.stats().counters.released.ignore).toBe(1)
  })

  it('drops a queued request whose client aborts, and never runs its handler', async () => {
    const hold = latch()
    let ran = 0
    const app = new Hono()
      .get('/hold', shed(controller), async (c) => {
        await hold.promise
        return c.text('held')
      })
      .get('/queued', shed(controller), (c) => {
        ran++
        return c.text('queued')
      })
    const admitted = nextEvent(controller, 'admit')
    const first = app.fetch(new Request(url('/hold')))
    await admitted
    const client = new AbortController()
    const queued = nextEvent(controller, 'queue')
    const second = app.fetch(new Request(url('/queued'), { signal: client.signal }))
    await queued
    const rejected = nextEvent(controller, 'reject')
    client.abort()
    expect((await rejected).rejection.reason).toBe('aborted')
    expect(controller.stats()).toMatchObject({ inFlight: 1, queued: 0 })
    await second
    hold.open()
    expect(await (await first).text()).toBe('held')
    await expectDrained(controller)
    expect(ran).toBe(0)
  })

  it('releases as a failure when app.onError turns a throw into a 500', async () => {
    const app = new Hono()
      .get('/throw', shed(controller), () => {
        throw new Error('handler failed')
      })
      .onError((_error, c) => c.text('custom 500', 500))
    const res = await app.fetch(new Request(url('/throw')))
    expect(res.status).toBe(500)
    expect(await res.text()).toBe('custom 500')
    await expectDrained(controller)
    expect(controller.stats().counters.released).toMatchObject({ failure: 1, success: 0 })
  })

  it('releases at once for HEAD, whose body Hono never reads', async () => {
    const app = new Hono().get('/ok', shed(controller), (c) => c.text('ok'))
    const res = await app.fetch(new Request(url('/ok'), { method: 'HEAD' }))
    expect(res.status).toBe(200)
    await expectDrained(controller)
  })

  it('answers 503 problem+json with Retry-After when full, and falls back when onRejected returns no Response', async () => {
    const hold = latch()
    const strict = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const reported: string[] = []
    strict.on((e) => e.type === 'error' && reported.push(e.source))
    const app = new Hono()
      .get('/hold', shed(strict), async (c) => {
        await hold.promise
        return c.text('held')
      })
      .get('/shed', shed(strict), (c) => c.text('never'))
      .get('/odd', shed(strict, { onRejected: () => 'busy' as unknown as Response }), (c) =>
        c.text('never'),
      )
    const admitted = nextEvent(strict, 'admit')
    const first = app.fetch(new Request(url('/hold')))
    await admitted
    for (const p of ['/shed', '/odd']) {
      const res = await app.fetch(new Request(url(p)))
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(await res.json()).toMatchObject({ status: 503, reason: 'queueFull' })
    }
    expect(reported).toEqual(['onRejected'])
    hold.open()
    await (await first).text()
    await expectDrained(strict)
    strict.close()
  })

  it('answers readiness 200 while open and 503 draining once closed, never counting a probe', async () => {
    const app = new Hono().get('/ready', readiness(controller))
    const open = await app.fetch(new Request(url('/ready')))
    expect(open.status).toBe(200)
    expect(await open.json()).toMatchObject({ status: 'ok', inFlight: 0, queued: 0, limit: 1 })
    controller.close()
    const closed = await app.fetch(new Request(url('/ready')))
    expect(closed.status).toBe(503)
    expect(await closed.json()).toMatchObject({ status: 'draining' })
    expect(controller.stats().counters.admitted).toBe(0)
  })

  it('rejects unknown and invalid options when shed() is called', () => {
    expect(() => shed({ limit: 1, priorty: 'critical' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'priorty' }),
    )
    expect(() => shed(controller, { priority: 'urgent' })).toThrow(
      expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'priority' }),
    )
    expect(() => shed({ limit: 1 } as never, { dryRun: true } as never)).toThrow(
      expect.objectContaining({ option: 'routeOptions' }),
    )
  })

  it('imports nothing from node: so it runs on any Web runtime', () => {
    const dir = path.resolve(__dirname, '../../packages/hono/src')
    for (const file of fs.readdirSync(dir)) {
      expect(fs.readFileSync(path.join(dir, file), 'utf8')).not.toMatch(
        /from '(node:|@spillway\/node)/,
      )
    }
  })
})
