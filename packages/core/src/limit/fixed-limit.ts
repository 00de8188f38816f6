/**
 * How it works: the limit never changes. Samples are accepted and ignored, so a
 * fixed limit can stand wherever an adaptive one can (tests, benchmarks, a
 * server whose capacity is known).
 */
import type { LimitAlgorithm, LimitSample } from '../types.js'
import { checkNumber, fail, isPlainObject, resolveObject } from '../validate.js'
import type { LimitContext } from './limit-context.js'

/** Options of `{ algorithm: 'fixed', limit }`; a bare number means the same. */
export interface FixedLimitOptions {
  /** Selects this algorithm inside the controller's `limit` option. */
  algorithm?: 'fixed'
  /** Requests allowed in flight at once, an integer ≥ 1. */
  limit: number
}

const FIXED_KEYS = ['algorithm', 'limit'] as const

/**
 * A limit that never moves. Accepts a number or `{ algorithm?: 'fixed', limit }`.
 * Throws `TypeError`/`RangeError` (code `ERR_SPILLWAY_INVALID_OPTION`) for anything else.
 */
export function createFixedLimit(
  options: number | FixedLimitOptions,
  context: LimitContext = {},
): LimitAlgorithm {
  const option = context.option ?? 'limit'
  let limit: number
  if (typeof options === 'number') {
    limit = checkNumber(options, option, { integer: true, min: 1 })
  } else {
    if (!isPlainObject(options)) fail('type', option, 'an object', options)
    const resolved = resolveObject<Partial<FixedLimitOptions>>(options, option, {}, FIXED_KEYS)
    if (resolved.algorithm !== undefined && resolved.algorithm !== 'fixed') {
      fail('range', `${option}.algorithm`, '`"fixed"`', resolved.algorithm)
    }
    limit = checkNumber(resolved.limit, `${option}.limit`, { integer: true, min: 1 })
  }
  return new FixedLimit(limit)
}

class FixedLimit implements LimitAlgorithm {
  readonly limit: number

  constructor(limit: number) {
    this.limit = limit
  }

  onSample(_sample: LimitSample): void {}
}
