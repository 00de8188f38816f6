import fc from 'fast-check'
import { INVALID_OPTION } from '../../src/errors.js'
import {
  createAimdLimit,
  createFixedLimit,
  createGradient2Limit,
  createLimit,
  createVegasLimit,
} from '../../src/limit/index.js'
import type { LimitAlgorithm } from '../../src/types.js'

function thrown(run: () => unknown): Error & { code?: string; option?: string } {
  try {
    run()
  } catch (error) {
    return error as Error & { code?: string; option?: string }
  }
  throw new Error('expected a throw')
}

describe('createLimit', () => {
  it('builds a fixed limit from a number, which no sample moves', () => {
    const limit = createLimit(7)
    expect(limit.limit).toBe(7)
    limit.onSample({ startMs: 0, rttMs: 60_000, inFlight: 7, didDrop: true })
    limit.onSample({ startMs: 0, rttMs: 1, inFlight: 7, didDrop: false })
    expect(limit.limit).toBe(7)
  })

  it('builds a fixed limit from { algorithm: "fixed", limit }', () => {
    expect(createLimit({ algorithm: 'fixed', limit: 3 }).limit).toBe(3)
    expect(createFixedLimit({ limit: 5 }).limit).toBe(5)
  })

  it.each([
    ['aimd', 20],
    ['gradient2', 10],
    ['vegas', 10],
  ])('builds %s starting at its default initial limit of %d', (algorithm, initial) => {
    expect(createLimit({ algorithm }).limit).toBe(initial)
  })

  it('clamps a defaulted initial limit into [min, max] but rejects a given one outside it', () => {
    expect(createLimit({ algorithm: 'aimd', max: 10 }).limit).toBe(10)
    expect(createLimit({ algorithm: 'gradient2', max: 5 }).limit).toBe(5)
    expect(createLimit({ algorithm: 'vegas', min: 50 }).limit).toBe(50)
    expect(() => createLimit({ algorithm: 'gradient2', max: 10, initial: 20 })).toThrow(RangeError)
  })

  it('ignores undefined fields, as if they were not given', () => {
    expect(createLimit({ algorithm: 'aimd', initial: undefined, max: 10 }).limit).toBe(10)
  })

  const invalid: [string, unknown, typeof TypeError | typeof RangeError, string, string][] = [
    ['zero', 0, RangeError, 'limit', 'Expected `limit` to be an integer ≥ 1, got `0` (number).'],
    [
      'a fraction',
      2.5,
      RangeError,
      'limit',
      'Expected `limit` to be an integer ≥ 1, got `2.5` (number).',
    ],
    [
      'NaN',
      Number.NaN,
      RangeError,
      'limit',
      'Expected `limit` to be an integer ≥ 1, got `NaN` (number).',
    ],
    [
      'a string',
      'fast',
      TypeError,
      'limit',
      'Expected `limit` to be an integer ≥ 1 or an object with `algorithm`, got `"fast"` (string).',
    ],
    [
      'null',
      null,
      TypeError,
      'limit',
      'Expected `limit` to be an integer ≥ 1 or an object with `algorithm`, got `null`.',
    ],
    [
      'an array',
      [],
      TypeError,
      'limit',
      'Expected `limit` to be an integer ≥ 1 or an object with `algorithm`, got an array of length 0.',
    ],
    [
      'no algorithm',
      {},
      TypeError,
      'limit.algorithm',
      'Expected `limit.algorithm` to be one of `"fixed"`, `"aimd"`, `"gradient2"`, `"vegas"`, got `undefined`.',
    ],
    [
      'an unknown algorithm',
      { algorithm: 'cubic' },
      RangeError,
      'limit.algorithm',
      'Expected `limit.algorithm` to be one of `"fixed"`, `"aimd"`, `"gradient2"`, `"vegas"`, got `"cubic"` (string).',
    ],
    [
      'fixed without limit',
      { algorithm: 'fixed' },
      TypeError,
      'limit.limit',
      'Expected `limit.limit` to be an integer ≥ 1, got `undefined`.',
    ],
    [
      'a misspelt fixed key',
      { algorithm: 'fixed', limt: 3 },
      TypeError,
      'limit.limt',
      'Unknown option `limit.limt`. Did you mean `limit.limit`? Allowed: `algorithm`, `limit`.',
    ],
    [
      'a misspelt aimd key',
      { algorithm: 'aimd', backoffRatoi: 0.5 },
      TypeError,
      'limit.backoffRatoi',
      'Unknown option `limit.backoffRatoi`. Did you mean `limit.backoffRatio`? Allowed: `algorithm`, `initial`, `min`, `max`, `backoffRatio`, `timeoutMs`.',
    ],
    [
      'min 0',
      { algorithm: 'aimd', min: 0 },
      RangeError,
      'limit.min',
      'Expected `limit.min` to be an integer ≥ 1, got `0` (number).',
    ],
    [
      'max below min',
      { algorithm: 'aimd', min: 10, max: 5 },
      RangeError,
      'limit.max',
      'Expected `limit.max` to be ≥ `limit.min` (10), got `5` (number).',
    ],
    [
      'initial above max',
      { algorithm: 'aimd', initial: 300 },
      RangeError,
      'limit.initial',
      'Expected `limit.initial` to be between `limit.min` (1) and `limit.max` (200), got `300` (number).',
    ],
    [
      'initial below min',
      { algorithm: 'vegas', initial: 3, min: 5 },
      RangeError,
      'limit.initial',
      'Expected `limit.initial` to be between `limit.min` (5) and `limit.max` (1000), got `3` (number).',
    ],
    [
      'backoffRatio 1',
      { algorithm: 'aimd', backoffRatio: 1 },
      RangeError,
      'limit.backoffRatio',
      'Expected `limit.backoffRatio` to be a finite number ≥ 0.5 and < 1, got `1` (number).',
    ],
    [
      'backoffRatio as a string',
      { algorithm: 'aimd', backoffRatio: '0.9' },
      TypeError,
      'limit.backoffRatio',
      'Expected `limit.backoffRatio` to be a finite number ≥ 0.5 and < 1, got `"0.9"` (string).',
    ],
    [
      'timeoutMs 0',
      { algorithm: 'aimd', timeoutMs: 0 },
      RangeError,
      'limit.timeoutMs',
      'Expected `limit.timeoutMs` to be a finite number > 0, got `0` (number).',
    ],
    [
      'a bad field alongside a bad cross-field rule',
      { algorithm: 'aimd', min: 10, max: 5, backoffRatio: 2 },
      RangeError,
      'limit.backoffRatio',
      'Expected `limit.backoffRatio` to be a finite number ≥ 0.5 and < 1, got `2` (number).',
    ],
    [
      'smoothing 0',
      { algorithm: 'gradient2', smoothing: 0 },
      RangeError,
      'limit.smoothing',
      'Expected `limit.smoothing` to be a finite number > 0 and ≤ 1, got `0` (number).',
    ],
    [
      'a negative queueSize',
      { algorithm: 'gradient2', queueSize: -1 },
      RangeError,
      'limit.queueSize',
      'Expected `limit.queueSize` to be a finite number ≥ 0, got `-1` (number).',
    ],
    [
      'a fractional longWindow',
      { algorithm: 'gradient2', longWindow: 1.5 },
      RangeError,
      'limit.longWindow',
      'Expected `limit.longWindow` to be an integer ≥ 2, got `1.5` (number).',
    ],
    [
      'probeMultiplier 0',
      { algorithm: 'gradient2', probeMultiplier: 0 },
      RangeError,
      'limit.probeMultiplier',
      'Expected `limit.probeMultiplier` to be an integer ≥ 1, got `0` (number).',
    ],
    [
      'a fractional initial',
      { algorithm: 'gradient2', initial: 0.5 },
      RangeError,
      'limit.initial',
      'Expected `limit.initial` to be an integer ≥ 1, got `0.5` (number).',
    ],
    [
      'alpha 1',
      { algorithm: 'vegas', alpha: 1 },
      RangeError,
      'limit.alpha',
      'Expected `limit.alpha` to be a finite number > 1, got `1` (number).',
    ],
    [
      'beta below alpha',
      { algorithm: 'vegas', alpha: 5, beta: 4 },
      RangeError,
      'limit.beta',
      'Expected `limit.beta` to be ≥ `limit.alpha` (5), got `4` (number).',
    ],
    [
      'a misspelt vegas key',
      { algorithm: 'vegas', probeMultiplyer: 3 },
      TypeError,
      'limit.probeMultiplyer',
      'Unknown option `limit.probeMultiplyer`. Did you mean `limit.probeMultiplier`? Allowed: `algorithm`, `initial`, `min`, `max`, `alpha`, `beta`, `probeMultiplier`, `backoffRatio`.',
    ],
  ]

  it.each(invalid)(
    'rejects %s with an error naming the option, the value and what is allowed',
    (_, value, kind, option, message) => {
      const error = thrown(() => createLimit(value))
      expect(error).toBeInstanceOf(kind)
      expect(error.message).toBe(message)
      expect(error.code).toBe(INVALID_OPTION)
      expect(error.option).toBe(option)
    },
  )

  it('names the option by the path it is given', () => {
    const error = thrown(() => createLimit({ algorithm: 'aimd', min: 0 }, 'routes.limit'))
    expect(error.message).toBe(
      'Expected `routes.limit.min` to be an integer ≥ 1, got `0` (number).',
    )
    expect(error.option).toBe('routes.limit.min')
  })

  it('rejects options for another algorithm given to a direct factory', () => {
    const error = thrown(() => createAimdLimit({ algorithm: 'vegas' } as never))
    expect(error.message).toBe('Expected `limit.algorithm` to be `"aimd"`, got `"vegas"` (string).')
  })
})

