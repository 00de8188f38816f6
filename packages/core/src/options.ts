import { invalidOption } from './errors.js'
import type { KeyStore } from './key-store.js'
import { createLimit, type LimitOptions } from './limit/index.js'
import { createMemoryKeyStore } from './memory-key-store.js'
import { epochNow } from './timers.js'
import type { LimitAlgorithm, PressureSource } from './types.js'
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  checkString,
  describeValue,
  fail,
  type NumberRule,
  resolveObject,
  ruleText,
} from './validate.js'

/** Serving order within one priority. */
export type QueueOrder = 'fifo' | 'lifo' | 'adaptive'

export interface QueueOptions {
  /**
   * Waiters at most, across all priorities; `0` disables queueing (no free
   * slot → `queueFull`). Memory is bounded by this, never by traffic.
   * `'auto'`: half the limit in force (at least 1), so that waiters wait about
   * half a service time; bounded by the limit's `max`.
   * @default 100 with a fixed limit, `'auto'` with an adaptive one
   */
  size?: number | 'auto' | undefined
  /**
   * Milliseconds a waiter may wait before it leaves with `queueTimeout`. Short
   * on purpose: a request queued for seconds is usually one its client has
   * already given up on. `'auto'`: twice the measured service time (admission
   * to release, averaged over about 50 requests), within [5, 1000] ms; 1000
   * before the first request completes. See `docs/limits.md`, "The queue".
   * @default 1000 with a fixed limit, `'auto'` with an adaptive one
   */
  timeoutMs?: number | 'auto' | undefined
  /**
   * `fifo` serves the oldest waiter of a priority first; `lifo` the newest;
   * `adaptive` is FIFO while the queue keeps emptying and, once it has not
   * been empty for `codelIntervalMs`, LIFO with waiters older than
   * `codelTargetMs` timed out (adaptive LIFO with CoDel, "Fail at Scale").
   * @default 'fifo'
   */
  order?: QueueOrder | undefined
  /**
   * Adaptive order: milliseconds a waiter may wait once a standing queue has formed.
   * @default 5
   */
  codelTargetMs?: number | undefined
  /**
   * Adaptive order: milliseconds the queue must stay non-empty before it counts as standing.
   * @default 100
   */
  codelIntervalMs?: number | undefined
}

export interface RetryAfterOptions {
  /**
   * Smallest `Retry-After`, whole seconds ≥ 1.
   * @default 1
   */
  minSeconds?: number | undefined
  /**
   * Largest `Retry-After`, whole seconds ≥ `minSeconds`.
   * @default 30
   */
  maxSeconds?: number | undefined
  /**
   * Spread added to the computed wait, as a fraction of it (at least one
   * second), so rejected clients do not come back in lockstep.
   * @default 0.5
   */
  jitter?: number | undefined
}

export interface FairnessOptions {
  /**
   * Keys that get a flow of their own at once; keys that become active past
   * this share one overflow flow until their work drains, so a client that
   * sends a fresh key on every request competes as one flow. Raise it when
   * keys come from authenticated identities and more tenants are active at
   * once; each active key costs one small object.
   * @default 8
   */
  maxKeys?: number | undefined
}

export interface PerKeyOptions {
  /**
   * Places one `key` may hold at once, in flight or queued, saturated or not:
   * a number (integer ≥ 1), or a function of the key (a whole number ≥ 0, or
   * `Infinity` for no cap). Over it a request is refused at once with
   * `quota` (429). A function that throws or answers anything else is
   * reported as an `error` event and the request is not capped.
   */
  limit: number | ((key: string) => number)
  /**
   * Where leases are kept: a shared store (e.g. `createRedisStore()` from
   * `@spillway/redis`) caps a key across every process that uses it.
   * @default an in-memory store of this controller (synchronous)
   */
  store?: KeyStore | undefined
}

