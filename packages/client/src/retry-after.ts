/**
 * `Retry-After` (RFC 9110 §10.2.3) is either delay-seconds (`1*DIGIT`) or an
 * HTTP-date (§5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms,
 * all in GMT). Anything else is malformed: the caller falls back to its own backoff.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC_850 = /^[a-z]{6,9}, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
// Sun Nov  6 08:49:37 1994
const ASCTIME = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i

function utc(
  year: number,
  month: string,
  day: string,
  hour: string,
  minute: string,
  second: string,
): number | undefined {
  const m = MONTHS.indexOf(month.toLowerCase())
  const d = Number(day)
  const h = Number(hour)
  const min = Number(minute)
  const s = Number(second)
  if (m < 0 || d < 1 || d > 31 || h > 23 || min > 59 || s > 60) return undefined
  return Date.UTC(year, m, d, h, min, s)
}

/** Epoch ms of an HTTP-date, or `undefined` when it is not one. */
export function parseHttpDate(value: string): number | undefined {
  let match = IMF_FIXDATE.exec(value)
  if (match) {
    const [, day, month, year, h, m, s] = match as unknown as string[]
    return utc(Number(year), month as string, day as string, h as string, m as string, s as string)
  }
  match = RFC_850.exec(value)
  if (match) {
    const [, day, month, yy, h, m, s] = match as unknown as string[]
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
    const thisYear = new Date().getUTCFullYear()
    let year = Math.floor(thisYear / 100) * 100 + Number(yy)
    if (year > thisYear + 50) year -= 100
    return utc(year, month as string, day as string, h as string, m as string, s as string)
  }
  match = ASCTIME.exec(value)
  if (match) {
    const [, month, day, h, m, s, year] = match as unknown as string[]
    return utc(
      Number(year),
      month as string,
      (day as string).trim(),
      h as string,
      m as string,
      s as string,
    )
  }
  return undefined
}

/**
 * How long a `Retry-After` value asks the client to wait, in milliseconds:
 * `0` for a date already past, at most `maxMs` (an absurd value is clamped,
 * never trusted), and `undefined` when the header is absent or malformed
 * (negative, fractional, empty, not a date).
 *
 * @param value - the header value, e.g. `response.headers.get('retry-after')`
 * @param nowMs - current epoch time in ms, to resolve an HTTP-date
 * @param maxMs - the clamp, in ms. @default Infinity
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
  maxMs = Number.POSITIVE_INFINITY,
): number | undefined {
  if (value == null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, maxMs)
  const date = parseHttpDate(text)
  if (date === undefined) return undefined
  return Math.min(Math.max(0, date - nowMs), maxMs)
}
