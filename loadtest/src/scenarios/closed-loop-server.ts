/**
 * The target of the `closed-loop` scenario, run as a child process: node:http
 * behind `@spillway/node`'s `shed`, in front of a downstream of `slots` slots
 * × `serviceMs` (a timer, like a database pool: the bottleneck is not the
 * event loop). It counts every request that reaches it, so the parent can
 * compute retry amplification, and serves them on `GET /__stats` (skipped by
 * spillway). It reads the client's `x-request-timeout-ms` and
 * `x-request-priority` (opt-in on the server). It exits when the parent's IPC
 * channel closes, so it never outlives the run.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { shed } from '@spillway/node'

/** What the parent passes in `CLOSED_LOOP_SERVER` (JSON). */
export interface ClosedLoopServerConfig {
  /** Downstream slots: requests served at once. */
  slots: number
  /** Downstream service time per request, in ms. */
  serviceMs: number
  /** Spillway's concurrency limit (usually `slots`). */
  limit: number
  /** Spillway's queue size. */
  queueSize: number
  /** Spillway's queue timeout, in ms. */
  queueTimeoutMs: number
  /**
   * CPU spent on every request before admission (parsing, auth, logging: what
   * a real server pays even to say no), in ms of busy loop. 0 = none.
   */
  perRequestCpuMs: number
}

/** What `GET /__stats` returns. */
export interface ClosedLoopServerStats {
  /** Requests that reached the server (stats requests excluded). */
  received: number
  /** Requests answered 200 by the downstream. */
  served: number
  /** Requests answered 503 or 429 by spillway. */
  rejected: number
  inFlight: number
  queued: number
  /** Spillway's rejections by reason. */
  rejectedByReason: Record<string, number>
}

function main(): void {
  const config = JSON.parse(process.env.CLOSED_LOOP_SERVER ?? '{}') as ClosedLoopServerConfig
  const stats = { received: 0, served: 0, rejected: 0 }
  let busy = 0
  const waiting: Array<() => void> = []

  // The downstream: `slots` at a time, each busy for `serviceMs`.
  const downstream = (): Promise<void> =>
    new Promise((resolve) => {
      const run = (): void => {
        busy++
        setTimeout(() => {
          busy--
          waiting.shift()?.()
          resolve()
        }, config.serviceMs)
      }
      if (busy < config.slots) run()
      else waiting.push(run)
    })

  const handler = async (_req: IncomingMessage, res: ServerResponse): Promise<void> => {
    await downstream()
    if (res.destroyed) return
    stats.served++
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 })
    res.end('ok')
  }

  const listener = shed(
    {
      limit: config.limit,
      queue: { size: config.queueSize, timeoutMs: config.queueTimeoutMs },
      deadlineHeader: 'x-request-timeout-ms',
      deadlineHeaderMaxMs: 10_000,
      priority: (req) => {
        const value = req.headers['x-request-priority']
        return typeof value === 'string' ? value : undefined
      },
      skip: (req) => req.url === '/__stats',
    },
    handler,
  )

  const server = createServer((req, res) => {
    if (req.url === '/__stats') {
      const c = listener.controller.stats()
      const body: ClosedLoopServerStats = {
        ...stats,
        inFlight: c.inFlight,
        queued: c.queued,
        rejectedByReason: Object.fromEntries(
          Object.entries(c.counters.rejected).filter(([, n]) => n > 0),
        ),
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
      return
    }
    stats.received++
    if (config.perRequestCpuMs > 0) {
      const until = performance.now() + config.perRequestCpuMs
      while (performance.now() < until) {
        // Busy on purpose: the cost of receiving a request, paid even when it is shed.
      }
    }
    res.once('finish', () => {
      if (res.statusCode === 503 || res.statusCode === 429) stats.rejected++
    })
    listener(req, res)
  })
  server.keepAliveTimeout = 30_000
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port })
  })
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
}

main()
