/** The IETF RateLimit fields on a Node response (see `rateLimitFields` in core). */
import type { ServerResponse } from 'node:http'
import type { Rejection } from '@spillway/core'
import { rateLimitFields } from '@spillway/core/internal'
import { retryAfterValue } from './write-rejection.js'

export type { RateLimitHeaders } from '@spillway/core/internal'

/** Sets the RateLimit fields for `rejection` on `res` (before it is written). */
export function setRateLimitHeaders(
  res: ServerResponse,
  draft: 'draft-7' | 'draft-8',
  rejection: Rejection,
  quota: number | undefined,
): void {
  if (res.headersSent) return
  for (const [name, value] of rateLimitFields(draft, retryAfterValue(rejection), quota)) {
    res.setHeader(name, value)
  }
}
