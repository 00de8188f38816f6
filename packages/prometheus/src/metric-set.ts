/**
 * The spillway metrics of one registry, shared by every controller collected
 * into it: prom-client allows one metric object per name and registry, so
 * controllers are told apart by the `controller` label instead.
 *
 * How it works: gauges and counters are filled in prom-client's `collect()`,
 * at scrape time, from each controller's `stats()` (one snapshot per
 * controller per scrape, so `in_flight` and `limit` come from the same
 * instant) and from its event tally; a disposed controller's series vanish at
 * the next scrape. Only the queue-wait histogram is written per request. The
 * set unregisters itself when its last controller is disposed.
 */
import type { ControllerStats } from '@spillway/core'
import type { EventTally } from '@spillway/core/internal'
import { Counter, Gauge, type Registry } from 'prom-client'
import { type WaitCounts, WaitHistogram } from './wait-histogram.js'

/** One collected controller, as the metric set reads it. */
export interface MetricSource {
  readonly name: string
  readonly priorities: readonly string[]
  readonly tally: EventTally
  /** `stats()`, at most once per scrape. */
  snapshot(): ControllerStats
  /** `stats().counters` when `collectMetrics` was called: counters count from then. */
  readonly baseline: ControllerStats['counters']
  /** Queue waits per priority index. */
  readonly waits: readonly WaitCounts[]
}

/** Every metric this package exports: name, type, labels and help. */
export const METRICS = Object.freeze({
  inFlight: {
    name: 'spillway_requests_in_flight',
    type: 'gauge',
    labels: ['controller'],
    help: 'Requests holding a permit (admitted and not yet released).',
  },
  queued: {
    name: 'spillway_requests_queued',
    type: 'gauge',
    labels: ['controller', 'priority'],
    help: 'Requests waiting in the queue, by priority.',
  },
  limit: {
    name: 'spillway_limit',
    type: 'gauge',
    labels: ['controller'],
    help: "The limit algorithm's current concurrency limit.",
  },
  effectiveLimit: {
    name: 'spillway_effective_limit',
    type: 'gauge',
    labels: ['controller'],
    help: 'The concurrency limit in force: spillway_limit capped by process pressure.',
  },
  pressure: {
    name: 'spillway_pressure',
    type: 'gauge',
    labels: ['controller'],
    help: 'Process pressure level in [0, 1] (0 without a pressure source).',
  },
  activeKeys: {
    name: 'spillway_active_keys',
    type: 'gauge',
    labels: ['controller'],
    help: 'Distinct keys (tenants) holding in-flight or queued work.',
  },
  draining: {
    name: 'spillway_draining',
    type: 'gauge',
    labels: ['controller'],
    help: '1 once close() was called (draining, not ready), else 0.',
  },
  admitted: {
    name: 'spillway_admitted_total',
    type: 'counter',
    labels: ['controller', 'priority'],
    help: 'Requests admitted (at once or after queueing), by priority.',
  },
  rejected: {
    name: 'spillway_rejected_total',
    type: 'counter',
    labels: ['controller', 'priority', 'reason'],
    help: 'Requests rejected, by priority and reason.',
  },
  released: {
    name: 'spillway_released_total',
    type: 'counter',
    labels: ['controller', 'outcome'],
    help: 'Permits released, by outcome (success, failure, ignore).',
  },
  errors: {
    name: 'spillway_errors_total',
    type: 'counter',
    labels: ['controller'],
    help: 'Errors reported to the controller (user hooks that threw, pressure source failures).',
  },
  dryRunRejected: {
    name: 'spillway_dry_run_rejected_total',
    type: 'counter',
    labels: ['controller', 'reason'],
    help: 'Dry-run requests that would have been rejected, by reason (they were let through).',
  },
  dryRunQueued: {
    name: 'spillway_dry_run_queued_total',
    type: 'counter',
    labels: ['controller'],
    help: 'Dry-run requests that would have waited in the queue (they were let through).',
  },
  queueWait: {
    name: 'spillway_queue_wait_seconds',
    type: 'histogram',
    labels: ['controller', 'priority'],
    help: 'Time admitted requests spent queued, in seconds (0 when admitted at once).',
  },
} as const)

type Label = 'controller' | 'priority' | 'reason' | 'outcome'

export interface MetricSet {
  readonly sources: Map<string, MetricSource>
  readonly buckets: readonly number[]
  /** True while its metrics are still the ones registered (not cleared by `registry.clear()`). */
  isRegisteredIn(registry: Registry): boolean
  /** Removes every metric from the registry. */
  unregister(): void
}

