/**
 * What a target server does and how it is protected. The harness serialises one
 * of these into the child's environment (`SPILLWAY_TARGET`), so it is plain JSON.
 */

/** The priority classes, highest first, as the routes `/critical`, `/normal`, `/sheddable`. */
export const PRIORITIES = ['critical', 'normal', 'sheddable'] as const

/** One of {@link PRIORITIES}. */
export type PriorityName = (typeof PRIORITIES)[number]

/** An adaptive limit configuration, passed to `createAdmissionController({ limit })` as is. */
export interface AdaptiveLimitConfig {
  /** Which algorithm. */
  algorithm: 'aimd' | 'gradient2' | 'vegas'
  /** Extra algorithm options (e.g. `initialLimit`, `maxLimit`), forwarded untouched. */
  [option: string]: unknown
}

/** How requests reach the work. */
export type Protection =
  /** Nothing: every request goes straight to the work (and queues inside the downstream pool). */
  | { kind: 'none' }
  /** A middleware that only calls `next()`, where spillway's would sit: the cost of the layer itself. */
  | { kind: 'passthrough' }
  /** The common mistake: an unbounded `p-limit` queue in front of the handler. */
  | { kind: 'p-limit'; concurrency: number }
  /** spillway through its framework adapter (`@spillway/express` or `@spillway/koa`). */
  | {
      kind: 'spillway'
      /** A fixed limit, or an adaptive one. */
      limit: number | AdaptiveLimitConfig
      /** The controller's queue options; absent: the controller's defaults (sized from the limit when adaptive). */
      queue?: { size: number; timeoutMs: number; order?: 'fifo' | 'lifo' | 'adaptive' } | undefined
      /** Event-loop pressure shedding: `createPressureMonitor()` with its defaults. */
      pressure?: boolean
      /** Admission in the server's own listener (`installEarlyGate`), not the framework adapter. */
      early?: boolean
      /** The adapter's `holdEarlyRetries: true` (Node-family adapters; off by default). */
      holdEarlyRetries?: true
      /** A cap per tenant (the `tenant` query parameter), shared through Redis when `redis` is set. */
      perKey?: PerKeyConfig | undefined
      /**
       * Where the request's `key` comes from, for the controller's fair queuing:
       * `'header'` reads {@link TENANT_HEADER}. Without it (and without `perKey`) no key.
       */
      key?: 'header' | undefined
      /**
       * `'header'`: each request's `deadline` is its `x-deadline` header (epoch ms,
       * the client's whole patience): a request past it is refused, queued or not.
       * Express and Koa targets only.
       */
      deadline?: 'header' | undefined
      /**
       * The header carrying the client's remaining budget in ms (`@spillway/client`
       * sends `x-request-timeout-ms`): the adapter's `deadlineHeader`, so a request
       * whose caller will have given up is refused (`deadline`) rather than served late.
       */
      deadlineHeader?: string | undefined
    }

/** The header the `tenants` scenario's generator sets and a `key: 'header'` target reads. */
export const TENANT_HEADER = 'x-tenant'

/** The frameworks a target can be built with; `nest` is NestJS on its Express platform. */
export const FRAMEWORKS = ['express', 'koa', 'fastify', 'hono', 'nest'] as const

/** One of {@link FRAMEWORKS}. */
export type Framework = (typeof FRAMEWORKS)[number]

/** `perKey` of the controller: the key is the request's `?tenant=`. */
export interface PerKeyConfig {
  /** Requests one tenant may hold in flight (across the fleet when shared). */
  limit: number
  /** The shared store (`@spillway/redis` over node-redis); in-memory per process when absent. */
  redis?:
    | {
        port: number
        leaseMs: number
        callTimeoutMs: number
        onError: 'open' | 'closed' | 'local'
        expectedInstances?: number | undefined
      }
    | undefined
}

/** A target server's whole configuration. */
export interface TargetConfig {
  /** Which framework serves the routes. */
  framework: Framework
  /** What stands between the request and the work. */
  protection: Protection
  /** A limited downstream (think: a database pool): `slots` operations at a time, `serviceMs` each. `slots: 0` disables it. */
  downstream: { slots: number; serviceMs: number }
  /** Busy-loop CPU work per request, in milliseconds; saturates the event loop itself. @default 0 */
  cpuMs: number
  /**
   * `server.listen`'s backlog: how many connections the kernel holds for the
   * server before it accepts them. @default Node's (511)
   */
  listenBacklog?: number
  /**
   * Serve `GET /metrics` from `@spillway/prometheus` (spillway targets only), so a
   * report can show the server's own series beside the load generator's. @default false
   */
  metrics?: boolean
}

