/**
 * `shed()` for plain node:http: wraps a request listener, so protecting a
 * server is `http.createServer(shed({ limit: 64 }, handler))`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AdmissionController, AdmissionControllerOptions } from '@spillway/core'
import { checkFunction } from '@spillway/core/internal'
import { answerRejection, isThenable, type OnRejected } from './answer-rejection.js'
import { holdPermits } from './bind-permit.js'
import { createGate, type Passage } from './gate.js'
import { type RouteOptions, resolveAdapterOptions } from './route-options.js'

/** A node:http request listener; it may return a promise. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => unknown

/** Route options for node:http: the shared ones plus `onRejected(req, res, rejection)`. */
export interface NodeRouteOptions extends RouteOptions<IncomingMessage> {
  /**
   * Writes a custom rejection response. If it throws (or, async, rejects),
   * the default response is written and the error reported as `onRejected`.
   * Not called when the client has already gone.
   * @default writes the problem+json response (see `writeRejection`)
   */
  onRejected?: OnRejected | undefined
}

/** Options for a listener with its own controller: the controller's options plus the route's. */
export interface NodeShedOptions extends AdmissionControllerOptions, NodeRouteOptions {}

/** A request listener guarded by admission; `controller` is for `stats()` and `close()`. */
export interface ShedListener {
  (req: IncomingMessage, res: ServerResponse): void
  readonly controller: AdmissionController
}

function fail(
  controller: AdmissionController,
  res: ServerResponse,
  error: unknown,
  source = 'handler',
): void {
  controller.reportError(source, error)
  // Without this a throwing listener would crash the process and hold its permit.
  if (res.headersSent) {
    res.destroy()
  } else if (!res.writableEnded) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 21 })
    res.end('Internal Server Error')
  }
}

// The options overload comes last: TypeScript 7 reports only the last overload
// that failed, and a typo in `shed({ ... }, handler)` must be named against `NodeShedOptions`.
/**
 * Guards a node:http request listener. With an options object it makes its
 * own controller; with a controller it shares it (pass route options between
 * the controller and the handler). Admitted requests run `handler`; the
 * permit is released when the response finishes or the client leaves. A
 * handler that throws or rejects gets a 500 (or, once it has sent headers,
 * its response is destroyed) and the error is reported as `handler`.
 */
export function shed(controller: AdmissionController, handler: RequestHandler): ShedListener
export function shed(
  controller: AdmissionController,
  routeOptions: NodeRouteOptions | undefined,
  handler: RequestHandler,
): ShedListener
export function shed(options: NodeShedOptions | undefined, handler: RequestHandler): ShedListener
export function shed(
  optionsOrController: NodeShedOptions | AdmissionController | undefined,
  routeOrHandler: NodeRouteOptions | RequestHandler | undefined,
  maybeHandler?: RequestHandler,
): ShedListener {
  const handlerArg = typeof routeOrHandler === 'function' ? routeOrHandler : maybeHandler
  const routeArg = typeof routeOrHandler === 'function' ? undefined : routeOrHandler
  const { controller, route } = resolveAdapterOptions<IncomingMessage, OnRejected>(
    optionsOrController,
    routeArg,
  )
  const handler = checkFunction<RequestHandler>(handlerArg, 'handler')
  const gate = createGate(controller, route)

  const run = (passage: Passage, req: IncomingMessage, res: ServerResponse): void => {
    if (passage === 'gone') return
    if (passage !== 'proceed') {
      answerRejection(controller, route.onRejected, req, res, passage)
      return
    }
    try {
      const result = handler(req, res)
      if (isThenable(result)) {
        // The slot bounds the handler's work, not only its answer.
        holdPermits(res, result)
        result.then(undefined, (error: unknown) => fail(controller, res, error))
      }
    } catch (error) {
      fail(controller, res, error)
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    let passage: Passage | Promise<Passage>
    try {
      passage = gate.enter(req, req, res)
    } catch (error) {
      // E.g. a pressure source whose `level` throws: answer 500 rather than crash the process.
      fail(controller, res, error, 'admit')
      return
    }
    if (passage instanceof Promise) {
      passage.then(
        (settled) => run(settled, req, res),
        (error: unknown) => fail(controller, res, error, 'admit'),
      )
    } else {
      run(passage, req, res)
    }
  }
  return Object.assign(listener, { controller }) as ShedListener
}
