/**
 * Users that retry: a closed loop of `users`, each sending its next logical
 * request `thinkMs` after the last one ended, through one of two clients:
 *
 * - `naive`: plain `fetch`, a `503`/`429` retried at once, up to `naiveMaxAttempts`;
 * - `@spillway/client`: `Retry-After`, a retry budget and adaptive throttling
 *   (`createClient({ timeoutMs })`, its defaults otherwise), one instance per
 *   `usersPerClient` users (one instance ≈ one calling service).
 *
 * Both give up on a logical request after `timeoutMs`. Two records come out:
 * every attempt that was sent, in the shared {@link RequestLog} (what the
 * server saw; `summarize` and the charts read it like any other load), and
 * every logical request's outcome and latency (what the user saw).
 *
 * Bounded: the loop stops at `durationMs` or `maxLogicalRequests`, whichever
 * comes first, and a logical request never outlives its `timeoutMs`.
 */
import { createClient, ThrottledError } from '@spillway/client'
import { ERROR, isRejection, type RequestLog, reasonOf, seededRandom, TIMEOUT } from './records.js'

/** Who sends the requests. */
export type RetryingClient = 'naive' | 'spillway-client'

/** How a logical request ended, as its user saw it. */
export type LogicalOutcome = 'ok' | 'refused' | 'throttled' | 'timeout' | 'error'

/** The load of one run of users. */
export interface RetryingUsersLoad {
  client: RetryingClient
  users: number
  /** Users sharing one `@spillway/client` instance. */
  usersPerClient: number
  /** Pause between a user's logical requests, ms. */
  thinkMs: number
  durationMs: number
  /** A logical request's whole budget, retries and waits included, ms. */
  timeoutMs: number
  /** Attempts a naive user makes before giving up on a logical request. */
  naiveMaxAttempts: number
  /** Hard cap on logical requests, so a run stays bounded whatever the answers. */
  maxLogicalRequests: number
  /** The path every request goes to. */
  path: string
}

/** What the users saw, one entry per logical request. */
export interface LogicalLog {
  outcome: LogicalOutcome[]
  latencyMs: number[]
  /** `@spillway/client` only: retries sent and refusals handed back unretried, by reason (all instances). */
  clientRetries: { sent: number; notRetried: Record<string, number> } | null
}

/** Live counts, about once a second. */
export interface RetryingUsersProgress {
  elapsedMs: number
  totalMs: number
  logical: number
  attempts: number
  ok: number
}

export interface RetryingUsersOptions extends RetryingUsersLoad {
  port: number
  onProgress?: (progress: RetryingUsersProgress) => void
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A `fetch` that logs each attempt: latency to the response head, the status,
 * and for a refusal the `reason` of its problem+json body (read from a clone in
 * the background, so the caller gets the response as soon as its head is in).
 * An attempt cut short by the logical request's budget is a {@link TIMEOUT}.
 */
function loggingFetch(log: RequestLog, start: number, counts: { attempts: number }): typeof fetch {
  const reasons = log.reason as string[]
  return async (input, init) => {
    const index = log.status.length
    const t0 = performance.now()
    log.sentMs.push(t0 - start)
    log.latencyMs.push(Number.NaN)
    log.status.push(ERROR)
    log.route.push(0)
    reasons.push('')
    counts.attempts++
    try {
      const response = await fetch(input, init)
      log.latencyMs[index] = performance.now() - t0
      log.status[index] = response.status
      if (isRejection(response.status)) {
        response
          .clone()
          .text()
          .then(
            (body) => {
              reasons[index] = reasonOf(body)
            },
            () => {},
          )
      }
      return response
    } catch (error) {
      log.latencyMs[index] = performance.now() - t0
      const name = (error as Error).name
      if (name === 'TimeoutError' || name === 'AbortError') log.status[index] = TIMEOUT
      throw error
    }
  }
}

/** One naive logical request: a refusal retried at once, until success, attempts or time run out. */
async function naiveRequest(
  send: typeof fetch,
  url: string,
  timeoutMs: number,
  maxAttempts: number,
): Promise<LogicalOutcome> {
  const signal = AbortSignal.timeout(timeoutMs)
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      const response = await send(url, { signal })
      await response.arrayBuffer()
      if (response.status !== 503 && response.status !== 429) return response.ok ? 'ok' : 'error'
    } catch (error) {
      return (error as Error).name === 'TimeoutError' ? 'timeout' : 'error'
    }
  }
  return 'refused'
}

/** One logical request through `@spillway/client`. */
async function clientRequest(
  client: ReturnType<typeof createClient>,
  url: string,
): Promise<LogicalOutcome> {
  try {
    const response = await client(url)
    await response.arrayBuffer()
    if (isRejection(response.status)) return 'refused'
    return response.ok ? 'ok' : 'error'
  } catch (error) {
    if (error instanceof ThrottledError)
      return error.reason === 'deadline' ? 'timeout' : 'throttled'
    return (error as Error).name === 'TimeoutError' ? 'timeout' : 'error'
  }
}

/** Runs the users until the end of `durationMs` and each one's last logical request has ended. */
export async function runRetryingUsers(
  options: RetryingUsersOptions,
): Promise<{ log: RequestLog; logical: LogicalLog }> {
  const url = `http://127.0.0.1:${options.port}${options.path}`
  const log: RequestLog = { sentMs: [], latencyMs: [], status: [], route: [], reason: [] }
  const logical: LogicalLog = { outcome: [], latencyMs: [], clientRetries: null }
  const counts = { attempts: 0, ok: 0 }
  const start = performance.now()
  const endAt = start + options.durationMs
  const send = loggingFetch(log, start, counts)
  const random = seededRandom(1)
  const clients =
    options.client === 'spillway-client'
      ? Array.from({ length: Math.ceil(options.users / options.usersPerClient) }, () =>
          createClient({ timeoutMs: options.timeoutMs, fetch: send }),
        )
      : []
  const progress = setInterval(() => {
    options.onProgress?.({
      elapsedMs: performance.now() - start,
      totalMs: options.durationMs,
      logical: logical.outcome.length,
      attempts: counts.attempts,
      ok: counts.ok,
    })
  }, 1000)
  const user = async (index: number): Promise<void> => {
    const client = clients[Math.floor(index / options.usersPerClient)]
    // Spread the first requests over one think time, so users do not move in lockstep.
    await sleep(random() * options.thinkMs)
    while (performance.now() < endAt && logical.outcome.length < options.maxLogicalRequests) {
      const entry = logical.outcome.length
      logical.outcome.push('error')
      logical.latencyMs.push(Number.NaN)
      const t0 = performance.now()
      const outcome =
        client === undefined
          ? await naiveRequest(send, url, options.timeoutMs, options.naiveMaxAttempts)
          : await clientRequest(client, url)
      logical.outcome[entry] = outcome
      logical.latencyMs[entry] = performance.now() - t0
      if (outcome === 'ok') counts.ok++
      await sleep(options.thinkMs)
    }
  }
  try {
    await Promise.all(Array.from({ length: options.users }, (_, i) => user(i)))
  } finally {
    clearInterval(progress)
  }
  if (clients.length > 0) {
    const retries = { sent: 0, notRetried: {} as Record<string, number> }
    for (const client of clients) {
      for (const origin of Object.values(client.stats())) {
        retries.sent += origin.counters.retries
        for (const [reason, n] of Object.entries(origin.counters.notRetried)) {
          retries.notRetried[reason] = (retries.notRetried[reason] ?? 0) + n
        }
      }
    }
    logical.clientRetries = retries
  }
  return { log, logical }
}
