/**
 * Route options shared by every Node adapter, resolved once at construction.
 * An adapter adds only `onRejected`, whose arguments depend on the framework.
 */
import type { IncomingMessage } from 'node:http'
import {
  type AdmissionController,
  type AdmissionControllerOptions,
  createAdmissionController,
  DEFAULTS,
  type Rejection,
} from '@spillway/core'
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  checkString,
  describeValue,
  failOption,
  invalidOption,
  isPlainObject,
  resolveObject,
} from '@spillway/core/internal'
import type { IsFailure } from './bind-permit.js'
import type { RateLimitHeaders } from './rate-limit-headers.js'
import type { RetryHoldOptions } from './retry-hold.js'
import { noteOwnController } from './warnings.js'

const RATE_LIMIT_DRAFTS = ['draft-7', 'draft-8'] as const

/**
 * Per-route options. `In` is what user functions receive: the request in
 * node:http and Express, the context in Koa.
 */
export interface RouteOptions<In> {
  /**
   * Priority of this route: a name from the controller's `priorities`
   * (checked at construction), or a function of the request. A name the
   * controller does not know, returned by the function, counts as `defaultPriority`.
   * @default the controller's `defaultPriority`
   */
  priority?: string | ((input: In) => string | undefined) | undefined
  /**
   * Tenant or client of the request, for fair share (429 `quota`) while the
   * server is saturated. Non-string results count as no key.
   * @default undefined (no key)
   */
  key?: ((input: In) => string | undefined) | undefined
  /**
   * Epoch milliseconds after which the answer is worthless; such a request
   * is rejected (`deadline`) rather than served late. Non-finite results count as none.
   * @default undefined (no deadline)
   */
  deadline?: ((input: In) => number | undefined) | undefined
  /**
   * Name of a request header carrying the client's remaining time budget in
   * whole milliseconds (e.g. `'x-request-timeout-ms'`). Values that are not
   * 1 to 12 digits are ignored; larger ones are clamped to `deadlineHeaderMaxMs`.
   * When `deadline` also gives one, the earlier wins.
   * @default undefined (not read)
   */
  deadlineHeader?: string | undefined
  /**
   * Largest budget, in milliseconds, taken from `deadlineHeader`.
   * @default 60000
   */
  deadlineHeaderMaxMs?: number | undefined
  /**
   * Requests for which it returns `true` bypass admission entirely
   * (health checks, metrics, preflight).
   * @default undefined (none skipped)
   */
  skip?: ((input: In) => boolean) | undefined
  /**
   * Whether a finished response counts as a failure (a drop signal for
   * adaptive limits). A client that left first is always `ignore`.
   * @default (res) => res.statusCode >= 500
   */
  isFailure?: IsFailure | undefined
  /**
   * Decide and count (`stats().counters.dryRun`) but let every request through.
   * @default false
   */
  dryRun?: boolean | undefined
  /**
   * Observes every rejection this route answers, e.g. to log it; called
   * before the response is written. It cannot change the response: a throw
   * (or, async, a rejection) is reported as an `error` event with
   * `source: 'onShed'` and the answer goes out as it would have.
   * @default undefined
   */
  onShed?: ((input: In, rejection: Rejection) => unknown) | undefined
  /**
   * On a `429 quota`, also send the IETF `RateLimit` and `RateLimit-Policy`
   * fields in this draft's format (as express-rate-limit's `standardHeaders`);
   * `Retry-After` is sent either way.
   * @default false
   */
  rateLimitHeaders?: RateLimitHeaders | undefined
  /**
   * The per-key cap of concurrent requests to state in `RateLimit-Policy`
   * (and draft 7's `limit`), e.g. the controller's `perKey.limit`; a
   * function gets the request. Without it draft 8 sends `RateLimit` alone and
   * draft 7 sends nothing (its `limit` is required).
   * @default undefined
   */
  rateLimitQuota?: number | ((input: In) => number | undefined) | undefined
  /**
   * A client that comes back on the same keep-alive connection before the
   * `Retry-After` it was given, and is rejected again, gets its answer when
   * that time comes (at most `maxMs` later) instead of at once. By default
   * only pressure rejections (`overloaded`, `sampled`: the server is short of
   * CPU) are held; `reasons: 'all'` holds every one but `closed`. A client that
   * retries in a tight loop then costs one rejection per `Retry-After`, not
   * thousands a second of CPU the server needs for the work it admits; an
   * admitted request is never held. Not applied to connections carrying
   * `Forwarded`, `X-Forwarded-For` or `Via` (a proxy pools many callers on
   * one connection), nor to HTTP/2. Turn it off behind a proxy that pools
   * connections and sends none of those headers.
   * Every refusal but `closed` is held by default (`reasons: 'all'`): under
   * CPU-bound overload the limit's own refusals (`queueFull`) outnumber the
   * pressure's, and each costs as much CPU. Off by default: it delays the
   * answers of callers that share a connection through a pooling proxy.
   * `true` means `{ reasons: 'all', maxMs: 1000, maxHeld: 1000 }`.
   * @default false
   */
  holdEarlyRetries?:
    | boolean
    | {
        reasons?: 'pressure' | 'all' | undefined
        maxMs?: number | undefined
        maxHeld?: number | undefined
      }
    | undefined
  /**
   * Rate-limited process warnings (`process.emitWarning`, type
   * `SpillwayWarning`) for mistakes that are otherwise invisible: one
   * controller guarding a request twice, `shed(options)` made per request.
   * @default true
   */
  warnings?: boolean | undefined
}

