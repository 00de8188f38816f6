/**
 * The default rejection body, the same in every adapter: RFC 9457 problem
 * details. `type` is `about:blank`, so `title` is the status's reason phrase
 * (RFC 9457 §4.2.1) and clients branch on the `reason` extension member.
 */
import type { Rejection, RejectionReason } from './types.js'

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

/** `{ type, title, status, detail, reason }` as JSON text; callers cache it per reason and status. */
export function problemJson(rejection: Rejection): string {
  return JSON.stringify({
    type: 'about:blank',
    title: TITLES[rejection.status] ?? 'Service Unavailable',
    status: rejection.status,
    detail: DETAILS[rejection.reason] ?? 'The server cannot serve this request now.',
    reason: rejection.reason,
  })
}

/** `Retry-After` value: whole seconds ≥ 1 (RFC 9110 §10.2.3), whatever it is given. */
export function retryAfterValue(rejection: Rejection): string {
  const seconds = Math.ceil(rejection.retryAfterSeconds)
  return seconds >= 1 ? String(seconds) : '1'
}
