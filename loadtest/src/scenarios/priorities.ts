/**
 * `priorities`: the 20/50/30 critical/normal/sheddable mix at 3× capacity,
 * open loop; success rate and latency per priority class.
 */
import { PRIORITY_MIX } from '../harness/records.js'
import type { RunResult } from '../harness/run.js'
import { count, ms, pct } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import { describeProtection, type Protection } from '../target/config.js'
import {
  capacityOf,
  fixedSpillway,
  runOrRecord,
  type ScenarioOptions,
  targetWith,
} from './common.js'

export async function priorities(options: ScenarioOptions): Promise<Report> {
  const capacity = capacityOf(options)
  const rate = options.rate ?? 3 * capacity
  const durationMs = (options.durationSeconds ?? 10) * 1000
  const report = createReport('priorities', 'spillway priorities: the mix at 3× capacity')
  const protections: Protection[] = [{ kind: 'none' }, fixedSpillway(options)]
  const runs: RunResult[] = []
  const rows: string[][] = []
  for (const protection of protections) {
    const label = describeProtection(protection)
    const { result } = await runOrRecord({
      label,
      target: targetWith(options, protection),
      load: {
        model: 'open',
        phases: [{ durationMs, rate }],
        mix: [...PRIORITY_MIX],
        timeoutMs: options.timeoutMs,
      },
      sloMs: options.sloMs,
    })
    runs.push(result)
    for (const route of result.routes) {
      rows.push([
        label,
        route.path.slice(1),
        count(route.sent),
        pct(route.successRate, 2),
        count(route.rejected),
        count(route.timeouts),
        ms(route.latencyOk.p50),
        ms(route.latencyOk.p99),
      ])
    }
    const critical = result.routes.find((r) => r.path === '/critical')
    if (protection.kind === 'spillway' && critical?.successRate != null) {
      report.findings.push(
        `${label}: critical success ${pct(critical.successRate, 2)} of ${count(critical.sent)} (target ≥ 99.9%: ${critical.successRate >= 0.999 ? 'met' : 'MISSED'}).`,
      )
    }
  }
  report.groups.push({
    title: `Open loop at ${Math.round(rate)} req/s (${(rate / capacity).toFixed(1)}× capacity), 20% critical / 50% normal / 30% sheddable by route`,
    runs,
  })
  report.tables.push({
    title: 'Per priority',
    headers: ['run', 'priority', 'sent', '2xx rate', 'rejected', 'timeouts', '2xx p50', '2xx p99'],
    rows,
  })
  return report
}
