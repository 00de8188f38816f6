/**
 * Options of the OpenTelemetry `collectMetrics`, resolved once: unknown keys
 * rejected, each field checked, in the house's error shape.
 */
import type { MeterProvider } from '@opentelemetry/api'
import { checkString, failOption as fail, resolveObject } from '@spillway/core/internal'

/** Queue-wait bucket bounds in seconds: from 1 ms (admitted on the next release) to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])

export interface CollectMetricsOptions {
  /**
   * Value of the `controller` attribute, telling controllers apart.
   * @default 'default'
   */
  name?: string | undefined
  /**
   * Where to get the meter from.
   * @default the global one, `metrics.getMeterProvider()` (no-op until an SDK registers one)
   */
  meterProvider?: MeterProvider | undefined
  /**
   * Bucket bounds of the `spillway.queue_wait` histogram, in seconds, strictly
   * increasing: advice to the SDK, which a View may override.
   * @default [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  buckets?: readonly number[] | undefined
}

export interface ResolvedCollectOptions {
  readonly name: string
  readonly meterProvider: MeterProvider | undefined
  readonly buckets: readonly number[]
}

const KEYS = ['name', 'meterProvider', 'buckets'] as const

function checkBuckets(value: unknown): readonly number[] {
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

export function resolveCollectOptions(options: unknown): ResolvedCollectOptions {
  const raw = resolveObject<CollectMetricsOptions>(options, '', {}, KEYS)
  const provider = raw.meterProvider
  if (
    provider !== undefined &&
    typeof (provider as { getMeter?: unknown } | null)?.getMeter !== 'function'
  ) {
    fail('type', 'meterProvider', 'an OpenTelemetry MeterProvider', provider)
  }
  return {
    name: checkString(raw.name ?? 'default', 'name'),
    meterProvider: provider,
    buckets: raw.buckets === undefined ? DEFAULT_BUCKETS : checkBuckets(raw.buckets),
  }
}
