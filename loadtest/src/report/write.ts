import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { resultsDir } from '../harness/paths.js'
import { renderHeadlineSvg, renderHtml } from './html.js'
import type { Report } from './model.js'
import { comparisonTable, renderText } from './table.js'

/** The report as terminal text: notes, tables per group, findings. */
export function renderTerminal(report: Report): string {
  const out: string[] = [`\n${report.title}`, ...report.notes.map((n) => `  note: ${n}`)]
  for (const group of report.groups) {
    const runs = group.runs.filter((r) => r.error === undefined)
    out.push('')
    if (runs.length > 0) out.push(renderText(comparisonTable(group.title, runs)))
    for (const r of group.runs)
      if (r.error !== undefined) out.push(`${r.label}: not run (${r.error})`)
    if (group.note !== undefined) out.push(`  ${group.note}`)
  }
  for (const table of report.tables) out.push('', renderText(table))
  if (report.findings.length > 0)
    out.push('', 'Findings:', ...report.findings.map((f) => `  - ${f}`))
  return out.join('\n')
}

function write(file: string, text: string): string {
  const path = resolve(file)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, text)
  return path
}

/**
 * Writes JSON and HTML (to the given files, or `loadtest/results/<scenario>-<time>.*`),
 * and the headline charts as SVG when `svg` is given; returns the paths written.
 */
export function writeReport(
  report: Report,
  files: { json?: string | undefined; html?: string | undefined; svg?: string | undefined },
): { json: string; html: string; svg?: string } {
  const stamp = report.createdAt.replace(/[:.]/g, '-')
  const base = join(resultsDir(), `${report.scenario}-${stamp}`)
  const headline = files.svg === undefined ? undefined : renderHeadlineSvg(report)
  return {
    json: write(files.json ?? `${base}.json`, `${JSON.stringify(report, null, 2)}\n`),
    html: write(files.html ?? `${base}.html`, renderHtml(report)),
    ...(files.svg !== undefined && headline !== undefined
      ? { svg: write(files.svg, headline) }
      : {}),
  }
}
