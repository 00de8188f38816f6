/**
 * Rejections answered through Fastify's `reply`, not the raw response, so
 * `onSend` and `onResponse` hooks and the request log see a plain 503 or 429.
 */
import type { AdmissionController, Rejection } from '@spillway/core'
import { PROBLEM_CONTENT_TYPE, problemBody, retryAfterValue } from '@spillway/node'
import { isThenable } from '@spillway/node/adapter-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** A custom rejection response, sent through `reply`; it may be async. */
export type FastifyOnRejected = (
  request: FastifyRequest,
  reply: FastifyReply,
  rejection: Rejection,
) => unknown

/** Sends the default problem+json rejection; headers set earlier (e.g. CORS) are kept. */
export function sendRejection(reply: FastifyReply, rejection: Rejection): void {
  if (reply.sent || reply.raw.headersSent || reply.raw.destroyed) return
  reply
    .code(rejection.status)
    .header('retry-after', retryAfterValue(rejection))
    .header('cache-control', 'no-store')
    .type(PROBLEM_CONTENT_TYPE)
    .send(problemBody(rejection))
}

/** After `onRejected` failed: the default, or an end to the answer it began. */
function fallBack(reply: FastifyReply, rejection: Rejection): void {
  if (!reply.sent && !reply.raw.headersSent) sendRejection(reply, rejection)
  // Half an answer that is never ended would hold the client and its socket for good.
  else if (reply.raw.headersSent && !reply.raw.writableEnded) reply.raw.destroy()
}

/**
 * Answers with `onRejected`, or the default when there is none or it throws
 * (or, async, rejects; reported as `onRejected`) before sending anything.
 */
export function answerRejection(
  controller: AdmissionController,
  onRejected: FastifyOnRejected | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
  rejection: Rejection,
): void {
  if (onRejected === undefined) {
    sendRejection(reply, rejection)
    return
  }
  try {
    const result = onRejected(request, reply, rejection)
    if (isThenable(result)) {
      result.then(undefined, (error: unknown) => {
        controller.reportError('onRejected', error)
        fallBack(reply, rejection)
      })
    }
  } catch (error) {
    controller.reportError('onRejected', error)
    fallBack(reply, rejection)
  }
}
