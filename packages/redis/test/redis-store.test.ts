/**
 * The store against a real `redis-server`, through both client libraries:
 * the shared cap, release, renewal, expiry, NOSCRIPT, and what an idle store sends.
 */
import type { KeyLease, KeyLeaseResult } from '@spillway/core'
import { createRedisStore, type RedisStore, type RedisStoreOptions } from '../src/index.js'
import { CLIENTS, connectClient, type TestClient } from './clients.js'
import {
  command,
  findRedisServer,
  type RedisServer,
  startRedisServer,
  untilLeases,
} from './redis-server.js'

const BINARY = findRedisServer()
if (BINARY === undefined) {
  console.warn(
    'packages/redis/test/redis-store.test.ts: skipping: no redis-server on PATH ' +
      "(install Debian's `redis-server` package, as .ci/run does).",
  )
}
const withRedis = BINARY === undefined ? describe.skip : describe

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Awaits an acquire and checks it took a place. */
async function take(store: RedisStore, key: string, limit: number): Promise<KeyLease> {
  const result = await store.acquire(key, limit)
  if (!result.acquired) throw new Error(`expected a lease for ${key}, got ${result.reason}`)
  return result.lease
}

let server: RedisServer
let prefixCount = 0

beforeAll(async () => {
  if (BINARY !== undefined) server = await startRedisServer(BINARY)
})

afterAll(async () => {
  await server?.kill()
})

