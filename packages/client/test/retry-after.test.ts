import { parseHttpDate, parseRetryAfter } from '@spillway/client'

const NOW = Date.UTC(2026, 10, 27, 22, 0, 0)

describe('parseRetryAfter', () => {
  it('reads delay-seconds as milliseconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0)
    expect(parseRetryAfter('1', NOW)).toBe(1000)
    expect(parseRetryAfter('120', NOW)).toBe(120_000)
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7000)
  })

  it('reads an IMF-fixdate as the time left until it', () => {
    expect(parseRetryAfter('Fri, 27 Nov 2026 22:00:30 GMT', NOW)).toBe(30_000)
  })

  it('reads the obsolete RFC 850 and asctime date forms as GMT', () => {
    expect(parseRetryAfter('Friday, 27-Nov-26 22:01:00 GMT', NOW)).toBe(60_000)
    expect(parseRetryAfter('Fri Nov 27 22:00:05 2026', NOW)).toBe(5000)
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(Date.UTC(1994, 10, 6, 8, 49, 37))
  })

  it('waits nothing for a date already past', () => {
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', NOW)).toBe(0)
  })

  it('rejects negative, fractional, empty and garbage values as malformed', () => {
    for (const value of ['-5', '1.5', '', '   ', 'soon', '5s', '0x10', '1e3', 'Fri, 27 Nov 2026']) {
      expect(parseRetryAfter(value, NOW)).toBeUndefined()
    }
  })

  it('rejects a date with an impossible month, hour or zone', () => {
    expect(parseRetryAfter('Fri, 27 Foo 2026 22:00:30 GMT', NOW)).toBeUndefined()
    expect(parseRetryAfter('Fri, 27 Nov 2026 25:00:30 GMT', NOW)).toBeUndefined()
    expect(parseRetryAfter('Fri, 27 Nov 2026 22:00:30 PST', NOW)).toBeUndefined()
  })

  it('returns undefined when the header is absent', () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined()
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined()
  })

  it('clamps a huge delay or a far-future date to the maximum', () => {
    expect(parseRetryAfter('99999999999999999999999', NOW, 60_000)).toBe(60_000)
    expect(parseRetryAfter('86400', NOW, 60_000)).toBe(60_000)
    expect(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', NOW, 60_000)).toBe(60_000)
  })
})
