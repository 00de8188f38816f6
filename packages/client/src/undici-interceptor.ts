/**
 * The client as an undici `Dispatcher` interceptor, for code that calls
 * undici's `request`, `stream` or a `Pool`/`Agent` directly instead of `fetch`:
 *
 *   const agent = new Agent().compose(interceptors.spillway(client))
 *   await request(url, { dispatcher: agent, spillway: { priority: 'critical' } })
 *
 * Given a client, it shares that client's per-origin state (throttle, retry
 * budget, concurrency cap, counters, events); given options, it has its own.
 *
 * How it works, for one dispatch: the call starts like a `fetch` call (counted,
 * deadline checked, throttle drawn); each attempt takes a concurrency permit,
 * carries the priority and remaining-time headers and is dispatched with a
 * handler of ours. A 429/503 the policy retries (`retry-policy.ts`, the same
 * decisions and counters as `fetch`) is never shown to the caller's handler:
 * its body is drained, the wait runs, the next attempt goes out. Anything
 * else is forwarded as it comes. A connection error before any response byte
 * is retried likewise for idempotent methods. The deadline aborts the attempt
 * in flight (a `TimeoutError`) and keeps bounding the body once forwarded; the
 * caller's abort (undici's `signal`) ends a wait at once. Redirects are not
 * followed here: compose undici's `redirect` interceptor after this one, so
 * each hop passes through it and is charged to the origin that answers.
 */
import type { Client } from './client.js'
import { ThrottledError, type ThrottleReason } from './errors.js'
import { type AttemptFailure, Emitter } from './events.js'
import {
  type ClientOptions,
  type RequestOptions,
  type ResolvedOptions,
  resolveOptions,
  resolveRequestOptions,
} from './options.js'
import { OriginMap, type OriginState } from './origin-state.js'
import { decideRetry, isConnectionError, type RetryDecision, retryScopes } from './retry-policy.js'
import { startTimer, type Timer } from './timers.js'

/** What undici hands an interceptor's handler to steer the request (the v7+ handler API). */
export interface DispatchController {
  abort(reason: unknown): void
  pause(): void
  resume(): void
  readonly aborted?: boolean
  readonly paused?: boolean
  readonly reason?: unknown
}