export interface AdmissionControllerOptions {
  /**
   * Requests in flight at most: a number is a fixed limit; an object picks an
   * adaptive algorithm, e.g. `{ algorithm: 'gradient2' }`.
   * @default 100
   */
  limit?: LimitOptions | undefined
  /** The bounded queue that absorbs bursts. */
  queue?: QueueOptions | undefined
  /**
   * Priority names, highest first. Under pressure the last is shed first.
   * @default ['critical', 'normal', 'sheddable']
   */
  priorities?: readonly string[] | undefined
  /**
   * Priority of a request that names none, or one the controller does not
   * know (a typo or a hostile header never crashes a request nor raises it).
   * @default 'normal'
   */
  defaultPriority?: string | undefined
  /** Bounds of the computed `Retry-After`. */
  retryAfter?: RetryAfterOptions | undefined
  /**
   * Process pressure in [0, 1], e.g. `createPressureMonitor()` from
   * `@spillway/node`. It sheds the lowest priorities first as it rises and
   * caps the limit. The controller calls its `close()` when closed.
   * @default undefined (no pressure signal)
   */
  pressure?: PressureSource | undefined
  /**
   * Decide and count every request, but let it through: `stats().counters.dryRun`
   * predicts what the real decisions would have been (a shadow queue is
   * modelled), so a configuration can be tried on live traffic first.
   * `admit(request, { dryRun })` overrides it per call.
   * @default false
   */
  dryRun?: boolean | undefined
  /**
   * Fair queuing across keys: within a priority, waiters are served
   * round-robin across keys, and a full queue makes room for a lighter key by
   * evicting from the heaviest.
   */
  fairness?: FairnessOptions | undefined
  /**
   * A hard cap on what one `key` holds (a request without a key is never
   * capped). Its store is called with the controller's `reportError` and
   * closed by the controller's `close()`.
   * @default undefined (no cap)
   */
  perKey?: PerKeyOptions | undefined
  /**
   * Milliseconds on one clock, used for service times, queue waits and request
   * deadlines. Injected in tests.
   * @default () => performance.timeOrigin + performance.now() (epoch ms, monotonic)
   */
  now?: (() => number) | undefined
  /**
   * Uniform random in [0, 1). Injected in tests.
   * @default Math.random
   */
  random?: (() => number) | undefined
}

export interface ResolvedOptions {
  readonly limit: LimitAlgorithm
  readonly queueSize: number | 'auto'
  readonly queueTimeoutMs: number | 'auto'
  readonly order: QueueOrder
  readonly codelTargetMs: number
  readonly codelIntervalMs: number
  readonly priorities: readonly string[]
  readonly defaultPriority: string
  readonly minRetryAfterSeconds: number
  readonly maxRetryAfterSeconds: number
  readonly retryAfterJitter: number
  readonly pressure: PressureSource | undefined
  readonly perKey: ResolvedPerKey | undefined
  readonly maxKeys: number
  readonly dryRun: boolean
  readonly now: () => number
  readonly random: () => number
}

export interface ResolvedPerKey {
  readonly limit: number | ((key: string) => number)
  readonly store: KeyStore
}

/** Defaults a user can ship with; each is documented on its option above. */
export const DEFAULTS = Object.freeze({
  limit: 100 as LimitOptions,
  queue: Object.freeze({
    size: 100 as number | 'auto',
    timeoutMs: 1000 as number | 'auto',
    order: 'fifo' as QueueOrder,
    codelTargetMs: 5,
    codelIntervalMs: 100,
  }),
  priorities: Object.freeze(['critical', 'normal', 'sheddable']) as readonly string[],
  defaultPriority: 'normal',
  retryAfter: Object.freeze({ minSeconds: 1, maxSeconds: 30, jitter: 0.5 }),
  pressure: undefined as PressureSource | undefined,
  dryRun: false,
  fairness: Object.freeze({ maxKeys: 8 }),
  perKey: undefined as PerKeyOptions | undefined,
  now: epochNow,
  random: Math.random,
})

