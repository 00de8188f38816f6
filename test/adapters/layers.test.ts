/**
 * The same controller twice on one request path (an app-wide layer plus a
 * route's own) reuses the request's permit instead of taking a second slot:
 * at `limit: 1` a second slot would never come, and the server would hang.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { shed as shedExpress } from '@spillway/express'
import { shed as shedKoa } from '@spillway/koa'
import { shed as shedNode } from '@spillway/node'
import express4 from 'express4'
import express5 from 'express5'
import type { Context, Next } from 'koa'
import koa2 from 'koa2'
import koa3 from 'koa3'
import { expectDrained, get, latch, nextEvent } from '../contract/support.js'

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

/** Builds a server with an outer `shed(controller)` and a route `shed(controller, { priority })`. */
type Build = (controller: AdmissionController, wait: () => Promise<void>) => http.RequestListener

const servers: [string, Build][] = [
  [
    'node:http',
    (controller, wait) => {
      const inner = shedNode(controller, { priority: 'critical' }, async (_req, res) => {
        await wait()
        res.end('ok')
      })
      return shedNode(controller, (req, res) => inner(req, res))
    },
  ],
  ...(
    [
      ['Express 4', express4],
      ['Express 5', express5],
    ] as [string, typeof express5][]
  ).map(([name, express]): [string, Build] => [
    name,
    (controller, wait) => {
      const app = express()
      app.use(shedExpress(controller))
      app.get('/work', shedExpress(controller, { priority: 'critical' }), (_req, res, next) => {
        wait().then(() => res.send('ok'), next)
      })
      return app
    },
  ]),
  ...(
    [
      ['Koa 2', koa2],
      ['Koa 3', koa3],
    ] as [string, typeof koa3][]
  ).map(([name, Koa]): [string, Build] => [
    name,
    (controller, wait) => {
      const app = new Koa()
      app.use(shedKoa(controller))
      const route = shedKoa(controller, { priority: 'critical' })
      app.use((ctx: Context, next: Next) =>
        route(ctx, async () => {
          await wait()
          ctx.body = 'ok'
          return next()
        }),
      )
      return app.callback()
    },
  ]),
]

describe.each(servers)('%s', (_name, build) => {
  it('serves a request that passes two layers of one controller at limit 1, on one slot', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 1, timeoutMs: 2000 } })
    const hold = latch()
    const entered = latch()
    const server = await listen(
      build(controller, () => {
        entered.open()
        return hold.promise
      }),
    )
    try {
      const reply = get(server.port, '/work')
      // Observed below; a failed run must not also crash on the hang-up that follows.
      reply.catch(() => undefined)
      // Into the handler, or queued or refused behind its own slot (the defect): not a
      // fixed sleep, which a busy loop can outlast (an admission in a late turn reaches
      // the route layer a turn later).
      await Promise.race([
        entered.promise,
        nextEvent(controller, 'queue'),
        nextEvent(controller, 'reject'),
      ])
      expect(controller.stats()).toMatchObject({ inFlight: 1, queued: 0 })
      hold.open()
      expect(await reply).toMatchObject({ status: 200, body: 'ok' })
      await expectDrained(controller)
      expect(controller.stats().counters).toMatchObject({
        admitted: 1,
        released: { success: 1, failure: 0, ignore: 0 },
      })
      // The slot is free again for the next request.
      expect(await get(server.port, '/work')).toMatchObject({ status: 200 })
      await expectDrained(controller)
    } finally {
      hold.open()
      await server.close()
      controller.close()
    }
  })
})
