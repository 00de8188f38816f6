/**
 * The self-contained HTML report: tables and inline SVG charts, protected and
 * unprotected side by side with shared y scales. No external resource at all.
 * A few lines of inline script only measure the drawn lines (`getBBox`) and
 * record the result on the page, so a headless browser can check the charts rendered.
 */
import type { RunResult } from '../harness/run.js'
import type { Report, ReportTable } from './model.js'
import { type ChartSeries, escapeXml, lineChart, seriesMax } from './svg.js'
import { comparisonTable } from './table.js'

const COLORS = {
  p50: '#2b6cb0',
  p99: '#c53030',
  rejected: '#d69e2e',
  offered: '#718096',
  goodput: '#2f855a',
  shed: '#d69e2e',
  timeouts: '#c53030',
  inFlight: '#2b6cb0',
  limit: '#2d3748',
  queued: '#d69e2e',
  running: '#805ad5',
  backlog: '#c53030',
  rss: '#805ad5',
}

interface Panel {
  x: number[]
  series: ChartSeries[]
}

function latencyPanel(run: RunResult): Panel {
  return {
    x: run.series.t,
    series: [
      { name: '2xx p50', color: COLORS.p50, values: run.series.p50 },
      { name: '2xx p99', color: COLORS.p99, values: run.series.p99 },
      {
        name: 'rejection p99',
        color: COLORS.rejected,
        values: run.series.rejectedP99,
        dashed: true,
      },
      // The ceiling: a client gives up there, so no latency is ever recorded above it.
      {
        name: 'client timeout',
        color: COLORS.offered,
        values: run.series.t.map(() => run.load.timeoutMs),
        dashed: true,
      },
    ],
  }
}

function throughputPanel(run: RunResult): Panel {
  return {
    x: run.series.t,
    series: [
      { name: 'offered', color: COLORS.offered, values: run.series.offered, dashed: true },
      { name: 'goodput', color: COLORS.goodput, values: run.series.goodput },
      { name: 'shed', color: COLORS.shed, values: run.series.shed },
      { name: 'timeouts', color: COLORS.timeouts, values: run.series.timeouts },
    ],
  }
}

function statePanel(run: RunResult): Panel {
  const x = run.samples.map((s) => s.tMs / 1000)
  const series: ChartSeries[] = [
    { name: 'running', color: COLORS.running, values: run.samples.map((s) => s.active) },
    {
      name: 'backlog',
      color: COLORS.backlog,
      values: run.samples.map((s) => s.downstreamQueued + (s.pLimitPending ?? 0)),
    },
  ]
  if (run.samples.some((s) => s.limit !== null)) {
    series.unshift(
      { name: 'in flight', color: COLORS.inFlight, values: run.samples.map((s) => s.inFlight) },
      { name: 'limit', color: COLORS.limit, values: run.samples.map((s) => s.limit), dashed: true },
      { name: 'queued', color: COLORS.queued, values: run.samples.map((s) => s.queued) },
    )
  }
  return { x, series }
}

function rssPanel(run: RunResult): Panel {
  return {
    x: run.samples.map((s) => s.tMs / 1000),
    series: [
      { name: 'RSS', color: COLORS.rss, values: run.samples.map((s) => s.rssBytes / 2 ** 20) },
    ],
  }
}

function chartRow(
  title: string,
  unit: string,
  runs: readonly RunResult[],
  panel: (run: RunResult) => Panel,
  log = false,
  shareScale = true,
): string {
  const panels = runs.map(panel)
  const shared = Math.max(...panels.map((p) => seriesMax(p.series)))
  const charts = panels.map((p, i) =>
    lineChart({
      title: `${title}: ${(runs[i] as RunResult).label}`,
      unit,
      x: p.x,
      series: p.series,
      yMax: shareScale ? shared : seriesMax(p.series),
      log,
    }),
  )
  return `<div class="row">${charts.map((c) => `<figure>${c}</figure>`).join('')}</div>`
}

/**
 * The first group's latency and throughput rows as one standalone SVG (for a README):
 * the panels of each run side by side, nested in an outer `<svg>`.
 */
