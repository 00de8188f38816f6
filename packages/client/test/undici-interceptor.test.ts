/**
 * The undici interceptor over real node:http servers on 127.0.0.1, composed
 * on an undici Agent and called through undici's `request`: the same cases as
 * the fetch client, sharing one client's per-origin state.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ClientEvent, createClient, interceptors, ThrottledError } from '@spillway/client'
import { Agent, request } from 'undici'

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void

async function listen(handler: Handler) {
  const seen: IncomingMessage['headers'][] = []
  const server: Server = createServer((req, res) => {
    seen.push(req.headers)
    handler(req, res, seen.length)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { server, url, seen }
}

async function close(server: Server, agent?: Agent): Promise<void> {
  await agent?.close()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
}

function refuseFirst(retryAfter = '1'): Handler {
  return (_req, res, n) => {
    if (n === 1) {
      res.writeHead(503, { 'retry-after': retryAfter })
      res.end('{"reason":"queueFull"}')
    } else res.end(`served ${n}`)
  }
}

describe('interceptors.spillway over undici request', () => {
  it('waits out a 503 with Retry-After, then returns the answer, sending priority and deadline', async () => {
    const { server, url, seen } = await listen(refuseFirst())
    const client = createClient({ throttle: false, retryAfterJitter: 0 })
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      const start = performance.now()
      const { statusCode, body } = await request(`${url}/x`, {
        dispatcher: agent,
        spillway: { priority: 'critical', timeoutMs: 10_000 },
      } as never)
      expect(statusCode).toBe(200)
      expect(await body.text()).toBe('served 2')
      expect(performance.now() - start).toBeGreaterThanOrEqual(990)
      expect(seen.map((h) => h['x-request-priority'])).toEqual(['critical', 'critical'])
      const [first, second] = seen.map((h) => Number(h['x-request-timeout-ms']))
      expect(second).toBeLessThanOrEqual((first as number) - 990)
      expect(client.stats()[url]?.counters).toMatchObject({
        requests: 1,
        attempts: 2,
        refusals: 1,
        accepts: 1,
        retries: 1,
      })
    } finally {
      await close(server, agent)
    }
  })

  it('shares per-origin state with the fetch client it was made from', async () => {
    const { server, url } = await listen((_req, res) => {
      res.writeHead(503, { 'retry-after': '1' })
      res.end()
    })
    const client = createClient({ throttle: false, retryBudget: { ratio: 0, minPerSecond: 0.1 } })
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      // fetch spends the only retry of the budget (0.1/s × 10 s)…
      expect((await client(url, undefined, { timeoutMs: 10_000 })).status).toBe(503)
      // …so undici's call finds it spent.
      const { statusCode, body } = await request(url, { dispatcher: agent })
      await body.text()
      expect(statusCode).toBe(503)
      expect(client.stats()[url]?.counters).toMatchObject({ requests: 2, attempts: 3, retries: 1 })
      // One retry skipped for want of budget in each call, fetch's and undici's.
      expect(client.stats()[url]?.counters.notRetried.budget).toBe(2)
    } finally {
      await close(server, agent)
    }
  })

  it('hands back a refusal it may not retry, with its body, and says why', async () => {
    const { server, url } = await listen(refuseFirst('7200'))
    const client = createClient({ throttle: false })
    const events: ClientEvent[] = []
    client.on((e) => events.push(e))
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      const { statusCode, headers, body } = await request(url, { dispatcher: agent })
      expect(statusCode).toBe(503)
      expect(headers['retry-after']).toBe('7200')
      expect(await body.text()).toBe('{"reason":"queueFull"}')
      const post = await request(url, { dispatcher: agent, method: 'POST', body: 'x' })
      await post.body.text()
      expect(post.statusCode).toBe(200)
      expect(events.map((e) => e.type === 'retrySkipped' && e.reason)).toEqual([
        'retryAfterTooLong',
      ])
    } finally {
      await close(server, agent)
    }
  })

  it('does not retry a POST refused with 503', async () => {
    const { server, url, seen } = await listen(refuseFirst())
    const client = createClient({ throttle: false })
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      const { statusCode, body } = await request(url, {
        dispatcher: agent,
        method: 'POST',
        body: 'x',
      })
      await body.text()
      expect(statusCode).toBe(503)
      expect(seen).toHaveLength(1)
      expect(client.stats()[url]?.counters.notRetried.notIdempotent).toBe(1)
    } finally {
      await close(server, agent)
    }
  })

  it('retries a GET whose connection the server reset before answering', async () => {
    const { server, url } = await listen((req, res, n) => {
      if (n === 1) req.socket.destroy()
      else res.end('second time')
    })
    const client = createClient({ throttle: false })
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      const { statusCode, body } = await request(url, { dispatcher: agent })
      expect(statusCode).toBe(200)
      expect(await body.text()).toBe('second time')
      expect(client.stats()[url]?.counters).toMatchObject({ errors: 1, retries: 1, accepts: 1 })
    } finally {
      await close(server, agent)
    }
  })

  it('ends a wait at once when the caller aborts, sending nothing more', async () => {
    const { server, url, seen } = await listen((_req, res) => {
      res.writeHead(503, { 'retry-after': '30' })
      res.end()
    })
    const client = createClient({ throttle: false })
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      const abort = new AbortController()
      const pending = request(url, { dispatcher: agent, signal: abort.signal })
      pending.catch(() => {})
      while ((client.stats()[url]?.counters.refusals ?? 0) === 0) {
        await new Promise((r) => setTimeout(r, 5))
      }
      const start = performance.now()
      abort.abort(new Error('shutting down'))
      await expect(pending).rejects.toThrow('shutting down')
      expect(performance.now() - start).toBeLessThan(1000)
      expect(seen).toHaveLength(1)
    } finally {
      await close(server, agent)
    }
  })

  it('aborts an attempt with a TimeoutError when the deadline passes mid-flight', async () => {
    const { server, url } = await listen(() => {
      // Never answers.
    })
    const client = createClient({ throttle: false })
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      const error = await request(url, {
        dispatcher: agent,
        spillway: { timeoutMs: 100 },
      } as never).catch((e: unknown) => e)
      expect(error).toMatchObject({ name: 'TimeoutError' })
    } finally {
      await close(server, agent)
    }
  })

  it('fails fast with ThrottledError when the throttle or the concurrency cap says no', async () => {
    const { server, url } = await listen((_req, res) => {
      res.writeHead(503)
      res.end()
    })
    const client = createClient({ throttle: { k: 1 }, maxAttempts: 1, random: () => 0 })
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      const first = await request(url, { dispatcher: agent })
      await first.body.text()
      const error = await request(url, { dispatcher: agent }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ThrottledError)
      expect(error).toMatchObject({ reason: 'throttled', origin: url })
    } finally {
      await close(server, agent)
    }
  })

  it('takes a concurrency slot per attempt and leaves the cap drained', async () => {
    let finish: (() => void) | undefined
    const { server, url } = await listen((_req, res, n) => {
      if (n === 1) finish = () => res.end('held')
      else res.end('ok')
    })
    const client = createClient({ throttle: false, concurrency: { limit: 1 } })
    const agent = new Agent().compose(interceptors.spillway(client)) as unknown as Agent
    try {
      const held = request(url, { dispatcher: agent })
      while (finish === undefined) await new Promise((r) => setTimeout(r, 5))
      await expect(request(url, { dispatcher: agent })).rejects.toMatchObject({
        reason: 'queueFull',
      })
      finish()
      expect(await (await held).body.text()).toBe('held')
      expect(client.stats()[url]?.concurrency).toEqual({ limit: 1, inFlight: 0, queued: 0 })
    } finally {
      await close(server, agent)
    }
  })

  it('works with its own state when given options', async () => {
    const { server, url } = await listen(refuseFirst())
    const agent = new Agent().compose(
      interceptors.spillway({ throttle: false, retryAfterJitter: 0 }),
    ) as unknown as Agent
    try {
      const { statusCode, body } = await request(url, { dispatcher: agent })
      expect(statusCode).toBe(200)
      expect(await body.text()).toBe('served 2')
      expect(() => interceptors.spillway({ throttle: true } as never)).toThrow(/`throttle`/)
    } finally {
      await close(server, agent)
    }
  })
})
