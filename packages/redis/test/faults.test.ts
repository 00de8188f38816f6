/**
 * Fault tests against a real `redis-server`, through both client libraries:
 * Redis killed mid-run (each `onError` mode), Redis slowed (`CLIENT PAUSE`),
 * Redis back (the shared cap holds again, no restart), and an instance killed
 * with leases held (its leases expire within `leaseMs`).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { KeyLease, KeyLeaseResult } from '@spillway/core'
import { createRedisStore, type RedisStore, type RedisStoreOptions } from '../src/index.js'
import { CLIENTS, connectClient, type TestClient } from './clients.js'
import { command, findRedisServer, type RedisServer, startRedisServer } from './redis-server.js'

const BINARY = findRedisServer()
if (BINARY === undefined) {
  console.warn(
    'packages/redis/test/faults.test.ts: skipping: no redis-server on PATH ' +
      "(install Debian's `redis-server` package, as .ci/run does).",
  )
}
const withRedis = BINARY === undefined ? describe.skip : describe

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const start = performance.now()
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`)
    await sleep(20)
  }
  return performance.now() - start
}

let prefixCount = 0

withRedis.each(CLIENTS)('with %s, when Redis fails', (clientName) => {
  let server: RedisServer
  const opened: TestClient[] = []
  const stores: RedisStore[] = []
  let prefix: string
  let errors: unknown[]

  async function newStore(options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
    const client = await connectClient(clientName, server.port)
    opened.push(client)
    const store = createRedisStore({
      client: client.client,
      prefix,
      callTimeoutMs: 100,
      retryIntervalMs: 100,
      ...options,
    })
    store.attach((source, error) => errors.push({ source, error }))
    stores.push(store)
    return store
  }

  /** Acquires `count` times, returning the answers and the slowest decision, ms. */
  async function acquireMany(store: RedisStore, key: string, limit: number, count: number) {
    const results: KeyLeaseResult[] = []
    let slowestMs = 0
    for (let i = 0; i < count; i++) {
      const start = performance.now()
      results.push(await store.acquire(key, limit))
      slowestMs = Math.max(slowestMs, performance.now() - start)
    }
    const leases = results.flatMap((r) => (r.acquired ? [r.lease] : []))
    return { results, leases, slowestMs }
  }

  beforeAll(async () => {
    server = await startRedisServer(BINARY as string)
  })

  afterAll(async () => {
    await server.kill()
  })

  beforeEach(async () => {
    prefix = `fault${prefixCount++}:`
    errors = []
    // A previous test may have killed it.
    if ((await command(server.port, ['PING'], 300).catch(() => '')) !== '+PONG') {
      await server.restart()
    }
  })

  afterEach(async () => {
    for (const store of stores.splice(0)) store.close()
    for (const client of opened.splice(0)) await client.close()
  })

  it("onError 'open': killed mid-run, keyed requests are decided within 1 s and admitted up to the limit counted locally", async () => {
    const store = await newStore({ onError: 'open' })
    const before = await acquireMany(store, 'tenant', 4, 2)
    expect(before.leases).toHaveLength(2)
    await server.kill()
    const during = await acquireMany(store, 'tenant', 4, 4)
    expect(during.slowestMs).toBeLessThan(1000)
    expect(during.results.map((r) => (r.acquired ? 'ok' : r.reason))).toEqual([
      'ok',
      'ok',
      'quota',
      'quota',
    ])
    expect(store.stats().state).toBe('down')
    expect(errors.length).toBeGreaterThan(0)
    expect(errors[0]).toMatchObject({ source: 'perKey.redis' })
    // Releasing while Redis is down is safe and frees the local places: no permit leaks.
    for (const lease of [...before.leases, ...during.leases]) lease.release()
    expect(store.heldBy('tenant')).toBe(0)
    expect(store.stats()).toMatchObject({ held: 0, keys: 0 })
  })

  it("onError 'closed': killed mid-run, keyed requests are refused as unavailable, at once", async () => {
    const store = await newStore({ onError: 'closed' })
    const before = await acquireMany(store, 'tenant', 4, 1)
    await server.kill()
    const during = await acquireMany(store, 'tenant', 4, 5)
    expect(during.slowestMs).toBeLessThan(1000)
    expect(during.results).toEqual(Array(5).fill({ acquired: false, reason: 'unavailable' }))
    for (const lease of before.leases) lease.release()
    expect(store.stats()).toMatchObject({ held: 0, state: 'down' })
  })

  it("onError 'local': killed mid-run, each instance admits its share, ceil(limit / expectedInstances)", async () => {
    const a = await newStore({ onError: 'local', expectedInstances: 3 })
    const b = await newStore({ onError: 'local', expectedInstances: 3 })
    await server.kill()
    const fromA = await acquireMany(a, 'tenant', 10, 6)
    const fromB = await acquireMany(b, 'tenant', 10, 6)
    // ceil(10 / 3) = 4 each: with all 3 instances that is 12, close to the cap of 10.
    expect(fromA.leases).toHaveLength(4)
    expect(fromB.leases).toHaveLength(4)
    expect(fromA.results[5]).toEqual({ acquired: false, reason: 'quota', held: 4 })
    for (const lease of [...fromA.leases, ...fromB.leases]) lease.release()
    expect(a.heldBy('tenant') + b.heldBy('tenant')).toBe(0)
  })

  it('enforces the shared cap again once Redis is back, without a restart of the store', async () => {
    const a = await newStore()
    const b = await newStore()
    await server.kill()
    // Enough failures to stop calling Redis; decided locally meanwhile.
    const during = await acquireMany(a, 'tenant', 3, 4)
    for (const lease of during.leases) lease.release()
    expect(a.stats().state).toBe('down')
    await server.restart()
    // The store probes every 100 ms; the clients reconnect with their own backoff.
    await waitFor(async () => {
      const probe = await a.acquire('tenant', 3)
      if (probe.acquired) probe.lease.release()
      return a.stats().state === 'up'
    }, 8000)
    await waitFor(async () => {
      const probe = await b.acquire('tenant', 3)
      if (probe.acquired) probe.lease.release()
      return b.stats().state === 'up'
    }, 8000)
    // The probes' releases are fire-and-forget, and an acquire that timed out while Redis
    // came back is released once it lands: count from an empty key, as Redis sees it.
    await waitFor(
      async () => (await command(server.port, ['ZCARD', `${prefix}{tenant}`])) === ':0',
      2000,
    )
    const leases: KeyLease[] = []
    leases.push(...(await acquireMany(a, 'tenant', 3, 2)).leases)
    leases.push(...(await acquireMany(b, 'tenant', 3, 1)).leases)
    expect(leases).toHaveLength(3)
    // The fourth place is refused by Redis, whichever instance asks.
    expect(await b.acquire('tenant', 3)).toEqual({ acquired: false, reason: 'quota', held: 3 })
    expect(await a.acquire('tenant', 3)).toEqual({ acquired: false, reason: 'quota', held: 3 })
    for (const lease of leases) lease.release()
  }, 30_000)

  it('sends the releases it missed while Redis was unreachable once it answers again', async () => {
    const store = await newStore({ failureThreshold: 1 })
    const other = await newStore()
    const held = await acquireMany(store, 'tenant', 2, 2)
    expect(held.leases).toHaveLength(2)
    // Pause (not kill): Redis keeps the leases. One call times out and the store goes down.
    await command(server.port, ['CLIENT', 'PAUSE', '400', 'WRITE'])
    const fallback = await store.acquire('other-tenant', 1)
    expect(store.stats().state).toBe('down')
    // Released while down: nothing is sent, the releases wait for Redis.
    for (const lease of held.leases) lease.release()
    if (fallback.acquired) fallback.lease.release()
    expect(store.stats().pendingReleases).toBe(2)
    await waitFor(() => store.stats().state === 'up' && store.stats().pendingReleases === 0, 5000)
    await sleep(50)
    expect(await command(server.port, ['ZCARD', `${prefix}{tenant}`])).toBe(':0')
    const after = await acquireMany(other, 'tenant', 2, 2)
    expect(after.leases).toHaveLength(2)
    for (const lease of after.leases) lease.release()
  })

  it('applies the call timeout when Redis is slowed (CLIENT PAUSE): requests are not held', async () => {
    const store = await newStore({ callTimeoutMs: 30, failureThreshold: 100 })
    await command(server.port, ['CLIENT', 'PAUSE', '1500', 'WRITE'])
    const start = performance.now()
    const decisions = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const t0 = performance.now()
        const result = await store.acquire('tenant', 50)
        return { result, ms: performance.now() - t0 }
      }),
    )
    // 20 concurrent requests decided by the timeout, not by the 1.5 s pause.
    expect(performance.now() - start).toBeLessThan(700)
    expect(decisions.every((d) => d.result.acquired)).toBe(true)
    expect(store.stats().timeouts).toBe(20)
    for (const d of decisions) if (d.result.acquired) d.result.lease.release()
    // Once the pause ends, the late scripts run and each of their leases is given back.
    await sleep(1800)
    expect(await command(server.port, ['ZCARD', `${prefix}{tenant}`])).toBe(':0')
    expect(store.stats().held).toBe(0)
  })
})

