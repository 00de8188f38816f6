/**
 * Hono: one middleware, on Web `Request`/`Response`/`AbortSignal` only, so it
 * runs wherever Hono runs. `await next()` returns as soon as the handler has
 * built its `Response`, before a streamed body is sent, so the permit is
 * bound to the body instead: released when it has been read to the end, is
 * cancelled, or the client's signal aborts. On `@hono/node-server` the Node
 * response itself tells when it has ended (`node-exchange.ts`): cheaper, and
 * the server keeps its fast path for fixed bodies.
 */
import type {
  AbortSignalLike,
  AdmissionController,
  AdmissionRequest,
  AdmitOptions,
  Outcome,
  Permit,
  Rejection,
} from '@spillway/core'
import { rateLimitFields } from '@spillway/core/internal'
import type { Context, MiddlewareHandler } from 'hono'
import { createMiddleware } from 'hono/factory'
import { NodeClientSignal, nodeExchangeOf, releaseOnClose } from './node-exchange.js'
import { rejectionResponse, retryAfterValue } from './rejection.js'
import {
  type HonoRouteOptions,
  headerDeadline,
  resolveShedOptions,
  type ShedOptions,
} from './route-options.js'

/** The middleware; `controller` is for `stats()`, `on()` and `close()`. */
export interface ShedMiddleware extends MiddlewareHandler {
  readonly controller: AdmissionController
}

const DRY_RUN: AdmitOptions = Object.freeze({ dryRun: true })

/**
 * Releases `permit` once the response body has been read to its end
 * (`outcome`), cancelled, or its client has gone (`ignore`).
 */
function bindBody(c: Context, permit: Permit, outcome: Outcome, signal: AbortSignal): void {
  const res = c.res
  // HEAD: Hono answers with the headers only and never reads this body.
  if (res.body === null || c.req.method === 'HEAD') {
    permit.release(outcome)
    return
  }
  const reader = res.body.getReader()
  let settled = false
  const finish = (how: Outcome): void => {
    if (settled) return
    settled = true
    signal.removeEventListener('abort', onAbort)
    permit.release(how)
  }
  // Some runtimes never cancel the body of a departed client: the signal is the backstop.
  const onAbort = (): void => {
    finish('ignore')
    reader.cancel().catch(() => {})
  }
  signal.addEventListener('abort', onAbort)
  const body = new ReadableStream<Uint8Array>({
    async pull(stream) {
      try {
        const { done, value } = await reader.read()
        if (done) {
          finish(outcome)
          stream.close()
        } else stream.enqueue(value)
      } catch (error) {
        finish('failure')
        stream.error(error)
      }
    },
    cancel(reason) {
      finish('ignore')
      return reader.cancel(reason)
    },
  })
  c.res = new Response(body, res)
}

/**
 * Load-shedding middleware. `shed(options)` makes its own controller;
 * `shed(controller, routeOptions)` shares one. Admitted requests continue
 * with `next()`; rejected ones get the rejection response; a request whose
 * client left while queued never reaches its handler.
 */
