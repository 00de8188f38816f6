import { createServer as createHttpServer, type Server } from 'node:http'
import { guard, shed } from '@spillway/express'
import express from 'express'
import { type Logger, pino } from 'pino'
import { createDownstream } from './downstream.js'

/**
 * An Express 5 app that logs what spillway does with pino: one `warn` line
 * per shed request (method, route template, priority, reason, Retry-After)
 * from `onShed`, and one `error` line per failing user hook or sensor from the
 * controller's `error` events. `onShed` only observes: a logger that throws
 * never changes the 503. `downstream` stands in for a slow dependency.
 */
export function createServer(
  logger: Logger = pino(),
  downstream: () => Promise<void> = createDownstream(),
): Server {
  const limiter = shed({
    limit: 8,
    queue: { size: 16, timeoutMs: 1000 },
    skip: (req) => req.path === '/stats',
    onShed: (req, rejection) => {
      logger.warn(
        {
          method: req.method,
          // The template (`/orders/:id`) on a route layer; the path here, before routing.
          route: req.route?.path ?? req.path,
          reason: rejection.reason,
          status: rejection.status,
          retryAfterSeconds: rejection.retryAfterSeconds,
        },
        'request shed',
      )
    },
  })
  const { controller } = limiter
  controller.on((event) => {
    if (event.type === 'error')
      logger.error({ source: event.source, err: event.error }, 'spillway hook failed')
  })

  const app = express()
  app.use(limiter)
  app.get('/stats', (_req, res) => {
    res.json(controller.stats())
  })
  app.get(
    '/orders/:id',
    guard(async (req, res) => {
      await downstream()
      res.json({ id: req.params.id })
    }),
  )

  const server = createHttpServer(app)
  server.on('close', () => controller.close())
  return server
}
