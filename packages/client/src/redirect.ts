/**
 * Following redirects by hand, so each hop is an attempt to the origin that
 * answers it: its `503`s are charged to its own throttle and budget, not the
 * first origin's. `fetch` is called with `redirect: 'manual'`, and this file
 * does what `fetch` would have done (WHATWG Fetch, "HTTP-redirect fetch"):
 * at most 20 redirects; `303` (and `301`/`302` after a POST) turn into a GET
 * without a body; `307`/`308` replay the body, so a stream body cannot follow
 * them; a redirect to another origin drops `authorization`, `proxy-authorization`
 * and `cookie`, as undici does, and spillway's own headers (priority, remaining
 * time), which were meant for the first origin: they are not sent again for the
 * rest of the call.
 */

/** Statuses `fetch` follows (RFC 9110 §15.4), when they carry a `Location`. */
const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** WHATWG Fetch: more than this many redirects is a network error. */
export const MAX_REDIRECTS = 20

/** Request headers describing the body, dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
]

/** Credentials that never follow a redirect to another origin. */
const CREDENTIALS = ['authorization', 'proxy-authorization', 'cookie']

/** One request of a call: the first one, or one a redirect led to. */
export interface Hop {
  readonly url: URL
  /** What to hand `fetch` as its first argument. */
  readonly input: string | URL | Request
  /** `fetch`'s second argument, before per-attempt headers and signal. */
  readonly init: RequestInit | undefined
  readonly method: string
  /** Request headers, spillway's priority header included while it is propagated. */
  readonly headers: Headers
  readonly replayable: boolean
  /** Whether spillway's headers are sent (false after a cross-origin redirect). */
  readonly propagate: boolean
  /** Redirects followed so far. */
  readonly redirects: number
}

/** The `Location` a `fetch` in `follow` mode would go to, or `undefined` when it would not. */
export function redirectTarget(response: Response, from: URL): URL | undefined {
  if (!REDIRECTS.has(response.status)) return undefined
  const location = response.headers.get('location')
  if (location === null) return undefined
  try {
    return new URL(location, from)
  } catch {
    throw new TypeError(`Redirect from ${from.href} to an invalid Location: ${location}`)
  }
}

/** The hop a redirect leads to; throws where `fetch` would fail the request. */
export function nextHop(
  hop: Hop,
  status: number,
  target: URL,
  spillwayHeaders: readonly string[],
): Hop {
  if (hop.redirects >= MAX_REDIRECTS) {
    throw new TypeError(
      `Redirect count exceeded: more than ${MAX_REDIRECTS} redirects from ${hop.url.href}.`,
    )
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new TypeError(
      `Redirect from ${hop.url.href} to a URL that is not http(s): ${target.href}`,
    )
  }
  const headers = new Headers(hop.headers)
  let method = hop.method
  let body = hop.init?.body ?? null
  if (
    (status === 303 && method !== 'GET' && method !== 'HEAD') ||
    ((status === 301 || status === 302) && method === 'POST')
  ) {
    method = 'GET'
    body = null
    for (const name of BODY_HEADERS) headers.delete(name)
  } else if (!hop.replayable) {
    throw new TypeError(
      `Cannot follow a ${status} redirect from ${hop.url.href}: the request body is a stream, which cannot be sent twice.`,
    )
  }
  const crossOrigin = target.origin !== hop.url.origin
  if (crossOrigin) {
    for (const name of [...CREDENTIALS, ...spillwayHeaders]) headers.delete(name)
  }
  const { signal: _signal, ...rest } = hop.init ?? {}
  return {
    url: target,
    input: target.href,
    init: { ...rest, method, body },
    method,
    headers,
    replayable: hop.replayable || body === null,
    propagate: hop.propagate && !crossOrigin,
    redirects: hop.redirects + 1,
  }
}
