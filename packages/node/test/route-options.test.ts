import type { IncomingMessage } from 'node:http'
import { createAdmissionController } from '@spillway/core'
import {
  headerDeadline,
  resolveAdapterOptions,
  resolveRouteOptions,
} from '@spillway/node/adapter-kit'
import fc from 'fast-check'

const controller = createAdmissionController({ limit: 1 })
afterAll(() => controller.close())

function thrown(fn: () => unknown): Error & { code?: string; option?: string } {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}

describe('resolveRouteOptions', () => {
  it('rejects an unknown key with a did-you-mean and the allowed names', () => {
    const error = thrown(() => resolveRouteOptions({ priorty: 'critical' }, controller))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.code).toBe('ERR_SPILLWAY_INVALID_OPTION')
    expect(error.option).toBe('priorty')
    expect(error.message).toBe(
      'Unknown option `priorty`. Did you mean `priority`? Allowed: `priority`, `key`, `deadline`, `deadlineHeader`, `deadlineHeaderMaxMs`, `skip`, `isFailure`, `dryRun`, `onShed`, `warnings`, `rateLimitHeaders`, `rateLimitQuota`, `holdEarlyRetries`, `onRejected`.',
    )
  })

  it('rejects a fixed priority the controller does not know', () => {
    const error = thrown(() => resolveRouteOptions({ priority: 'urgent' }, controller))
    expect(error).toBeInstanceOf(RangeError)
    expect(error.message).toBe(
      'Expected `priority` to be one of `"critical"`, `"normal"`, `"sheddable"`, got `"urgent"` (string).',
    )
  })

  it('names the option, the value and what is allowed for a wrong type', () => {
    expect(thrown(() => resolveRouteOptions({ skip: true }, controller)).message).toBe(
      'Expected `skip` to be a function, got `true` (boolean).',
    )
    expect(thrown(() => resolveRouteOptions({ dryRun: 'yes' }, controller)).message).toBe(
      'Expected `dryRun` to be a boolean, got `"yes"` (string).',
    )
    expect(thrown(() => resolveRouteOptions({ deadlineHeaderMaxMs: 0 }, controller)).message).toBe(
      'Expected `deadlineHeaderMaxMs` to be an integer ≥ 1, got `0` (number).',
    )
    expect(thrown(() => resolveRouteOptions('fast', controller)).message).toBe(
      'Expected `options` to be an object, got `"fast"` (string).',
    )
  })

  it('rejects a deadline header name that is not a header token', () => {
    const error = thrown(() => resolveRouteOptions({ deadlineHeader: 'x timeout' }, controller))
    expect(error).toBeInstanceOf(RangeError)
    expect(error.option).toBe('deadlineHeader')
    expect(error.message).toBe(
      'Expected `deadlineHeader` to be a header name (an RFC 9110 token), got `"x timeout"` (string).',
    )
  })

  it('lower-cases the deadline header name and drops undefined fields', () => {
    const route = resolveRouteOptions(
      { deadlineHeader: 'X-Request-Timeout-Ms', key: undefined },
      controller,
    )
    expect(route.deadlineHeader).toBe('x-request-timeout-ms')
    expect(route.key).toBeUndefined()
    expect(route.dryRun).toBe(false)
    expect(route.deadlineHeaderMaxMs).toBe(60_000)
  })
})

describe('resolveAdapterOptions', () => {
  it('makes its own controller from one object holding controller and route options', () => {
    const { controller: own, route } = resolveAdapterOptions(
      { limit: 3, queue: { size: 0 }, priority: 'sheddable', dryRun: true },
      undefined,
    )
    expect(own.stats().limit).toBe(3)
    expect(route).toMatchObject({ priority: 'sheddable', dryRun: true })
    own.close()
  })

  it('suggests both controller and route names for a typo in the single object', () => {
    expect(thrown(() => resolveAdapterOptions({ dryrun: true }, undefined)).message).toMatch(
      /^Unknown option `dryrun`\. Did you mean `dryRun`\?/,
    )
    expect(thrown(() => resolveAdapterOptions({ limt: 3 }, undefined)).message).toMatch(
      /^Unknown option `limt`\. Did you mean `limit`\?/,
    )
  })

  it('passes controller options through to the controller’s own checks', () => {
    expect(thrown(() => resolveAdapterOptions({ queue: { size: -1 } }, undefined)).message).toBe(
      'Expected `queue.size` to be `"auto"` or an integer ≥ 0, got `-1` (number).',
    )
  })

  it('refuses route options next to an options object', () => {
    const error = thrown(() => resolveAdapterOptions({ limit: 2 }, { priority: 'critical' }))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.option).toBe('routeOptions')
  })
})

describe('headerDeadline', () => {
  const request = (value: string | string[] | undefined): IncomingMessage =>
    ({ headers: { 'x-timeout-ms': value } }) as unknown as IncomingMessage

  it('adds the client budget to now, clamped to the maximum', () => {
    expect(headerDeadline(request('250'), 'x-timeout-ms', 1000, 5000)).toBe(5250)
    expect(headerDeadline(request('99999999'), 'x-timeout-ms', 1000, 5000)).toBe(6000)
    expect(headerDeadline(request('0'), 'x-timeout-ms', 1000, 5000)).toBe(5000)
  })

  it('ignores anything but 1 to 12 digits', () => {
    for (const hostile of ['', '-5', '1e3', '0x10', '12.5', ' 12', 'Infinity', '1234567890123']) {
      expect(headerDeadline(request(hostile), 'x-timeout-ms', 1000, 5000)).toBeUndefined()
    }
    expect(headerDeadline(request(['1', '2']), 'x-timeout-ms', 1000, 5000)).toBeUndefined()
    expect(headerDeadline(request(undefined), 'x-timeout-ms', 1000, 5000)).toBeUndefined()
  })

  it('never throws and never reaches past now plus the maximum, whatever the header', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 1e9 }), (raw, maxMs) => {
        const at = headerDeadline(request(raw), 'x-timeout-ms', maxMs, 1000)
        return at === undefined || (at >= 1000 && at <= 1000 + maxMs)
      }),
    )
  })
})
