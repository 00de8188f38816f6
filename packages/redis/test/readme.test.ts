/**
 * The README's usage example, run for real against a `redis-server`: the
 * controller with a Redis `perKey` store behind `shed` in Express 5, a tenant
 * refused over its cap and served again, keyless requests untouched. Keep in
 * sync with README.md (only `express5`, the workspace's alias of `express@5`,
 * and the URL differ).
 */
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/express'
import express from 'express5'
import { createClient } from 'redis'
import { createRedisStore } from '../src/index.js'
import { findRedisServer, type RedisServer, startRedisServer } from './redis-server.js'

const BINARY = findRedisServer()
if (BINARY === undefined) {
  console.warn(
    'packages/redis/test/readme.test.ts: skipping: no redis-server on PATH ' +
      "(install Debian's `redis-server` package, as .ci/run does).",
  )
}
const withRedis = BINARY === undefined ? describe.skip : describe

withRedis('README example', () => {
  let server: RedisServer

  beforeAll(async () => {
    server = await startRedisServer(BINARY as string)
  })

  afterAll(async () => {
    await server.kill()
  })

  it('caps a tenant at perKey.limit and leaves keyless requests alone', async () => {
    // --- README: Usage ---
    const redis = createClient({ url: `redis://127.0.0.1:${server.port}` })
    const redisErrors: unknown[] = []
    redis.on('error', (error) => redisErrors.push(error))
    await redis.connect()

    const controller = createAdmissionController({
      limit: 64,
      queue: { size: 128, timeoutMs: 1000 },
      perKey: { limit: 20, store: createRedisStore({ client: redis }) },
    })
    const events: unknown[] = []
    controller.on((event) => {
      if (event.type === 'error') events.push(event)
    })

    const app = express()
    app.use(shed(controller, { key: (req) => req.get('x-tenant-id') }))
    // --- end of the README's code ---
    const release: Array<() => void> = []
    app.get('/work', (_req, res) => {
      release.push(() => res.end('done'))
    })
    const listening: Server = app.listen(0, '127.0.0.1')
    await once(listening, 'listening')
    const url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}/work`
    try {
      const held = Array.from({ length: 20 }, () =>
        fetch(url, { headers: { 'x-tenant-id': 'acme' } }),
      )
      while (release.length < 20) await new Promise((resolve) => setTimeout(resolve, 10))
      const refused = await fetch(url, { headers: { 'x-tenant-id': 'acme' } })
      expect(refused.status).toBe(429)
      expect(await refused.json()).toMatchObject({ reason: 'quota' })
      // No key, no cap (and no Redis call).
      const keyless = fetch(url)
      while (release.length < 21) await new Promise((resolve) => setTimeout(resolve, 10))
      for (const finish of release.splice(0)) finish()
      expect((await keyless).status).toBe(200)
      for (const response of await Promise.all(held)) expect(response.status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 50))
      const again = fetch(url, { headers: { 'x-tenant-id': 'acme' } })
      while (release.length < 1) await new Promise((resolve) => setTimeout(resolve, 10))
      for (const finish of release.splice(0)) finish()
      expect((await again).status).toBe(200)
      // On a busy machine a call may exceed the 10 ms default: reported, decided by 'open'.
      for (const event of events) expect(event).toMatchObject({ source: 'perKey.redis' })
      expect(redisErrors).toEqual([])
      const stats = controller.stats()
      expect(stats.inFlight === 0 && stats.queued === 0).toBe(true)
    } finally {
      listening.close()
      controller.close()
      redis.destroy()
    }
  })
})
