/**
 * Options of the OpenTelemetry `collectMetrics`, resolved once: unknown keys
 * rejected, each field checked, in the house's error shape.
 */
import type { MeterProvider } from '@opentelemetry/api'
import {
  checkBuckets,
  checkString,
  failOption as fail,
  QUEUE_WAIT_BUCKETS,
  resolveObject,
} from '@spillway/core/internal'

/** Queue-wait buckets in seconds: from 1 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = QUEUE_WAIT_BUCKETS

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
