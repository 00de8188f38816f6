import { createAdmissionController, INVALID_OPTION } from '@spillway/core'
import fc from 'fast-check'
import { fakeClockController, flush, permitOf, rejectionOf, track } from './harness.js'

type ErrorClass = typeof TypeError | typeof RangeError

const ALLOWED_TOP =
  'Allowed: `limit`, `queue`, `priorities`, `defaultPriority`, `retryAfter`, `pressure`, `dryRun`, `fairness`, `perKey`, `now`, `random`.'
const ALLOWED_QUEUE = 'Allowed: `size`, `timeoutMs`, `order`, `codelTargetMs`, `codelIntervalMs`.'
const PRIORITIES = 'a non-empty array of at most 16 distinct names'

const cases: [string, unknown, ErrorClass, string, string][] = [
  // [what, options, class, option path, exact message]
  ['null options', null, TypeError, 'options', 'Expected `options` to be an object, got `null`.'],
  ['a number', 42, TypeError, 'options', 'Expected `options` to be an object, got `42` (number).'],
  [
    'an array',
    [],
    TypeError,
    'options',
    'Expected `options` to be an object, got an array of length 0.',
  ],
  [
    'a class instance',
    new Map(),
    TypeError,
    'options',
    'Expected `options` to be an object, got an instance of Map.',
  ],
  [
    'a misspelt top-level key',
    { limt: 5 },
    TypeError,
    'limt',
    `Unknown option \`limt\`. Did you mean \`limit\`? ${ALLOWED_TOP}`,
  ],
  [
    'an unknown key with no close match',
    { zzzzzzzz: 1 },
    TypeError,
    'zzzzzzzz',
    `Unknown option \`zzzzzzzz\`. ${ALLOWED_TOP}`,
  ],
  [
    'a misspelt nested key',
    { queue: { sise: 1 } },
    TypeError,
    'queue.sise',
    `Unknown option \`queue.sise\`. Did you mean \`queue.size\`? ${ALLOWED_QUEUE}`,
  ],
  [
    'a misspelt retryAfter key',
    { retryAfter: { maxSecond: 5 } },
    TypeError,
    'retryAfter.maxSecond',
    'Unknown option `retryAfter.maxSecond`. Did you mean `retryAfter.maxSeconds`? Allowed: `minSeconds`, `maxSeconds`, `jitter`.',
  ],
  [
    'queue not an object',
    { queue: 'big' },
    TypeError,
    'queue',
    'Expected `queue` to be an object, got `"big"` (string).',
  ],
  [
    'a negative queue.size',
    { queue: { size: -1 } },
    RangeError,
    'queue.size',
    'Expected `queue.size` to be `"auto"` or an integer ≥ 0, got `-1` (number).',
  ],
  [
    'a fractional queue.size',
    { queue: { size: 1.5 } },
    RangeError,
    'queue.size',
    'Expected `queue.size` to be `"auto"` or an integer ≥ 0, got `1.5` (number).',
  ],
  [
    'a string queue.size',
    { queue: { size: '10' } },
    TypeError,
    'queue.size',
    'Expected `queue.size` to be `"auto"` or an integer ≥ 0, got `"10"` (string).',
  ],
  [
    'a zero queue.timeoutMs',
    { queue: { timeoutMs: 0 } },
    RangeError,
    'queue.timeoutMs',
    'Expected `queue.timeoutMs` to be `"auto"` or a finite number > 0, got `0` (number).',
  ],
  [
    'a NaN queue.timeoutMs',
    { queue: { timeoutMs: Number.NaN } },
    RangeError,
    'queue.timeoutMs',
    'Expected `queue.timeoutMs` to be `"auto"` or a finite number > 0, got `NaN` (number).',
  ],
  [
    'an infinite queue.timeoutMs',
    { queue: { timeoutMs: Number.POSITIVE_INFINITY } },
    RangeError,
    'queue.timeoutMs',
    'Expected `queue.timeoutMs` to be `"auto"` or a finite number > 0, got `Infinity` (number).',
  ],
  [
    'an unknown queue.order',
    { queue: { order: 'random' } },
    RangeError,
    'queue.order',
    'Expected `queue.order` to be one of `"fifo"`, `"lifo"`, `"adaptive"`, got `"random"` (string).',
  ],
  [
    'a numeric queue.order',
    { queue: { order: 1 } },
    TypeError,
    'queue.order',
    'Expected `queue.order` to be one of `"fifo"`, `"lifo"`, `"adaptive"`, got `1` (number).',
  ],
  [
    'a negative queue.codelTargetMs',
    { queue: { codelTargetMs: -5 } },
    RangeError,
    'queue.codelTargetMs',
    'Expected `queue.codelTargetMs` to be a finite number > 0, got `-5` (number).',
  ],
  [
    'a null queue.codelIntervalMs',
    { queue: { codelIntervalMs: null } },
    TypeError,
    'queue.codelIntervalMs',
    'Expected `queue.codelIntervalMs` to be a finite number > 0, got `null`.',
  ],
  [
    'priorities not an array',
    { priorities: 'critical' },
    TypeError,
    'priorities',
    `Expected \`priorities\` to be ${PRIORITIES}, got \`"critical"\` (string).`,
  ],
  [
    'empty priorities',
    { priorities: [] },
    RangeError,
    'priorities',
    `Expected \`priorities\` to be ${PRIORITIES}, got an array of length 0.`,
  ],
  [
    'seventeen priorities',
    { priorities: Array.from({ length: 17 }, (_, i) => `p${i}`), defaultPriority: 'p0' },
    RangeError,
    'priorities',
    `Expected \`priorities\` to be ${PRIORITIES}, got an array of length 17.`,
  ],
  [
    'a priority that is not a string',
    { priorities: ['a', 1], defaultPriority: 'a' },
    TypeError,
    'priorities[1]',
    'Expected `priorities[1]` to be a string, got `1` (number).',
  ],
  [
    'an empty priority name',
    { priorities: ['a', ''], defaultPriority: 'a' },
    RangeError,
    'priorities[1]',
    'Expected `priorities[1]` to be a non-empty string, got `""` (string).',
  ],
  [
    'duplicate priorities',
    { priorities: ['a', 'b', 'a'], defaultPriority: 'a' },
    RangeError,
    'priorities',
    `Expected \`priorities\` to be ${PRIORITIES}, got \`"a"\` twice.`,
  ],
  [
    'a defaultPriority not in priorities',
    { defaultPriority: 'urgent' },
    RangeError,
    'defaultPriority',
    'Expected `defaultPriority` to be one of `priorities` (`"critical"`, `"normal"`, `"sheddable"`), got `"urgent"` (string).',
  ],
  [
    'custom priorities without the default "normal"',
    { priorities: ['high', 'low'] },
    RangeError,
    'defaultPriority',
    'Expected `defaultPriority` to be one of `priorities` (`"high"`, `"low"`), got `"normal"` (string).',
  ],
  [
    'a numeric defaultPriority',
    { defaultPriority: 3 },
    TypeError,
    'defaultPriority',
    'Expected `defaultPriority` to be a string, got `3` (number).',
  ],
  [
    'retryAfter.minSeconds of 0',
    { retryAfter: { minSeconds: 0 } },
    RangeError,
    'retryAfter.minSeconds',
    'Expected `retryAfter.minSeconds` to be an integer ≥ 1, got `0` (number).',
  ],
  [
    'a fractional retryAfter.maxSeconds',
    { retryAfter: { maxSeconds: 2.5 } },
    RangeError,
    'retryAfter.maxSeconds',
    'Expected `retryAfter.maxSeconds` to be an integer ≥ 1, got `2.5` (number).',
  ],
  [
    'retryAfter.maxSeconds below minSeconds',
    { retryAfter: { minSeconds: 10, maxSeconds: 5 } },
    RangeError,
    'retryAfter.maxSeconds',
    'Expected `retryAfter.maxSeconds` to be ≥ `retryAfter.minSeconds` (10), got `5` (number).',
  ],
  [
    'a negative retryAfter.jitter',
    { retryAfter: { jitter: -0.1 } },
    RangeError,
    'retryAfter.jitter',
    'Expected `retryAfter.jitter` to be a finite number ≥ 0 and ≤ 10, got `-0.1` (number).',
  ],
  [
    'a retryAfter.jitter above 10',
    { retryAfter: { jitter: 10.5 } },
    RangeError,
    'retryAfter.jitter',
    'Expected `retryAfter.jitter` to be a finite number ≥ 0 and ≤ 10, got `10.5` (number).',
  ],
  [
    'pressure as a bare number',
    { pressure: 0.5 },
    TypeError,
    'pressure',
    'Expected `pressure` to be an object with a numeric `level` (a PressureSource), got `0.5` (number).',
  ],
  [
    'a pressure source with a string level',
    { pressure: { level: '0.5' } },
    TypeError,
    'pressure',
    'Expected `pressure` to be an object with a numeric `level` (a PressureSource), got an object.',
  ],
  [
    'a null pressure',
    { pressure: null },
    TypeError,
    'pressure',
    'Expected `pressure` to be an object with a numeric `level` (a PressureSource), got `null`.',
  ],
  [
    'a pressure source whose close is not a function',
    { pressure: { level: 0, close: 5 } },
    TypeError,
    'pressure.close',
    'Expected `pressure.close` to be a function, got `5` (number).',
  ],
  [
    'retryAfter as null',
    { retryAfter: null },
    TypeError,
    'retryAfter',
    'Expected `retryAfter` to be an object, got `null`.',
  ],
  [
    'a null limit',
    { limit: null },
    TypeError,
    'limit',
    'Expected `limit` to be an integer ≥ 1 or an object with `algorithm`, got `null`.',
  ],
  [
    'a NaN limit',
    { limit: Number.NaN },
    RangeError,
    'limit',
    'Expected `limit` to be an integer ≥ 1, got `NaN` (number).',
  ],
  [
    'a string queue.timeoutMs',
    { queue: { timeoutMs: '100' } },
    TypeError,
    'queue.timeoutMs',
    'Expected `queue.timeoutMs` to be `"auto"` or a finite number > 0, got `"100"` (string).',
  ],
  [
    'now as a number',
    { now: 5 },
    TypeError,
    'now',
    'Expected `now` to be a function, got `5` (number).',
  ],
  [
    'random as a string',
    { random: 'x' },
    TypeError,
    'random',
    'Expected `random` to be a function, got `"x"` (string).',
  ],
  // The limit's own messages (packages/core/src/limit).
  [
    'a zero limit',
    { limit: 0 },
    RangeError,
    'limit',
    'Expected `limit` to be an integer ≥ 1, got `0` (number).',
  ],
  [
    'a fractional limit',
    { limit: 2.5 },
    RangeError,
    'limit',
    'Expected `limit` to be an integer ≥ 1, got `2.5` (number).',
  ],
  [
    'a string limit',
    { limit: '64' },
    TypeError,
    'limit',
    'Expected `limit` to be an integer ≥ 1 or an object with `algorithm`, got `"64"` (string).',
  ],
  [
    'a fixed limit object with a zero limit',
    { limit: { algorithm: 'fixed', limit: 0 } },
    RangeError,
    'limit.limit',
    'Expected `limit.limit` to be an integer ≥ 1, got `0` (number).',
  ],
  [
    'a misspelt key in a fixed limit object',
    { limit: { algorithm: 'fixed', limt: 3 } },
    TypeError,
    'limit.limt',
    'Unknown option `limit.limt`. Did you mean `limit.limit`? Allowed: `algorithm`, `limit`.',
  ],
  [
    'an aimd limit whose max is below its min',
    { limit: { algorithm: 'aimd', min: 10, max: 5 } },
    RangeError,
    'limit.max',
    'Expected `limit.max` to be ≥ `limit.min` (10), got `5` (number).',
  ],
]

