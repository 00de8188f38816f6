/**
 * The default rejection as a Web `Response`: RFC 9457 problem details, the
 * same bytes as every other adapter sends.
 */
import type { Rejection, RejectionReason } from '@spillway/core'

/** `Content-Type` of the default rejection body (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

const TITLES: Readonly<Record<number, string>> = {
  429: 'Too Many Requests',
  503: 'Service Unavailable',
}

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

// A body depends only on reason and status: built once each (a Response
// itself cannot be reused, its body is read once).
const bodies = new Map<string, string>()

function problemText(rejection: Rejection): string {
  const cacheKey = `${rejection.reason}:${rejection.status}`
  let body = bodies.get(cacheKey)
  if (body === undefined) {
    body = JSON.stringify({
      type: 'about:blank',
      title: TITLES[rejection.status] ?? 'Service Unavailable',
      status: rejection.status,
      detail: DETAILS[rejection.reason] ?? 'The server cannot serve this request now.',
      reason: rejection.reason,
    })
    bodies.set(cacheKey, body)
  }
  return body
}

/** `Retry-After`: whole seconds ≥ 1 (RFC 9110 §10.2.3). */
export function retryAfterValue(rejection: Rejection): string {
  const seconds = Math.ceil(rejection.retryAfterSeconds)
  return seconds >= 1 ? String(seconds) : '1'
}

/** The default rejection response: status, `Retry-After`, `Cache-Control: no-store`, problem+json. */
export function rejectionResponse(rejection: Rejection): Response {
  return new Response(problemText(rejection), {
    status: rejection.status,
    headers: {
      'content-type': PROBLEM_CONTENT_TYPE,
      'cache-control': 'no-store',
      'retry-after': retryAfterValue(rejection),
    },
  })
}