/** The handler an interceptor receives (undici ≥ 7's `onRequestStart`… API). */
export interface DispatchHandler {
  onRequestStart?(controller: DispatchController, context: unknown): void
  onRequestUpgrade?(
    controller: DispatchController,
    statusCode: number,
    headers: Record<string, string | string[]>,
    socket: unknown,
  ): void
  onResponseStart?(
    controller: DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void
  onResponseData?(controller: DispatchController, chunk: Uint8Array): void
  onResponseEnd?(
    controller: DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void
  onResponseError?(controller: DispatchController, error: Error): void
}

/** The options undici dispatches with, as far as this interceptor reads them. */
export interface DispatchOptions {
  origin?: string | URL
  path: string
  method: string
  /** Per-request options of the client (priority, deadline, timeoutMs…). */
  spillway?: RequestOptions
}

/** The fields read without declaring them (undici types them more strictly, per version). */
interface LooseOptions {
  headers?: unknown
  body?: unknown
  upgrade?: unknown
}

/**
 * undici's `dispatch`. Declared as a method so its parameters compare
 * bivariantly: undici's own, stricter option types then fit it both ways.
 */
export type Dispatch = {
  dispatch(options: DispatchOptions, handler: DispatchHandler): boolean
}['dispatch']

/** An undici interceptor: `dispatcher.compose(interceptor)`. */
export type Interceptor = (dispatch: Dispatch) => Dispatch

/** The state a client shares with its interceptors (internal). */
export interface SharedState {
  readonly options: ResolvedOptions
  readonly origins: OriginMap
}

/** Where a client keeps its {@link SharedState}; not enumerable, not part of its type. */
export const SHARED = Symbol('spillway.client.state')

/** Anything carrying shared state: a client made by `createClient`. */
export interface HasSharedState {
  readonly [SHARED]: SharedState
}

/**
 * The interceptor. Pass a client to share its per-origin state, or client
 * options for a state of its own. Per request, `spillway: { priority, deadline,
 * timeoutMs, maxAttempts, retryNonIdempotent }` in undici's request options.
 */
export function spillwayInterceptor(client?: Client | ClientOptions): Interceptor {
  let shared: SharedState
  if (client !== undefined && (client as Partial<HasSharedState>)[SHARED] !== undefined) {
    shared = (client as HasSharedState)[SHARED]
  } else {
    const options = resolveOptions(client)
    shared = { options, origins: new OriginMap(options, new Emitter()) }
  }
  return (dispatch) => (opts, handler) => {
    const origin = originOf(opts.origin)
    // No origin to account it to, or a protocol upgrade (CONNECT, WebSocket): not a request to retry.
    if (
      origin === undefined ||
      (opts as LooseOptions).upgrade ||
      String(opts.method).toUpperCase() === 'CONNECT'
    ) {
      return dispatch(opts, handler)
    }
    new Call(shared, dispatch, opts, handler, origin).start()
    return true
  }
}

/** `interceptors.spillway(...)`, after undici's own `interceptors.retry(...)` style. */
export const interceptors = { spillway: spillwayInterceptor }

function originOf(value: string | URL | undefined): string | undefined {
  if (value === undefined) return undefined
  try {
    const url = new URL(String(value))
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined
  } catch {
    return undefined
  }
}

/** undici's header shapes (object, flat array, iterable of pairs) as a plain object without `drop`. */
function headersWithout(
  headers: unknown,
  drop: readonly string[],
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  const add = (name: unknown, value: unknown): void => {
    const key = String(name).toLowerCase()
    if (drop.includes(key) || value === undefined || value === null) return
    const v = Array.isArray(value) ? value.map(String) : String(value)
    const prior = out[key]
    out[key] =
      prior === undefined
        ? v
        : [...(Array.isArray(prior) ? prior : [prior]), ...(Array.isArray(v) ? v : [v])]
  }
  if (headers === undefined || headers === null) return out
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0]))
      for (const [k, v] of headers as unknown[][]) add(k, v)
    else for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1])
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [k, v] of headers as Iterable<[unknown, unknown]>) add(k, v)
  } else {
    for (const [k, v] of Object.entries(headers as Record<string, unknown>)) add(k, v)
  }
  return out
}

