/**
 * The report's `/metrics` comparison: the quantile estimate, and a real short
 * run whose server-side series must agree with what the clients saw.
 */
import { useMetrics } from '../src/harness/processes.js'
import { PRIORITY_MIX } from '../src/harness/records.js'
import { runOne } from '../src/harness/run.js'
import { histogramQuantile, parseMetrics } from '../src/harness/scrape.js'
import { metricsTables } from '../src/report/metrics-table.js'
import { createReport } from '../src/report/model.js'
import { DEFAULT_OPTIONS, targetWith } from '../src/scenarios/common.js'

const buckets = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .map(
      ([le, n]) =>
        `spillway_queue_wait_seconds_bucket{controller="t",priority="normal",le="${le}"} ${n}`,
    )
    .join('\n')

describe('the /metrics comparison', () => {
  it('estimates quantiles over the run the way histogram_quantile does', () => {
    const before = parseMetrics(buckets({ '0.01': 10, '0.1': 10, '+Inf': 10 }))
    // During the run: 50 in (0, 10 ms], 50 in (10, 100 ms].
    const after = parseMetrics(buckets({ '0.01': 60, '0.1': 110, '+Inf': 110 }))
    expect(histogramQuantile(0.5, before, after)).toBeCloseTo(0.01, 9)
    expect(histogramQuantile(0.25, before, after)).toBeCloseTo(0.005, 9)
    expect(histogramQuantile(0.99, before, after)).toBeCloseTo(0.01 + 0.09 * (49 / 50), 9)
    expect(histogramQuantile(0.5, after, after)).toBeNull()
  })

  it('shows the server’s series beside the clients’ figures, and they agree', async () => {
    // 8 slots × 100 ms = 80 req/s offered 2×: queueing, shedding, and light work for CI.
    const options = { ...DEFAULT_OPTIONS, serviceMs: 100 }
    useMetrics(true)
    let run: Awaited<ReturnType<typeof runOne>>
    try {
      run = await runOne({
        target: targetWith(options, {
          kind: 'spillway',
          limit: 8,
          queue: { size: 8, timeoutMs: 250 },
        }),
        load: {
          model: 'open',
          phases: [{ durationMs: 4000, rate: 160 }],
          mix: [...PRIORITY_MIX],
          timeoutMs: 2000,
        },
        sloMs: 1000,
        drainWaitMs: 5000,
      })
    } finally {
      useMetrics(false)
    }
    const { result, log } = run
    const rows = result.metrics?.rows ?? []
    const row = (series: string) => rows.find((r) => r.series === series)
    const timeouts = log.status.filter((s) => s <= 0).length
    let admitted = 0
    for (const priority of ['critical', 'normal', 'sheddable']) {
      const r = row(`increase(spillway_admitted_total{priority="${priority}"})`)
      expect(r).toBeDefined()
      // Every 2xx was admitted; the server may also count admissions whose client gave up.
      expect(r?.server).toBeGreaterThanOrEqual(r?.client as number)
      expect((r?.server as number) - (r?.client as number)).toBeLessThanOrEqual(timeouts)
      admitted += r?.server as number
    }
    expect(admitted).toBe(result.finalControllerStats?.counters?.admitted)
    const shed = rows.filter((r) => r.series.startsWith('increase(spillway_rejected_total{reason='))
    expect(shed.length).toBeGreaterThan(0)
    for (const r of shed) {
      expect(r.server).toBeGreaterThanOrEqual(r.client as number)
      expect((r.server as number) - (r.client as number)).toBeLessThanOrEqual(timeouts)
    }
    expect(row('increase(spillway_queue_wait_seconds_count)')?.server).toBe(admitted)
    expect(row('spillway_requests_in_flight + spillway_requests_queued (after)')?.server).toBe(0)

    const report = createReport('test', 'test')
    report.groups.push({ title: 'run', runs: [result] })
    const [table] = metricsTables(report)
    expect(table?.headers).toEqual(['series', 'server /metrics', 'load generator', 'note'])
    expect(table?.rows.length).toBe(rows.length)
  }, 60_000)
})
