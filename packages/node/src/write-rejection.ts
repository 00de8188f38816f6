/** Writes the default rejection response (RFC 9457 problem details, built in core) to a Node response. */
import type { ServerResponse } from 'node:http'
import type { Rejection } from '@spillway/core'
import {
  failOption,
  PROBLEM_CONTENT_TYPE,
  problemJson,
  retryAfterValue,
} from '@spillway/core/internal'

export { PROBLEM_CONTENT_TYPE, retryAfterValue }

// Bodies depend only on reason and status: built once each, then shared.
const bodies = new Map<string, Buffer>()

/**
 * The default rejection body, `{ type, title, status, detail, reason }` as
 * UTF-8 JSON, built once per reason and status and reused.
 */
export function problemBody(rejection: Rejection): Buffer {
  const cacheKey = `${rejection.reason}:${rejection.status}`
  let body = bodies.get(cacheKey)
  if (body === undefined) {
    body = Buffer.from(problemJson(rejection))
    bodies.set(cacheKey, body)
  }
  return body
}

/**
 * Writes the default rejection: the rejection's status, `Retry-After`,
 * `Content-Type: application/problem+json`, `Cache-Control: no-store` and
 * the problem body; headers set earlier (e.g. CORS) are kept, `Connection`
 * is left alone. Writes nothing when headers were already sent, the response
 * has ended or its client is gone. Returns whether it wrote.
 */
export function writeRejection(res: ServerResponse, rejection: Rejection): boolean {
  if (typeof rejection !== 'object' || rejection === null || typeof rejection.status !== 'number') {
    failOption(
      'type',
      'rejection',
      'a rejection (`{ reason, status, retryAfterSeconds }`)',
      rejection,
    )
  }
  if (res.headersSent || res.writableEnded || res.destroyed) return false
  const body = problemBody(rejection)
  res.writeHead(rejection.status, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': body.length,
    'cache-control': 'no-store',
    'retry-after': retryAfterValue(rejection),
  })
  res.end(body)
  return true
}