export function shed(options?: ShedOptions): ShedMiddleware
export function shed(
  controller: AdmissionController,
  routeOptions?: HonoRouteOptions,
): ShedMiddleware
export function shed(
  optionsOrController?: ShedOptions | AdmissionController,
  routeOptions?: HonoRouteOptions,
): ShedMiddleware {
  const { controller, route } = resolveShedOptions(optionsOrController, routeOptions)
  const { priority, key, deadline, deadlineHeader, deadlineHeaderMaxMs, skip, isFailure } = route
  const { onRejected, onShed, rateLimitHeaders, rateLimitQuota } = route
  const admitOptions = route.dryRun ? DRY_RUN : undefined

  // A user function that throws counts as "no answer": the default applies.
  const attempt = <T>(source: string, fn: (c: Context) => T, c: Context): T | undefined => {
    try {
      return fn(c)
    } catch (error) {
      controller.reportError(source, error)
      return undefined
    }
  }

  const classify = (c: Context, signal: AbortSignalLike): AdmissionRequest => {
    // For events and logs: the route template where Hono matched one, else the path.
    const template = c.req.routePath
    const request: AdmissionRequest = {
      signal,
      method: c.req.method,
      route: template !== undefined && !template.includes('*') ? template : c.req.path,
    }
    if (typeof priority === 'string') request.priority = priority
    else if (priority !== undefined) {
      const name = attempt('priority', priority, c)
      if (typeof name === 'string') request.priority = name
    }
    if (key !== undefined) {
      const name = attempt('key', key, c)
      if (typeof name === 'string') request.key = name
    }
    let at: number | undefined
    if (deadline !== undefined) {
      const given = attempt('deadline', deadline, c)
      if (typeof given === 'number' && Number.isFinite(given)) at = given
    }
    if (deadlineHeader !== undefined) {
      const budget = headerDeadline(
        c.req.header(deadlineHeader),
        deadlineHeaderMaxMs,
        controller.now(),
      )
      if (budget !== undefined && (at === undefined || budget < at)) at = budget
    }
    if (at !== undefined) request.deadline = at
    return request
  }

  const observe = (c: Context, rejection: Rejection): void => {
    try {
      const result: unknown = onShed?.(c, rejection)
      if (result instanceof Promise) {
        result.catch((error: unknown) => controller.reportError('onShed', error))
      }
    } catch (error) {
      controller.reportError('onShed', error)
    }
  }

  const withRateLimit = (c: Context, rejection: Rejection, response: Response): Response => {
    if (rateLimitHeaders === false || rejection.reason !== 'quota') return response
    const quota =
      typeof rateLimitQuota === 'function'
        ? attempt('rateLimitQuota', rateLimitQuota, c)
        : rateLimitQuota
    const fields = rateLimitFields(rateLimitHeaders, retryAfterValue(rejection), quota)
    if (fields.length === 0) return response
    // A custom Response may carry immutable headers (e.g. from fetch): copy it.
    const answer = new Response(response.body, response)
    for (const [name, value] of fields) answer.headers.set(name, value)
    return answer
  }

  const reject = async (c: Context, rejection: Rejection): Promise<Response> => {
    if (onShed !== undefined) observe(c, rejection)
    if (onRejected !== undefined) {
      try {
        const answer = await onRejected(c, rejection)
        if (answer instanceof Response) return withRateLimit(c, rejection, answer)
        throw new TypeError(`onRejected returned ${typeof answer}, not a Response`)
      } catch (error) {
        controller.reportError('onRejected', error)
      }
    }
    return withRateLimit(c, rejection, rejectionResponse(rejection))
  }

  const failed = (c: Context): boolean => {
    if (isFailure !== undefined) {
      const verdict = attempt('isFailure', isFailure, c)
      if (typeof verdict === 'boolean') return verdict
    }
    return c.res.status >= 500
  }

  const middleware = createMiddleware(async (c, next) => {
    if (skip !== undefined && attempt('skip', skip, c) === true) {
      await next()
      return undefined
    }
    const node = nodeExchangeOf(c.env)
    const signal = node === undefined ? c.req.raw.signal : new NodeClientSignal(node)
    let decision = controller.admit(classify(c, signal), admitOptions)
    if (decision instanceof Promise) decision = await decision
    if (!decision.admitted) return reject(c, decision.rejection)
    const { permit } = decision
    try {
      await next()
    } catch (error) {
      // Only without an error handler: Hono's own turns a throw into `c.res` (a 500).
      permit.release('failure')
      throw error
    }
    const outcome = failed(c) ? 'failure' : 'success'
    if (node !== undefined) releaseOnClose(node, permit, outcome)
    else if (signal.aborted) permit.release('ignore')
    else bindBody(c, permit, outcome, signal as AbortSignal)
    return undefined
  })
  return Object.assign(middleware, { controller }) as ShedMiddleware
}
