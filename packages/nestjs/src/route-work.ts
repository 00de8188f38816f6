/**
 * Holding a request's permit until Nest is done with it, without an interceptor.
 *
 * How it works: Nest hands each route to its HTTP adapter as one function
 * (`adapter.get(path, handler)` and its siblings) that runs the whole request
 * (guards, pipes, interceptors, the handler, then the response or the
 * exception filter) and returns a promise that settles when all of that is
 * done, whether or not the client is still there. `holdRouteWork` wraps that
 * function once per route, at startup, so that every permit bound to the
 * response is held until the promise settles (`holdPermits`). An interceptor
 * did the same through Nest's RxJS pipeline, which cost as much per request as
 * spillway's whole admission (loadtest/README.md, "cost").
 *
 * The guard usually admits synchronously, inside that call, so the permit is
 * bound by the time the promise comes back (`decided`). When it admits later
 * (queued, admitted in a late turn, or run after a guard that awaited), the
 * promise is left on the response and the guard holds it once it admits
 * (`workOf`). The wrapper carries the route function's metadata and own
 * properties (Fastify's route config, schema, constraints and `version`),
 * which adapters read from the function they are given.
 */
import type { ServerResponse } from 'node:http'
import { RequestMethod } from '@nestjs/common'
import { holdPermits, isThenable } from '@spillway/node/adapter-kit'

type RouteFunction = (this: unknown, req: unknown, res: unknown, next?: unknown) => unknown

interface Stashed {
  [WORK]?: PromiseLike<unknown> | undefined
}

const WORK = Symbol('spillway.nest.work')
const INSTALLED = Symbol('spillway.nest.routeWork')

/** The adapter methods Nest registers routes with: `get`, `post`, … (`RequestMethod`, lower case). */
const ROUTE_METHODS = Object.keys(RequestMethod)
  .filter((name) => Number.isNaN(Number(name)))
  .map((name) => name.toLowerCase())

// The response the guard decided on synchronously during the current route call.
let decided: ServerResponse | undefined

/** Called by the guard when it decides synchronously: the route call holds the permit itself. */
export function decidedNow(res: ServerResponse): void {
  decided = res
}

/** The route's work, left on the response when the guard had not decided by the time it returned. */
export function workOf(res: ServerResponse): PromiseLike<unknown> | undefined {
  return (res as ServerResponse & Stashed)[WORK]
}

/** The Node response under a platform's (Fastify's `reply.raw`), or undefined for a non-object. */
function rawOf(response: unknown): (ServerResponse & Stashed) | undefined {
  if (typeof response !== 'object' || response === null) return undefined
  const raw = (response as { raw?: unknown }).raw
  return (typeof raw === 'object' && raw !== null ? raw : response) as ServerResponse & Stashed
}

const NOT_COPIED = new Set<PropertyKey>(['length', 'name', 'prototype', 'arguments', 'caller'])

function copyMetadata(from: RouteFunction, to: RouteFunction): void {
  const reflect = Reflect as unknown as {
    getMetadataKeys?: (target: object) => unknown[]
    getMetadata: (key: unknown, target: object) => unknown
    defineMetadata: (key: unknown, value: unknown, target: object) => void
  }
  if (typeof reflect.getMetadataKeys === 'function') {
    for (const key of reflect.getMetadataKeys(from)) {
      reflect.defineMetadata(key, reflect.getMetadata(key, from), to)
    }
  }
  for (const key of Reflect.ownKeys(from)) {
    if (NOT_COPIED.has(key)) continue
    const descriptor = Object.getOwnPropertyDescriptor(from, key)
    if (descriptor !== undefined) Object.defineProperty(to, key, descriptor)
  }
}

/** `route`, holding every permit its response carries until the promise it returns settles. */
function holding(route: RouteFunction): RouteFunction {
  const held = function (this: unknown, req: unknown, res: unknown, next?: unknown): unknown {
    decided = undefined
    const work = route.call(this, req, res, next)
    if (isThenable(work)) {
      const raw = rawOf(res)
      if (raw !== undefined) {
        holdPermits(raw, work)
        // Admission still to come (or made by another layer): the guard holds it when it admits.
        if (decided !== raw && !raw.writableEnded) raw[WORK] = work
      }
    }
    decided = undefined
    return work
  }
  copyMetadata(route, held)
  return held
}

/**
 * Wraps the route functions Nest registers on `adapter` from now on (see the
 * file's header); once per adapter. Without an adapter (an application
 * context, a microservice) there are no routes and nothing to do.
 */
export function holdRouteWork(adapter: unknown): void {
  if (typeof adapter !== 'object' || adapter === null || INSTALLED in adapter) return
  const methods = adapter as Record<string | symbol, unknown>
  for (const name of ROUTE_METHODS) {
    const register = methods[name]
    if (typeof register !== 'function') continue
    Object.defineProperty(adapter, name, {
      value: function (this: unknown, ...args: unknown[]): unknown {
        const last = args.length - 1
        const route = args[last]
        // A four-argument function is an error handler to Express, not a route.
        if (typeof route === 'function' && route.length <= 3) {
          args[last] = holding(route as RouteFunction)
        }
        return register.apply(this, args)
      },
      writable: true,
      configurable: true,
    })
  }
  Object.defineProperty(adapter, INSTALLED, { value: true })
}
