/**
 * Express 4 and 5: one middleware. Admission, binding and the rejection
 * response all live in `@spillway/node`; this file only maps them to
 * `(req, res, next)`.
 */
import type { AdmissionController, AdmissionControllerOptions, Rejection } from '@spillway/core'
import {
  answerRejection,
  createGate,
  type Passage,
  pathOf,
  type RouteOf,
  type RouteOptions,
  resolveAdapterOptions,
} from '@spillway/node/adapter-kit'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

/** Per-route options: the shared ones (see `@spillway/node`) plus an Express `onRejected`. */
export interface ExpressRouteOptions extends RouteOptions<Request> {
  /**
   * Writes a custom rejection response, e.g. `res.status(rejection.status).json(...)`.
   * If it throws (or, async, rejects), the default response is written and
   * the error reported as `onRejected`. Not called when the client has already gone.
   * @default writes the problem+json response
   */
  onRejected?: ((req: Request, res: Response, rejection: Rejection) => void) | undefined
}

/** Options for a middleware with its own controller: the controller's options plus the route's. */
export interface ShedOptions extends AdmissionControllerOptions, ExpressRouteOptions {}

/** The middleware; `controller` is for `stats()`, `on()` and `close()`. */
export interface ShedMiddleware extends RequestHandler {
  readonly controller: AdmissionController
}

type OnRejected = NonNullable<ExpressRouteOptions['onRejected']>

// A route layer runs after routing, so Express knows the template; an
// app-wide layer runs before it, so only the path is known there.
const routeOf: RouteOf<Request> = (req) => {
  const path: unknown = req.route?.path
  return typeof path === 'string' ? req.baseUrl + path : pathOf(req.originalUrl)
}

// The options overload comes last: TypeScript 7 reports only the last overload
// that failed, and a typo in `shed({ ... })` must be named against `ShedOptions`.
/**
 * Load-shedding middleware. `shed(options)` makes its own controller;
 * `shed(controller, routeOptions)` shares one across routes. Admitted
 * requests continue with `next()`; rejected ones get the rejection response
 * (never `next(err)`); a request whose client left while queued goes nowhere.
 */
export function shed(
  controller: AdmissionController,
  routeOptions?: ExpressRouteOptions,
): ShedMiddleware
export function shed(options?: ShedOptions): ShedMiddleware
export function shed(
  optionsOrController?: ShedOptions | AdmissionController,
  routeOptions?: ExpressRouteOptions,
): ShedMiddleware {
  const { controller, route } = resolveAdapterOptions<Request, OnRejected>(
    optionsOrController,
    routeOptions,
  )
  const gate = createGate(controller, route, routeOf)

  const pass = (passage: Passage, req: Request, res: Response, next: NextFunction): void => {
    if (passage === 'proceed') next()
    else if (passage !== 'gone') answerRejection(controller, route.onRejected, req, res, passage)
  }

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    const passage = gate.enter(req, req, res)
    if (passage instanceof Promise) passage.then((settled) => pass(settled, req, res, next), next)
    else pass(passage, req, res, next)
  }
  return Object.assign(middleware, { controller }) as ShedMiddleware
}
