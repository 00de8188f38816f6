/**
 * Logs and events carry request context: the adapters pass the method and the
 * route (the framework's template where it has one, else the path without
 * its query), and `onShed` observes every rejection without changing it.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { shed as shedExpress } from '@spillway/express'
import { shed as shedKoa } from '@spillway/koa'
import express5 from 'express5'
import type { Context, Next } from 'koa'
import koa3 from 'koa3'
import { errorsOf, expectDrained, get, latch, nextEvent } from '../contract/support.js'
import { type Target, targets } from '../contract/targets.js'

// The Node-kit adapters; Hono has no node layer and its own gate (not covered here yet).
const nodeKitTargets = targets.filter((target) => !target.name.startsWith('Hono'))

describe.each(nodeKitTargets)('$name', (target: Target) => {
  let controller: AdmissionController
  afterEach(() => controller.close())

  it('passes the method and the path without its query to admit, reject and release events', async () => {
    controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const hold = latch()
    const running = await target.start(controller, [
      { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
    ])
    try {
      const admitted = nextEvent(controller, 'admit')
      const first = get(running.port, '/hold?token=secret')
      expect(await admitted).toMatchObject({ method: 'GET', route: '/hold' })
      const rejected = nextEvent(controller, 'reject')
      expect((await get(running.port, '/hold?token=secret')).status).toBe(503)
      expect(await rejected).toMatchObject({ method: 'GET', route: '/hold' })
      const released = nextEvent(controller, 'release')
      hold.open()
      await first
      expect(await released).toMatchObject({ method: 'GET', route: '/hold' })
      await expectDrained(controller)
    } finally {
      hold.open()
      await running.close()
    }
  })

  it('calls onShed with the request and the rejection, and never lets it change the answer', async () => {
    controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const reported = errorsOf(controller)
    const hold = latch()
    const seen: string[] = []
    const running = await target.start(controller, [
      { path: '/hold', handler: { reply: 'ok', wait: () => hold.promise } },
      {
        path: '/logged',
        options: {
          onShed: (input: unknown, rejection: { reason: string }) => {
            seen.push(`${target.header(input, 'x-id')}:${rejection.reason}`)
          },
        },
        handler: { reply: 'ok' },
      },
      {
        path: '/throws',
        options: {
          onShed: () => {
            throw new Error('logger failed')
          },
        },
        handler: { reply: 'ok' },
      },
      {
        path: '/rejects',
        options: { onShed: () => Promise.reject(new Error('async logger failed')) },
        handler: { reply: 'ok' },
      },
    ])
    try {
      const admitted = nextEvent(controller, 'admit')
      const first = get(running.port, '/hold')
      await admitted
      const logged = await get(running.port, '/logged', { 'x-id': 'a1' })
      expect(logged.status).toBe(503)
      expect(seen).toEqual(['a1:queueFull'])
      for (const path of ['/throws', '/rejects']) {
        const reply = await get(running.port, path)
        expect(reply.status).toBe(503)
        expect(JSON.parse(reply.body)).toMatchObject({ reason: 'queueFull' })
      }
      await new Promise((resolve) => setImmediate(resolve))
      expect(reported.map((e) => e.source)).toEqual(['onShed', 'onShed'])
      hold.open()
      expect((await first).status).toBe(200)
      await expectDrained(controller)
    } finally {
      hold.open()
      await running.close()
    }
  })
})

async function listen(listener: http.RequestListener) {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

it('Express: a route layer names the route template, mounted routers included', async () => {
  const controller = createAdmissionController({ limit: 4, queue: { size: 0 } })
  const app = express5()
  const router = express5.Router()
  router.get('/items/:id', shedExpress(controller), (_req, res) => {
    res.send('item')
  })
  app.use('/api', router)
  app.get('/users/:id', shedExpress(controller), (_req, res) => {
    res.send('user')
  })
  const server = await listen(app)
  try {
    let admitted = nextEvent(controller, 'admit')
    await get(server.port, '/users/42?x=1')
    expect(await admitted).toMatchObject({ method: 'GET', route: '/users/:id' })
    admitted = nextEvent(controller, 'admit')
    await get(server.port, '/api/items/7')
    expect(await admitted).toMatchObject({ route: '/api/items/:id' })
    await expectDrained(controller)
  } finally {
    await server.close()
    controller.close()
  }
})

it("Koa: the router's matched route when @koa/router set it, else the path", async () => {
  const controller = createAdmissionController({ limit: 4, queue: { size: 0 } })
  const app = new koa3()
  // What @koa/router does before running a route's middleware.
  app.use((ctx: Context, next: Next) => {
    if (ctx.path.startsWith('/users/'))
      (ctx as Context & { _matchedRoute?: string })._matchedRoute = '/users/:id'
    return next()
  })
  app.use(shedKoa(controller))
  app.use((ctx: Context) => {
    ctx.body = 'ok'
  })
  const server = await listen(app.callback())
  try {
    let admitted = nextEvent(controller, 'admit')
    await get(server.port, '/users/42?x=1')
    expect(await admitted).toMatchObject({ method: 'GET', route: '/users/:id' })
    admitted = nextEvent(controller, 'admit')
    await get(server.port, '/other/path?x=1')
    expect(await admitted).toMatchObject({ route: '/other/path' })
    await expectDrained(controller)
  } finally {
    await server.close()
    controller.close()
  }
})
