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
 * reported as `onRejected`). Never passes anything to a framework's error
 * handler: a rejection is an answer, not an error.
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
      onRejected(req, res, rejection)
      return
    } catch (error) {
      controller.reportError('onRejected', error)
    }
  }
  writeRejection(res, rejection)
}