withRedis.each(CLIENTS)('createRedisStore with %s', (clientName) => {
  const opened: TestClient[] = []
  const stores: RedisStore[] = []
  let prefix: string

  async function newStore(options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
    const client = await connectClient(clientName, server.port)
    opened.push(client)
    const store = createRedisStore({
      client: client.client,
      prefix,
      // Generous: these tests are about semantics, not about a busy machine's latency.
      callTimeoutMs: (options.leaseMs ?? 10_000) >= 5000 ? 2000 : 250,
      ...options,
    })
    stores.push(store)
    return store
  }

  beforeEach(() => {
    prefix = `test${prefixCount++}:`
  })

  afterEach(async () => {
    for (const store of stores.splice(0)) store.close()
    for (const client of opened.splice(0)) await client.close()
  })

  it('holds a key to its limit across two instances sharing Redis, then answers quota with the count held', async () => {
    const a = await newStore()
    const b = await newStore()
    const leases = [
      await take(a, 'tenant', 5),
      await take(b, 'tenant', 5),
      await take(a, 'tenant', 5),
      await take(b, 'tenant', 5),
      await take(a, 'tenant', 5),
    ]
    expect(await a.acquire('tenant', 5)).toEqual({ acquired: false, reason: 'quota', held: 5 })
    expect(await b.acquire('tenant', 5)).toEqual({ acquired: false, reason: 'quota', held: 5 })
    expect(a.heldBy('tenant')).toBe(3)
    expect(b.heldBy('tenant')).toBe(2)
    // Released on b's connection, taken on a's: give the fire-and-forget release its round trip.
    leases[1]?.release()
    await untilLeases(server.port, `${prefix}{tenant}`, 4)
    leases.push(await take(a, 'tenant', 5))
    for (const lease of leases) lease.release()
    await untilLeases(server.port, `${prefix}{tenant}`, 0)
    expect(await command(server.port, ['ZCARD', `${prefix}{tenant}`])).toBe(':0')
    expect(a.heldBy('tenant')).toBe(0)
    expect(a.stats().held + b.stats().held).toBe(0)
    expect(a.stats().failures + b.stats().failures).toBe(0)
  })

  it('keeps keys apart, each in its own hash-tagged Redis key', async () => {
    const store = await newStore()
    const a = await take(store, 'tenant-a', 1)
    const b = await take(store, 'tenant-b', 1)
    expect((await store.acquire('tenant-a', 1)).acquired).toBe(false)
    expect(await command(server.port, ['ZCARD', `${prefix}{tenant-a}`])).toBe(':1')
    expect(await command(server.port, ['ZCARD', `${prefix}{tenant-b}`])).toBe(':1')
    a.release()
    b.release()
  })

  it('releases exactly once: a second release frees nothing more', async () => {
    const a = await newStore()
    const b = await newStore()
    const first = await take(a, 'tenant', 2)
    const second = await take(b, 'tenant', 2)
    first.release()
    first.release()
    await untilLeases(server.port, `${prefix}{tenant}`, 1)
    // A second release that sent a command would show up by now.
    await sleep(50)
    expect(await command(server.port, ['ZCARD', `${prefix}{tenant}`])).toBe(':1')
    expect(a.heldBy('tenant')).toBe(0)
    expect(b.heldBy('tenant')).toBe(1)
    second.release()
  })

  it('applies a smaller limit passed later to the leases already held', async () => {
    const store = await newStore()
    const leases = [await take(store, 'tenant', 3), await take(store, 'tenant', 3)]
    expect(await store.acquire('tenant', 2)).toMatchObject({ acquired: false, reason: 'quota' })
    expect(await store.acquire('tenant', 0)).toMatchObject({ acquired: false, reason: 'quota' })
    for (const lease of leases) lease.release()
  })

  it('renews a lease held longer than leaseMs, so another instance stays refused while it is held', async () => {
    const holder = await newStore({ leaseMs: 300 })
    const other = await newStore({ leaseMs: 300 })
    const lease = await take(holder, 'tenant', 1)
    const refusals: KeyLeaseResult[] = []
    for (let i = 0; i < 8; i++) {
      await sleep(125)
      refusals.push(await other.acquire('tenant', 1))
    }
    // 1 s held with a 300 ms lease: without renewal it would have expired three times.
    expect(refusals.every((r) => !r.acquired && r.reason === 'quota')).toBe(true)
    lease.release()
    await untilLeases(server.port, `${prefix}{tenant}`, 0)
    const after = await take(other, 'tenant', 1)
    after.release()
  })

  it('lets the leases of a store that stopped renewing expire after leaseMs', async () => {
    const gone = await newStore({ leaseMs: 300 })
    const other = await newStore({ leaseMs: 300 })
    await take(gone, 'tenant', 2)
    await take(gone, 'tenant', 2)
    gone.close()
    expect((await other.acquire('tenant', 2)).acquired).toBe(false)
    await sleep(400)
    const lease = await take(other, 'tenant', 2)
    lease.release()
  })

  it('sends nothing while idle, and renews only while a lease is held', async () => {
    const store = await newStore({ leaseMs: 300 })
    await sleep(350)
    expect(store.stats().calls).toBe(0)
    const lease = await take(store, 'tenant', 1)
    await sleep(350)
    const whileHeld = store.stats().calls
    expect(whileHeld).toBeGreaterThanOrEqual(2) // the acquire and at least one renewal
    lease.release()
    await sleep(50)
    const afterRelease = store.stats().calls
    await sleep(350)
    expect(store.stats().calls).toBe(afterRelease)
  })

  it('runs its scripts again after Redis forgot them (SCRIPT FLUSH: NOSCRIPT, then EVAL)', async () => {
    const store = await newStore()
    ;(await take(store, 'tenant', 2)).release()
    expect(await command(server.port, ['SCRIPT', 'FLUSH'])).toBe('+OK')
    const lease = await take(store, 'tenant', 2)
    lease.release()
    expect(store.stats().failures).toBe(0)
  })

  it('gives back a lease Redis granted after the call timed out', async () => {
    const store = await newStore({ callTimeoutMs: 20 })
    expect(await command(server.port, ['CLIENT', 'PAUSE', '300', 'WRITE'])).toBe('+OK')
    const started = performance.now()
    const result = await store.acquire('tenant', 5)
    // Decided by onError ('open') instead of waiting for the paused server.
    expect(performance.now() - started).toBeLessThan(250)
    expect(result.acquired).toBe(true)
    if (result.acquired) result.lease.release()
    await sleep(600)
    // The script ran once the pause ended; the store removed that lease at once.
    expect(await command(server.port, ['ZCARD', `${prefix}{tenant}`])).toBe(':0')
  })
})
