/**
 * The server's own `/metrics` beside the load generator's figures, one table
 * per run that was scraped (`--metrics`): what a dashboard would have shown.
 */
import type { Report, ReportTable } from './model.js'

function figure(value: number | null): string {
  if (value === null) return '-'
  return Number.isInteger(value) ? String(value) : value.toFixed(1)
}

/** One table per scraped run of the report. */
export function metricsTables(report: Report): ReportTable[] {
  const tables: ReportTable[] = []
  for (const group of report.groups) {
    for (const run of group.runs) {
      if (run.metrics === undefined) continue
      tables.push({
        title: `${run.label}, ${run.loadLabel}: the server's /metrics over the run vs the load generator`,
        headers: ['series', 'server /metrics', 'load generator', 'note'],
        rows: run.metrics.rows.map((row) => [
          row.series,
          figure(row.server),
          figure(row.client),
          row.note,
        ]),
      })
    }
  }
  return tables
}
