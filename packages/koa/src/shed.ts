/**
 * Koa 2 and 3: one middleware. The permit is released when both the
 * response has ended (a streamed `ctx.body` holds it until the stream ends or
 * the client leaves) and `await next()` has settled (a timeout middleware
 * upstream that answers first does not free the slot of running work).
 */
import { type Readable, Stream } from 'node:stream'
import type { AdmissionController, AdmissionControllerOptions, Rejection } from '@spillway/core'
import { PROBLEM_CONTENT_TYPE, problemBody, retryAfterValue } from '@spillway/node'
import {
  createGate,
  holdPermits,
  isThenable,
  type Passage,
  type RouteOf,
  type RouteOptions,
  resolveAdapterOptions,
} from '@spillway/node/adapter-kit'
import type { Context, Middleware, Next } from 'koa'

/** Per-route options: the shared ones (see `@spillway/node`) plus a Koa `onRejected`. */
export interface KoaRouteOptions extends RouteOptions<Context> {
  /**
   * Sets a custom rejection response on `ctx` (status, headers, body); it may
   * be async (Koa waits for it). If it throws or rejects, the default response
   * is set and the error reported as `onRejected`. Not called when the client
   * has already gone.
   * @default sets the problem+json response
   */
  onRejected?: ((ctx: Context, rejection: Rejection) => void) | undefined
}

/** Options for a middleware with its own controller: the controller's options plus the route's. */
export interface ShedOptions extends AdmissionControllerOptions, KoaRouteOptions {}

/** The middleware; `controller` is for `stats()`, `on()` and `close()`. */
export interface ShedMiddleware extends Middleware {
  readonly controller: AdmissionController
}

type OnRejected = NonNullable<KoaRouteOptions['onRejected']>

// @koa/router sets `_matchedRoute` (the template) before a route's own middleware.
const routeOf: RouteOf<Context> = (ctx) => {
  const matched: unknown = (ctx as Context & { _matchedRoute?: unknown })._matchedRoute
  return typeof matched === 'string' ? matched : ctx.path
}

/**
 * Sets the default rejection as Koa's own response, so upstream middleware
 * (loggers, CORS) see a plain 503/429 and nothing reaches `app.on('error')`.
 */
function setRejection(ctx: Context, rejection: Rejection): void {
  if (ctx.headerSent || !ctx.writable) return
  ctx.status = rejection.status
  ctx.set('Retry-After', retryAfterValue(rejection))
  ctx.set('Cache-Control', 'no-store')
  // Set before the body, so Koa does not type a Buffer as octet-stream.
  ctx.set('Content-Type', PROBLEM_CONTENT_TYPE)
  ctx.body = problemBody(rejection)
}

/**
 * Koa 2 pipes a `ctx.body` stream with `.pipe()`: when the stream fails after
 * headers were sent, or closes without ending (destroyed without an error, a
 * cancelled upstream), the response is left open for good, and so would be
 * its permit. Destroy it instead, as Koa 3 (`stream.pipeline`) does; an error
 * before headers Koa answers itself (with a 500, which ends the response).
 */
function endOnStreamError(ctx: Context): void {
  const body: unknown = ctx.body
  if (ctx.respond === false || !(body instanceof Stream)) return
  const { res } = ctx
  body.once('error', () => {
    if (res.headersSent && !res.writableEnded) res.destroy()
  })
  const readable = body as Readable
  const closed = (): void => {
    // `=== false`: a legacy `Stream` has no `readableEnded` and is left alone.
    if (readable.readableEnded === false && !res.writableEnded) res.destroy()
  }
  // Destroyed already (before Koa pipes it): `close` has been emitted or is due.
  if (readable.destroyed === true) process.nextTick(closed)
  else body.once('close', closed)
}

// The options overload comes last: TypeScript 7 reports only the last overload
// that failed, and a typo in `shed({ ... })` must be named against `ShedOptions`.
/**
 * Load-shedding middleware. `shed(options)` makes its own controller;
 * `shed(controller, routeOptions)` shares one across routes. Admitted
 * requests continue with `next()`; rejected ones get the rejection response
 * (never a thrown error); a request whose client left while queued goes nowhere.
 */
export function shed(
  controller: AdmissionController,
  routeOptions?: KoaRouteOptions,
): ShedMiddleware
export function shed(options?: ShedOptions): ShedMiddleware
export function shed(
  optionsOrController?: ShedOptions | AdmissionController,
  routeOptions?: KoaRouteOptions,
): ShedMiddleware {
  const { controller, route } = resolveAdapterOptions<Context, OnRejected>(
    optionsOrController,
    routeOptions,
  )
  const gate = createGate(controller, route, routeOf)
  const { onRejected } = route

  const pass = (passage: Passage, ctx: Context, next: Next): unknown => {
    if (passage === 'proceed') {
      const work = next()
      // The slot bounds the downstream work, not only the response: a timeout
      // middleware upstream may answer while the handler still runs.
      holdPermits(ctx.res, work)
      return work.then(() => endOnStreamError(ctx))
    }
    if (passage === 'gone') return undefined
    if (onRejected !== undefined) {
      try {
        const result: unknown = onRejected(ctx, passage)
        // Returned, so Koa waits for an async `onRejected` before responding;
        // if it rejects, the default applies as for a throw.
        if (isThenable(result)) {
          return result.then(undefined, (error: unknown) => {
            controller.reportError('onRejected', error)
            setRejection(ctx, passage)
          })
        }
        return undefined
      } catch (error) {
        controller.reportError('onRejected', error)
      }
    }
    setRejection(ctx, passage)
    return undefined
  }

  const middleware = (ctx: Context, next: Next): unknown => {
    const passage = gate.enter(ctx, ctx.req, ctx.res)
    return passage instanceof Promise
      ? passage.then((settled) => pass(settled, ctx, next))
      : pass(passage, ctx, next)
  }
  return Object.assign(middleware, { controller }) as ShedMiddleware
}
