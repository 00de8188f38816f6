/**
 * How it works, for one call:
 *   1. Deadline: the earlier of `deadline` and now + `timeoutMs`; sent to the
 *      server as the remaining whole ms, and every wait stops at it.
 *   2. Adaptive throttling may fail the call locally, before its first attempt
 *      (retries are governed by the retry budget instead). Per attempt, the
 *      optional concurrency cap (a `@spillway/core` controller) may queue or
 *      fail it; then it is sent.
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
 * says nothing about the server.
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
import { type CallInput, isRequest, parseInput } from './request-input.js'
import { decideRetry, IDEMPOTENT, isConnectionError, type RetryScope } from './retry-policy.js'
import { linkSignal, sleep } from './timers.js'

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

  const state = origins.acquire(call.url.origin)
  try {
    return await attempts(o, state, call.fetchInput, init, call, request, deadline)
  } finally {
    origins.release(state)
  }
}

/** The attempts of one call to `state`'s origin, and the waits between them. */
async function attempts(
  o: ResolvedOptions,
  state: OriginState,
  input: string | URL | Request,
  init: RequestInit | undefined,
  call: CallInput,
  request: RequestOptions,
  deadline: number | undefined,
): Promise<Response> {
  const { now, random, timers } = o
  const fetchImpl = o.fetch ?? globalThis.fetch
  const origin = state.origin
  const method = call.method
  const caller = call.signal
  const replayable = isReplayable(input, init)
  const scope: RetryScope = {
    never: !(IDEMPOTENT.has(method) || (request.retryNonIdempotent ?? o.retryNonIdempotent))
      ? 'notIdempotent'
      : replayable
        ? undefined
        : 'bodyNotReplayable',
    maxAttempts: request.maxAttempts ?? o.maxAttempts,
    deadline,
  }
  // A network error may come after the server acted on the request: idempotent methods only.
  const networkScope: RetryScope = {
    ...scope,
    never: !IDEMPOTENT.has(method) ? 'notIdempotent' : scope.never,
  }

  // Built before any permit is held: a header value fetch rejects throws here, leaking nothing.
  const baseHeaders = new Headers(init?.headers ?? (isRequest(input) ? input.headers : undefined))
  if (o.priorityHeader !== false && request.priority !== undefined) {
    baseHeaders.set(o.priorityHeader, request.priority)
  }

  state.counters.requests++
  state.budget?.recordRequest()
  const throttle = state.throttle
  // After a refusal, a call that ends without an answer counts as refused.
  let refusedBefore = false
  const fail = (reason: ThrottleReason): never => {
    if (refusedBefore) throttle?.record(false)
    state.reject(reason)
    throw new ThrottledError(reason, origin)
  }

  if (caller?.aborted) throw caller.reason
  if (deadline !== undefined && deadline <= now()) fail('deadline')
  if (throttle !== undefined) {
    const probability = throttle.rejectProbability()
    if (probability > 0 && random() < probability) {
      const { requests, accepts } = throttle.stats()
      throttle.record(false)
      state.reject('throttled')
      throw new ThrottledError('throttled', origin, {
        requests,
        accepts,
        k: throttle.k,
        windowMs: throttle.windowMs,
        probability,
      })
    }
  }

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
    const headers = new Headers(baseHeaders)
    if (o.deadlineHeader !== false && remainingMs !== undefined) {
      headers.set(o.deadlineHeader, String(Math.floor(remainingMs)))
    }
    const link = linkSignal(caller, remainingMs, timers)
    const attemptInit: RequestInit = { ...init, headers }
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
      link.unref()
      return onBodySettled(response, link.dispose)
    }
    link.dispose()
    discard(response)
    await sleep(decision.delayMs, caller, timers)
  }
}
