/**
 * Builds the spillway controller and adapter middleware for a target. Loaded
 * lazily so that an unprotected or p-limit target never even imports spillway.
 */
import type { AdmissionController, LimitOptions } from '@spillway/core'
import { createAdmissionController } from '@spillway/core'
import { createPressureMonitor } from '@spillway/node'
import type { RedisStore } from '@spillway/redis'
import type { Protection } from './config.js'
import { PRIORITIES, type PriorityName, TENANT_HEADER } from './config.js'

/** Maps a request path to its priority class; anything else is `normal`. */
export function classify(path: string): PriorityName {
  const name = path.slice(1)
  return (PRIORITIES as readonly string[]).includes(name) ? (name as PriorityName) : 'normal'
}

/** The controller for a `spillway` protection (with its Redis store's stats when it has one). */
export async function createController(
  protection: Extract<Protection, { kind: 'spillway' }>,
): Promise<{
  controller: AdmissionController
  keyStoreStats: (() => Record<string, unknown>) | null
}> {
  const perKey = protection.perKey
  let store: RedisStore | undefined
  if (perKey?.redis !== undefined) {
    const { createClient } = await import('redis')
    const { createRedisStore } = await import('@spillway/redis')
    const client = createClient({ socket: { host: '127.0.0.1', port: perKey.redis.port } })
    // The store reports Redis failures through the controller; the client's own are noise here.
    client.on('error', () => {})
    await client.connect()
    store = createRedisStore({
      client,
      leaseMs: perKey.redis.leaseMs,
      callTimeoutMs: perKey.redis.callTimeoutMs,
      onError: perKey.redis.onError,
      expectedInstances: perKey.redis.expectedInstances,
    })
  }
  const controller = createAdmissionController({
    // Adaptive configurations are forwarded as given; the controller validates them.
    limit: protection.limit as LimitOptions,
    queue: protection.queue,
    pressure: protection.pressure === true ? createPressureMonitor() : undefined,
    priorities: [...PRIORITIES],
    defaultPriority: 'normal',
    ...(perKey === undefined ? {} : { perKey: { limit: perKey.limit, store } }),
  })
  return {
    controller,
    keyStoreStats: store === undefined ? null : () => ({ ...(store as RedisStore).stats() }),
  }
}

/**
 * The adapter's `deadlineHeader` option when the protection reads one, and
 * `holdEarlyRetries: true` when it turns the hold on; spread into every adapter's options.
 */
export function adapterRouteOptions(protection: Protection): {
  deadlineHeader?: string
  holdEarlyRetries?: true
} {
  if (protection.kind !== 'spillway') return {}
  return {
    ...(protection.deadlineHeader === undefined
      ? {}
      : { deadlineHeader: protection.deadlineHeader }),
    ...(protection.holdEarlyRetries === true ? { holdEarlyRetries: true } : {}),
  }
}

/** The tenant of a request (`?tenant=`), the key of `perKey`; none without one. */
export function tenantOf(query: unknown): string | undefined {
  const tenant = (query as { tenant?: unknown } | undefined)?.tenant
  return typeof tenant === 'string' && tenant !== '' ? tenant : undefined
}

/**
 * How a target finds a request's key: the `?tenant=` query parameter for a
 * `perKey` cap (the fleet), the {@link TENANT_HEADER} header for `key: 'header'`
 * (the `tenants` scenario); `null` when requests carry no key.
 */
export function keyReader(
  protection: Extract<Protection, { kind: 'spillway' }>,
):
  | ((query: unknown, headers: Record<string, string | string[] | undefined>) => string | undefined)
  | null {
  if (protection.key === 'header') {
    return (_query, headers) => {
      const tenant = headers[TENANT_HEADER]
      return typeof tenant === 'string' && tenant !== '' ? tenant : undefined
    }
  }
  if (protection.perKey !== undefined) return (query) => tenantOf(query)
  return null
}
