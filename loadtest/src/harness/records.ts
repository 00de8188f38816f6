/**
 * What the load generators record: one entry per request, in parallel arrays
 * (tens of thousands of requests per run; arrays of numbers stay compact).
 */
import { seededRandom } from '@spillway/core/internal'

/** Status recorded for a request the client gave up on (its timeout fired). */
export const TIMEOUT = 0
/** Status recorded for a connection error (reset, refused). */
export const ERROR = -1

/** A status that counts as served. */
export const isOk = (status: number): boolean => status >= 200 && status < 300
/** A status that is spillway's refusal: server overloaded, or this caller over its share. */
export const isRejection = (status: number): boolean => status === 503 || status === 429

/** One run's requests. */
export interface RequestLog {
  /** When each request was sent, ms since the run started. */
  sentMs: number[]
  /** Time to the full response (or to giving up), ms. */
  latencyMs: number[]
  /** HTTP status, or {@link TIMEOUT} / {@link ERROR}. */
  status: number[]
  /** Index into the run's route mix (priority class for the work routes). */
  route: number[]
  /**
   * The `reason` of each 503/429 (from spillway's problem+json body), `''` otherwise;
   * absent when the generator does not read bodies (autocannon).
   */
  reason?: string[]
}

/**
 * Rejection reasons decided on arrival, without waiting: the answers the
 * "rejections cost microseconds" promise is about. The others (`queueTimeout`,
 * `evicted`, `deadline`) come after a wait in the queue by design.
 */
export const IMMEDIATE_REASONS: ReadonlySet<string> = new Set([
  'queueFull',
  'overloaded',
  'sampled',
  'quota',
  'closed',
])

/** The `reason` of spillway's problem+json body; `'unknown'` for any other body. */
export function reasonOf(body: string): string {
  try {
    const reason = (JSON.parse(body) as { reason?: unknown }).reason
    return typeof reason === 'string' ? reason : 'unknown'
  } catch {
    return 'unknown'
  }
}

/** An empty log. */
export function createLog(): RequestLog {
  return { sentMs: [], latencyMs: [], status: [], route: [] }
}

/** A route with its share of the traffic. */
export interface RouteShare {
  path: string
  weight: number
  /** Headers this route's requests carry (e.g. the tenant's `x-tenant`), beside the loop's own. */
  headers?: Record<string, string> | undefined
  /** How this route's clients behave (the soak's mix); absent: patient, fast readers. */
  client?: ClientBehaviour | undefined
}

/**
 * A client's manners: when it leaves, how fast it reads. A client with one
 * announces its patience in headers (epoch ms): `x-deadline`, sent + the
 * loop's timeout; `x-give-up-at`, when it will really leave.
 */
export interface ClientBehaviour {
  /** Leaves (destroys its socket) at a uniformly drawn time in this range after sending, ms: mid-queue, mid-handler or mid-response. */
  abortAfterMs?: readonly [number, number] | undefined
  /** Reads the answer at about this many bytes per second instead of at once. */
  readBytesPerSecond?: number | undefined
}

/** The priority mix: 20% critical, 50% normal, 30% sheddable. */
export const PRIORITY_MIX: readonly RouteShare[] = [
  { path: '/critical', weight: 20 },
  { path: '/normal', weight: 50 },
  { path: '/sheddable', weight: 30 },
]

/** Seeded PRNG (core's mulberry32): the same run picks the same routes in the same order. */
export { seededRandom }

/** Picks route indexes by weight. */
export function routePicker(mix: readonly RouteShare[], random: () => number): () => number {
  const total = mix.reduce((sum, r) => sum + r.weight, 0)
  return () => {
    let x = random() * total
    for (let i = 0; i < mix.length; i++) {
      x -= (mix[i] as RouteShare).weight
      if (x < 0) return i
    }
    return mix.length - 1
  }
}
