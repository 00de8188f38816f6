/** The `initial`, `min` and `max` options every adaptive limit shares, and clamping to them. */
import { checkNumber, fail } from '../validate.js'

/** Range of an adaptive limit; every field is an integer ≥ 1. */
export interface LimitBounds {
  initial: number
  min: number
  max: number
}

/** Checks each bound on its own; cross-field rules come later, in `checkBoundsOrder`. */
export function checkBoundFields(
  resolved: { initial: number; min: number; max: number },
  option: string,
): void {
  checkNumber(resolved.initial, `${option}.initial`, { integer: true, min: 1 })
  checkNumber(resolved.min, `${option}.min`, { integer: true, min: 1 })
  checkNumber(resolved.max, `${option}.max`, { integer: true, min: 1 })
}

/**
 * Cross-field rules: `min ≤ max`, and `min ≤ initial ≤ max` when `initial` was
 * given. A defaulted `initial` is clamped into `[min, max]` instead, so
 * `{ max: 10 }` alone is valid.
 */
export function checkBoundsOrder(
  resolved: LimitBounds,
  initialGiven: boolean,
  option: string,
): LimitBounds {
  const { min, max } = resolved
  if (max < min) fail('range', `${option}.max`, `≥ \`${option}.min\` (${min})`, max)
  let initial = resolved.initial
  if (initialGiven) {
    if (initial < min || initial > max) {
      fail(
        'range',
        `${option}.initial`,
        `between \`${option}.min\` (${min}) and \`${option}.max\` (${max})`,
        initial,
      )
    }
  } else {
    initial = clamp(initial, min, max)
  }
  return { initial, min, max }
}

/** `value` limited to `[min, max]`. */
export function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value))
}

/** The limit the controller reads: a whole number in `[min, max]` (hence ≥ 1). */
export function toLimit(estimate: number, min: number, max: number): number {
  return clamp(Math.floor(estimate), min, max)
}

/** `limit.algorithm`, when present in an algorithm's own options, must name that algorithm. */
export function checkAlgorithmName(value: unknown, option: string, name: string): void {
  if (value !== name) {
    fail(
      typeof value === 'string' ? 'range' : 'type',
      `${option}.algorithm`,
      `\`${JSON.stringify(name)}\``,
      value,
    )
  }
}

/** A ratio in `[min, 1)`: 1 itself would mean "never change". */
export function checkRatio(value: unknown, option: string, min: number): number {
  const expected = `a finite number ≥ ${min} and < 1`
  if (typeof value !== 'number') fail('type', option, expected, value)
  if (!Number.isFinite(value) || value < min || value >= 1) fail('range', option, expected, value)
  return value
}
