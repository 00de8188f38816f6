import { createServer as createHttpServer, type Server } from 'node:http'
import { createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/express'
import express, { type Request, type Response } from 'express'
import { createDownstream } from './downstream.js'

/**
 * One controller shared by three Express routes of different priorities, all
 * waiting on the same slow downstream. Under overload `/report` (sheddable)
 * is shed first, then `/search` (normal); `/checkout` (critical) waits at the
 * head of the queue and may evict a lower-priority waiter to get in.
 * `GET /stats` is not guarded and shows the controller's live state.
 */
export function createServer(): Server {
  const controller = createAdmissionController({
    limit: 8,
    queue: { size: 16, timeoutMs: 1000 },
    priorities: ['critical', 'normal', 'sheddable'],
    defaultPriority: 'normal',
  })
  const downstream = createDownstream()
  const work = async (_req: Request, res: Response): Promise<void> => {
    await downstream()
    res.json({ ok: true })
  }

  const app = express()
  app.get('/checkout', shed(controller, { priority: 'critical' }), work)
  app.get('/search', shed(controller, { priority: 'normal' }), work)
  app.get('/report', shed(controller, { priority: 'sheddable' }), work)
  app.get('/stats', (_req, res) => {
    res.json(controller.stats())
  })

  const server = createHttpServer(app)
  server.on('close', () => controller.close())
  return server
}
