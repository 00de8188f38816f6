import { readiness, shed } from '@spillway/hono'
import { Hono } from 'hono'
import { createDownstream } from './downstream.js'

/**
 * A Hono app whose every route goes through one `shed()`: 8 requests in
 * flight, 16 more may wait up to a second, the rest get `503` with
 * `Retry-After`. `GET /stats` and `GET /ready` are declared before it, so
 * they are never shed; `limiter.controller.close()` starts draining.
 */
export function createApp() {
  const downstream = createDownstream()
  const limiter = shed({ limit: 8, queue: { size: 16, timeoutMs: 1000 } })
  const app = new Hono()
  app.get('/stats', (c) => c.json(limiter.controller.stats()))
  app.get('/ready', readiness(limiter.controller))
  app.use('*', limiter)
  app.get('/', async (c) => {
    await downstream()
    return c.json({ ok: true })
  })
  return { app, controller: limiter.controller }
}
