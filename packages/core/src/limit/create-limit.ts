import { invalidOption } from '../errors.js'
import type { LimitAlgorithm } from '../types.js'
import { checkOneOf, describeValue, isPlainObject } from '../validate.js'
import { createFixedLimit, type FixedLimitOptions } from './fixed-limit.js'

/** The `limit` option: a number is a fixed limit; an object selects an algorithm. */
export type LimitOptions = number | FixedLimitOptions

/** Names accepted in `limit.algorithm`. */
export const LIMIT_ALGORITHMS = ['fixed', 'aimd', 'gradient2', 'vegas'] as const

/** One of `LIMIT_ALGORITHMS`. */
export type LimitAlgorithmName = (typeof LIMIT_ALGORITHMS)[number]

/**
 * Validates the controller's `limit` option and builds its algorithm.
 * A number is a fixed limit (an integer ≥ 1); an object is
 * `{ algorithm: 'fixed' | 'aimd' | 'gradient2' | 'vegas', ... }`.
 * `option` names the option in error messages; `now` and `random` are the
 * controller's injected clock and randomness.
 */
export function createLimit(
  value: unknown,
  option = 'limit',
  now?: () => number,
  random?: () => number,
): LimitAlgorithm {
  const context = {
    option,
    ...(now === undefined ? {} : { now }),
    ...(random === undefined ? {} : { random }),
  }
  if (typeof value === 'number') return createFixedLimit(value, context)
  if (!isPlainObject(value)) {
    throw invalidOption(
      'type',
      option,
      `Expected \`${option}\` to be an integer ≥ 1 or an object with \`algorithm\`, got ${describeValue(value)}.`,
    )
  }
  const algorithm = checkOneOf(value.algorithm, `${option}.algorithm`, LIMIT_ALGORITHMS)
  switch (algorithm) {
    case 'fixed':
      return createFixedLimit(value as unknown as FixedLimitOptions, context)
    default:
      throw invalidOption(
        'range',
        `${option}.algorithm`,
        `\`${option}.algorithm\` ${algorithm} is not implemented yet.`,
      )
  }
}
