/**
 * The queue-wait histogram, counted in preallocated arrays and rendered at
 * scrape time.
 *
 * Why not `histogram.observe()`: prom-client hashes the label set on every
 * observation, which cost more than the rest of the collector together
 * (callgrind: see the README's "Cost"). Here an admission costs a scan of the
 * bucket bounds and three increments; the exposition is the one prom-client's
 * own `Histogram` writes (cumulative `_bucket` series with `le`, `_sum`,
 * `_count`), from a subclass whose `get()` reads the arrays instead of its map.
 */
import { Histogram, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client'

/** One label set's counts: `counts[i]` falls in (bounds[i-1], bounds[i]]; beyond the last, only `count`. */
export interface WaitCounts {
  readonly labels: Readonly<Record<string, string>>
  readonly counts: Float64Array
  sum: number
  count: number
}

/** Fresh counts for one label set. */
export function waitCounts(labels: Record<string, string>, bounds: readonly number[]): WaitCounts {
  return { labels, counts: new Float64Array(bounds.length), sum: 0, count: 0 }
}

/** Records one wait, in seconds. */
export function observeWait(w: WaitCounts, bounds: readonly number[], seconds: number): void {
  // Most admissions wait 0 and land in the first bucket: a forward scan is the cheapest search.
  for (let i = 0; i < bounds.length; i++) {
    if (seconds <= (bounds[i] as number)) {
      w.counts[i] = (w.counts[i] as number) + 1
      break
    }
  }
  w.sum += seconds
  w.count++
}

type Values = MetricObjectWithValues<MetricValueWithName<string>>

/** A prom-client histogram whose series come from `read()` at scrape time. */
export class WaitHistogram<T extends string> extends Histogram<T> {
  readonly #read: () => Iterable<WaitCounts>
  readonly #bounds: readonly number[]
  readonly #name: string
  readonly #help: string

  constructor(
    config: ConstructorParameters<typeof Histogram<T>>[0],
    bounds: readonly number[],
    read: () => Iterable<WaitCounts>,
  ) {
    super({ ...config, buckets: [...bounds] })
    this.#name = config.name
    this.#help = config.help
    this.#bounds = bounds
    this.#read = read
  }

  override async get(): Promise<Values> {
    return this.getForPromString()
  }

  /** What prom-client's registry renders (it prefers this method when present). */
  async getForPromString(): Promise<Values> {
    const values: MetricValueWithName<string>[] = []
    const bucket = `${this.#name}_bucket`
    for (const w of this.#read()) {
      let cumulative = 0
      this.#bounds.forEach((le, i) => {
        cumulative += w.counts[i] as number
        values.push({ labels: { ...w.labels, le }, value: cumulative, metricName: bucket })
      })
      values.push({ labels: { ...w.labels, le: '+Inf' }, value: w.count, metricName: bucket })
      values.push({ labels: w.labels, value: w.sum, metricName: `${this.#name}_sum` })
      values.push({ labels: w.labels, value: w.count, metricName: `${this.#name}_count` })
    }
    // prom-client's declared type asks for `collect`, which its own get() never returns.
    return {
      name: this.#name,
      help: this.#help,
      type: 'histogram',
      values,
      aggregator: 'sum',
    } as unknown as Values
  }
}