/** Route options after checking; `onRejected` keeps the adapter's own signature. */
export interface ResolvedRouteOptions<In, OnRejected> {
  readonly priority: string | ((input: In) => string | undefined) | undefined
  readonly key: ((input: In) => string | undefined) | undefined
  readonly deadline: ((input: In) => number | undefined) | undefined
  /** Lower-cased, as Node stores incoming header names. */
  readonly deadlineHeader: string | undefined
  readonly deadlineHeaderMaxMs: number
  readonly skip: ((input: In) => boolean) | undefined
  readonly isFailure: IsFailure | undefined
  readonly dryRun: boolean
  readonly onShed: ((input: In, rejection: Rejection) => unknown) | undefined
  readonly warnings: boolean
  readonly rateLimitHeaders: RateLimitHeaders
  readonly rateLimitQuota: number | ((input: In) => number | undefined) | undefined
  readonly onRejected: OnRejected | undefined
  /** `undefined` when turned off. */
  readonly holdEarlyRetries: RetryHoldOptions | undefined
}

const ROUTE_DEFAULTS = Object.freeze({
  priority: undefined,
  key: undefined,
  deadline: undefined,
  deadlineHeader: undefined,
  deadlineHeaderMaxMs: 60_000,
  skip: undefined,
  isFailure: undefined,
  dryRun: false,
  onShed: undefined,
  warnings: true,
  rateLimitHeaders: false,
  rateLimitQuota: undefined,
  holdEarlyRetries: false,
  onRejected: undefined,
})

const HOLD_DEFAULTS: RetryHoldOptions = Object.freeze({
  reasons: 'all',
  maxMs: 1000,
  maxHeld: 1000,
})

function resolveHold(value: unknown): RetryHoldOptions | undefined {
  if (value === true) return HOLD_DEFAULTS
  if (value === false) return undefined
  if (!isPlainObject(value)) {
    failOption('type', 'holdEarlyRetries', 'true, false or `{ reasons, maxMs, maxHeld }`', value)
  }
  const hold = resolveObject<Record<string, unknown>>(value, 'holdEarlyRetries', {
    ...HOLD_DEFAULTS,
  })
  return {
    reasons: checkOneOf(hold.reasons, 'holdEarlyRetries.reasons', ['pressure', 'all'] as const),
    maxMs: checkNumber(hold.maxMs, 'holdEarlyRetries.maxMs', {
      integer: true,
      min: 1,
      max: 60_000,
    }),
    maxHeld: checkNumber(hold.maxHeld, 'holdEarlyRetries.maxHeld', { integer: true, min: 0 }),
  }
}

/** Names of the route options, `onRejected` included. */
export const ROUTE_OPTION_KEYS: readonly string[] = Object.freeze(Object.keys(ROUTE_DEFAULTS))

const CONTROLLER_OPTION_KEYS: readonly string[] = Object.freeze(Object.keys(DEFAULTS))

// RFC 9110 §5.1: a field name is a token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function optionalFunction<F extends (...args: never[]) => unknown>(
  value: unknown,
  option: string,
): F | undefined {
  return value === undefined ? undefined : checkFunction<F>(value, option)
}

/**
 * Checks route options (`path` is `''` for a top-level argument) against
 * `controller`: unknown keys are rejected with a "did you mean", each field
 * is checked, and a fixed `priority` must be one of `controller.priorities`.
 */
