import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AdmissionController, Rejection } from '@spillway/core'
import { writeRejection } from './write-rejection.js'

/** A custom rejection response, as node:http and Express hand it the request and response. */
export type OnRejected<Req extends IncomingMessage = IncomingMessage, Res = ServerResponse> = (
  req: Req,
  res: Res,
  rejection: Rejection,
) => void

/**
 * Answers a rejection with the user's `onRejected`, or the default response
 * when there is none or it throws before sending anything (the throw is
 * reported as `onRejected`; an async one that rejects gets the same). If it
 * throws after it began writing, the response is destroyed.
 * Never passes anything to a framework's error handler: a rejection is an
 * answer, not an error.
 */
export function answerRejection<Req extends IncomingMessage, Res extends ServerResponse>(
  controller: AdmissionController,
  onRejected: OnRejected<Req, Res> | undefined,
  req: Req,
  res: Res,
  rejection: Rejection,
): void {
  if (onRejected !== undefined) {
    try {
      const result: unknown = onRejected(req, res, rejection)
      // TypeScript lets an async function pass as `void`; its throw is a rejected
      // promise, which would otherwise crash the process and leave the client hanging.
      if (isThenable(result)) {
        result.then(undefined, (error: unknown) => fallBack(controller, res, rejection, error))
      }
      return
    } catch (error) {
      fallBack(controller, res, rejection, error)
      return
    }
  }
  writeRejection(res, rejection)
}

/** After `onRejected` failed: the default response, or an end to the one it began. */
function fallBack(
  controller: AdmissionController,
  res: ServerResponse,
  rejection: Rejection,
  error: unknown,
): void {
  controller.reportError('onRejected', error)
  // Half an answer that is never ended would hold the client and its socket for good.
  if (!writeRejection(res, rejection) && res.headersSent && !res.writableEnded) res.destroy()
}

/** True for a promise or any object with a `then` method. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}
