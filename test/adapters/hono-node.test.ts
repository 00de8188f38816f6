/**
 * Hono on @hono/node-server, where `c.env` carries Node's request and
 * response: what the shared contract does not reach (the server's fast path
 * for fixed bodies, pipelined requests whose response has no socket yet).
 */
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { serve } from '@hono/node-server'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/hono'
import { Hono } from 'hono'
import { expectDrained, latch, nextEvent } from '../contract/support.js'

async function listen(app: Hono) {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  const nodeServer = server as import('node:http').Server
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      nodeServer.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => {})
  return socket
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  expect(condition()).toBe(true)
}

describe('@spillway/hono on @hono/node-server', () => {
  let controller: AdmissionController

  afterEach(() => controller.close())

  it("hands the handler's own Response to the server, so a fixed body keeps its fast path", async () => {
    controller = createAdmissionController({ limit: 1 })
    let sent: Response | undefined
    let seen: Response | undefined
    const app = new Hono()
    app.use('*', async (c, next) => {
      await next()
      seen = c.res
    })
    app.use('*', shed(controller))
    app.get('/ok', (c) => {
      sent = c.text('ok')
      return sent
    })
    const running = await listen(app)
    try {
      const res = await fetch(`http://127.0.0.1:${running.port}/ok`)
      expect(await res.text()).toBe('ok')
      expect(seen).toBe(sent)
      await expectDrained(controller)
      expect(controller.stats().counters.released.success).toBe(1)
    } finally {
      await running.close()
    }
  })

  it('holds the slot of a streamed body until it ends, without wrapping the body', async () => {
    controller = createAdmissionController({ limit: 1 })
    let push!: ReadableStreamDefaultController<Uint8Array>
    const app = new Hono()
    app.use('*', shed(controller))
    app.get('/stream', (c) =>
      c.body(
        new ReadableStream<Uint8Array>({
          start(stream) {
            push = stream
          },
        }),
      ),
    )
    const running = await listen(app)
    try {
      const res = await fetch(`http://127.0.0.1:${running.port}/stream`)
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      push.enqueue(new TextEncoder().encode('first'))
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('first')
      expect(controller.stats().inFlight).toBe(1)
      push.close()
      expect((await reader.read()).done).toBe(true)
      await expectDrained(controller)
      expect(controller.stats().counters.released).toMatchObject({ success: 1, ignore: 0 })
    } finally {
      await running.close()
    }
  })

  it('releases a pipelined response that has no socket yet when its client leaves', async () => {
    controller = createAdmissionController({ limit: 2, queue: { size: 0 } })
    let answered = 0
    const app = new Hono()
    app.use('*', shed(controller))
    // Never ends: the pipelined response behind it waits for the socket for good.
    app.get('/stream', (c) => {
      answered++
      return c.body(new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) }))
    })
    app.get('/ok', (c) => {
      answered++
      return c.text('ok')
    })
    const running = await listen(app)
    try {
      const socket = await connect(running.port)
      socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n')
      await until(() => answered === 2)
      // Both handlers have returned; the permits wait for their responses.
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(controller.stats().inFlight).toBe(2)
      socket.destroy()
      await expectDrained(controller)
      expect(controller.stats().counters.released.ignore).toBe(2)
    } finally {
      await running.close()
    }
  })

  it('drops queued pipelined requests whose client leaves, and never runs their handlers', async () => {
    controller = createAdmissionController({ limit: 1, queue: { size: 2, timeoutMs: 60_000 } })
    const hold = latch()
    const ran: string[] = []
    const app = new Hono()
    app.use('*', shed(controller))
    app.get('/:name', async (c) => {
      ran.push(c.req.param('name'))
      await hold.promise
      return c.text('ok')
    })
    const running = await listen(app)
    try {
      const held = nextEvent(controller, 'admit')
      const first = await connect(running.port)
      first.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n')
      await held
      const socket = await connect(running.port)
      socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n')
      await until(() => controller.stats().queued === 2)
      socket.destroy()
      await until(() => controller.stats().queued === 0)
      expect(controller.stats().counters.rejected.aborted).toBe(2)
      hold.open()
      await expectDrained(controller)
      expect(ran).toEqual(['held'])
      first.destroy()
    } finally {
      hold.open()
      await running.close()
    }
  })
})
