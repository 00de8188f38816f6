import { createServer as createHttpServer, type Server } from 'node:http'
import { shed } from '@spillway/koa'
import Koa from 'koa'
import { createDownstream } from './downstream.js'

/**
 * A Koa 3 app with `shed()` as its first middleware: 8 requests in flight,
 * 16 more may wait up to a second, the rest get `503` with `Retry-After`.
 * `GET /stats` is skipped and shows the controller's live state. Closing the
 * server closes the controller.
 */
export function createServer(): Server {
  const guard = shed({
    limit: 8,
    queue: { size: 16, timeoutMs: 1000 },
    skip: (ctx) => ctx.path === '/stats',
  })
  const downstream = createDownstream()

  const app = new Koa()
  app.use(guard)
  app.use(async (ctx) => {
    if (ctx.path === '/stats') {
      ctx.body = guard.controller.stats()
      return
    }
    await downstream()
    ctx.body = { ok: true }
  })

  const server = createHttpServer(app.callback())
  server.on('close', () => guard.controller.close())
  return server
}
