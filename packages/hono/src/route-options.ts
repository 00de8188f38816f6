/**
 * Route options for Hono, resolved once when `shed()` is called. The same
 * names, rules and messages as `@spillway/node`'s, written against Web
 * types only: this package never imports `node:`, so it runs on Bun, Deno
 * and Workers.
 */
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
import type { Context } from 'hono'

/** A custom rejection: returns the `Response` to send (or a promise of one). */
export type OnRejected = (c: Context, rejection: Rejection) => Response | Promise<Response>

/** Per-route options; every function receives Hono's Context `c`. */
export interface HonoRouteOptions {
  /**
   * A name from the controller's `priorities` (checked at construction), or
   * a function of the request; an unknown name from it counts as `defaultPriority`.
   * @default the controller's `defaultPriority`
   */
  priority?: string | ((c: Context) => string | undefined) | undefined
  /**
   * Tenant or client, for fair share (429 `quota`) while saturated.
   * @default undefined (no key)
   */
  key?: ((c: Context) => string | undefined) | undefined
  /**
   * Epoch milliseconds after which the answer is worthless. Non-finite results count as none.
   * @default undefined (no deadline)
   */
  deadline?: ((c: Context) => number | undefined) | undefined
  /**
   * A request header carrying the client's remaining budget in whole milliseconds
   * (1 to 12 digits; anything else is ignored). With `deadline`, the earlier wins.
   * @default undefined (not read)
   */
  deadlineHeader?: string | undefined
  /**
   * Largest budget, in milliseconds, taken from `deadlineHeader`.
   * @default 60000
   */
  deadlineHeaderMaxMs?: number | undefined
  /**
   * `true` bypasses admission (health checks, metrics, preflight).
   * @default undefined (none skipped)
   */
  skip?: ((c: Context) => boolean) | undefined
  /**
   * Whether the response counts as a failure (a drop signal for adaptive limits),
   * read once the handler has returned. A client that left first is always `ignore`.
   * @default (c) => c.res.status >= 500
   */
  isFailure?: ((c: Context) => boolean) | undefined
  /**
   * Decide and count (`stats().counters.dryRun`) but let every request through.
   * @default false
   */
  dryRun?: boolean | undefined
  /**
   * Returns a custom rejection `Response`, e.g. `c.json({ error: 'busy' }, rejection.status)`.
   * If it throws (or rejects) or returns no `Response`, the default is sent
   * and the error reported as `onRejected`.
   * @default the problem+json response
   */
  onRejected?: OnRejected | undefined
}

/** Options for a middleware with its own controller: the controller's options plus the route's. */
export interface ShedOptions extends AdmissionControllerOptions, HonoRouteOptions {}

export interface ResolvedRoute {
  readonly priority: string | ((c: Context) => string | undefined) | undefined
  readonly key: ((c: Context) => string | undefined) | undefined
  readonly deadline: ((c: Context) => number | undefined) | undefined
  readonly deadlineHeader: string | undefined
  readonly deadlineHeaderMaxMs: number
  readonly skip: ((c: Context) => boolean) | undefined
  readonly isFailure: ((c: Context) => boolean) | undefined
  readonly dryRun: boolean
  readonly onRejected: OnRejected | undefined
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
  onRejected: undefined,
})

const ROUTE_KEYS: readonly string[] = Object.keys(ROUTE_DEFAULTS)
const CONTROLLER_KEYS: readonly string[] = Object.keys(DEFAULTS)

// RFC 9110 §5.1: a field name is a token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function optionalFunction<F extends (...args: never[]) => unknown>(
  value: unknown,
  option: string,
): F | undefined {
  return value === undefined ? undefined : checkFunction<F>(value, option)
}

function resolveRoute(value: unknown, controller: AdmissionController): ResolvedRoute {
  const top = resolveObject<Record<string, unknown>>(value, '', ROUTE_DEFAULTS)
  const priority =
    typeof top.priority === 'function'
      ? (top.priority as (c: Context) => string | undefined)
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
    deadlineHeader,
    deadlineHeaderMaxMs: checkNumber(top.deadlineHeaderMaxMs, 'deadlineHeaderMaxMs', {
      integer: true,
      min: 1,
    }),
    skip: optionalFunction(top.skip, 'skip'),
    isFailure: optionalFunction(top.isFailure, 'isFailure'),
    dryRun: checkBoolean(top.dryRun, 'dryRun'),
    onRejected: optionalFunction<OnRejected>(top.onRejected, 'onRejected'),
  }
}

function isController(value: unknown): value is AdmissionController {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { admit?: unknown }).admit === 'function' &&
    typeof (value as { reportError?: unknown }).reportError === 'function'
  )
}

/** `shed(options)` (its own controller) or `shed(controller, routeOptions)` (shared). */
export function resolveShedOptions(
  optionsOrController: unknown,
  routeOptions: unknown,
): { controller: AdmissionController; route: ResolvedRoute } {
  if (isController(optionsOrController)) {
    return {
      controller: optionsOrController,
      route: resolveRoute(routeOptions, optionsOrController),
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
  const allowed = [...CONTROLLER_KEYS, ...ROUTE_KEYS]
  resolveObject(optionsOrController, '', Object.fromEntries(allowed.map((k) => [k, undefined])))
  const controllerOptions: Record<string, unknown> = {}
  const route: Record<string, unknown> = {}
  if (isPlainObject(optionsOrController)) {
    for (const [name, field] of Object.entries(optionsOrController)) {
      if (ROUTE_KEYS.includes(name)) route[name] = field
      else controllerOptions[name] = field
    }
  }
  const controller = createAdmissionController(controllerOptions as AdmissionControllerOptions)
  return { controller, route: resolveRoute(route, controller) }
}

/** The client's budget from a header; anything but 1 to 12 digits counts as none. */
export function headerDeadline(
  raw: string | undefined,
  maxMs: number,
  now: number,
): number | undefined {
  if (raw === undefined || raw.length === 0 || raw.length > 12) return undefined
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i)
    if (code < 48 || code > 57) return undefined
  }
  return now + Math.min(Number(raw), maxMs)
}
