/**
 * `collectMetrics(controller, options)`: exposes one admission controller on a
 * prom-client registry, under the names fixed in the design (see `METRICS`).
 *
 * How it works: the registry gets one metric set, shared by every controller
 * collected into it and reference-counted; each controller adds a source
 * (its name, a `stats()` snapshot taken at most once per scrape, and an event
 * tally for what `stats()` does not break down by priority). Per request, the
 * only work is the tally's increment and, per admission, a bucket increment
 * in a preallocated array; everything else is read at scrape time.
 */
import type { AdmissionController, ControllerStats } from '@spillway/core'
import { invalidOption, tallyEvents } from '@spillway/core/internal'
import type { Registry } from 'prom-client'
import { createMetricSet, type MetricSet, type MetricSource } from './metric-set.js'
import { type CollectMetricsOptions, DEFAULT_BUCKETS, resolveCollectOptions } from './options.js'
import { observeWait, type WaitCounts, waitCounts } from './wait-histogram.js'

const sets = new WeakMap<Registry, MetricSet>()

/** Stops collecting this controller: its series leave the registry at the next scrape. Idempotent. */
export type DisposeMetrics = () => void

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

function sameBuckets(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((bound, i) => bound === b[i])
}

function metricSetFor(registry: Registry, buckets: readonly number[] | undefined): MetricSet {
  let set = sets.get(registry)
  // `registry.clear()` drops our metrics behind our back: start a fresh set.
  if (set !== undefined && !set.isRegisteredIn(registry)) set = undefined
  if (set === undefined) {
    set = createMetricSet(registry, buckets ?? DEFAULT_BUCKETS)
    sets.set(registry, set)
  } else if (buckets !== undefined && !sameBuckets(buckets, set.buckets)) {
    throw invalidOption(
      'range',
      'buckets',
      `Expected \`buckets\` to match the buckets of the spillway_queue_wait_seconds histogram already on this registry ([${set.buckets.join(', ')}]), got [${buckets.join(', ')}]. Controllers sharing a registry share the histogram.`,
    )
  }
  return set
}

/**
 * Registers spillway's metrics for `controller` on a prom-client registry and
 * returns the function that stops collecting it. Gauges are read at scrape
 * time; counters and the histogram count from this call on.
 *
 * @example
 * const controller = createAdmissionController({ limit: 64 })
 * collectMetrics(controller, { name: 'api' })
 * app.get('/metrics', async (_req, res) => {
 *   res.type(register.contentType).send(await register.metrics())
 * })
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
  const { registry, name, buckets } = resolveCollectOptions(options)
  const set = metricSetFor(registry, buckets)
  if (set.sources.has(name)) {
    throw invalidOption(
      'range',
      'name',
      `Expected \`name\` to be unique on this registry, got ${JSON.stringify(name)}, which is already collected: give each controller its own \`name\`.`,
    )
  }

  const priorities = [...controller.priorities]
  const bounds = set.buckets
  const waits = priorities.map((priority) => waitCounts({ controller: name, priority }, bounds))
  const tally = tallyEvents(controller, (i, waitedMs) => {
    observeWait(waits[i] as WaitCounts, bounds, waitedMs / 1000)
  })

  let cached: ControllerStats | undefined
  const source: MetricSource = {
    name,
    priorities,
    tally,
    baseline: controller.stats().counters,
    waits,
    snapshot() {
      if (cached === undefined) {
        cached = controller.stats()
        // Every metric's collect() of one scrape runs in one synchronous pass.
        queueMicrotask(() => {
          cached = undefined
        })
      }
      return cached
    },
  }
  set.sources.set(name, source)

  let disposed = false
  return () => {
    if (disposed) return
    disposed = true
    tally.dispose()
    set.sources.delete(name)
    if (set.sources.size === 0) {
      set.unregister()
      if (sets.get(registry) === set) sets.delete(registry)
    }
  }
}
