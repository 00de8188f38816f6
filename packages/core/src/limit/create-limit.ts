import { invalidOption } from '../errors.js'
import type { LimitAlgorithm } from '../types.js'
import { checkOneOf, describeValue, isPlainObject } from '../validate.js'
import { type AimdLimitOptions, createAimdLimit } from './aimd-limit.js'
import { createFixedLimit, type FixedLimitOptions } from './fixed-limit.js'
import { createGradient2Limit, type Gradient2LimitOptions } from './gradient2-limit.js'
import type { LimitContext } from './limit-context.js'
import { createVegasLimit, type VegasLimitOptions } from './vegas-limit.js'

/** The `limit` option: a number is a fixed limit; an object selects an algorithm. */
export type LimitOptions =
  | number
  | (FixedLimitOptions & { algorithm: 'fixed' })
  | (AimdLimitOptions & { algorithm: 'aimd' })
  | (Gradient2LimitOptions & { algorithm: 'gradient2' })
  | (VegasLimitOptions & { algorithm: 'vegas' })

/** Names accepted in `limit.algorithm`. */
export const LIMIT_ALGORITHMS = Object.freeze(['fixed', 'aimd', 'gradient2', 'vegas'] as const)

/** One of `LIMIT_ALGORITHMS`. */
export type LimitAlgorithmName = (typeof LIMIT_ALGORITHMS)[number]

/**
 * Validates the controller's `limit` option and builds its algorithm.
 * A number is a fixed limit (an integer ≥ 1); an object is
 * `{ algorithm: 'fixed' | 'aimd' | 'gradient2' | 'vegas', ... }`.
 * `option` names the option in error messages. `random` is the controller's
 * injected randomness (probe jitter). `now` is accepted for symmetry with the
 * controller but read by no algorithm: they count samples, and each sample
 * carries its own times.
 * Throws `TypeError`/`RangeError` with code `ERR_SPILLWAY_INVALID_OPTION`.
 */
export function createLimit(
  value: unknown,
  option = 'limit',
  now?: () => number,
  random?: () => number,
): LimitAlgorithm {
  void now
  const context: LimitContext = { option }
  if (random !== undefined) context.random = random
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
    case 'gradient2':
      return createGradient2Limit(value as Gradient2LimitOptions, context)
    case 'vegas':
      return createVegasLimit(value as VegasLimitOptions, context)
    case 'aimd':
      return createAimdLimit(value as AimdLimitOptions, context)
  }
}
