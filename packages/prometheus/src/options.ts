/**
 * Options of `collectMetrics`, resolved once: unknown keys rejected, each
 * field checked, in the house's error shape.
 */
import {
  checkBuckets,
  checkString,
  failOption as fail,
  QUEUE_WAIT_BUCKETS,
  resolveObject,
} from '@spillway/core/internal'
import { type Registry, register } from 'prom-client'

/** Queue-wait buckets in seconds: from 1 ms to 10 s. */
export const DEFAULT_BUCKETS: readonly number[] = QUEUE_WAIT_BUCKETS

export interface CollectMetricsOptions {
  /**
   * The prom-client registry to register into.
   * @default prom-client's global `register`
   */
  registry?: Registry | undefined
  /**
   * Value of the `controller` label, telling controllers apart on one registry.
   * @default 'default'
   */
  name?: string | undefined
  /**
   * Upper bounds of the `spillway_queue_wait_seconds` buckets, in seconds,
   * strictly increasing. Controllers sharing a registry share the histogram,
   * so they must agree on its buckets.
   * @default [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  buckets?: readonly number[] | undefined
}

export interface ResolvedCollectOptions {
  readonly registry: Registry
  readonly name: string
  /** `undefined` when not given: the registry's histogram keeps the buckets it has. */
  readonly buckets: readonly number[] | undefined
}

const KEYS = ['registry', 'name', 'buckets'] as const

function isRegistry(value: unknown): value is Registry {
  const r = value as Partial<Record<string, unknown>> | null
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.registerMetric === 'function' &&
    typeof r.getSingleMetric === 'function' &&
    typeof r.removeSingleMetric === 'function'
  )
}

export function resolveCollectOptions(options: unknown): ResolvedCollectOptions {
  const raw = resolveObject<CollectMetricsOptions>(options, '', {}, KEYS)
  const registry = raw.registry ?? register
  if (!isRegistry(registry)) fail('type', 'registry', 'a prom-client Registry', raw.registry)
  return {
    registry,
    name: checkString(raw.name ?? 'default', 'name'),
    buckets: raw.buckets === undefined ? undefined : checkBuckets(raw.buckets),
  }
}
