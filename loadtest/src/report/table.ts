/**
 * The side-by-side table: one row per metric, one column per run. Rendered as
 * text for the terminal and as rows for the HTML report.
 */
import type { RunResult } from '../harness/run.js'
import { count, mb, ms, pct, rate } from './format.js'
import type { ReportTable } from './model.js'

function latencyCell(l: RunResult['summary']['latencyOk']): string {
  if (l.count === 0) return '-'
  return `${ms(l.p50)} / ${ms(l.p90)} / ${ms(l.p99)} / ${ms(l.max)}`
}

function leakCell(run: RunResult): string {
  const leak = run.summary.leak
  if (leak === null) return '-'
  if (leak.drained) {
    const controller = leak.inFlight === null ? '' : `in flight 0, queued 0, `
    return `pass (${controller}after ${(leak.afterMs / 1000).toFixed(1)} s)`
  }
  const parts = [`${leak.active} running`, `${leak.backlog} waiting`]
  if (leak.inFlight !== null) parts.push(`in flight ${leak.inFlight}`, `queued ${leak.queued}`)
  return `NOT drained after ${(leak.afterMs / 1000).toFixed(1)} s: ${parts.join(', ')}`
}

/** The metric rows for a set of runs. */
export function comparisonTable(title: string, runs: readonly RunResult[]): ReportTable {
  const row = (name: string, cell: (run: RunResult) => string): string[] => [
    name,
    ...runs.map(cell),
  ]
  const s = (run: RunResult) => run.summary
  return {
    title,
    headers: ['', ...runs.map((r) => r.label)],
    rows: [
      row('load', (r) => r.loadLabel),
      row('offered', (r) => rate(s(r).offeredPerSecond)),
      row('goodput (2xx within SLO)', (r) => {
        const ofCapacity = s(r).goodputOfCapacity
        return `${rate(s(r).goodputPerSecond)}${ofCapacity === null ? '' : ` (${pct(ofCapacity)} of capacity)`}`
      }),
      row('SLO', (r) => ms(r.sloMs)),
      row('2xx answered', (r) => count(s(r).ok)),
      row('503 per s', (r) => rate((s(r).rejectedByStatus['503'] ?? 0) / (s(r).durationMs / 1000))),
      row('429 per s', (r) => rate((s(r).rejectedByStatus['429'] ?? 0) / (s(r).durationMs / 1000))),
      row(
        'client timeouts',
        (r) => `${count(s(r).timeouts)} (${pct(s(r).timeouts / Math.max(1, s(r).sent), 1)})`,
      ),
      row('errors / other status', (r) => `${count(s(r).errors)} / ${count(s(r).otherStatus)}`),
      row('wasted work', (r) => {
        const { wasted, handlerRuns } = s(r)
        if (wasted === null || handlerRuns === null) return '-'
        return `${count(wasted)} of ${count(handlerRuns)} runs (${pct(wasted / Math.max(1, handlerRuns))})`
      }),
      row('2xx p50/p90/p99/max', (r) => latencyCell(s(r).latencyOk)),
      row('rejection p50/p90/p99/max', (r) => latencyCell(s(r).latencyRejected)),
      row('  on arrival (queueFull…)', (r) => {
        const l = s(r).latencyRejectedImmediate
        return l === null ? '-' : `${latencyCell(l)}${l.count > 0 ? ` (${count(l.count)})` : ''}`
      }),
      row('  after queueing (timeout, evicted)', (r) => {
        const l = s(r).latencyRejectedAfterWait
        return l === null ? '-' : `${latencyCell(l)}${l.count > 0 ? ` (${count(l.count)})` : ''}`
      }),
      row('peak RSS (growth; 2nd half)', (r) => {
        const late = s(r).rssSecondHalfGrowthBytes
        const sign = late !== null && late < 0 ? '-' : '+'
        return `${mb(s(r).peakRssBytes)} (+${mb(s(r).rssGrowthBytes)}; ${sign}${mb(late === null ? null : Math.abs(late))})`
      }),
      row('CPU: server / generator', (r) => {
        const { serverCpuPercent: server, generatorCpuPercent: generator } = s(r)
        const fmt = (v: number | null): string => (v === null ? '-' : `${v.toFixed(0)}%`)
        return `${fmt(server)} / ${fmt(generator)} of a core`
      }),
      row('server event-loop delay (worst p99)', (r) => ms(s(r).serverEventLoopDelayMaxP99Ms)),
      row('leak check', leakCell),
      row('adapter', (r) => r.adapter ?? '-'),
    ],
  }
}

/** Renders a table as aligned text, wrapping nothing (terminals scroll sideways). */
export function renderText(table: ReportTable): string {
  const all = [table.headers, ...table.rows]
  const widths = table.headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join(' │ ')
      .trimEnd()
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─')
  return [table.title, line(table.headers), rule, ...table.rows.map(line)].join('\n')
}
