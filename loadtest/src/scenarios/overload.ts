/**
 * `overload`: 2× and 4× capacity (`--levels`), open loop then closed loop,
 * against every protection. An unloaded run first gives the baseline p99 that
 * the "2× unloaded p99 + queue timeout" target is checked against.
 */
import { PRIORITY_MIX } from '../harness/records.js'
import { createReport, type Report } from '../report/model.js'
import { describeProtection } from '../target/config.js'
import {
  capacityOf,
  comparedProtections,
  runOrRecord,
  type ScenarioOptions,
  targetWith,
} from './common.js'
import { overloadFindings } from './findings.js'

/** Closed-loop connections standing for a multiple of capacity (50 per ×). */
export const CONNECTIONS_PER_LEVEL = 50

export async function overload(options: ScenarioOptions): Promise<Report> {
  const capacity = capacityOf(options)
  const durationMs = (options.durationSeconds ?? 8) * 1000
  const report = createReport(
    'overload',
    'spillway overload: open and closed loop, every protection',
  )
  const mix = [...PRIORITY_MIX]
  const protections = comparedProtections(options)

  const baseline = await runOrRecord({
    label: 'unprotected, unloaded (0.25×)',
    target: targetWith(options, { kind: 'none' }),
    load: {
      model: 'open',
      phases: [{ durationMs: Math.min(durationMs, 5000), rate: capacity / 4 }],
      mix,
      timeoutMs: options.timeoutMs,
    },
    sloMs: options.sloMs,
  })
  const unloadedP99 = baseline.result.summary.latencyOk.p99
  report.groups.push({
    title: `Unloaded baseline: open loop at ${Math.round(capacity / 4)} req/s (0.25× capacity)`,
    runs: [baseline.result],
  })

  const levels = options.rate === undefined ? options.levels : [options.rate / capacity]
  for (const level of levels) {
    const rate = level * capacity
    const open = []
    for (const protection of protections) {
      const { result } = await runOrRecord({
        label: describeProtection(protection),
        target: targetWith(options, protection),
        load: {
          model: 'open',
          phases: [{ durationMs, rate }],
          mix,
          timeoutMs: options.timeoutMs,
          newConnection: options.newConnection === true,
        },
        sloMs: options.sloMs,
      })
      open.push(result)
    }
    report.groups.push({
      title: `${level}× capacity, open loop${options.newConnection === true ? ', a new connection per request' : ''}: ${Math.round(rate)} req/s (capacity ${Math.round(capacity)} req/s)`,
      runs: open,
    })
    const unprotected = open[0]
    for (const run of open.slice(2)) {
      if (run.error === undefined) {
        report.findings.push(
          `[${level}× open] `.concat(
            overloadFindings(run, unprotected, options.queueTimeoutMs, unloadedP99).join(' '),
          ),
        )
      }
    }
    const connections = Math.round(level * CONNECTIONS_PER_LEVEL)
    const closed = []
    for (const protection of protections) {
      const { result } = await runOrRecord({
        label: describeProtection(protection),
        target: targetWith(options, protection),
        load: { model: 'closed', connections, durationMs, mix, timeoutMs: options.timeoutMs },
        sloMs: options.sloMs,
      })
      closed.push(result)
    }
    report.groups.push({
      title: `${level}× level, closed loop: ${connections} connections`,
      runs: closed,
      note: 'Closed loop hides collapse: each connection waits for its answer, so latency settles at connections ÷ capacity and nothing grows.',
    })
  }
  return report
}
