/**
 * What the server's own `/metrics` (from `@spillway/prometheus`) said about a
 * run, beside what the load generator saw: the figures an operator's
 * dashboard would have shown, and whether they agree with the clients' view.
 *
 * How it works: the target is scraped once before the load and once after the
 * leak check; counters are differenced (so warm-up traffic never counts), and
 * queue-wait quantiles are estimated from the histogram's buckets the way
 * PromQL's `histogram_quantile` does (linear inside a bucket).
 */
import { request } from 'node:http'
import type { RequestLog, RouteShare } from './records.js'

/** One series of a scrape. */
interface Series {
  name: string
  labels: Record<string, string>
  value: number
}

/** One row of the comparison: a series from `/metrics` and what the clients saw. */
export interface MetricsRow {
  /** The series (PromQL-like). */
  series: string
  /** Its value over the run, from the server's `/metrics`. */
  server: number | null
  /** The load generator's own count or figure, when it has one. */
  client: number | null
  /** What the client column counts, and why the two may differ. */
  note: string
}

/** The comparison stored with a run. */
export interface ScrapedMetrics {
  rows: MetricsRow[]
}

/** Fetches `/metrics` once. */
export function fetchMetrics(port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(body)
          : reject(new Error(`/metrics answered ${res.statusCode}`)),
      )
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error('metrics request timed out')))
    req.once('error', reject)
    req.end()
  })
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The samples of a Prometheus text exposition (comments skipped). */
export function parseMetrics(text: string): Series[] {
  const out: Series[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k as string] = v as string
    out.push({ name: m[1] as string, labels, value: Number(m[3]) })
  }
  return out
}

function sum(series: Series[], name: string, labels: Record<string, string> = {}): number {
  let total = 0
  for (const s of series) {
    if (s.name !== name) continue
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value
  }
  return total
}

/** `after − before` of a counter, summed over the series matching `labels`. */
function delta(
  before: Series[],
  after: Series[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return sum(after, name, labels) - sum(before, name, labels)
}

/** PromQL's `histogram_quantile` over the buckets' increase during the run, in seconds. */
export function histogramQuantile(
  q: number,
  before: Series[],
  after: Series[],
  labels: Record<string, string> = {},
): number | null {
  const name = 'spillway_queue_wait_seconds_bucket'
  const bounds = [...new Set(after.filter((s) => s.name === name).map((s) => s.labels.le ?? ''))]
    .map((le) => ({ le, bound: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le) }))
    .sort((a, b) => a.bound - b.bound)
  const cumulative = bounds.map(({ le, bound }) => ({
    bound,
    count: delta(before, after, name, { ...labels, le }),
  }))
  const total = cumulative[cumulative.length - 1]?.count ?? 0
  if (total === 0) return null
  const rank = q * total
  let lowerBound = 0
  let lowerCount = 0
  for (const { bound, count } of cumulative) {
    if (count >= rank) {
      // Past the last finite bucket PromQL answers that bucket's upper bound.
      if (!Number.isFinite(bound)) return lowerBound
      return (
        lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / Math.max(count - lowerCount, 1)
      )
    }
    lowerBound = bound
    lowerCount = count
  }
  return lowerBound
}

/** Lines up the server's view of a run with the load generator's log. */
export function compareMetrics(
  beforeText: string,
  afterText: string,
  log: RequestLog,
  mix: readonly RouteShare[],
): ScrapedMetrics {
  const before = parseMetrics(beforeText)
  const after = parseMetrics(afterText)
  const rows: MetricsRow[] = []
  const ok = (i: number): boolean =>
    (log.status[i] as number) >= 200 && (log.status[i] as number) < 300
  const priorities = [
    ...new Set(
      after.filter((s) => s.name === 'spillway_admitted_total').map((s) => s.labels.priority ?? ''),
    ),
  ]
  for (const priority of priorities) {
    const route = mix.findIndex((r) => r.path === `/${priority}`)
    let answered = 0
    for (let i = 0; i < log.status.length; i++) if (log.route[i] === route && ok(i)) answered++
    rows.push({
      series: `increase(spillway_admitted_total{priority="${priority}"})`,
      server: delta(before, after, 'spillway_admitted_total', { priority }),
      client: route === -1 ? null : answered,
      note:
        route === -1
          ? 'no route of this priority in the mix'
          : `2xx on /${priority}; admitted requests whose client gave up first are counted by the server only`,
    })
  }
  const reasons = new Set(
    after.filter((s) => s.name === 'spillway_rejected_total').map((s) => s.labels.reason ?? ''),
  )
  const seen = new Map<string, number>()
  for (const reason of log.reason ?? [])
    if (reason !== '') seen.set(reason, (seen.get(reason) ?? 0) + 1)
  for (const reason of reasons) {
    const server = delta(before, after, 'spillway_rejected_total', { reason })
    const client = seen.get(reason) ?? 0
    if (server === 0 && client === 0) continue
    rows.push({
      series: `increase(spillway_rejected_total{reason="${reason}"})`,
      server,
      client,
      note:
        reason === 'aborted'
          ? 'the client had gone: nobody reads these answers'
          : `503/429 answers with reason ${reason}; ones whose client gave up first are counted by the server only`,
    })
  }
  for (const priority of priorities) {
    const byPriority = delta(before, after, 'spillway_rejected_total', { priority })
    rows.push({
      series: `increase(spillway_rejected_total{priority="${priority}"})`,
      server: byPriority,
      client: null,
      note: 'rejections of this priority, every reason',
    })
  }
  const waits = delta(before, after, 'spillway_queue_wait_seconds_count')
  rows.push({
    series: 'increase(spillway_queue_wait_seconds_count)',
    server: waits,
    client: null,
    note: 'one observation per admission: equals the admitted total',
  })
  for (const q of [0.5, 0.99]) {
    const seconds = histogramQuantile(q, before, after)
    rows.push({
      series: `histogram_quantile(${q}, spillway_queue_wait_seconds)`,
      server: seconds === null ? null : seconds * 1000,
      client: null,
      note: 'ms queued before admission, estimated from the buckets (part of the 2xx latency)',
    })
  }
  rows.push({
    series: 'increase(spillway_released_total{outcome="success"})',
    server: delta(before, after, 'spillway_released_total', { outcome: 'success' }),
    client: null,
    note: 'permits released after a non-5xx answer',
  })
  rows.push({
    series: 'spillway_requests_in_flight + spillway_requests_queued (after)',
    server: sum(after, 'spillway_requests_in_flight') + sum(after, 'spillway_requests_queued'),
    client: null,
    note: 'must be 0 once the run has drained',
  })
  return { rows }
}
