/**
 * Redirects over real node:http servers on 127.0.0.1: two ports are two origins.
 */
import { once } from 'node:events'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from '@spillway/client'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

interface Origin {
  server: Server
  url: string
  seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }>
}

async function origin(handler: Handler): Promise<Origin> {
  const seen: Origin['seen'] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString()
    })
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      handler(req, res)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

async function close(...origins: Origin[]): Promise<void> {
  for (const { server } of origins) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

function redirectTo(res: ServerResponse, status: number, location: string): void {
  res.writeHead(status, { location })
  res.end('moved')
}

describe('redirects', () => {
  it('strips spillway headers and credentials on a cross-origin redirect, and charges each origin its own answers', async () => {
    let refusedOnce = false
    const b = await origin((_req, res) => {
      if (!refusedOnce) {
        refusedOnce = true
        res.writeHead(503, { 'retry-after': '1' })
        res.end()
      } else res.end('from b')
    })
    const a = await origin((_req, res) => redirectTo(res, 302, `${b.url}/target`))
    try {
      const client = createClient({ throttle: false, retryAfterJitter: 0 })
      const response = await client(
        `${a.url}/start`,
        { headers: { authorization: 'Bearer secret', 'x-trace': 't1' } },
        { priority: 'critical', timeoutMs: 10_000 },
      )
      expect(await response.text()).toBe('from b')
      expect(response.url).toBe(`${b.url}/target`)
      expect(response.redirected).toBe(true)

      expect(a.seen[0]?.headers).toMatchObject({
        'x-request-priority': 'critical',
        authorization: 'Bearer secret',
      })
      expect(a.seen[0]?.headers['x-request-timeout-ms']).toBeDefined()
      expect(b.seen).toHaveLength(2)
      for (const request of b.seen) {
        expect(request.headers['x-request-priority']).toBeUndefined()
        expect(request.headers['x-request-timeout-ms']).toBeUndefined()
        expect(request.headers.authorization).toBeUndefined()
        expect(request.headers['x-trace']).toBe('t1')
      }

      const stats = client.stats()
      expect(stats[a.url]?.counters).toMatchObject({
        requests: 1,
        attempts: 1,
        accepts: 1,
        refusals: 0,
        retries: 0,
      })
      expect(stats[b.url]?.counters).toMatchObject({
        requests: 1,
        attempts: 2,
        accepts: 1,
        refusals: 1,
        retries: 1,
      })
    } finally {
      await close(a, b)
    }
  })

  it('keeps spillway headers on a same-origin redirect', async () => {
    const a = await origin((req, res) => {
      if (req.url === '/old') redirectTo(res, 301, '/new')
      else res.end('new')
    })
    try {
      const client = createClient({ throttle: false })
      const response = await client(`${a.url}/old`, undefined, {
        priority: 'sheddable',
        timeoutMs: 5000,
      })
      expect(await response.text()).toBe('new')
      expect(a.seen.map((r) => r.headers['x-request-priority'])).toEqual(['sheddable', 'sheddable'])
      expect(a.seen.every((r) => r.headers['x-request-timeout-ms'] !== undefined)).toBe(true)
      expect(client.stats()[a.url]?.counters).toMatchObject({
        requests: 2,
        attempts: 2,
        accepts: 2,
      })
    } finally {
      await close(a)
    }
  })

  it('respects the caller redirect mode: manual hands back the 3xx, error fails', async () => {
    const a = await origin((req, res) => {
      if (req.url === '/old') redirectTo(res, 302, '/new')
      else res.end('new')
    })
    try {
      const client = createClient({ throttle: false })
      const manual = await client(`${a.url}/old`, { redirect: 'manual' })
      expect(manual.status).toBe(302)
      expect(manual.headers.get('location')).toBe('/new')
      await manual.arrayBuffer()
      await expect(client(`${a.url}/old`, { redirect: 'error' })).rejects.toMatchObject({
        name: 'TypeError',
      })
      expect(a.seen.map((r) => r.url)).toEqual(['/old', '/old'])
    } finally {
      await close(a)
    }
  })

  it('turns a POST into a GET without its body on 303, and replays it on 307', async () => {
    const a = await origin((req, res) => {
      if (req.url === '/see-other') redirectTo(res, 303, '/done')
      else if (req.url === '/temporary') redirectTo(res, 307, '/done')
      else res.end(req.method)
    })
    try {
      const client = createClient({ throttle: false })
      const init = { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } }
      expect(await (await client(`${a.url}/see-other`, init)).text()).toBe('GET')
      expect(a.seen[1]).toMatchObject({ method: 'GET', body: '' })
      expect(a.seen[1]?.headers['content-type']).toBeUndefined()
      expect(await (await client(`${a.url}/temporary`, init)).text()).toBe('POST')
      expect(a.seen[3]).toMatchObject({ method: 'POST', body: 'payload' })
    } finally {
      await close(a)
    }
  })

  it('refuses to replay a stream body on 307, and stops after 20 redirects, as fetch does', async () => {
    const a = await origin((req, res) => {
      if (req.url === '/temporary') redirectTo(res, 307, '/done')
      else redirectTo(res, 302, '/loop')
    })
    try {
      const client = createClient({ throttle: false })
      const body = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('x'))
          c.close()
        },
      })
      await expect(
        client(`${a.url}/temporary`, { method: 'PUT', body, duplex: 'half' } as RequestInit),
      ).rejects.toThrow(/cannot be sent twice/)
      await expect(client(`${a.url}/loop`)).rejects.toThrow(/Redirect count exceeded/)
      expect(a.seen.filter((r) => r.url === '/loop')).toHaveLength(21)
    } finally {
      await close(a)
    }
  })
})
