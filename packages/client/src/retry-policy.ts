/**
 * Whether to retry a refused (429/503) attempt or one whose connection failed
 * before any byte of the response (idempotent methods only), and after how long.
 * Shared by the `fetch` client and the undici interceptor, so both decide alike.
 * Checks run cheapest and most certain first; the retry budget runs last
 * because asking it spends a retry. Each "no" names its reason (counted per
 * origin in `stats()` and published as a `retrySkipped` event).
 *
 * The wait: `Retry-After` plus upward jitter when the server gave one (never
 * less than asked; a `Retry-After` longer than `maxRetryAfterMs` is not waited
 * for at all, nor cut short: the refusal is the answer); otherwise exponential backoff
 * with full jitter ("Exponential backoff and jitter", AWS Architecture Blog).
 */
import type { AttemptFailure, NoRetryReason } from './events.js'
import type { ResolvedOptions } from './options.js'
import type { OriginState } from './origin-state.js'
import { parseRetryAfter } from './retry-after.js'

/**
 * Errors that mean the connection failed before any byte of a response
 * arrived: refused, reset or closed by the peer, or not established in time.
 * `fetch` wraps them (`TypeError: fetch failed`, the code on `cause`); undici's
 * dispatcher throws them bare.
 */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
])

/** Whether `error` (or its `cause`, a few levels down) is a {@link CONNECTION_ERRORS} code. */
export function isConnectionError(error: unknown): boolean {
  let current = error
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && CONNECTION_ERRORS.has(code)) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. */
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

/** What a call allows, fixed when it starts. */
export interface RetryScope {
  /** Why no attempt of this call may ever be retried, or `undefined` when it may. */
  readonly never: 'notIdempotent' | 'bodyNotReplayable' | undefined
  readonly maxAttempts: number
  readonly deadline: number | undefined
}

/**
 * The scopes of a call: for refusals (idempotent methods, or any when opted
 * in) and for connection errors (idempotent methods only: the server may have
 * acted on the request before the connection failed).
 */
export function retryScopes(
  o: ResolvedOptions,
  method: string,
  replayable: boolean,
  request: { retryNonIdempotent?: boolean | undefined; maxAttempts?: number | undefined },
  deadline: number | undefined,
): { scope: RetryScope; networkScope: RetryScope } {
  const idempotent = IDEMPOTENT.has(method)
  const scope: RetryScope = {
    never: !(idempotent || (request.retryNonIdempotent ?? o.retryNonIdempotent))
      ? 'notIdempotent'
      : replayable
        ? undefined
        : 'bodyNotReplayable',
    maxAttempts: request.maxAttempts ?? o.maxAttempts,
    deadline,
  }
  return { scope, networkScope: { ...scope, never: idempotent ? scope.never : 'notIdempotent' } }
}

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: NoRetryReason }

/**
 * Decides about the attempt numbered `attempt` that ended with `failure`;
 * counts and publishes the decision on `state`.
 */
export function decideRetry(
  o: ResolvedOptions,
  state: OriginState,
  scope: RetryScope,
  attempt: number,
  failure: AttemptFailure,
  retryAfter: string | null | undefined,
): RetryDecision {
  const decision = decide(o, state, scope, attempt, retryAfter)
  if (decision.retry) state.retrying(attempt, decision.delayMs, failure)
  else state.skipRetry(decision.reason, attempt, failure)
  return decision
}

function decide(
  o: ResolvedOptions,
  state: OriginState,
  scope: RetryScope,
  attempt: number,
  retryAfter: string | null | undefined,
): RetryDecision {
  if (scope.never !== undefined) return { retry: false, reason: scope.never }
  if (attempt >= scope.maxAttempts) return { retry: false, reason: 'attemptsExhausted' }
  const now = o.now()
  let delayMs: number
  const retryAfterMs = parseRetryAfter(retryAfter, now)
  if (retryAfterMs !== undefined) {
    if (retryAfterMs > o.maxRetryAfterMs) return { retry: false, reason: 'retryAfterTooLong' }
    delayMs = retryAfterMs + o.random() * o.retryAfterJitter * Math.max(retryAfterMs, o.baseDelayMs)
  } else {
    const step = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1))
    delayMs = o.random() * step
  }
  if (scope.deadline !== undefined && now + delayMs >= scope.deadline) {
    return { retry: false, reason: 'deadline' }
  }
  // A retry is load like any other: while the throttle fails this origin's calls
  // with probability p, a retry is skipped with the same probability.
  const probability = state.throttle?.rejectProbability() ?? 0
  if (probability > 0 && o.random() < probability) return { retry: false, reason: 'throttle' }
  if (state.budget !== undefined && !state.budget.tryRetry()) {
    return { retry: false, reason: 'budget' }
  }
  return { retry: true, delayMs }
}