/** The queue sized from the limit and the service time: what an adaptive limit gets by default. */
const ADAPTIVE_QUEUE_DEFAULTS = Object.freeze({
  ...DEFAULTS.queue,
  size: 'auto' as number | 'auto',
  timeoutMs: 'auto' as number | 'auto',
})

/** An algorithm other than `fixed` (validated later, by `createLimit`). */
function isAdaptive(limit: unknown): boolean {
  return (
    typeof limit === 'object' &&
    limit !== null &&
    (limit as { algorithm?: unknown }).algorithm !== 'fixed'
  )
}

/** `'auto'`, or a number allowed by `rule`. */
function checkAutoOr(value: unknown, option: string, rule: NumberRule): number | 'auto' {
  if (value === 'auto') return value
  const expected = `\`"auto"\` or ${ruleText(rule)}`
  if (typeof value !== 'number') fail('type', option, expected, value)
  try {
    return checkNumber(value, option, rule)
  } catch {
    return fail('range', option, expected, value)
  }
}

const QUEUE_ORDERS: readonly QueueOrder[] = ['fifo', 'lifo', 'adaptive']
const MAX_PRIORITIES = 16

function checkPriorities(value: unknown): readonly string[] {
  const expected = `a non-empty array of at most ${MAX_PRIORITIES} distinct names`
  if (!Array.isArray(value)) fail('type', 'priorities', expected, value)
  if (value.length === 0 || value.length > MAX_PRIORITIES)
    fail('range', 'priorities', expected, value)
  // Indexed, not forEach: a sparse array's holes must be checked too.
  for (let i = 0; i < value.length; i++) checkString(value[i], `priorities[${i}]`)
  const names = value as string[]
  const duplicate = names.find((name, i) => names.indexOf(name) !== i)
  if (duplicate !== undefined) {
    throw invalidOption(
      'range',
      'priorities',
      `Expected \`priorities\` to be ${expected}, got \`${JSON.stringify(duplicate)}\` twice.`,
    )
  }
  return Object.freeze([...names])
}

function checkPressure(value: unknown): PressureSource | undefined {
  if (value === undefined) return undefined
  const expected = 'an object with a numeric `level` (a PressureSource)'
  if (!isPlainObjectLike(value)) fail('type', 'pressure', expected, value)
  let level: unknown
  try {
    level = (value as { level?: unknown }).level
  } catch (cause) {
    const message = `Expected \`pressure\` to be ${expected}, got ${describeValue(value)} whose \`level\` threw: ${String(cause)}.`
    throw Object.assign(invalidOption('type', 'pressure', message), { cause })
  }
  if (typeof level !== 'number') fail('type', 'pressure', expected, value)
  // Checked now: otherwise a bad `close` would surface only when the controller closes.
  const close = (value as { close?: unknown }).close
  if (close !== undefined) checkFunction(close, 'pressure.close')
  return value as PressureSource
}

const PER_KEY_DEFAULTS: Readonly<PerKeyOptions> = Object.freeze({
  limit: undefined as unknown as number,
  store: undefined,
})

function checkPerKey(value: unknown): ResolvedPerKey | undefined {
  if (value === undefined) return undefined
  const perKey = resolveObject(value, 'perKey', PER_KEY_DEFAULTS)
  const limit = perKey.limit as unknown
  if (typeof limit !== 'function') {
    const expected = 'an integer ≥ 1 or a function of the key'
    if (typeof limit !== 'number') fail('type', 'perKey.limit', expected, limit)
    if (!Number.isInteger(limit) || limit < 1) fail('range', 'perKey.limit', expected, limit)
  }
  return {
    limit: limit as ResolvedPerKey['limit'],
    store: perKey.store === undefined ? createMemoryKeyStore() : checkStore(perKey.store),
  }
}

function checkStore(value: unknown): KeyStore {
  if (!isPlainObjectLike(value) || typeof (value as { acquire?: unknown }).acquire !== 'function') {
    fail('type', 'perKey.store', 'an object with an `acquire` method (a KeyStore)', value)
  }
  // Checked now: a bad optional method would otherwise surface mid-traffic or at close.
  for (const method of ['attach', 'heldBy', 'close'] as const) {
    const member = (value as Record<string, unknown>)[method]
    if (member !== undefined) checkFunction(member, `perKey.store.${method}`)
  }
  return value as KeyStore
}

