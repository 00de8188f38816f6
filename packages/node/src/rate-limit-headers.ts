/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers), in the
 * two drafts express-rate-limit sends, for a `429 quota`: the caller's key is
 * over its cap of concurrent requests. `r`/`remaining` is 0 and
 * `t`/`reset` is the rejection's `Retry-After`; the quota, when the route
 * states it, goes in the policy.
 */
import type { ServerResponse } from 'node:http'
import type { Rejection } from '@spillway/core'
import { retryAfterValue } from './write-rejection.js'

/** Which draft's fields to send; `false` sends none. */
export type RateLimitHeaders = false | 'draft-7' | 'draft-8'

// One policy, named for what spillway caps: requests in flight, not a rate.
const POLICY = '"concurrency"'

/**
 * Sets the RateLimit fields for `rejection` on `res` (before it is written).
 * draft-8: `RateLimit: "concurrency";r=0;t=<s>` and, with a quota,
 * `RateLimit-Policy: "concurrency";q=<n>;qu="concurrent-requests"`.
 * draft-7: `RateLimit: limit=<n>, remaining=0, reset=<s>` and
 * `RateLimit-Policy: <n>`, only with a quota (its `limit` is required).
 */
export function setRateLimitHeaders(
  res: ServerResponse,
  draft: 'draft-7' | 'draft-8',
  rejection: Rejection,
  quota: number | undefined,
): void {
  if (res.headersSent) return
  const reset = retryAfterValue(rejection)
  const known = quota !== undefined && Number.isInteger(quota) && quota >= 0
  if (draft === 'draft-8') {
    res.setHeader('RateLimit', `${POLICY};r=0;t=${reset}`)
    if (known) res.setHeader('RateLimit-Policy', `${POLICY};q=${quota};qu="concurrent-requests"`)
  } else if (known) {
    res.setHeader('RateLimit', `limit=${quota}, remaining=0, reset=${reset}`)
    res.setHeader('RateLimit-Policy', String(quota))
  }
}
