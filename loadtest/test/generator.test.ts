import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { runClosedLoop } from '../src/harness/closed-loop.js'
import { runOpenLoop } from '../src/harness/open-loop.js'
import { TIMEOUT } from '../src/harness/records.js'

/** A local server: `/ok` answers 200, `/shed` 503, `/hang` never answers (until the client leaves). */
function listen(): Promise<{ server: Server; port: number; closedByClient: () => number }> {
  let closedByClient = 0
  const server = createServer((req, res) => {
    if (req.url === '/ok') res.end('ok')
    else if (req.url === '/shed') {
      res.statusCode = 503
      res.setHeader('content-type', 'application/problem+json')
      res.end(JSON.stringify({ status: 503, reason: 'queueFull' }))
    } else {
      res.once('close', () => {
        if (!res.writableFinished) closedByClient++
      })
    }
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        closedByClient: () => closedByClient,
      }),
    )
  })
}

describe('the open-loop generator', () => {
  it('sends exactly the scheduled arrivals, records each outcome and gives up on silent requests', async () => {
    const { server, port, closedByClient } = await listen()
    try {
      const log = await runOpenLoop({
        port,
        phases: [{ durationMs: 300, rate: 200 }],
        mix: [
          { path: '/ok', weight: 1 },
          { path: '/shed', weight: 1 },
          { path: '/hang', weight: 1 },
        ],
        timeoutMs: 150,
      })
      expect(log.status).toHaveLength(60)
      const byRoute = (route: number) => log.status.filter((_, i) => log.route[i] === route)
      expect(byRoute(0).every((s) => s === 200)).toBe(true)
      expect(byRoute(1).every((s) => s === 503)).toBe(true)
      // The rejection's reason is read from its problem+json body; other answers have none.
      const reasons = log.reason ?? []
      expect(reasons.filter((_, i) => log.route[i] === 1).every((r) => r === 'queueFull')).toBe(
        true,
      )
      expect(reasons.filter((_, i) => log.route[i] === 0).every((r) => r === '')).toBe(true)
      expect(byRoute(2).every((s) => s === TIMEOUT)).toBe(true)
      expect(byRoute(2).length).toBeGreaterThan(0)
      // The client really left: the server saw every silent request's socket close.
      for (let i = 0; i < 50 && closedByClient() < byRoute(2).length; i++) {
        await new Promise((r) => setTimeout(r, 10))
      }
      expect(closedByClient()).toBe(byRoute(2).length)
      expect(log.latencyMs.every((l) => Number.isFinite(l) && l <= 150)).toBe(true)
    } finally {
      server.close()
    }
  })

  it('stops at the request cap even when the schedule asks for more', async () => {
    const { server, port } = await listen()
    try {
      const log = await runOpenLoop({
        port,
        phases: [{ durationMs: 200, rate: 1000 }],
        mix: [{ path: '/ok', weight: 1 }],
        maxRequests: 25,
      })
      expect(log.status).toHaveLength(25)
    } finally {
      server.close()
    }
  })

  it('opens a new connection per request with newConnection, and asks for keep-alive without', async () => {
    const { server, port } = await listen()
    let connections = 0
    const asked: string[] = []
    server.on('connection', () => {
      connections++
    })
    server.on('request', (req) => {
      asked.push(String(req.headers.connection))
    })
    try {
      const spread = { phases: [{ durationMs: 200, rate: 100 }], mix: [{ path: '/ok', weight: 1 }] }
      const fresh = await runOpenLoop({ port, ...spread, newConnection: true })
      expect(fresh.status.every((s) => s === 200)).toBe(true)
      expect(connections).toBe(fresh.status.length)
      expect(new Set(asked)).toEqual(new Set(['close']))
      asked.length = 0
      const reused = await runOpenLoop({ port, ...spread })
      expect(reused.status.every((s) => s === 200)).toBe(true)
      expect(new Set(asked)).toEqual(new Set(['keep-alive']))
    } finally {
      server.close()
    }
  })
})

describe('the closed-loop generator', () => {
  it('records every answer autocannon gets, with its status', async () => {
    const { server, port } = await listen()
    try {
      const log = await runClosedLoop({
        port,
        connections: 2,
        durationMs: 1000,
        mix: [
          { path: '/ok', weight: 1 },
          { path: '/shed', weight: 1 },
        ],
      })
      expect(log.status.length).toBeGreaterThan(10)
      expect(new Set(log.status)).toEqual(new Set([200, 503]))
    } finally {
      server.close()
    }
  })
})
