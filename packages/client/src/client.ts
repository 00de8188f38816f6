/**
 * How it works, for one call:
 *   1. Deadline: the earlier of `deadline` and now + `timeoutMs`; sent to the
 *      server as the remaining whole ms, and every wait stops at it.
 *   2. Adaptive throttling may fail the call locally, before its first attempt
 *      (a retry draws against the same probability without being counted
 *      again, step 3). Per attempt, the optional concurrency cap (a
 *      `@spillway/core` controller) may queue or fail it; then it is sent.
 *      Redirects are followed here, each hop an attempt to its own origin
 *      (`redirect.ts`); a connection error before any response byte is retried
 *      like a refusal, for idempotent methods only.
 *   3. A 429 or 503 is retried when the method is idempotent (or the caller
 *      opted in), the body can be replayed, attempts remain, `Retry-After` is
 *      within `maxRetryAfterMs`, the wait ends before the deadline, the
 *      throttle's draw lets it through and the retry budget has a retry to
 *      spend (`retry-policy.ts`); each "no" is counted by reason. The wait is
 *      `Retry-After` plus upward jitter, or exponential backoff with full jitter.
 *   4. Otherwise the last response is returned as it is: HTTP statuses are
 *      answers, not errors, exactly as with `fetch`.
 * Throttling counts one request per call, as the SRE book counts requests at
 * the application layer: accepted when the server finally answered with any
 * status but 429/503 (retries included); not accepted when it was refused to
 * the end, failed with a network error or ran out of time mid-attempt, or was
 * throttled locally. A caller's abort, or a call the client never sent (a
 * deadline already past, a full concurrency cap), is not counted at all: it
 * says nothing about the server. The call is over when its response body has
 * settled (`body-settled.ts`): then its timer and listeners are gone.
 */

import { onBodySettled } from './body-settled.js'
import { ThrottledError, type ThrottleReason } from './errors.js'
import { type ClientListener, Emitter } from './events.js'
import {
  type ClientOptions,
  type FetchLike,
  type RequestOptions,
  type ResolvedOptions,
  resolveOptions,
  resolveRequestOptions,
} from './options.js'
import { OriginMap, type OriginState, type OriginStats } from './origin-state.js'
import { type Hop, nextHop, redirectTarget } from './redirect.js'
import { isRequest, parseInput } from './request-input.js'
import { decideRetry, isConnectionError, retryScopes } from './retry-policy.js'
import { linkSignal, sleep } from './timers.js'
import { SHARED, type SharedState } from './undici-interceptor.js'

/** A `fetch` that hears "slow down"; the third argument holds per-request options. */
export interface Client {
  (input: string | URL | Request, init?: RequestInit, options?: RequestOptions): Promise<Response>
  /** Per-origin counters and windows, keyed by origin (`scheme://host:port`). */
  stats(): Record<string, OriginStats>
  /**
   * Subscribes to every retry taken (`retry`) and not taken (`retrySkipped`,
   * with its reason), for every origin; returns the unsubscribe function.
   */
  on(listener: ClientListener): () => void
}

/** A body `fetch` can send twice: anything but a stream or an iterable. */
function isReplayable(input: string | URL | Request, init: RequestInit | undefined): boolean {
  const body = init?.body !== undefined ? init.body : isRequest(input) ? input.body : null
  if (body === null || body === undefined) return true
  if (typeof body === 'string' || body instanceof URLSearchParams) return true
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return true
  if (typeof Blob !== 'undefined' && body instanceof Blob) return true
  if (typeof FormData !== 'undefined' && body instanceof FormData) return true
  // A Request's own body is a stream: it can be read once.
  return false
}

function discard(response: Response): void {
  // An unread body pins the connection; a failed cancel is of no consequence.
  response.body?.cancel().catch(() => {})
}

/** Wraps `options.fetch` (global `fetch` by default). See {@link ClientOptions}. */
export function createClient(options?: ClientOptions): Client {
  const resolved = resolveOptions(options)
  const origins = new OriginMap(resolved, new Emitter())
  const call = (input: string | URL | Request, init?: RequestInit, request?: RequestOptions) =>
    send(resolved, origins, input, init, request)
  // Shared with undici interceptors made from this client; hidden from its type and from enumeration.
  Object.defineProperty(call, SHARED, {
    value: { options: resolved, origins } satisfies SharedState,
  })
  return Object.assign(call, {
    stats(): Record<string, OriginStats> {
      const result: Record<string, OriginStats> = {}
      for (const [origin, state] of origins.entries()) result[origin] = state.stats()
      return result
    },
    on(listener: ClientListener): () => void {
      return origins.events.on(listener)
    },
  })
}

/** `createClient({ ...options, fetch })`: wraps a given `fetch`. */
export function withBackpressure(fetch: FetchLike, options?: Omit<ClientOptions, 'fetch'>): Client {
  return createClient({ ...options, fetch })
}

