import {
  checkNumber,
  checkOneOf,
  checkString,
  failOption,
  resolveObject,
} from '@spillway/core/internal'
import { clientKind, type RedisClientLike } from './client.js'

/** What the store does when Redis cannot answer (down, slow, or an error reply). */
export type RedisFailureMode = 'open' | 'closed' | 'local'

/** Options of {@link createRedisStore}. Only `client` is required. */
export interface RedisStoreOptions {
  /**
   * A connected client: node-redis (`redis` v5+, `createClient()`/`createCluster()`)
   * or ioredis (`new Redis()`/`new Redis.Cluster()`). You own it: connect it, attach
   * its `error` listener, quit it after the controller's `close()`.
   */
  client: RedisClientLike
  /**
   * Prefix of every Redis key; a key's name is `<prefix>{<key>}`, the braces a
   * Cluster hash tag (one slot per key). Instances sharing a cap share the prefix.
   * @default 'spillway:perkey:'
   */
  prefix?: string
  /**
   * How long a lease lives without renewal, in ms: the longest a crashed
   * instance's leases hold their places. A live holder renews every `leaseMs / 3`.
   * @default 10000
   */
  leaseMs?: number
  /**
   * When Redis cannot answer in time: `open` admits up to the whole limit counted
   * locally; `closed` refuses (503 `unavailable`); `local` admits up to this
   * instance's share, `Math.ceil(limit / expectedInstances)`.
   * @default 'open'
   */
  onError?: RedisFailureMode
  /** Instances sharing the cap, for `onError: 'local'` (required there, an integer ≥ 1). */
  expectedInstances?: number | undefined
  /**
   * Longest wait for one Redis call, in ms; past it the call counts as failed
   * and the request is decided by `onError` (a slow Redis never becomes every
   * request's latency).
   * @default 10
   */
  callTimeoutMs?: number
  /**
   * After this many calls in a row failed, the store stops calling Redis and
   * decides by `onError` alone, probing Redis (a `return 1` script) every
   * `retryIntervalMs` until it answers.
   * @default 3
   */
  failureThreshold?: number
  /** Time between probes while Redis is down, in ms. @default 1000 */
  retryIntervalMs?: number
}

/** Options after checking (internal). */
export interface ResolvedRedisStoreOptions {
  client: RedisClientLike
  prefix: string
  leaseMs: number
  onError: RedisFailureMode
  expectedInstances: number | undefined
  callTimeoutMs: number
  failureThreshold: number
  retryIntervalMs: number
}

/** Defaults of {@link RedisStoreOptions}. */
export const REDIS_STORE_DEFAULTS = Object.freeze({
  client: undefined as unknown as RedisClientLike,
  prefix: 'spillway:perkey:',
  leaseMs: 10_000,
  onError: 'open' as RedisFailureMode,
  expectedInstances: undefined as number | undefined,
  callTimeoutMs: 10,
  failureThreshold: 3,
  retryIntervalMs: 1000,
})

const FAILURE_MODES: readonly RedisFailureMode[] = ['open', 'closed', 'local']

/** Checks the options: unknown keys, each field, then the cross-field rules. */
export function resolveRedisStoreOptions(options: unknown): ResolvedRedisStoreOptions {
  const o = resolveObject<ResolvedRedisStoreOptions>(options, '', REDIS_STORE_DEFAULTS)
  if (clientKind(o.client) === undefined) {
    failOption(
      'type',
      'client',
      'a connected node-redis or ioredis client (with `evalSha` or `evalsha`)',
      o.client,
    )
  }
  checkString(o.prefix, 'prefix')
  // A brace in the prefix would become the hash tag and put every key in one Cluster slot.
  if (/[{}]/.test(o.prefix)) failOption('range', 'prefix', 'a string without `{` or `}`', o.prefix)
  checkNumber(o.leaseMs, 'leaseMs', { integer: true, min: 100 })
  checkOneOf(o.onError, 'onError', FAILURE_MODES)
  if (o.expectedInstances !== undefined) {
    checkNumber(o.expectedInstances, 'expectedInstances', { integer: true, min: 1 })
  }
  checkNumber(o.callTimeoutMs, 'callTimeoutMs', { min: 0, exclusiveMin: true })
  checkNumber(o.failureThreshold, 'failureThreshold', { integer: true, min: 1 })
  checkNumber(o.retryIntervalMs, 'retryIntervalMs', { min: 0, exclusiveMin: true })
  if (o.onError === 'local' && o.expectedInstances === undefined) {
    failOption(
      'type',
      'expectedInstances',
      'an integer ≥ 1 when `onError` is `"local"`',
      o.expectedInstances,
    )
  }
  if (o.callTimeoutMs >= o.leaseMs) {
    failOption('range', 'callTimeoutMs', `a number < \`leaseMs\` (${o.leaseMs})`, o.callTimeoutMs)
  }
  return o
}