describe('invalid options', () => {
  it.each(cases)('rejects %s', (_what, options, errorClass, option, message) => {
    let thrown: unknown
    try {
      createAdmissionController(options as never)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(errorClass)
    // A TypeError is never a RangeError and the other way round.
    expect(thrown).not.toBeInstanceOf(errorClass === TypeError ? RangeError : TypeError)
    const error = thrown as Error & { code?: unknown; option?: unknown }
    expect(error.message).toBe(message)
    expect(error.code).toBe('ERR_SPILLWAY_INVALID_OPTION')
    expect(error.code).toBe(INVALID_OPTION)
    expect(error.option).toBe(option)
  })

  it('has enough cases to mean something', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25)
  })

  it('reports a bad field before any rule relating fields', () => {
    expect(() =>
      createAdmissionController({ defaultPriority: 'urgent', retryAfter: { jitter: -1 } }),
    ).toThrow(expect.objectContaining({ option: 'retryAfter.jitter' }))
    expect(() =>
      createAdmissionController({
        retryAfter: { minSeconds: 10, maxSeconds: 5 },
        pressure: 1 as never,
      }),
    ).toThrow(expect.objectContaining({ option: 'pressure' }))
  })

  it('shortens a long string value in the message', () => {
    expect(() =>
      createAdmissionController({ queue: { order: 'x'.repeat(100) as 'fifo' } }),
    ).toThrow(`got \`"${'x'.repeat(40)}…"\` (string).`)
  })
})

