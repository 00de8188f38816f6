/** The queue-wait histogram's bucket bounds, shared by the metrics packages. */
import { fail } from './validate.js'

/** Queue-wait buckets in seconds: from 1 ms (a waiter admitted on the next release) to 10 s. */
export const QUEUE_WAIT_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])

/** Checks a `buckets` option: a non-empty, strictly increasing array of finite numbers > 0. */
export function checkBuckets(value: unknown): readonly number[] {
  const expected = 'a non-empty array of finite numbers > 0 in increasing order'
  if (!Array.isArray(value)) fail('type', 'buckets', expected, value)
  const bounds = value as unknown[]
  if (bounds.length === 0) fail('range', 'buckets', expected, value)
  let previous = 0
  for (const bound of bounds) {
    if (typeof bound !== 'number') fail('type', 'buckets', expected, bound)
    if (!Number.isFinite(bound) || bound <= previous) fail('range', 'buckets', expected, bound)
    previous = bound as number
  }
  return Object.freeze([...(bounds as number[])])
}
