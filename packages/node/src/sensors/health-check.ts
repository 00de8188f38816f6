/**
 * The user's health check as a reader: a number is a pressure in [0, 1]
 * (clamped), `true` is healthy (0) and `false` overloaded (1). Anything else
 * (a promise, `undefined`) is a failed read.
 */
import type { HealthCheck } from '../pressure-options.js'
import type { SignalReader } from './pressure-signal.js'

export function healthCheckReader(check: HealthCheck): SignalReader {
  return {
    expected: 'a number in [0, 1] or a boolean, synchronously',
    read: () => {
      const result: unknown = check()
      if (typeof result === 'boolean') return result ? 0 : 1
      // Clamped: the check speaks the level's scale, and a slightly-out-of-range answer is not an error.
      return typeof result === 'number' ? Math.min(1, Math.max(0, result)) : result
    },
  }
}
