/**
 * Express cannot tell when an async handler's work ends: it only sees the
 * response. `guard(handler)` tells it, so the slot bounds the work.
 */
import { checkFunction } from '@spillway/core/internal'
import { holdPermits, isThenable } from '@spillway/node/adapter-kit'
import type { NextFunction, Request, RequestHandler, Response } from 'express'

/**
 * Wraps a route handler so the permit `shed` took for the request is held
 * until the handler's returned promise settles, not only until the response
 * ends: a timeout middleware (or anything else) that answers first no longer
 * frees the slot while the handler still works. A rejection (or a throw) goes
 * to `next(err)` in Express 4 and 5 alike. A handler that returns no promise
 * is called as it is; a request that holds no permit (skipped, or no `shed`
 * before it) runs unchanged.
 */
export function guard<Req extends Request = Request, Res extends Response = Response>(
  handler: (req: Req, res: Res, next: NextFunction) => unknown,
): RequestHandler {
  checkFunction(handler, 'handler')
  return (req, res, next) => {
    let result: unknown
    try {
      result = handler(req as Req, res as Res, next)
    } catch (error) {
      next(error)
      return
    }
    if (isThenable(result)) {
      holdPermits(res, result)
      result.then(undefined, (error: unknown) => next(error ?? new Error('handler rejected')))
    }
  }
}
