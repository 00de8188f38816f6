/**
 * The default rejection response: RFC 9457 problem details. `type` is
 * `about:blank`, so `title` is the status's reason phrase (RFC 9457 §4.2.1)
 * and clients branch on the `reason` extension member.
 */
import type { ServerResponse } from 'node:http'
import type { Rejection, RejectionReason } from '@spillway/core'
import { failOption } from '@spillway/core/internal'

/** `Content-Type` of the default rejection body (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

const TITLES: Readonly<Record<number, string>> = {
  429: 'Too Many Requests',
  503: 'Service Unavailable',
}

/** Human text per reason: says what happened, never how the server is built. */
const DETAILS: Readonly<Record<RejectionReason, string>> = {
  queueFull: 'The server is at capacity and cannot queue more requests.',
  queueTimeout: 'The request waited too long for capacity.',
  evicted: 'The request gave its place in the queue to more important work.',
  overloaded: 'The server is overloaded.',
  sampled: 'The server is shedding load.',
  deadline: 'The request could not be served before its deadline.',
  aborted: 'The client went away before the request could be served.',
  quota: 'This client is over its share of the server while the server is saturated.',
  closed: 'The server is shutting down.',
  unavailable: "The server cannot check this client's limit right now.",
}

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
    body = Buffer.from(
      JSON.stringify({
        type: 'about:blank',
        title: TITLES[rejection.status] ?? 'Service Unavailable',
        status: rejection.status,
        detail: DETAILS[rejection.reason] ?? 'The server cannot serve this request now.',
        reason: rejection.reason,
      }),
    )
    bodies.set(cacheKey, body)
  }
  return body
}

/** `Retry-After` value: whole seconds ≥ 1 (RFC 9110 §10.2.3), whatever it is given. */
export function retryAfterValue(rejection: Rejection): string {
  const seconds = Math.ceil(rejection.retryAfterSeconds)
  return seconds >= 1 ? String(seconds) : '1'
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
