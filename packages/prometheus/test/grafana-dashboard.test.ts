/**
 * The Grafana dashboard shipped with the package queries only what the
 * collector really exports: every metric name and every label it filters or
 * groups by, checked against a real scrape, so renaming a metric breaks here
 * and not on an operator's screen.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createAdmissionController } from '@spillway/core'
import { collectMetrics } from '@spillway/prometheus'
import { Registry } from 'prom-client'
import { parseExposition } from './exposition.js'

interface Target {
  expr: string
}
interface Panel {
  title: string
  type: string
  targets?: Target[]
}
interface Dashboard {
  title: string
  uid: string
  panels: Panel[]
  templating: { list: Array<{ name: string; query?: string | { query: string } }> }
}

const dashboard = JSON.parse(
  readFileSync(join(__dirname, '..', 'grafana', 'spillway.json'), 'utf8'),
) as Dashboard

/** Labels Prometheus itself adds to every scraped series. */
const TARGET_LABELS = new Set(['instance', 'job'])

/** What a real scrape holds: each series name with the label names it carries. */
async function exported(): Promise<Map<string, Set<string>>> {
  const registry = new Registry()
  const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
  const dispose = collectMetrics(controller, { registry, name: 'api' })
  const held = controller.tryAcquire()
  controller.tryAcquire()
  held?.release()
  const names = new Map<string, Set<string>>()
  for (const s of parseExposition(await registry.metrics()).series) {
    const labels = names.get(s.name) ?? new Set<string>()
    for (const label of Object.keys(s.labels)) labels.add(label)
    names.set(s.name, labels)
  }
  dispose()
  return names
}

/** Every `metric{matchers}` selector of a PromQL expression. */
function selectors(expr: string): Array<{ metric: string; labels: string[] }> {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)].map((m) => ({
    metric: m[1] as string,
    labels: [...(m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(
      (l) => l[1] as string,
    ),
  }))
}

const queries: string[] = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...dashboard.templating.list.flatMap((v) => (typeof v.query === 'object' ? [v.query.query] : [])),
]

describe('the Grafana dashboard', () => {
  it('has the panels an operator needs', () => {
    const titles = dashboard.panels.map((p) => p.title)
    for (const needed of [
      'In flight vs limit',
      'Queue by priority',
      'Rejections by reason',
      'Rejections by priority',
      'Queue wait p50 / p99',
      'Pressure',
    ]) {
      expect(titles).toContain(needed)
    }
    expect(dashboard.panels.every((p) => (p.targets ?? []).length > 0)).toBe(true)
  })

  it('queries only metrics and labels the collector exports', async () => {
    const names = await exported()
    const spillwayNames = [...names.keys()]
    let checked = 0
    for (const expr of queries) {
      // Any spillway_* word at all, selector or not, must be a real series.
      for (const [word] of expr.matchAll(/spillway_[a-z_]+/g)) {
        expect({ expr, metric: word, exported: names.has(word) }).toEqual({
          expr,
          metric: word,
          exported: true,
        })
      }
      const found = selectors(expr).filter((s) => s.metric.startsWith('spillway_'))
      // Panels always filter by the dashboard's variables; a variable's label_values may not.
      if (!expr.startsWith('label_values(')) expect(found.length).toBeGreaterThan(0)
      const available = new Set(TARGET_LABELS)
      for (const { metric, labels } of found) {
        const own = names.get(metric) ?? new Set<string>()
        for (const label of own) available.add(label)
        for (const label of labels)
          expect({ metric, label, ok: own.has(label) || TARGET_LABELS.has(label) }).toEqual({
            metric,
            label,
            ok: true,
          })
        checked++
      }
      // Grouping labels must exist on the series grouped.
      for (const [, group] of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
        for (const label of (group as string).split(',').map((l) => l.trim())) {
          expect({ expr, label, ok: available.has(label) }).toEqual({ expr, label, ok: true })
        }
      }
      // label_values(metric, label) in the variables.
      for (const [, metric, label] of expr.matchAll(
        /label_values\(\s*([a-z_]+)(?:\{[^}]*\})?\s*,\s*([a-z_]+)\s*\)/g,
      )) {
        const own = names.get(metric as string)
        expect(own?.has(label as string) || TARGET_LABELS.has(label as string)).toBe(true)
      }
    }
    expect(checked).toBeGreaterThanOrEqual(dashboard.panels.length)
    // The detector itself: a misspelt metric would have been caught.
    expect(selectors('rate(spillway_rejectd_total{controller="a"}[1m])')[0]?.metric).toBe(
      'spillway_rejectd_total',
    )
    expect(spillwayNames).not.toContain('spillway_rejectd_total')
  })
})