describe('every adaptive limit', () => {
  const factories: [string, (min: number, max: number) => LimitAlgorithm][] = [
    ['aimd', (min, max) => createAimdLimit({ min, max, timeoutMs: 50 })],
    [
      'gradient2',
      (min, max) => createGradient2Limit({ min, max, probeMultiplier: 1 }, { random: () => 0.5 }),
    ],
    [
      'vegas',
      (min, max) => createVegasLimit({ min, max, probeMultiplier: 1 }, { random: () => 0.5 }),
    ],
  ]
  const sample = fc.record({
    startMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
    rttMs: fc.oneof(
      fc.double({ min: 0, max: 200, noNaN: true }),
      fc.constantFrom(Number.NaN, -1, 0, Number.POSITIVE_INFINITY),
    ),
    inFlight: fc.integer({ min: 1, max: 300 }),
    didDrop: fc.boolean(),
  })

  it.each(factories)(
    '%s keeps its limit an integer within [min, max] whatever it is fed',
    (_, make) => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 50 }),
          fc.integer({ min: 0, max: 100 }),
          fc.array(sample, { maxLength: 400 }),
          (min, extra, samples) => {
            const limit = make(min, min + extra)
            for (const s of samples) {
              limit.onSample(s)
              const value = limit.limit
              if (!Number.isInteger(value) || value < min || value > min + extra) return false
            }
            return true
          },
        ),
        { numRuns: 200 },
      )
    },
  )
})