function isReplayableBody(body: unknown): boolean {
  return (
    body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array
  )
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** One dispatch through the interceptor: its attempts, waits, and the caller's handler. */
class Call implements DispatchController {
  readonly #o: ResolvedOptions
  readonly #origins: OriginMap
  readonly #state: OriginState
  readonly #dispatch: Dispatch
  readonly #opts: DispatchOptions
  readonly #handler: DispatchHandler
  readonly #request: RequestOptions
  readonly #deadline: number | undefined
  readonly #method: string
  readonly #scopes: ReturnType<typeof retryScopes>
  /** The controller of the attempt in flight. */
  #current: DispatchController | undefined
  #deadlineTimer: Timer | undefined
  #wait: Timer | undefined
  #permit: { release(outcome?: 'success' | 'failure' | 'ignore'): void } | undefined
  #attempt = 0
  #refusedBefore = false
  /** The caller's handler has seen the response start: from here on, everything is forwarded. */
  #forwarding = false
  #ended = false
  #aborted = false
  #abortReason: unknown
  #paused = false

  constructor(
    shared: SharedState,
    dispatch: Dispatch,
    opts: DispatchOptions,
    handler: DispatchHandler,
    origin: string,
  ) {
    this.#o = shared.options
    this.#origins = shared.origins
    this.#dispatch = dispatch
    const { spillway, ...rest } = opts
    this.#opts = rest as DispatchOptions
    this.#handler = handler
    this.#request = resolveRequestOptions(spillway)
    const timeoutMs = this.#request.timeoutMs ?? this.#o.timeoutMs
    let deadline = this.#request.deadline
    if (timeoutMs !== undefined)
      deadline = Math.min(deadline ?? Infinity, this.#o.now() + timeoutMs)
    this.#deadline = deadline
    this.#method = String(opts.method).toUpperCase()
    this.#scopes = retryScopes(
      this.#o,
      this.#method,
      isReplayableBody((opts as LooseOptions).body),
      this.#request,
      deadline,
    )
    this.#state = this.#origins.acquire(origin)
  }

  // The controller the caller's handler steers: it outlives every attempt.
  get aborted(): boolean {
    return this.#aborted
  }
  get paused(): boolean {
    return this.#paused
  }
  get reason(): unknown {
    return this.#abortReason
  }
  abort(reason: unknown): void {
    if (this.#aborted || this.#ended) return
    this.#aborted = true
    this.#abortReason = reason
    if (this.#current !== undefined) this.#current.abort(reason)
    else this.#fail(reason, 'ignore')
  }
  pause(): void {
    this.#paused = true
    this.#current?.pause()
  }
  resume(): void {
    this.#paused = false
    this.#current?.resume()
  }

  start(): void {
    this.#handler.onRequestStart?.(this, {})
    if (this.#ended) return
    const refusal = this.#state.startCall(this.#deadline, this.#o.now(), this.#o.random)
    if (refusal !== undefined) {
      this.#end()
      this.#handler.onResponseError?.(this, refusal)
      return
    }
    if (this.#deadline !== undefined) {
      this.#deadlineTimer = startTimer(
        this.#o.timers,
        () => this.#onDeadline(),
        this.#deadline - this.#o.now(),
      )
    }
    void this.#next()
  }

  #onDeadline(): void {
    this.#deadlineTimer = undefined
    const error = new DOMException('The request deadline passed.', 'TimeoutError')
    if (this.#current !== undefined) this.#current.abort(error)
    else this.#fail(new ThrottledError('deadline', this.#state.origin), 'local', 'deadline')
  }

  async #next(): Promise<void> {
    this.#wait = undefined
    if (this.#ended) return
    const o = this.#o
    const state = this.#state
    if (state.controller !== undefined) {
      const decision = await state.controller.acquire({
        priority: this.#request.priority,
        deadline: this.#deadline,
      })
      if (this.#ended) {
        if (decision.admitted) decision.permit.release('ignore')
        return
      }
      if (!decision.admitted) {
        this.#fail(
          new ThrottledError(decision.rejection.reason, state.origin),
          'local',
          decision.rejection.reason,
        )
        return
      }
      this.#permit = decision.permit
    }
    const remainingMs = this.#deadline === undefined ? undefined : this.#deadline - o.now()
    if (remainingMs !== undefined && remainingMs <= 0) {
      this.#fail(new ThrottledError('deadline', state.origin), 'local', 'deadline')
      return
    }
    const headers = headersWithout((this.#opts as LooseOptions).headers, o.spillwayHeaders)
    if (o.priorityHeader !== false && this.#request.priority !== undefined)
      headers[o.priorityHeader] = this.#request.priority
    if (o.deadlineHeader !== false && remainingMs !== undefined)
      headers[o.deadlineHeader] = String(Math.floor(remainingMs))
    this.#attempt++
    state.counters.attempts++
    if (this.#attempt > 1) state.counters.retries++
    try {
      this.#dispatch({ ...this.#opts, headers } as DispatchOptions, new Attempt(this))
    } catch (error) {
      this.#attemptError(error)
    }
  }

  // --- called by the attempt in flight ---

  attemptStart(controller: DispatchController): void {
    this.#current = controller
    if (this.#aborted) controller.abort(this.#abortReason)
    else if (this.#paused) controller.pause()
  }

  /** Returns whether the response goes to the caller (false: drained, then retried after `delayMs`). */
  attemptResponse(
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage: string | undefined,
  ): RetryDecision | undefined {
    const state = this.#state
    const refused = statusCode === 429 || statusCode === 503
    this.#permit?.release(refused ? 'failure' : 'success')
    this.#permit = undefined
    if (refused) {
      state.counters.refusals++
      this.#refusedBefore = true
      const failure: AttemptFailure = { status: statusCode }
      const decision = decideRetry(
        this.#o,
        state,
        this.#scopes.scope,
        this.#attempt,
        failure,
        headerValue(headers['retry-after']),
      )
      if (decision.retry) return decision
      state.throttle?.record(false)
    } else {
      state.throttle?.record(true)
      state.counters.accepts++
    }
    this.#forwarding = true
    // The deadline keeps bounding the body, without holding the process for a body nobody reads.
    this.#deadlineTimer?.unref()
    this.#handler.onResponseStart?.(this, statusCode, headers, statusMessage)
    return undefined
  }

  attemptData(chunk: Uint8Array): void {
    if (this.#forwarding && !this.#ended) this.#handler.onResponseData?.(this, chunk)
  }

  attemptEnd(
    trailers: Record<string, string | string[] | undefined>,
    retry: RetryDecision | undefined,
  ): void {
    this.#current = undefined
    if (this.#ended) return
    if (retry?.retry) {
      this.#wait = startTimer(this.#o.timers, () => void this.#next(), retry.delayMs)
      return
    }
    this.#end()
    this.#handler.onResponseEnd?.(this, trailers)
  }

  attemptError(error: unknown, retry?: RetryDecision): void {
    this.#current = undefined
    if (this.#ended) return
    if (this.#forwarding) {
      this.#end()
      this.#handler.onResponseError?.(this, error as Error)
      return
    }
    // Draining a refusal we retry: the decision is made, the connection's fate does not change it.
    if (retry?.retry) {
      this.#wait = startTimer(this.#o.timers, () => void this.#next(), retry.delayMs)
      return
    }
    this.#attemptError(error)
  }

  #attemptError(error: unknown): void {
    const state = this.#state
    if (this.#aborted) {
      this.#fail(this.#abortReason, 'ignore')
      return
    }
    this.#permit?.release('failure')
    this.#permit = undefined
    state.counters.errors++
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError'
    if (!timedOut && isConnectionError(error)) {
      const decision = decideRetry(
        this.#o,
        state,
        this.#scopes.networkScope,
        this.#attempt,
        { error },
        undefined,
      )
      if (decision.retry) {
        this.#refusedBefore = true
        this.#wait = startTimer(this.#o.timers, () => void this.#next(), decision.delayMs)
        return
      }
    }
    state.throttle?.record(false)
    this.#end()
    this.#handler.onResponseError?.(this, error as Error)
  }

  /** Ends the call with `error`: `local` for a refusal the client decided, `ignore` for the caller's abort. */
  #fail(error: unknown, kind: 'local' | 'ignore', reason?: ThrottleReason): void {
    if (this.#ended) return
    this.#permit?.release('ignore')
    this.#permit = undefined
    if (kind === 'local') {
      if (this.#refusedBefore) this.#state.throttle?.record(false)
      if (reason !== undefined) this.#state.reject(reason)
    }
    this.#end()
    this.#handler.onResponseError?.(this, error as Error)
  }

  #end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#wait?.cancel()
    this.#deadlineTimer?.cancel()
    this.#origins.release(this.#state)
  }
}

/** The handler of one attempt: reports to its call, drains what the call retries. */
class Attempt implements DispatchHandler {
  readonly #call: Call
  #retry: RetryDecision | undefined

  constructor(call: Call) {
    this.#call = call
  }

  onRequestStart(controller: DispatchController): void {
    this.#call.attemptStart(controller)
  }

  onResponseStart(
    _controller: DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    this.#retry = this.#call.attemptResponse(statusCode, headers, statusMessage)
  }

  onResponseData(_controller: DispatchController, chunk: Uint8Array): void {
    if (this.#retry === undefined) this.#call.attemptData(chunk)
  }

  onResponseEnd(
    _controller: DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    this.#call.attemptEnd(trailers, this.#retry)
  }

  onResponseError(_controller: DispatchController, error: Error): void {
    this.#call.attemptError(error, this.#retry)
  }
}