withRedis('an instance killed with leases held', () => {
  let server: RedisServer
  let child: ChildProcess | undefined

  beforeAll(async () => {
    server = await startRedisServer(BINARY as string)
  })

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid as number, 'SIGKILL')
    }
    await server.kill()
  })

  it.each(CLIENTS)(
    'gives the tenant its capacity back within leaseMs (%s)',
    async (clientName) => {
      const leaseMs = 1500
      const prefix = `killed-${clientName}:`
      // The holder: another process with its own store, holding 3 of 3 places.
      const root = join(__dirname, '..', '..', '..')
      const tsx = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href
      child = spawn(
        process.execPath,
        ['--import', tsx, join(__dirname, 'fixtures', 'lease-holder.ts')],
        {
          env: {
            ...process.env,
            TSX_TSCONFIG_PATH: join(root, 'tsconfig.json'),
            HOLDER: JSON.stringify({ clientName, port: server.port, prefix, leaseMs, count: 3 }),
          },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      )
      const holder = child
      await new Promise<void>((resolve, reject) => {
        holder.once('message', () => resolve())
        holder.once('exit', (code) => reject(new Error(`lease holder exited (${code})`)))
      })
      const client = await connectClient(clientName, server.port)
      const store = createRedisStore({ client: client.client, prefix, leaseMs, callTimeoutMs: 200 })
      try {
        // Held past one renewal period: the holder is alive and renewing.
        await sleep(leaseMs / 2)
        expect(await store.acquire('tenant', 3)).toEqual({
          acquired: false,
          reason: 'quota',
          held: 3,
        })
        const exited = new Promise((resolve) => holder.once('exit', resolve))
        process.kill(holder.pid as number, 'SIGKILL')
        await exited
        const killedAt = performance.now()
        let lease: KeyLease | undefined
        await waitFor(async () => {
          const result = await store.acquire('tenant', 3)
          if (result.acquired) lease = result.lease
          return result.acquired
        }, leaseMs * 2)
        // Renewed at most leaseMs / 3 before the kill: back within leaseMs (+ a poll's slack).
        expect(performance.now() - killedAt).toBeLessThanOrEqual(leaseMs + 100)
        lease?.release()
        const all = await acquireAll(store, 3)
        expect(all).toHaveLength(3)
        for (const l of all) l.release()
      } finally {
        store.close()
        await client.close()
      }
    },
    // A tsx child process takes a while to start on a busy machine.
    60_000,
  )
})

async function acquireAll(store: RedisStore, limit: number): Promise<KeyLease[]> {
  const leases: KeyLease[] = []
  for (let i = 0; i < limit; i++) {
    const result = await store.acquire('tenant', limit)
    if (result.acquired) leases.push(result.lease)
  }
  return leases
}
