import { createServer as createHttpServer, type Server } from 'node:http'
import { shed } from '@spillway/express'
import express from 'express'
import { createDownstream } from './downstream.js'

/**
 * An Express 5 app whose every route goes through one `shed()`: 8 requests
 * in flight, 16 more may wait up to a second, the rest get `503` with
 * `Retry-After`. `GET /stats` is skipped and shows the controller's live
 * state. Closing the server closes the controller.
 */
export function createServer(): Server {
  const guard = shed({
    limit: 8,
    queue: { size: 16, timeoutMs: 1000 },
    skip: (req) => req.path === '/stats',
  })
  const downstream = createDownstream()

  const app = express()
  app.use(guard)
  app.get('/stats', (_req, res) => {
    res.json(guard.controller.stats())
  })
  app.get('/', async (_req, res) => {
    await downstream()
    res.json({ ok: true })
  })

  const server = createHttpServer(app)
  server.on('close', () => guard.controller.close())
  return server
}
