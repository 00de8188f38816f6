/**
 * `createRedisStore()`: per-key leases shared by every instance that uses the
 * same Redis and prefix, for `perKey: { limit, store }` of a spillway controller.
 *
 * How it works
 *   acquire   one round trip (the `acquire` script): Redis drops the key's
 *             expired leases, counts the rest and adds this one if under the
 *             limit. This process also keeps its own leases in a map (for
 *             `heldBy`, renewal, and deciding alone when Redis cannot answer).
 *   release   one fire-and-forget `release` script; never awaited by the request.
 *   renew     while this process holds leases, one timer (every `leaseMs / 3`)
 *             renews those older than `leaseMs / 6`, one call per key. No lease
 *             held, no timer: an idle store sends nothing.
 *   failure   every call races `callTimeoutMs`. A failed or late call is decided
 *             by `onError` and reported through `attach`'s `reportError`; an
 *             acquire that lands after its timeout is released at once. After
 *             `failureThreshold` failures in a row the store stops calling Redis
 *             (requests are decided locally, synchronously) and probes it every
 *             `retryIntervalMs`; the first answer brings it back, and the releases
 *             it could not send meanwhile are sent then.
 */
import { randomBytes } from 'node:crypto'
import type { KeyLease, KeyLeaseResult, KeyStore } from '@spillway/core'
import { type ScriptClient, toScriptClient } from './client.js'
import {
  type RedisFailureMode,
  type RedisStoreOptions,
  type ResolvedRedisStoreOptions,
  resolveRedisStoreOptions,
} from './options.js'
import { ACQUIRE, PROBE, RELEASE, RENEW, type Script } from './scripts.js'

/** Where the store stands with Redis. */
export type RedisStoreState = 'up' | 'down'

/** What `store.stats()` answers. */
export interface RedisStoreStats {
  /** `down` while the store decides alone and probes Redis. */
  readonly state: RedisStoreState
  /** Leases this process holds now (all keys). */
  readonly held: number
  /** Keys with at least one lease held by this process. */
  readonly keys: number
  /** Redis calls made (acquire, release, renew, probe). */
  readonly calls: number
  /** Calls that failed: error reply, connection error or timeout. */
  readonly failures: number
  /** Of those, calls that did not answer within `callTimeoutMs`. */
  readonly timeouts: number
  /** Acquires decided by `onError` instead of Redis. */
  readonly fallbacks: number
  /** Releases waiting for Redis to come back. */
  readonly pendingReleases: number
}

/** A {@link KeyStore} on Redis, with introspection. */
export interface RedisStore extends KeyStore {
  attach(reportError: (source: string, error: unknown) => void): void
  heldBy(key: string): number
  close(): void
  /** Counters and state, for dashboards and tests. */
  stats(): RedisStoreStats
}

/** Error code of the errors the store reports (timeouts, failed calls). */
export const REDIS_STORE_ERROR = 'ERR_SPILLWAY_REDIS'

/** The `source` the store's errors are reported with. */
export const REDIS_STORE_SOURCE = 'perKey.redis'

/** Releases kept while Redis is down, at most (oldest dropped: they expire by themselves). */
const MAX_PENDING_RELEASES = 10_000
/** Lease ids per script call (Lua's `unpack` has a stack limit). */
const MAX_IDS_PER_CALL = 1000

const UNAVAILABLE: KeyLeaseResult = Object.freeze({ acquired: false, reason: 'unavailable' })