describe('valid options', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 })
  })

  afterEach(() => {
    jest.useRealTimers()
  })

  it('falls back to the defaults for fields given as undefined', async () => {
    const c = createAdmissionController({
      limit: undefined,
      queue: { size: undefined, timeoutMs: undefined, order: undefined },
      priorities: undefined,
      defaultPriority: undefined,
      retryAfter: { minSeconds: undefined, maxSeconds: undefined, jitter: undefined },
      pressure: undefined,
      now: () => Date.now(),
      random: undefined,
    })
    expect(c.priorities).toEqual(['critical', 'normal', 'sheddable'])
    expect(c.stats()).toMatchObject({ limit: 100, pressure: 0 })
    const held = Array.from({ length: 100 }, () => permitOf(c.admit()))
    // Default queue: 100 places, 1000 ms.
    const waiters = Array.from({ length: 100 }, () => track(c.acquire()))
    expect(c.stats().queued).toBe(100)
    expect(rejectionOf(c.admit()).reason).toBe('queueFull')
    jest.advanceTimersByTime(999)
    await flush()
    expect(waiters.some((w) => w.settled)).toBe(false)
    jest.advanceTimersByTime(1)
    await flush()
    expect(waiters.every((w) => w.value?.admitted === false)).toBe(true)
    held[0]?.release()
    expect(permitOf(c.admit({ priority: undefined })).priority).toBe('normal')
  })

  it('keeps 0 as a value rather than replacing it with the default', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 } })
    permitOf(c.admit())
    expect(rejectionOf(c.admit()).reason).toBe('queueFull')
    expect(c.stats().queued).toBe(0)
  })

  it('accepts an object without a prototype and a pressure source that is a class instance', () => {
    class Source {
      level = 0
    }
    const options = Object.assign(Object.create(null) as object, {
      limit: 3,
      pressure: new Source(),
    })
    expect(createAdmissionController(options).stats()).toMatchObject({ limit: 3, pressure: 0 })
  })

  it('freezes its own copy of the priorities', () => {
    const priorities = ['high', 'low']
    const c = createAdmissionController({ priorities, defaultPriority: 'low' })
    priorities.push('extra')
    expect(c.priorities).toEqual(['high', 'low'])
    expect(Object.isFrozen(c.priorities)).toBe(true)
  })
})

