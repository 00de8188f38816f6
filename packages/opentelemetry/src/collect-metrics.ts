/**
 * `collectMetrics(controller, options)`: spillway's metrics through the
 * OpenTelemetry metrics API, for whatever SDK and exporter the app registered.
 *
 * How it works: state (in flight, queued, limit, pressure) is read by one
 * batch observable callback, at collection time, from one `stats()` snapshot;
 * the counters are observable too, read from the controller's own counters
 * and from an event tally for what `stats()` does not break down by priority.
 * Only the queue-wait histogram is recorded per request, with attribute
 * objects built once. Without a registered SDK the API's no-op meter makes all
 * of it nothing.
 *
 * Names are the Prometheus ones with dots, units in UCUM, so an OpenTelemetry
 * Prometheus exporter gives back the Prometheus names: `spillway.admitted`
 * (a monotonic sum) becomes `spillway_admitted_total`, `spillway.queue_wait`
 * in `s` becomes `spillway_queue_wait_seconds`.
 */

import {
  type Attributes,
  type BatchObservableResult,
  type MeterProvider,
  metrics,
  type Observable,
} from '@opentelemetry/api'
import type { AdmissionController, ControllerStats } from '@spillway/core'
import { invalidOption, tallyEvents } from '@spillway/core/internal'
import { type CollectMetricsOptions, resolveCollectOptions } from './options.js'
import { VERSION } from './version.js'

/** The meter's name (the instrumentation scope): this package. */
export const METER_NAME = '@spillway/opentelemetry'

/** Every instrument this package creates: name, kind, unit and attribute keys. */
export const INSTRUMENTS = Object.freeze({
  inFlight: {
    name: 'spillway.requests.in_flight',
    kind: 'gauge',
    unit: '{request}',
    attributes: ['controller'],
    description: 'Requests holding a permit (admitted and not yet released).',
  },
  queued: {
    name: 'spillway.requests.queued',
    kind: 'gauge',
    unit: '{request}',
    attributes: ['controller', 'priority'],
    description: 'Requests waiting in the queue, by priority.',
  },
  limit: {
    name: 'spillway.limit',
    kind: 'gauge',
    unit: '{request}',
    attributes: ['controller'],
    description: "The limit algorithm's current concurrency limit.",
  },
  effectiveLimit: {
    name: 'spillway.effective_limit',
    kind: 'gauge',
    unit: '{request}',
    attributes: ['controller'],
    description: 'The concurrency limit in force: spillway.limit capped by process pressure.',
  },
  pressure: {
    name: 'spillway.pressure',
    kind: 'gauge',
    unit: '1',
    attributes: ['controller'],
    description: 'Process pressure level in [0, 1] (0 without a pressure source).',
  },
  activeKeys: {
    name: 'spillway.active_keys',
    kind: 'gauge',
    unit: '{key}',
    attributes: ['controller'],
    description: 'Distinct keys (tenants) holding in-flight or queued work.',
  },
  draining: {
    name: 'spillway.draining',
    kind: 'gauge',
    unit: '1',
    attributes: ['controller'],
    description: '1 once close() was called (draining, not ready), else 0.',
  },
  admitted: {
    name: 'spillway.admitted',
    kind: 'counter',
    unit: '{request}',
    attributes: ['controller', 'priority'],
    description: 'Requests admitted (at once or after queueing), by priority.',
  },
  rejected: {
    name: 'spillway.rejected',
    kind: 'counter',
    unit: '{request}',
    attributes: ['controller', 'priority', 'reason'],
    description: 'Requests rejected, by priority and reason.',
  },
  released: {
    name: 'spillway.released',
    kind: 'counter',
    unit: '{request}',
    attributes: ['controller', 'outcome'],
    description: 'Permits released, by outcome (success, failure, ignore).',
  },
  errors: {
    name: 'spillway.errors',
    kind: 'counter',
    unit: '{error}',
    attributes: ['controller'],
    description: 'Errors reported to the controller (user hooks that threw, pressure sources).',
  },
  queueWait: {
    name: 'spillway.queue_wait',
    kind: 'histogram',
    unit: 's',
    attributes: ['controller', 'priority'],
    description: 'Time admitted requests spent queued (0 when admitted at once).',
  },
} as const)

/** Stops collecting this controller. Idempotent. */
export type DisposeMetrics = () => void

/** Controller names in use, per meter provider: two sources of one series would be summed. */
const namesInUse = new WeakMap<MeterProvider, Set<string>>()

function isController(value: unknown): value is AdmissionController {
  const c = value as Partial<Record<string, unknown>> | null
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.stats === 'function' &&
    typeof c.on === 'function' &&
    Array.isArray(c.priorities)
  )
}

