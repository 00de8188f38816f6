/**
 * A real OpenTelemetry SDK for tests: a meter provider whose reader exports to
 * memory on demand, and look-ups of the exported data points.
 */
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'

export interface TestSdk {
  readonly provider: MeterProvider
  /** Collects and exports once, returning every metric of this export. */
  collect(): Promise<MetricData[]>
  shutdown(): Promise<void>
}

export function startSdk(): TestSdk {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // The interval never fires in a test: exports happen on forceFlush() only.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  return {
    provider,
    async collect() {
      exporter.reset()
      await reader.forceFlush()
      return exporter
        .getMetrics()
        .flatMap((rm) => rm.scopeMetrics)
        .flatMap((sm) => sm.metrics)
    },
    shutdown: () => provider.shutdown(),
  }
}

/** Data points of `name` whose attributes include every given pair. */
export function points<T = number>(
  metrics: readonly MetricData[],
  name: string,
  attributes: Record<string, string> = {},
): DataPoint<T>[] {
  return metrics
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints as DataPoint<T>[])
    .filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
}

/** The one value of `name` with exactly these attributes; throws when absent or ambiguous. */
export function pointValue<T = number>(
  metrics: readonly MetricData[],
  name: string,
  attributes: Record<string, string>,
): T {
  const found = points<T>(metrics, name, attributes).filter(
    (p) => Object.keys(p.attributes).length === Object.keys(attributes).length,
  )
  if (found.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(attributes)}, found ${found.length}`)
  }
  return (found[0] as DataPoint<T>).value
}

export type { Histogram }