/** Requests per second the downstream can serve: `slots / serviceMs · 1000`. */
export function downstreamCapacity(config: Pick<TargetConfig, 'downstream'>): number {
  const { slots, serviceMs } = config.downstream
  return slots > 0 && serviceMs > 0 ? (slots / serviceMs) * 1000 : Number.POSITIVE_INFINITY
}

/** A short human label for a protection, used as the run's name in tables and charts. */
export function describeProtection(protection: Protection): string {
  switch (protection.kind) {
    case 'none':
      return 'unprotected'
    case 'passthrough':
      return 'pass-through middleware'
    case 'p-limit':
      return `p-limit(${protection.concurrency}), unbounded queue`
    case 'spillway': {
      const limit =
        typeof protection.limit === 'number'
          ? `limit ${protection.limit}`
          : `${protection.limit.algorithm}`
      const queue =
        protection.queue === undefined
          ? 'default queue'
          : `queue ${protection.queue.size}/${protection.queue.timeoutMs} ms`
      const perKey =
        protection.perKey === undefined
          ? ''
          : `, ${protection.perKey.limit} per tenant${protection.perKey.redis === undefined ? '' : ' on Redis'}`
      const key = `${protection.key === 'header' ? `, key ${TENANT_HEADER}` : ''}${protection.deadline === 'header' ? ', deadline x-deadline' : ''}`
      const extras = `${protection.pressure === true ? ', pressure' : ''}${protection.early === true ? ', early gate' : ''}${protection.holdEarlyRetries === true ? ', retry hold' : ''}${protection.deadlineHeader === undefined ? '' : `, deadline from ${protection.deadlineHeader}`}`
      return `spillway (${limit}, ${queue}${perKey}${key}${extras})`
    }
  }
}

/** What `GET /__stats` answers. */
export interface TargetStats {
  /** Resident set size of the server process, bytes. */
  rssBytes: number
  /** V8 heap in use, bytes. */
  heapUsedBytes?: number
  /** `process.getActiveResourcesInfo()` counted by type (sockets, timers, ... keeping the loop alive). */
  activeResources?: Record<string, number>
  /** Handler runs started for a client already gone (see `Work.startedGone`). */
  startedGone?: number
  /** Handler runs started past the request's `x-deadline`. */
  startedPastDeadline?: number
  /** Of `startedGone`, the longest a start came after its client's announced departure, ms. */
  startedGoneMaxLateMs?: number
  /** Of `startedGone`, those that started more than 100 ms after their client left. */
  startedLongGone?: number
  /** CPU time the server process has used so far (user + system), µs. */
  cpuMicros: number
  /** Event-loop delay p99 since the previous `/__stats` call, ms (how late timers and I/O ran). */
  eventLoopDelayP99Ms: number
  /** Handlers currently running (admitted and not yet finished), whatever the protection. */
  active: number
  /** Handler runs finished so far. */
  completed: number
  /** Handler runs that finished after their client had gone: wasted work. */
  wasted: number
  /** Requests waiting for a downstream slot. */
  downstreamQueued: number
  /** Current downstream operation time, ms (changes in `capacity-step`). */
  serviceMs: number
  /** Requests waiting in the p-limit queue (p-limit targets only). */
  pLimitPending: number | null
  /** Which adapter protects the server, e.g. `@spillway/express`. */
  adapter: string | null
  /** The controller's `stats()` (spillway targets only). */
  controller: ControllerStatsSnapshot | null
  /** The Redis store's `stats()` (targets with a shared `perKey` only). */
  keyStore?: Record<string, unknown> | null
}

/** The part of `controller.stats()` the harness reads; the rest is kept as it came. */
export interface ControllerStatsSnapshot {
  limit: number
  inFlight: number
  queued: number
  counters?: {
    admitted?: number
    rejected?: Record<string, number>
    [name: string]: unknown
  }
  [name: string]: unknown
}