export function renderHeadlineSvg(report: Report): string | undefined {
  const runs = report.groups[0]?.runs.filter((r) => r.error === undefined) ?? []
  if (runs.length === 0) return undefined
  const width = 460
  const height = 220
  const rows = [
    { title: 'Latency', unit: 'ms', panel: latencyPanel, log: true },
    { title: 'Throughput', unit: 'req/s', panel: throughputPanel, log: false },
  ]
  const parts: string[] = []
  rows.forEach((row, r) => {
    const panels = runs.map(row.panel)
    const yMax = Math.max(...panels.map((p) => seriesMax(p.series)))
    panels.forEach((p, i) => {
      const chart = lineChart({
        title: `${row.title}: ${(runs[i] as RunResult).label}`,
        unit: row.unit,
        x: p.x,
        series: p.series,
        yMax,
        log: row.log,
        width,
        height,
      })
      // Nested <svg> elements take x/y: place each panel on the grid.
      parts.push(chart.replace('<svg ', `<svg x="${i * width}" y="${r * height}" `))
    })
  })
  const w = runs.length * width
  const h = rows.length * height
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="system-ui,sans-serif" role="img" aria-label="${escapeXml(report.title)}"><title>${escapeXml(report.title)}</title><style>${SVG_STYLE}</style><rect width="100%" height="100%" fill="#fff"/>${parts.join('')}</svg>\n`
}

function tableHtml(table: ReportTable): string {
  const head = table.headers.map((h) => `<th>${escapeXml(h)}</th>`).join('')
  const body = table.rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => (i === 0 ? `<th>${escapeXml(c)}</th>` : `<td>${escapeXml(c)}</td>`)).join('')}</tr>`,
    )
    .join('')
  return `<h3>${escapeXml(table.title)}</h3><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`
}

const SVG_STYLE =
  '.title{font-size:12px;font-weight:600}.tick,.legend{font-size:10px;fill:#4a5568}.grid{stroke:#edf2f7}.frame{fill:none;stroke:#cbd5e0}'

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1a202c;max-width:1500px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #e2e8f0}h3{font-size:15px}
.note{color:#4a5568;background:#f7fafc;border-left:3px solid #a0aec0;padding:6px 10px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #e2e8f0;padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#edf2f7}tbody th{font-weight:500;background:#f7fafc;white-space:nowrap}
.row{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}
svg.chart .title{font-size:12px;font-weight:600}svg.chart .tick,svg.chart .legend{font-size:10px;fill:#4a5568}
svg.chart .grid{stroke:#edf2f7}svg.chart .frame{fill:none;stroke:#cbd5e0}
`

// Records, per chart, how many drawn lines have a non-empty box: a headless browser reads it back.
const CHECK_SCRIPT = `
addEventListener('load', () => {
  let rendered = 0
  const charts = document.querySelectorAll('svg.chart')
  for (const svg of charts) {
    let drawn = 0
    for (const path of svg.querySelectorAll('path.series')) {
      const box = path.getBBox()
      if (path.getTotalLength() > 0 && (box.width > 0 || box.height > 0)) drawn++
    }
    svg.setAttribute('data-drawn-paths', String(drawn))
    if (drawn > 0) rendered++
  }
  document.body.setAttribute('data-charts', String(charts.length))
  document.body.setAttribute('data-charts-rendered', String(rendered))
})
`

/** Renders a whole report as one HTML document. */
export function renderHtml(report: Report): string {
  const sections = report.groups.map((group) => {
    const runs = group.runs.filter((r) => r.error === undefined)
    const failed = group.runs.filter((r) => r.error !== undefined)
    return [
      `<section><h2>${escapeXml(group.title)}</h2>`,
      group.note === undefined ? '' : `<p class="note">${escapeXml(group.note)}</p>`,
      ...failed.map(
        (r) => `<p class="note">${escapeXml(r.label)}: not run (${escapeXml(r.error ?? '')})</p>`,
      ),
      runs.length === 0 ? '' : tableHtml(comparisonTable('Figures', runs)),
      runs.length === 0 ? '' : chartRow('Latency', 'ms', runs, latencyPanel, true),
      runs.length === 0 ? '' : chartRow('Throughput', 'req/s', runs, throughputPanel),
      runs.length === 0
        ? ''
        : // Own scale per panel: a shared one would flatten the protected server's limit under the other's backlog.
          chartRow('In flight, limit, queue', 'requests', runs, statePanel, false, false),
      runs.length === 0 ? '' : chartRow('Server RSS', 'MB', runs, rssPanel),
      '</section>',
    ].join('\n')
  })
  const m = report.machine
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeXml(report.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeXml(report.title)}</h1>
<p>Scenario <code>${escapeXml(report.scenario)}</code>, ${escapeXml(report.createdAt)} · ${m.cpus} CPU(s), ${escapeXml(m.cpuModel)}, Node ${escapeXml(m.node)}, ${escapeXml(m.platform)}, load average at start ${m.loadAverage.join(' / ')}</p>
${report.notes.map((n) => `<p class="note">${escapeXml(n)}</p>`).join('\n')}
${report.findings.length === 0 ? '' : `<h2>Findings</h2><ul>${report.findings.map((f) => `<li>${escapeXml(f)}</li>`).join('')}</ul>`}
${report.tables.map(tableHtml).join('\n')}
${sections.join('\n')}
<script>${CHECK_SCRIPT}</script>
</body></html>
`
}
