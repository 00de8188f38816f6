import { createServer as createHttpServer, type Server } from 'node:http'
import { shed } from '@spillway/node'
import { createDownstream } from './downstream.js'

/**
 * A node:http server whose listener is wrapped in `shed()`: 8 requests in
 * flight, 16 more may wait up to a second, the rest get `503` with
 * `Retry-After`. `GET /stats` is skipped and shows the controller's live
 * state. Closing the server closes the controller.
 */
export function createServer(): Server {
  const downstream = createDownstream()
  const listener = shed(
    {
      limit: 8,
      queue: { size: 16, timeoutMs: 1000 },
      skip: (req) => req.url === '/stats',
    },
    async (req, res) => {
      if (req.url === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(listener.controller.stats()))
        return
      }
      await downstream()
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true }))
    },
  )

  const server = createHttpServer(listener)
  server.on('close', () => listener.controller.close())
  return server
}
