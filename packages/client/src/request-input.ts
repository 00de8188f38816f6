/**
 * What a call was given, checked once before anything is sent: the URL it is
 * for (relative ones resolved against `baseUrl`, or refused), its method and
 * its caller's signal. Bad arguments get the house error (`code`
 * `ERR_SPILLWAY_INVALID_OPTION`, `option` naming the argument), never a raw
 * `TypeError` from deep inside `fetch`.
 */
import { describeValue, failOption, invalidOption } from '@spillway/core/internal'

/** RFC 9110 §5.6.2 token: what a method name may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i

export function isRequest(input: unknown): input is Request {
  return typeof Request !== 'undefined' && input instanceof Request
}

/** The parsed input of one call. */
export interface CallInput {
  /** The absolute URL of the first attempt. */
  readonly url: URL
  /** Whether it is `http:` or `https:` (anything else goes to `fetch` untouched). */
  readonly http: boolean
  /** What to hand `fetch`: the input, with a relative URL resolved. */
  readonly fetchInput: string | URL | Request
  /** Upper-case method. */
  readonly method: string
  readonly signal: AbortSignal | undefined
}

/** Checks `input` and `init`; resolves a relative URL against `baseUrl`. */
export function parseInput(input: unknown, init: unknown, baseUrl: URL | undefined): CallInput {
  if (init !== undefined && init !== null && typeof init !== 'object') {
    failOption('type', 'init', 'an object (fetch’s RequestInit) or `undefined`', init)
  }
  const i = (init ?? undefined) as RequestInit | undefined
  let url: URL
  let fetchInput: string | URL | Request
  if (isRequest(input)) {
    url = new URL(input.url)
    fetchInput = input
  } else if (typeof input === 'string' || input instanceof URL) {
    const text = String(input)
    try {
      url = baseUrl === undefined ? new URL(text) : new URL(text, baseUrl)
    } catch {
      const hint =
        baseUrl === undefined
          ? ' A relative URL needs the client’s `baseUrl` option.'
          : ` It does not resolve against \`baseUrl\` ${baseUrl.href}.`
      throw invalidOption(
        'type',
        'input',
        `Expected \`input\` to be an absolute URL, got ${describeValue(text)}.${hint}`,
      )
    }
    fetchInput = typeof input === 'string' && text !== url.href ? url.href : input
  } else {
    failOption('type', 'input', 'a URL string, a `URL` or a `Request`', input)
  }
  const rawMethod = i?.method ?? (isRequest(input) ? input.method : 'GET')
  if (typeof rawMethod !== 'string' || !TOKEN.test(rawMethod)) {
    failOption(
      typeof rawMethod === 'string' ? 'range' : 'type',
      'init.method',
      'an HTTP method name such as `"GET"`',
      rawMethod,
    )
  }
  const signal = i?.signal ?? (isRequest(input) ? input.signal : undefined) ?? undefined
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    failOption('type', 'init.signal', 'an `AbortSignal`', signal)
  }
  return {
    url,
    http: url.protocol === 'http:' || url.protocol === 'https:',
    fetchInput,
    method: rawMethod.toUpperCase(),
    signal,
  }
}

/** Checks the `baseUrl` option: an absolute http(s) URL. */
export function checkBaseUrl(value: unknown): URL {
  if (typeof value !== 'string' && !(value instanceof URL)) {
    failOption('type', 'baseUrl', 'an absolute http(s) URL (a string or a `URL`)', value)
  }
  let url: URL | undefined
  try {
    url = new URL(String(value))
  } catch {
    url = undefined
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    failOption('range', 'baseUrl', 'an absolute http(s) URL', String(value))
  }
  return url
}
