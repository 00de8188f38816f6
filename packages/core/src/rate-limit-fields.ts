/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers), in the
 * two drafts express-rate-limit sends, for a `429 quota`: the caller's key is
 * over its cap of concurrent requests. `r`/`remaining` is 0 and `t`/`reset`
 * is the rejection's `Retry-After`; the quota, when the route states it, goes
 * in the policy. Runtime-neutral, so the Node adapters and Hono send the same.
 */

/** Which draft's fields to send; `false` sends none. */
export type RateLimitHeaders = false | 'draft-7' | 'draft-8'

// One policy, named for what spillway caps: requests in flight, not a rate.
const POLICY = '"concurrency"'

/**
 * The fields as `[name, value]` pairs.
 * draft-8: `RateLimit: "concurrency";r=0;t=<s>` and, with a quota,
 * `RateLimit-Policy: "concurrency";q=<n>;qu="concurrent-requests"`.
 * draft-7: `RateLimit: limit=<n>, remaining=0, reset=<s>` and
 * `RateLimit-Policy: <n>`, only with a quota (its `limit` is required).
 */
export function rateLimitFields(
  draft: 'draft-7' | 'draft-8',
  resetSeconds: string,
  quota: number | undefined,
): Array<[name: string, value: string]> {
  const known = quota !== undefined && Number.isInteger(quota) && quota >= 0
  if (draft === 'draft-8') {
    const fields: Array<[string, string]> = [['RateLimit', `${POLICY};r=0;t=${resetSeconds}`]]
    if (known) fields.push(['RateLimit-Policy', `${POLICY};q=${quota};qu="concurrent-requests"`])
    return fields
  }
  if (!known) return []
  return [
    ['RateLimit', `limit=${quota}, remaining=0, reset=${resetSeconds}`],
    ['RateLimit-Policy', String(quota)],
  ]
}