/** Class instances count too: a pressure monitor is one. */
function isPlainObjectLike(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Resolves and checks the controller's options once, at construction. */
export function resolveOptions(options: unknown): ResolvedOptions {
  const top = resolveObject(options, '', DEFAULTS as AdmissionControllerOptions)
  const queue = resolveObject(
    // `top` is spread over DEFAULTS: a queue not given is DEFAULTS.queue itself.
    top.queue === DEFAULTS.queue ? undefined : top.queue,
    'queue',
    isAdaptive(top.limit) ? ADAPTIVE_QUEUE_DEFAULTS : DEFAULTS.queue,
  )
  const retryAfter = resolveObject(top.retryAfter, 'retryAfter', DEFAULTS.retryAfter)

  // Each field first, then the rules that relate fields.
  const now = checkFunction<() => number>(top.now, 'now')
  const random = checkFunction<() => number>(top.random, 'random')
  const queueSize = checkAutoOr(queue.size, 'queue.size', { integer: true, min: 0 })
  const queueTimeoutMs = checkAutoOr(queue.timeoutMs, 'queue.timeoutMs', {
    min: 0,
    exclusiveMin: true,
  })
  const order = checkOneOf(queue.order, 'queue.order', QUEUE_ORDERS)
  const codelTargetMs = checkNumber(queue.codelTargetMs, 'queue.codelTargetMs', {
    min: 0,
    exclusiveMin: true,
  })
  const codelIntervalMs = checkNumber(queue.codelIntervalMs, 'queue.codelIntervalMs', {
    min: 0,
    exclusiveMin: true,
  })
  const priorities = checkPriorities(top.priorities)
  const defaultPriority = checkString(top.defaultPriority, 'defaultPriority')
  const minSeconds = checkNumber(retryAfter.minSeconds, 'retryAfter.minSeconds', {
    integer: true,
    min: 1,
  })
  const maxSeconds = checkNumber(retryAfter.maxSeconds, 'retryAfter.maxSeconds', {
    integer: true,
    min: 1,
  })
  const jitter = checkNumber(retryAfter.jitter, 'retryAfter.jitter', { min: 0, max: 10 })
  const pressure = checkPressure(top.pressure)
  const perKey = checkPerKey(top.perKey)
  const dryRun = checkBoolean(top.dryRun, 'dryRun')
  const fairness = resolveObject(top.fairness, 'fairness', DEFAULTS.fairness)
  const maxKeys = checkNumber(fairness.maxKeys, 'fairness.maxKeys', { integer: true, min: 1 })
  // Last of the fields: the limit's own cross-field rules run inside it.
  const limit = createLimit(top.limit, 'limit', now, random)

  if (!priorities.includes(defaultPriority)) {
    throw invalidOption(
      'range',
      'defaultPriority',
      `Expected \`defaultPriority\` to be one of \`priorities\` (${priorities
        .map((p) => `\`${JSON.stringify(p)}\``)
        .join(', ')}), got ${describeValue(defaultPriority)}.`,
    )
  }
  if (maxSeconds < minSeconds) {
    throw invalidOption(
      'range',
      'retryAfter.maxSeconds',
      `Expected \`retryAfter.maxSeconds\` to be ≥ \`retryAfter.minSeconds\` (${minSeconds}), got ${describeValue(maxSeconds)}.`,
    )
  }

  return {
    limit,
    queueSize,
    queueTimeoutMs,
    order,
    codelTargetMs,
    codelIntervalMs,
    priorities,
    defaultPriority,
    minRetryAfterSeconds: minSeconds,
    maxRetryAfterSeconds: maxSeconds,
    retryAfterJitter: jitter,
    pressure,
    perKey,
    maxKeys,
    dryRun,
    now,
    random,
  }
}