export function createMetricSet(registry: Registry, buckets: readonly number[]): MetricSet {
  for (const spec of Object.values(METRICS)) {
    if (registry.getSingleMetric(spec.name) !== undefined) {
      throw new Error(
        `A metric named ${spec.name} is already registered on this registry, not by @spillway/prometheus: remove it or collect into another registry.`,
      )
    }
  }
  const sources = new Map<string, MetricSource>()
  const registers = [registry]
  const all: Array<{ metric: object; name: string }> = []
  const track = <M extends object>(name: string, metric: M): M => {
    all.push({ metric, name })
    return metric
  }

  const gauge = (
    spec: (typeof METRICS)[keyof typeof METRICS],
    fill: (gauge: Gauge<Label>, source: MetricSource, stats: ControllerStats) => void,
  ): Gauge<Label> =>
    track(
      spec.name,
      new Gauge<Label>({
        name: spec.name,
        help: spec.help,
        labelNames: spec.labels as readonly Label[],
        registers,
        collect() {
          this.reset()
          for (const source of sources.values()) fill(this, source, source.snapshot())
        },
      }),
    )
  const counter = (
    spec: (typeof METRICS)[keyof typeof METRICS],
    fill: (counter: Counter<Label>, source: MetricSource, stats: ControllerStats) => void,
  ): Counter<Label> =>
    track(
      spec.name,
      new Counter<Label>({
        name: spec.name,
        help: spec.help,
        labelNames: spec.labels as readonly Label[],
        registers,
        collect() {
          this.reset()
          for (const source of sources.values()) fill(this, source, source.snapshot())
        },
      }),
    )

  const single =
    (read: (stats: ControllerStats) => number) =>
    (g: Gauge<Label>, source: MetricSource, stats: ControllerStats): void =>
      g.set({ controller: source.name }, read(stats))

  gauge(
    METRICS.inFlight,
    single((s) => s.inFlight),
  )
  gauge(METRICS.queued, (g, source, stats) => {
    for (const priority of source.priorities) {
      g.set({ controller: source.name, priority }, stats.queuedByPriority[priority] ?? 0)
    }
  })
  gauge(
    METRICS.limit,
    single((s) => s.limit),
  )
  gauge(
    METRICS.effectiveLimit,
    single((s) => s.effectiveLimit),
  )
  gauge(
    METRICS.pressure,
    single((s) => s.pressure),
  )
  gauge(
    METRICS.activeKeys,
    single((s) => s.activeKeys),
  )
  gauge(
    METRICS.draining,
    single((s) => (s.closed ? 1 : 0)),
  )
  counter(METRICS.admitted, (c, source) => {
    source.priorities.forEach((priority, i) => {
      c.inc({ controller: source.name, priority }, source.tally.admitted[i] ?? 0)
    })
  })
  counter(METRICS.rejected, (c, source) => {
    for (const [reason, row] of source.tally.rejected) {
      source.priorities.forEach((priority, i) => {
        c.inc({ controller: source.name, priority, reason }, row[i] ?? 0)
      })
    }
  })
  counter(METRICS.released, (c, source, stats) => {
    const now = stats.counters.released
    const base = source.baseline.released
    for (const outcome of Object.keys(now) as Array<keyof typeof now>) {
      c.inc({ controller: source.name, outcome }, now[outcome] - (base[outcome] ?? 0))
    }
  })
  counter(METRICS.errors, (c, source, stats) => {
    c.inc({ controller: source.name }, stats.counters.errors - source.baseline.errors)
  })
  counter(METRICS.dryRunRejected, (c, source, stats) => {
    const now = stats.counters.dryRun.wouldReject
    const base = source.baseline.dryRun.wouldReject as Readonly<Record<string, number>>
    for (const [reason, n] of Object.entries(now)) {
      c.inc({ controller: source.name, reason }, n - (base[reason] ?? 0))
    }
  })
  counter(METRICS.dryRunQueued, (c, source, stats) => {
    c.inc(
      { controller: source.name },
      stats.counters.dryRun.wouldQueue - source.baseline.dryRun.wouldQueue,
    )
  })
  track(
    METRICS.queueWait.name,
    new WaitHistogram<Label>(
      {
        name: METRICS.queueWait.name,
        help: METRICS.queueWait.help,
        labelNames: METRICS.queueWait.labels as readonly Label[],
        registers,
      },
      buckets,
      function* () {
        for (const source of sources.values()) yield* source.waits
      },
    ),
  )

  return {
    sources,
    buckets,
    isRegisteredIn: (r) => r.getSingleMetric(METRICS.inFlight.name) === all[0]?.metric,
    unregister() {
      for (const { metric, name } of all) {
        // Only our own: a registry cleared and refilled by the app keeps its metrics.
        if (registry.getSingleMetric(name) === metric) registry.removeSingleMetric(name)
      }
    },
  }
}
