/**
 * Option checking shared by the controller, the limit algorithms and the
 * adapters. Every message has one shape, after p-queue's:
 *   Expected `queue.codelTargetMs` to be a finite number > 0, got `-5` (number).
 * A wrong type is a `TypeError`; the right type out of range is a `RangeError`.
 */
import { invalidOption } from './errors.js'

/** Renders a given value for an error message, never dumping large objects. */
export function describeValue(value: unknown): string {
  if (value === null) return '`null`'
  if (value === undefined) return '`undefined`'
  if (Array.isArray(value)) return `an array of length ${value.length}`
  switch (typeof value) {
    case 'string':
      return `\`${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}\` (string)`
    case 'number':
    case 'boolean':
    case 'bigint':
      return `\`${String(value)}\` (${typeof value})`
    case 'function':
      return 'a function'
    case 'symbol':
      return `\`${String(value)}\` (symbol)`
    default: {
      // Name the class: "expected an object, got an object" would not say what is wrong.
      const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)
        ?.constructor?.name
      return isPlainObject(value) || typeof name !== 'string' || name === ''
        ? 'an object'
        : `an instance of ${name}`
    }
  }
}

/** Throws the option error in the house shape: ``Expected `x` to be <expected>, got <value>.`` */
export function fail(
  kind: 'type' | 'range',
  option: string,
  expected: string,
  value: unknown,
): never {
  throw invalidOption(
    kind,
    option,
    `Expected \`${option}\` to be ${expected}, got ${describeValue(value)}.`,
  )
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Edit distance, for "did you mean": option names are short, so O(n·m) is fine. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + cost)
      diagonal = above
    }
  }
  return row[b.length] as number
}

function suggest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of allowed) {
    const d = distance(key, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

/**
 * Checks that `value` is a plain object whose keys are all in `defaults`,
 * drops `undefined` fields and returns them spread over `defaults`.
 * `path` is `''` for a top-level argument, which is then called `options`.
 */
export function resolveObject<T extends object>(
  value: unknown,
  path: string,
  defaults: Readonly<T>,
  allowed: readonly string[] = Object.keys(defaults),
): T {
  const name = path === '' ? 'options' : path
  if (value === undefined) return { ...defaults }
  if (!isPlainObject(value)) fail('type', name, 'an object', value)
  const result: Record<string, unknown> = { ...defaults }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      const guess = suggest(key, allowed)
      const hint = guess === undefined ? '' : ` Did you mean \`${join(path, guess)}\`?`
      throw invalidOption(
        'type',
        join(path, key),
        `Unknown option \`${join(path, key)}\`.${hint} Allowed: ${allowed.map((k) => `\`${k}\``).join(', ')}.`,
      )
    }
    const field = value[key]
    if (field !== undefined) result[key] = field
  }
  return result as T
}

export interface NumberRule {
  /** Whole numbers only. */
  integer?: boolean
  min?: number
  /** `min` itself is not allowed. */
  exclusiveMin?: boolean
  max?: number
}

/** "an integer ≥ 0", "a finite number > 0": what a rule allows, for messages. */
export function ruleText(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a finite number'
  const parts: string[] = []
  if (rule.min !== undefined) parts.push(`${rule.exclusiveMin ? '>' : '≥'} ${rule.min}`)
  if (rule.max !== undefined) parts.push(`≤ ${rule.max}`)
  return parts.length === 0 ? kind : `${kind} ${parts.join(' and ')}`
}

export function checkNumber(value: unknown, option: string, rule: NumberRule = {}): number {
  const expected = ruleText(rule)
  if (typeof value !== 'number') fail('type', option, expected, value)
  if (!Number.isFinite(value) || (rule.integer && !Number.isInteger(value))) {
    fail('range', option, expected, value)
  }
  if (rule.min !== undefined && (value < rule.min || (rule.exclusiveMin && value === rule.min))) {
    fail('range', option, expected, value)
  }
  if (rule.max !== undefined && value > rule.max) fail('range', option, expected, value)
  return value
}

export function checkOneOf<T extends string>(
  value: unknown,
  option: string,
  allowed: readonly T[],
): T {
  const expected = `one of ${allowed.map((a) => `\`${JSON.stringify(a)}\``).join(', ')}`
  if (typeof value !== 'string') fail('type', option, expected, value)
  if (!allowed.includes(value as T)) fail('range', option, expected, value)
  return value as T
}

export function checkBoolean(value: unknown, option: string): boolean {
  if (typeof value !== 'boolean') fail('type', option, 'a boolean', value)
  return value
}

export function checkFunction<F extends (...args: never[]) => unknown>(
  value: unknown,
  option: string,
): F {
  if (typeof value !== 'function') fail('type', option, 'a function', value)
  return value as F
}

export function checkString(value: unknown, option: string): string {
  if (typeof value !== 'string') fail('type', option, 'a string', value)
  if (value === '') fail('range', option, 'a non-empty string', value)
  return value
}
