import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import { createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/koa'
import koa2 from 'koa2'
import koa3 from 'koa3'
import { expectDrained, get, latch, nextEvent, rawRequest } from '../contract/support.js'

async function listen(app: { callback(): http.RequestListener }) {
  const server = http.createServer(app.callback())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('@spillway/koa options', () => {
  it('rejects an unknown option at construction with a did-you-mean', () => {
    let error: (Error & { code?: string }) | undefined
    try {
      shed({ limit: 5, onRejectd: () => {} } as never)
    } catch (caught) {
      error = caught as Error
    }
    expect(error).toBeInstanceOf(TypeError)
    expect(error?.code).toBe('ERR_SPILLWAY_INVALID_OPTION')
    expect(error?.message).toMatch(/^Unknown option `onRejectd`\. Did you mean `onRejected`\?/)
  })

  it('rejects a fixed priority the shared controller does not know', () => {
    const controller = createAdmissionController({
      priorities: ['high', 'low'],
      defaultPriority: 'low',
    })
    expect(() => shed(controller, { priority: 'normal' })).toThrow(
      'Expected `priority` to be one of `"high"`, `"low"`, got `"normal"` (string).',
    )
    controller.close()
  })
})

describe.each([
  ['Koa 2', koa2 as unknown as typeof koa3],
  ['Koa 3', koa3],
])('@spillway/koa on %s', (_name, Koa) => {
  it('sets the rejection as the response: upstream sees 503 and the error pipeline hears nothing', async () => {
    const app = new Koa()
    const errors: unknown[] = []
    app.on('error', (error) => errors.push(error))
    const seenUpstream: number[] = []
    const hold = latch()
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const limiter = shed(controller)
    app.use(async (ctx, next) => {
      await next()
      seenUpstream.push(ctx.status)
    })
    app.use(limiter)
    app.use(async (ctx) => {
      await hold.promise
      ctx.body = 'served'
    })
    const server = await listen(app)
    try {
      const admitted = nextEvent(controller, 'admit')
      const first = get(server.port, '/')
      await admitted
      const rejected = await get(server.port, '/')
      expect(rejected.status).toBe(503)
      expect(rejected.headers['content-type']).toBe('application/problem+json')
      expect(rejected.headers['retry-after']).toMatch(/^[1-9]\d*$/)
      expect(JSON.parse(rejected.body)).toMatchObject({ status: 503, reason: 'queueFull' })
      hold.open()
      expect((await first).body).toBe('served')
      await expectDrained(controller)
      expect(seenUpstream.sort()).toEqual([200, 503])
      expect(errors).toEqual([])
    } finally {
      await server.close()
      controller.close()
    }
  })

  it('releases the permit of a streamed body whose client leaves mid-stream', async () => {
    const app = new Koa()
    // Koa reports the broken pipe as an error; expected here.
    app.silent = true
    const body = new PassThrough()
    const limiter = shed({ limit: 1, queue: { size: 0 } })
    app.use(limiter)
    app.use((ctx) => {
      ctx.body = body
    })
    const server = await listen(app)
    try {
      const socket = await rawRequest(server.port, '/')
      const firstChunk = new Promise<void>((resolve) => socket.once('data', () => resolve()))
      body.write('part')
      await firstChunk
      expect(limiter.controller.stats().inFlight).toBe(1)
      const released = nextEvent(limiter.controller, 'release')
      socket.destroy()
      expect((await released).outcome).toBe('ignore')
      await expectDrained(limiter.controller)
    } finally {
      await server.close()
      limiter.controller.close()
    }
  })

  it('releases the permit when a streamed body fails midway', async () => {
    const app = new Koa()
    app.silent = true
    const body = new PassThrough()
    const limiter = shed({ limit: 1, queue: { size: 0 } })
    app.use(limiter)
    app.use((ctx) => {
      ctx.body = body
    })
    const server = await listen(app)
    try {
      const socket = await rawRequest(server.port, '/')
      const firstChunk = new Promise<void>((resolve) => socket.once('data', () => resolve()))
      body.write('part')
      await firstChunk
      const released = nextEvent(limiter.controller, 'release')
      const clientClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      body.destroy(new Error('upstream broke'))
      // Koa 2 would leave this response (and its permit) open for good.
      await released
      await expectDrained(limiter.controller)
      await clientClosed
    } finally {
      await server.close()
      limiter.controller.close()
    }
  })

  it('releases the permit once when a streamed body fails before its first byte', async () => {
    const app = new Koa()
    app.silent = true
    const limiter = shed({ limit: 1, queue: { size: 0 } })
    app.use(limiter)
    app.use((ctx) => {
      const body = new PassThrough()
      ctx.body = body
      setImmediate(() => body.destroy(new Error('no data')))
    })
    const server = await listen(app)
    try {
      // Koa 2 answers 500; Koa 3's pipeline destroys the response (the client sees a hang-up).
      const reply = await get(server.port, '/').catch(() => undefined)
      if (reply !== undefined) expect(reply.status).toBe(500)
      await expectDrained(limiter.controller)
      const { failure, ignore } = limiter.controller.stats().counters.released
      expect(failure + ignore).toBe(1)
    } finally {
      await server.close()
      limiter.controller.close()
    }
  })
})