async function send(
  o: ResolvedOptions,
  origins: OriginMap,
  input: string | URL | Request,
  init: RequestInit | undefined,
  requestOptions: RequestOptions | undefined,
): Promise<Response> {
  const request = resolveRequestOptions(requestOptions)
  const call = parseInput(input, init, o.baseUrl)
  // Resolved per call so a test or an APM agent that replaces globalThis.fetch is honoured.
  const fetchImpl = o.fetch ?? globalThis.fetch
  // data:, blob:, file:… reach no server: nothing to protect, nothing to retry.
  if (!call.http) return fetchImpl(call.fetchInput, init)
  const timeoutMs = request.timeoutMs ?? o.timeoutMs
  let deadline = request.deadline
  if (timeoutMs !== undefined) deadline = Math.min(deadline ?? Infinity, o.now() + timeoutMs)

  // Built before any permit is held: a header value fetch rejects throws here, leaking nothing.
  const headers = new Headers(init?.headers ?? (isRequest(input) ? input.headers : undefined))
  if (o.priorityHeader !== false && request.priority !== undefined) {
    headers.set(o.priorityHeader, request.priority)
  }
  const mode = init?.redirect ?? (isRequest(input) ? input.redirect : 'follow')
  let hop: Hop = {
    url: call.url,
    input: call.fetchInput,
    init,
    method: call.method,
    headers,
    replayable: isReplayable(input, init),
    propagate: true,
    redirects: 0,
  }
  for (;;) {
    const state = origins.acquire(hop.url.origin)
    let result: Response | Redirect
    try {
      result = await attempts(o, state, hop, call.signal, request, deadline, mode === 'follow')
    } finally {
      origins.release(state)
    }
    if (result instanceof Response) return result
    hop = nextHop(hop, result.status, result.target, o.spillwayHeaders)
  }
}

/** A redirect `attempts` leaves to its caller to follow. */
interface Redirect {
  readonly status: number
  readonly target: URL
}

/**
 * The attempts of one hop of a call to `state`'s origin, and the waits between
 * them; with `follow`, a redirect is handed back instead of returned.
 */
async function attempts(
  o: ResolvedOptions,
  state: OriginState,
  hop: Hop,
  caller: AbortSignal | undefined,
  request: RequestOptions,
  deadline: number | undefined,
  follow: boolean,
): Promise<Response | Redirect> {
  const { now, random, timers } = o
  const fetchImpl = o.fetch ?? globalThis.fetch
  const origin = state.origin
  const { method, replayable, input, init } = hop
  const { scope, networkScope } = retryScopes(o, method, replayable, request, deadline)
  const throttle = state.throttle
  // After a refusal, a call that ends without an answer counts as refused.
  let refusedBefore = false
  const fail = (reason: ThrottleReason): never => {
    if (refusedBefore) throttle?.record(false)
    state.reject(reason)
    throw new ThrottledError(reason, origin)
  }

  if (caller?.aborted) throw caller.reason
  const refusal = state.startCall(deadline, now(), random)
  if (refusal !== undefined) throw refusal

  for (let attempt = 1; ; attempt++) {
    if (caller?.aborted) throw caller.reason
    if (deadline !== undefined && deadline <= now()) fail('deadline')

    let permit: { release(outcome?: 'success' | 'failure' | 'ignore'): void } | undefined
    if (state.controller !== undefined) {
      const decision = await state.controller.acquire({
        priority: request.priority,
        signal: caller,
        deadline,
      })
      if (!decision.admitted) {
        if (decision.rejection.reason === 'aborted' && caller?.aborted) throw caller.reason
        fail(decision.rejection.reason)
      } else permit = decision.permit
    }

    // Measured after any wait for a slot, so the server sees what is really left.
    const remainingMs = deadline === undefined ? undefined : deadline - now()
    if (remainingMs !== undefined && remainingMs <= 0) {
      permit?.release('ignore')
      fail('deadline')
    }
    const headers = new Headers(hop.headers)
    if (o.deadlineHeader !== false && remainingMs !== undefined && hop.propagate) {
      headers.set(o.deadlineHeader, String(Math.floor(remainingMs)))
    }
    const link = linkSignal(caller, remainingMs, timers)
    const attemptInit: RequestInit = { ...init, headers }
    if (follow) attemptInit.redirect = 'manual'
    if (link.signal !== undefined) attemptInit.signal = link.signal

    state.counters.attempts++
    if (attempt > 1) state.counters.retries++
    let response: Response
    try {
      response = await fetchImpl(input, attemptInit)
    } catch (error) {
      link.dispose()
      permit?.release(caller?.aborted ? 'ignore' : 'failure')
      if (caller?.aborted) throw error
      state.counters.errors++
      if (isConnectionError(error)) {
        const decision = decideRetry(o, state, networkScope, attempt, { error }, undefined)
        if (decision.retry) {
          refusedBefore = true
          await sleep(decision.delayMs, caller, timers)
          continue
        }
      }
      throttle?.record(false)
      throw error
    }

    const refused = response.status === 429 || response.status === 503
    // The cap counts an attempt until its response headers arrive, not until its body is read.
    permit?.release(refused ? 'failure' : 'success')
    if (!refused) {
      throttle?.record(true)
      state.counters.accepts++
      const target = follow ? redirectTarget(response, hop.url) : undefined
      if (target !== undefined) {
        link.dispose()
        discard(response)
        return { status: response.status, target }
      }
      // fetch would have said so; the copy handed back keeps it.
      if (hop.redirects > 0) Object.defineProperty(response, 'redirected', { value: true })
      // The deadline keeps bounding the body, without holding the process for a body nobody reads.
      link.unref()
      return onBodySettled(response, link.dispose)
    }
    state.counters.refusals++
    refusedBefore = true

    const retryAfter = response.headers.get('retry-after')
    const decision = decideRetry(o, state, scope, attempt, { status: response.status }, retryAfter)
    if (!decision.retry) {
      throttle?.record(false)
      if (hop.redirects > 0) Object.defineProperty(response, 'redirected', { value: true })
      link.unref()
      return onBodySettled(response, link.dispose)
    }
    link.dispose()
    discard(response)
    await sleep(decision.delayMs, caller, timers)
  }
}
