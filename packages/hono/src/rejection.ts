/**
 * The default rejection as a Web `Response`: RFC 9457 problem details, the
 * same bytes as every other adapter sends (built in core).
 */
import type { Rejection } from '@spillway/core'
import { PROBLEM_CONTENT_TYPE, problemJson, retryAfterValue } from '@spillway/core/internal'

export { PROBLEM_CONTENT_TYPE, retryAfterValue }

// A body depends only on reason and status: built once each (a Response
// itself cannot be reused, its body is read once).
const bodies = new Map<string, string>()

function problemText(rejection: Rejection): string {
  const cacheKey = `${rejection.reason}:${rejection.status}`
  let body = bodies.get(cacheKey)
  if (body === undefined) {
    body = problemJson(rejection)
    bodies.set(cacheKey, body)
  }
  return body
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