function storeError(operation: string, message: string, cause?: unknown): Error {
  const error = new Error(
    `@spillway/redis: ${operation} ${message}`,
    cause === undefined ? undefined : { cause },
  )
  Object.defineProperty(error, 'code', { value: REDIS_STORE_ERROR, enumerable: true })
  return error
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Runs a script by digest; on NOSCRIPT (a fresh or flushed server) by body, which caches it. */
function runScript(
  client: ScriptClient,
  script: Script,
  keys: string[],
  args: string[],
): Promise<unknown> {
  let first: Promise<unknown>
  try {
    first = client.evalSha(script.sha1, keys, args)
  } catch (error) {
    return Promise.reject(error)
  }
  return first.catch((error: unknown) => {
    if (!errorMessage(error).startsWith('NOSCRIPT')) throw error
    return client.eval(script.body, keys, args)
  })
}

class RedisLease implements KeyLease {
  released = false
  /** `performance.now()` when taken or last renewed in Redis. */
  renewedAt: number

  constructor(
    readonly store: RedisKeyStore,
    readonly key: string,
    readonly id: string,
    /** Whether Redis holds it (false: taken while Redis could not answer). */
    readonly remote: boolean,
  ) {
    this.renewedAt = performance.now()
  }

  release(): void {
    // Flag first: a release from inside the store's own callbacks cannot run twice.
    if (this.released) return
    this.released = true
    this.store.onRelease(this)
  }
}

class RedisKeyStore implements RedisStore {
  readonly #options: ResolvedRedisStoreOptions
  readonly #client: ScriptClient
  readonly #renewEveryMs: number
  readonly #instance = randomBytes(6).toString('hex')
  #sequence = 0
  readonly #leases = new Map<string, Set<RedisLease>>()
  #held = 0
  #remoteHeld = 0
  #reporters: Array<(source: string, error: unknown) => void> = []
  #users = 0
  #closed = false
  #state: RedisStoreState = 'up'
  #failuresInRow = 0
  #renewTimer: ReturnType<typeof setInterval> | undefined
  #probeTimer: ReturnType<typeof setInterval> | undefined
  #probing = false
  #pending: Array<{ key: string; id: string; at: number }> = []
  #counters = { calls: 0, failures: 0, timeouts: 0, fallbacks: 0 }

  constructor(options: ResolvedRedisStoreOptions) {
    this.#options = options
    this.#client = toScriptClient(options.client)
    this.#renewEveryMs = Math.max(1, Math.floor(options.leaseMs / 3))
  }

  attach(reportError: (source: string, error: unknown) => void): void {
    this.#reporters.push(reportError)
    this.#users++
  }

  heldBy(key: string): number {
    return this.#leases.get(key)?.size ?? 0
  }

  stats(): RedisStoreStats {
    return {
      state: this.#state,
      held: this.#held,
      keys: this.#leases.size,
      ...this.#counters,
      pendingReleases: this.#pending.length,
    }
  }

  acquire(key: string, limit: number): KeyLeaseResult | Promise<KeyLeaseResult> {
    if (this.#closed) return UNAVAILABLE
    // Down: decide at once, synchronously, without queueing calls behind a dead connection.
    if (this.#state === 'down') return this.#decideLocally(key, limit)
    const id = `${this.#instance}:${(this.#sequence++).toString(36)}`
    const { answer, late } = this.#call(
      ACQUIRE,
      [this.#redisKey(key)],
      [String(limit), String(this.#options.leaseMs), id],
    )
    return answer.then(
      (reply) => {
        const [ok, held] = parseAcquireReply(reply)
        if (ok) return { acquired: true, lease: this.#add(key, id, true) }
        return { acquired: false, reason: 'quota', held }
      },
      () => {
        // Redis may still run the script after we stopped waiting: give that lease back.
        void late.then(
          (reply) => {
            if (parseAcquireReply(reply)[0]) this.#sendRelease(key, [id])
          },
          () => {},
        )
        return this.#decideLocally(key, limit)
      },
    )
  }

  close(): void {
    // One store may serve several controllers: the last one to close stops it.
    if (this.#users > 1) {
      this.#users--
      return
    }
    this.#closed = true
    this.#stopRenewing()
    this.#stopProbing()
  }

  /** Called once per lease by {@link RedisLease.release}. */
  onRelease(lease: RedisLease): void {
    const set = this.#leases.get(lease.key)
    if (set?.delete(lease)) {
      this.#held--
      if (set.size === 0) this.#leases.delete(lease.key)
    }
    if (!lease.remote) return
    this.#remoteHeld--
    if (this.#remoteHeld === 0) this.#stopRenewing()
    this.#sendRelease(lease.key, [lease.id])
  }

  #redisKey(key: string): string {
    return `${this.#options.prefix}{${key}}`
  }

  #decideLocally(key: string, limit: number): KeyLeaseResult {
    this.#counters.fallbacks++
    const mode: RedisFailureMode = this.#options.onError
    if (mode === 'closed') return UNAVAILABLE
    const cap =
      mode === 'local' ? Math.ceil(limit / (this.#options.expectedInstances as number)) : limit
    const held = this.heldBy(key)
    if (held >= cap) return { acquired: false, reason: 'quota', held }
    const id = `${this.#instance}:${(this.#sequence++).toString(36)}`
    return { acquired: true, lease: this.#add(key, id, false) }
  }

  #add(key: string, id: string, remote: boolean): RedisLease {
    const lease = new RedisLease(this, key, id, remote)
    let set = this.#leases.get(key)
    if (set === undefined) {
      set = new Set()
      this.#leases.set(key, set)
    }
    set.add(lease)
    this.#held++
    if (remote) {
      this.#remoteHeld++
      if (this.#renewTimer === undefined && !this.#closed) {
        this.#renewTimer = setInterval(() => this.#renew(), this.#renewEveryMs)
        // Runs while leases are held (their requests keep the process alive), never alone.
        this.#renewTimer.unref?.()
      }
    }
    return lease
  }

  #sendRelease(key: string, ids: string[]): void {
    if (this.#state === 'down') {
      this.#keepForLater(key, ids)
      return
    }
    for (let i = 0; i < ids.length; i += MAX_IDS_PER_CALL) {
      const chunk = ids.slice(i, i + MAX_IDS_PER_CALL)
      this.#call(RELEASE, [this.#redisKey(key)], chunk).answer.catch(() =>
        this.#keepForLater(key, chunk),
      )
    }
  }

  #keepForLater(key: string, ids: string[]): void {
    const at = performance.now()
    for (const id of ids) this.#pending.push({ key, id, at })
    if (this.#pending.length > MAX_PENDING_RELEASES) {
      this.#pending.splice(0, this.#pending.length - MAX_PENDING_RELEASES)
    }
  }

  #renew(): void {
    if (this.#state === 'down') return
    const now = performance.now()
    for (const [key, set] of this.#leases) {
      const due: RedisLease[] = []
      for (const lease of set) {
        if (lease.remote && now - lease.renewedAt >= this.#renewEveryMs / 2) due.push(lease)
      }
      for (let i = 0; i < due.length; i += MAX_IDS_PER_CALL) {
        const chunk = due.slice(i, i + MAX_IDS_PER_CALL)
        this.#call(
          RENEW,
          [this.#redisKey(key)],
          [String(this.#options.leaseMs), ...chunk.map((lease) => lease.id)],
        ).answer.then(
          () => {
            for (const lease of chunk) lease.renewedAt = now
          },
          () => {},
        )
      }
    }
  }

  #stopRenewing(): void {
    if (this.#renewTimer !== undefined) clearInterval(this.#renewTimer)
    this.#renewTimer = undefined
  }

  #stopProbing(): void {
    if (this.#probeTimer !== undefined) clearInterval(this.#probeTimer)
    this.#probeTimer = undefined
  }

  /**
   * One Redis call raced against `callTimeoutMs`. `answer` settles first (the
   * reply, or a failure); `late` is the call itself, which may still land after a timeout.
   */
  #call(
    script: Script,
    keys: string[],
    args: string[],
  ): { answer: Promise<unknown>; late: Promise<unknown> } {
    this.#counters.calls++
    const late = runScript(this.#client, script, keys, args)
    const answer = new Promise<unknown>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        // Timers run before I/O in a loop turn: after a long turn the reply may be
        // waiting in the socket. Look once more, after the poll phase, before giving up.
        setImmediate(() => {
          if (settled) return
          settled = true
          this.#counters.timeouts++
          const error = storeError(script.name, `timed out after ${this.#options.callTimeoutMs} ms`)
          this.#failed(error)
          reject(error)
        })
      }, this.#options.callTimeoutMs)
      late.then(
        (reply) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          this.#failuresInRow = 0
          resolve(reply)
        },
        (cause: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          const error = storeError(script.name, `failed: ${errorMessage(cause)}`, cause)
          this.#failed(error)
          reject(error)
        },
      )
    })
    return { answer, late }
  }

  #failed(error: Error): void {
    this.#counters.failures++
    this.#failuresInRow++
    this.#report(error)
    if (this.#state === 'up' && this.#failuresInRow >= this.#options.failureThreshold) {
      this.#goDown()
    }
  }

  #report(error: Error): void {
    for (const report of this.#reporters) {
      try {
        report(REDIS_STORE_SOURCE, error)
      } catch {
        // A reporter that throws must not turn a Redis failure into a request failure.
      }
    }
  }

  #goDown(): void {
    this.#state = 'down'
    if (this.#closed || this.#probeTimer !== undefined) return
    this.#probeTimer = setInterval(() => this.#probe(), this.#options.retryIntervalMs)
    // Probing is idle work: it never keeps a process alive.
    this.#probeTimer.unref?.()
  }

  #probe(): void {
    if (this.#probing) return
    this.#probing = true
    this.#call(PROBE, [], []).answer.then(
      () => {
        this.#probing = false
        this.#comeBack()
      },
      () => {
        this.#probing = false
      },
    )
  }

  #comeBack(): void {
    if (this.#state === 'up') return
    this.#state = 'up'
    this.#failuresInRow = 0
    this.#stopProbing()
    // Releases missed while down: only those whose lease may not have expired yet.
    const oldest = performance.now() - this.#options.leaseMs
    const byKey = new Map<string, string[]>()
    for (const { key, id, at } of this.#pending) {
      if (at < oldest) continue
      const ids = byKey.get(key)
      if (ids === undefined) byKey.set(key, [id])
      else ids.push(id)
    }
    this.#pending = []
    for (const [key, ids] of byKey) this.#sendRelease(key, ids)
  }
}

function parseAcquireReply(reply: unknown): [boolean, number | undefined] {
  if (!Array.isArray(reply)) return [false, undefined]
  const held = Number(reply[1])
  return [Number(reply[0]) === 1, Number.isFinite(held) ? held : undefined]
}

/**
 * A per-key lease store on Redis, shared by every instance with the same
 * Redis and `prefix`: `perKey: { limit: 20, store: createRedisStore({ client }) }`.
 * Throws a `TypeError`/`RangeError` (`code: 'ERR_SPILLWAY_INVALID_OPTION'`) for bad options.
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisKeyStore(resolveRedisStoreOptions(options))
}