/**
 * Reports `controller` through the OpenTelemetry metrics API and returns the
 * function that stops it. Uses the global meter provider unless one is given:
 * call it after the SDK is started, since the API hands out no-op meters before.
 *
 * @example
 * const controller = createAdmissionController({ limit: 64 })
 * collectMetrics(controller, { name: 'api' })
 */
export function collectMetrics(
  controller: AdmissionController,
  options?: CollectMetricsOptions,
): DisposeMetrics {
  if (!isController(controller)) {
    throw invalidOption(
      'type',
      'controller',
      'Expected `controller` to be an admission controller (from createAdmissionController, or `.controller` of a shed() middleware).',
    )
  }
  const { name, buckets, meterProvider } = resolveCollectOptions(options)
  const provider = meterProvider ?? metrics.getMeterProvider()
  const names = namesInUse.get(provider) ?? new Set<string>()
  if (names.has(name)) {
    throw invalidOption(
      'range',
      'name',
      `Expected \`name\` to be unique on this meter provider, got ${JSON.stringify(name)}, which is already collected: give each controller its own \`name\`.`,
    )
  }
  const meter = provider.getMeter(METER_NAME, VERSION)

  const gauge = (spec: (typeof INSTRUMENTS)[keyof typeof INSTRUMENTS]) =>
    meter.createObservableGauge(spec.name, { description: spec.description, unit: spec.unit })
  const counter = (spec: (typeof INSTRUMENTS)[keyof typeof INSTRUMENTS]) =>
    meter.createObservableCounter(spec.name, { description: spec.description, unit: spec.unit })
  const inFlight = gauge(INSTRUMENTS.inFlight)
  const queued = gauge(INSTRUMENTS.queued)
  const limit = gauge(INSTRUMENTS.limit)
  const effectiveLimit = gauge(INSTRUMENTS.effectiveLimit)
  const pressure = gauge(INSTRUMENTS.pressure)
  const activeKeys = gauge(INSTRUMENTS.activeKeys)
  const draining = gauge(INSTRUMENTS.draining)
  const admitted = counter(INSTRUMENTS.admitted)
  const rejected = counter(INSTRUMENTS.rejected)
  const released = counter(INSTRUMENTS.released)
  const errors = counter(INSTRUMENTS.errors)
  const queueWait = meter.createHistogram(INSTRUMENTS.queueWait.name, {
    description: INSTRUMENTS.queueWait.description,
    unit: INSTRUMENTS.queueWait.unit,
    advice: { explicitBucketBoundaries: [...buckets] },
  })

  const priorities = [...controller.priorities]
  const own: Attributes = { controller: name }
  const byPriority: Attributes[] = priorities.map((priority) => ({ controller: name, priority }))
  const tally = tallyEvents(controller, (i, waitedMs) => {
    queueWait.record(waitedMs / 1000, byPriority[i])
  })
  const baseline = controller.stats().counters

  const observe = (result: BatchObservableResult): void => {
    const stats: ControllerStats = controller.stats()
    result.observe(inFlight, stats.inFlight, own)
    priorities.forEach((priority, i) => {
      result.observe(queued, stats.queuedByPriority[priority] ?? 0, byPriority[i])
      result.observe(admitted, tally.admitted[i] ?? 0, byPriority[i])
      for (const [reason, row] of tally.rejected) {
        result.observe(rejected, row[i] ?? 0, { controller: name, priority, reason })
      }
    })
    result.observe(limit, stats.limit, own)
    result.observe(effectiveLimit, stats.effectiveLimit, own)
    result.observe(pressure, stats.pressure, own)
    result.observe(activeKeys, stats.activeKeys, own)
    result.observe(draining, stats.closed ? 1 : 0, own)
    for (const [outcome, n] of Object.entries(stats.counters.released)) {
      const base = (baseline.released as Readonly<Record<string, number>>)[outcome] ?? 0
      result.observe(released, n - base, { controller: name, outcome })
    }
    result.observe(errors, stats.counters.errors - baseline.errors, own)
  }
  const observables: Observable[] = [
    inFlight,
    queued,
    limit,
    effectiveLimit,
    pressure,
    activeKeys,
    draining,
    admitted,
    rejected,
    released,
    errors,
  ]
  meter.addBatchObservableCallback(observe, observables)
  names.add(name)
  namesInUse.set(provider, names)

  let disposed = false
  return () => {
    if (disposed) return
    disposed = true
    tally.dispose()
    meter.removeBatchObservableCallback(observe, observables)
    names.delete(name)
  }
}
