import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from '@spillway/client'
import { createAdmissionController, type Permit } from '@spillway/core'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function listen(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return { server, url: `http://127.0.0.1:${port}` }
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
}

describe('createClient over a real node:http server on 127.0.0.1', () => {
  it('waits out a 503 with Retry-After, then gets the answer, sending its deadline each time', async () => {
    const seen: Array<string | undefined> = []
    const { server, url } = await listen((req, res) => {
      seen.push(req.headers['x-request-timeout-ms'] as string | undefined)
      if (seen.length === 1) {
        res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/problem+json' })
        res.end('{"reason":"queueFull"}')
      } else {
        res.end('served')
      }
    })
    try {
      const client = createClient({ throttle: false })
      const response = await client(`${url}/x`, undefined, { timeoutMs: 10_000 })
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('served')
      expect(seen).toHaveLength(2)
      const [first, second] = seen.map(Number)
      expect(first).toBeLessThanOrEqual(10_000)
      // The second attempt went out after waiting at least the 1 s asked for.
      expect(second).toBeLessThanOrEqual((first as number) - 1000)
      expect(client.stats()[url]?.counters).toMatchObject({
        requests: 1,
        attempts: 2,
        refusals: 1,
        accepts: 1,
        retries: 1,
      })
    } finally {
      await close(server)
    }
  })

  it('closes the loop with a spillway-protected server: refused, waits, then admitted', async () => {
    const controller = createAdmissionController({
      limit: 1,
      queue: { size: 0 },
      retryAfter: { minSeconds: 1, maxSeconds: 1 },
    })
    let releaseHeld: (() => void) | undefined
    let refusedOnce: (() => void) | undefined
    const refused = new Promise<void>((resolve) => {
      refusedOnce = resolve
    })
    const { server, url } = await listen((req, res) => {
      const remaining = Number(req.headers['x-request-timeout-ms'])
      const deadline = Number.isFinite(remaining)
        ? performance.timeOrigin + performance.now() + remaining
        : undefined
      void controller
        .acquire({ deadline, priority: req.headers['x-request-priority'] as string })
        .then((decision) => {
          if (!decision.admitted) {
            res.writeHead(decision.rejection.status, {
              'retry-after': String(decision.rejection.retryAfterSeconds),
            })
            res.end()
            refusedOnce?.()
            return
          }
          const permit: Permit = decision.permit
          res.on('close', () => permit.release('success'))
          if (req.url === '/hold') {
            releaseHeld = () => res.end('held')
          } else {
            res.end('ok')
          }
        })
    })
    try {
      const client = createClient({ throttle: false })
      const held = client(`${url}/hold`)
      // Wait until the slot is taken before sending the request that must be refused.
      while (controller.stats().inFlight === 0) await new Promise((r) => setImmediate(r))
      const retried = client(`${url}/work`, undefined, { timeoutMs: 10_000, priority: 'critical' })
      await refused
      releaseHeld?.()
      expect(await (await held).text()).toBe('held')
      const response = await retried
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('ok')
      expect(client.stats()[url]?.counters).toMatchObject({ attempts: 3, refusals: 1, retries: 1 })
      expect(controller.stats().counters.rejected).toMatchObject({ queueFull: 1 })
      expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
    } finally {
      controller.close()
      await close(server)
    }
  })

  it('propagates an abort during the wait for Retry-After without sending again', async () => {
    let requests = 0
    const { server, url } = await listen((_req, res) => {
      requests++
      res.writeHead(503, { 'retry-after': '30' })
      res.end()
    })
    try {
      const client = createClient({ throttle: false })
      const abort = new AbortController()
      const pending = client(url, { signal: abort.signal })
      while (requests === 0) await new Promise((r) => setImmediate(r))
      // Let the 503 reach the client so it is waiting out the 30 s.
      while ((client.stats()[url]?.counters.refusals ?? 0) === 0) {
        await new Promise((r) => setImmediate(r))
      }
      abort.abort(new Error('shutting down'))
      await expect(pending).rejects.toThrow('shutting down')
      expect(requests).toBe(1)
    } finally {
      await close(server)
    }
  })

  it('retries a GET whose connection the server reset before answering', async () => {
    let requests = 0
    const { server, url } = await listen((req, res) => {
      requests++
      if (requests === 1) req.socket.destroy()
      else res.end('second time')
    })
    try {
      const client = createClient({ throttle: false })
      const response = await client(`${url}/x`, undefined, { timeoutMs: 10_000 })
      expect(await response.text()).toBe('second time')
      expect(requests).toBe(2)
      expect(client.stats()[url]?.counters).toMatchObject({ errors: 1, retries: 1, accepts: 1 })
    } finally {
      await close(server)
    }
  })
})