export function resolveRouteOptions<In, OnRejected>(
  value: unknown,
  controller: AdmissionController,
  allowed: readonly string[] = ROUTE_OPTION_KEYS,
): ResolvedRouteOptions<In, OnRejected> {
  const top = resolveObject<Record<string, unknown>>(value, '', ROUTE_DEFAULTS, allowed)
  const priority =
    typeof top.priority === 'function'
      ? (top.priority as (input: In) => string | undefined)
      : top.priority === undefined
        ? undefined
        : checkOneOf(top.priority, 'priority', controller.priorities)
  const deadlineHeader =
    top.deadlineHeader === undefined ? undefined : checkString(top.deadlineHeader, 'deadlineHeader')
  if (deadlineHeader !== undefined && !TOKEN.test(deadlineHeader)) {
    failOption('range', 'deadlineHeader', 'a header name (an RFC 9110 token)', deadlineHeader)
  }
  return {
    priority,
    key: optionalFunction(top.key, 'key'),
    deadline: optionalFunction(top.deadline, 'deadline'),
    deadlineHeader: deadlineHeader?.toLowerCase(),
    deadlineHeaderMaxMs: checkNumber(top.deadlineHeaderMaxMs, 'deadlineHeaderMaxMs', {
      integer: true,
      min: 1,
    }),
    skip: optionalFunction(top.skip, 'skip'),
    isFailure: optionalFunction<IsFailure>(top.isFailure, 'isFailure'),
    dryRun: checkBoolean(top.dryRun, 'dryRun'),
    onShed: optionalFunction(top.onShed, 'onShed'),
    warnings: checkBoolean(top.warnings, 'warnings'),
    rateLimitHeaders:
      top.rateLimitHeaders === false
        ? false
        : checkOneOf(top.rateLimitHeaders, 'rateLimitHeaders', RATE_LIMIT_DRAFTS),
    rateLimitQuota:
      typeof top.rateLimitQuota === 'function'
        ? (top.rateLimitQuota as (input: In) => number | undefined)
        : top.rateLimitQuota === undefined
          ? undefined
          : checkNumber(top.rateLimitQuota, 'rateLimitQuota', { integer: true, min: 0 }),
    onRejected: optionalFunction(top.onRejected, 'onRejected') as OnRejected | undefined,
    holdEarlyRetries: resolveHold(top.holdEarlyRetries),
  }
}

/** True for an admission controller (something with `admit`), false for an options object. */
export function isAdmissionController(value: unknown): value is AdmissionController {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { admit?: unknown }).admit === 'function' &&
    typeof (value as { reportError?: unknown }).reportError === 'function'
  )
}

/**
 * The two shapes every adapter's `shed()` accepts: a shared controller plus
 * route options, or one options object holding both the controller's options
 * and the route options, from which it makes its own controller.
 */
export function resolveAdapterOptions<In, OnRejected>(
  optionsOrController: unknown,
  routeOptions: unknown,
): { controller: AdmissionController; route: ResolvedRouteOptions<In, OnRejected> } {
  if (isAdmissionController(optionsOrController)) {
    if (typeof routeOptions === 'function') {
      throw invalidOption(
        'type',
        'routeOptions',
        'Expected `routeOptions` to be an object, got a function. `shed(controller, handler)` is ' +
          'the @spillway/node signature; in a framework, `shed(controller, routeOptions)` is a ' +
          'middleware placed before the handler: `app.get(path, shed(controller), handler)`.',
      )
    }
    return {
      controller: optionsOrController,
      route: resolveRouteOptions(routeOptions, optionsOrController),
    }
  }
  if (routeOptions !== undefined) {
    throw invalidOption(
      'type',
      'routeOptions',
      'Expected `routeOptions` to be `undefined` when the first argument is an options object (put route options in it), got ' +
        `${describeValue(routeOptions)}.`,
    )
  }
  const allowed = [...CONTROLLER_OPTION_KEYS, ...ROUTE_OPTION_KEYS]
  // Checks the object and its keys against both sets at once, so a typo of
  // either kind gets its "did you mean".
  resolveObject(optionsOrController, '', Object.fromEntries(allowed.map((k) => [k, undefined])))
  const controllerOptions: Record<string, unknown> = {}
  const route: Record<string, unknown> = {}
  if (isPlainObject(optionsOrController)) {
    for (const [name, field] of Object.entries(optionsOrController)) {
      if (ROUTE_OPTION_KEYS.includes(name)) route[name] = field
      else controllerOptions[name] = field
    }
  }
  const controller = createAdmissionController(controllerOptions as AdmissionControllerOptions)
  const resolved = resolveRouteOptions<In, OnRejected>(route, controller)
  if (resolved.warnings) noteOwnController()
  return { controller, route: resolved }
}

/** Reads the client's time budget from a header; anything malformed counts as none. */
export function headerDeadline(
  req: IncomingMessage,
  name: string,
  maxMs: number,
  now: number,
): number | undefined {
  const raw = req.headers[name]
  // A repeated header arrives joined or as an array: ambiguous, so ignored.
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 12) return undefined
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i)
    if (code < 48 || code > 57) return undefined
  }
  return now + Math.min(Number(raw), maxMs)
}