describe('any options at all', () => {
  const junk = fc.oneof(
    fc.anything({ maxDepth: 2 }),
    fc.constantFrom(
      0,
      -1,
      1,
      1.5,
      5,
      100,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '',
      'fifo',
      'aimd',
    ),
    fc.constantFrom('fixed', 'gradient2', 'vegas', 'normal', 'critical', null, undefined),
    fc.constant(() => 0),
    fc.array(fc.constantFrom('critical', 'normal', 'sheddable', 'x', '')),
  )
  const nested = fc.oneof(
    junk,
    fc.dictionary(
      fc.constantFrom(
        'size',
        'timeoutMs',
        'order',
        'codelTargetMs',
        'codelIntervalMs',
        'minSeconds',
        'maxSeconds',
        'jitter',
        'algorithm',
        'initial',
        'min',
        'max',
        'limit',
        'backoffRatio',
        'level',
        'close',
        'sise',
      ),
      junk,
    ),
  )
  const options = fc.oneof(
    junk,
    fc.dictionary(
      fc.constantFrom(
        'limit',
        'queue',
        'priorities',
        'defaultPriority',
        'retryAfter',
        'pressure',
        'now',
        'random',
        'lmit',
      ),
      nested,
    ),
  )

  it('either builds a working controller or throws an invalid-option error, never anything else', () => {
    fc.assert(
      fc.property(options, (value) => {
        let controller: ReturnType<typeof createAdmissionController> | undefined
        try {
          controller = createAdmissionController(value as never)
        } catch (error) {
          const e = error as Error & { code?: unknown; option?: unknown }
          expect(e instanceof TypeError || e instanceof RangeError).toBe(true)
          expect(e.code).toBe('ERR_SPILLWAY_INVALID_OPTION')
          expect(typeof e.option).toBe('string')
          expect(e.message).toMatch(/^(Expected `|Unknown option `)/)
          expect(e.message).toContain(`\`${e.option as string}\``)
          return
        }
        const decision = controller.admit()
        expect(decision instanceof Promise || decision.admitted).toBe(true)
        controller.close()
      }),
      { numRuns: 500 },
    )
  })
})
