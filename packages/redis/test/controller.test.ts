/**
 * The store behind real controllers (`perKey: { limit, store }`), and behind
 * two Express apps sharing one Redis over real sockets: the fleet-wide 429,
 * keyless requests that never touch Redis, the failure modes as the client
 * sees them, and every controller drained at the end.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/express'
import express from 'express5'
import { createRedisStore, type RedisStore, type RedisStoreOptions } from '../src/index.js'
import { CLIENTS, connectClient, type TestClient } from './clients.js'
import { findRedisServer, type RedisServer, startRedisServer, untilLeases } from './redis-server.js'

const BINARY = findRedisServer()
if (BINARY === undefined) {
  console.warn(
    'packages/redis/test/controller.test.ts: skipping: no redis-server on PATH ' +
      "(install Debian's `redis-server` package, as .ci/run does).",
  )
}
const withRedis = BINARY === undefined ? describe.skip : describe

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let prefixCount = 0

withRedis.each(CLIENTS)('perKey on Redis with %s', (clientName) => {
  let server: RedisServer
  const opened: TestClient[] = []
  const controllers: AdmissionController[] = []
  const servers: Server[] = []
  let prefix: string

  async function controllerWith(
    perKeyLimit: number,
    options: Partial<RedisStoreOptions> = {},
  ): Promise<{ controller: AdmissionController; store: RedisStore; errors: unknown[] }> {
    const client = await connectClient(clientName, server.port)
    opened.push(client)
    const store = createRedisStore({
      client: client.client,
      prefix,
      // Generous: these tests are about semantics, not about a busy machine's latency.
      callTimeoutMs: (options.leaseMs ?? 10_000) >= 5000 ? 2000 : 250,
      retryIntervalMs: 100,
      ...options,
    })
    const controller = createAdmissionController({
      limit: 50,
      queue: { size: 0 },
      perKey: { limit: perKeyLimit, store },
    })
    const errors: unknown[] = []
    controller.on((event) => {
      if (event.type === 'error') errors.push(event)
    })
    controllers.push(controller)
    return { controller, store, errors }
  }

  function expectDrained(controller: AdmissionController): void {
    const stats = controller.stats()
    expect(stats.inFlight === 0 && stats.queued === 0).toBe(true)
  }

  beforeAll(async () => {
    server = await startRedisServer(BINARY as string)
  })

  afterAll(async () => {
    await server.kill()
  })

  beforeEach(() => {
    prefix = `ctl${prefixCount++}:`
  })

  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
    for (const c of controllers.splice(0)) c.close()
    for (const client of opened.splice(0)) await client.close()
  })

  it('refuses a key over its fleet-wide cap with 429 quota, whichever controller it reaches', async () => {
    const a = await controllerWith(3)
    const b = await controllerWith(3)
    const held = [
      await a.controller.acquire({ key: 'tenant' }),
      await b.controller.acquire({ key: 'tenant' }),
      await a.controller.acquire({ key: 'tenant' }),
    ]
    expect(held.every((d) => d.admitted)).toBe(true)
    const over = await b.controller.acquire({ key: 'tenant' })
    expect(over.admitted).toBe(false)
    if (!over.admitted) {
      expect(over.rejection).toMatchObject({ reason: 'quota', status: 429 })
      expect(over.rejection.retryAfterSeconds).toBeGreaterThanOrEqual(1)
    }
    // Another key is not affected.
    const other = await b.controller.acquire({ key: 'other' })
    expect(other.admitted).toBe(true)
    if (other.admitted) other.permit.release()
    for (const d of held) if (d.admitted) d.permit.release('success')
    await untilLeases(server.port, `${prefix}{tenant}`, 0)
    const again = await b.controller.acquire({ key: 'tenant' })
    expect(again.admitted).toBe(true)
    if (again.admitted) again.permit.release()
    expect(a.store.heldBy('tenant') + b.store.heldBy('tenant')).toBe(0)
    expectDrained(a.controller)
    expectDrained(b.controller)
  })

  it('sends nothing to Redis for requests without a key', async () => {
    const { controller, store } = await controllerWith(1)
    for (let i = 0; i < 20; i++) {
      const decision = await controller.acquire({})
      expect(decision.admitted).toBe(true)
      if (decision.admitted) decision.permit.release()
    }
    expect(store.stats().calls).toBe(0)
    expectDrained(controller)
  })

  it("answers 503 unavailable when Redis is down under onError 'closed', reporting the failure as an error event", async () => {
    const { controller, store, errors } = await controllerWith(3, { onError: 'closed' })
    const before = await controller.acquire({ key: 'tenant' })
    expect(before.admitted).toBe(true)
    await server.kill()
    const during = await controller.acquire({ key: 'tenant' })
    expect(during.admitted).toBe(false)
    if (!during.admitted)
      expect(during.rejection).toMatchObject({ reason: 'unavailable', status: 503 })
    expect(errors[0]).toMatchObject({ type: 'error', source: 'perKey.redis' })
    expect(controller.stats().counters.errors).toBeGreaterThan(0)
    if (before.admitted) before.permit.release()
    expect(store.stats().held).toBe(0)
    expectDrained(controller)
    await server.restart()
  })

  it('closes the store with the controller: later acquires are refused, held leases still release', async () => {
    const { controller, store } = await controllerWith(2, { leaseMs: 300 })
    const held = await controller.acquire({ key: 'tenant' })
    controller.close()
    expect(await store.acquire('tenant', 2)).toEqual({ acquired: false, reason: 'unavailable' })
    if (held.admitted) held.permit.release()
    expect(store.stats().held).toBe(0)
    expectDrained(controller)
  })

  it('caps a tenant across two Express apps sharing Redis: 429 problem+json with Retry-After, then serves it again', async () => {
    let open = 0
    const gates: Array<() => void> = []
    async function app(): Promise<{ port: number; controller: AdmissionController }> {
      const { controller } = await controllerWith(2)
      const application = express()
      application.use(shed(controller, { key: (req) => req.get('x-tenant') }))
      application.get('/work', async (_req, res) => {
        open++
        await new Promise<void>((resolve) => gates.push(resolve))
        open--
        res.end('done')
      })
      const listening = application.listen(0, '127.0.0.1')
      servers.push(listening)
      await new Promise((resolve) => listening.once('listening', resolve))
      return { port: (listening.address() as AddressInfo).port, controller }
    }
    const one = await app()
    const two = await app()
    const get = (port: number, tenant: string) =>
      fetch(`http://127.0.0.1:${port}/work`, { headers: { 'x-tenant': tenant } })
    const first = get(one.port, 'acme')
    const second = get(two.port, 'acme')
    while (open < 2) await sleep(10)
    const refused = await get(two.port, 'acme')
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(refused.headers.get('content-type')).toContain('application/problem+json')
    expect(await refused.json()).toMatchObject({ status: 429, reason: 'quota' })
    // Another tenant still gets in.
    const other = get(one.port, 'globex')
    while (open < 3) await sleep(10)
    for (const open of gates.splice(0)) open()
    expect((await first).status).toBe(200)
    expect((await second).status).toBe(200)
    expect((await other).status).toBe(200)
    await sleep(50)
    const served = get(two.port, 'acme')
    while (open < 1) await sleep(10)
    for (const open of gates.splice(0)) open()
    expect((await served).status).toBe(200)
    await sleep(20)
    expectDrained(one.controller)
    expectDrained(two.controller)
  })
})
