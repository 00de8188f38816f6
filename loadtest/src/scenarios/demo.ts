/**
 * `npm run demo`: open-loop overload at 3× capacity against the same Express
 * app, unprotected and then behind spillway, side by side.
 */
import { PRIORITY_MIX } from '../harness/records.js'
import type { RunResult } from '../harness/run.js'
import { createReport, type Report } from '../report/model.js'
import {
  capacityOf,
  fixedSpillway,
  runOrRecord,
  type ScenarioOptions,
  targetWith,
} from './common.js'
import { overloadFindings } from './findings.js'

/** Runs the demo: about 10 s of load per server by default. */
export async function demo(options: ScenarioOptions): Promise<Report> {
  const capacity = capacityOf(options)
  const rate = options.rate ?? 3 * capacity
  const durationMs = (options.durationSeconds ?? 10) * 1000
  const report = createReport(
    'demo',
    'spillway demo: an overloaded Express server, without and with spillway',
  )
  const runs: RunResult[] = []
  for (const protection of [{ kind: 'none' } as const, fixedSpillway(options)]) {
    const { result } = await runOrRecord({
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
  }
  report.groups.push({
    title: `Open loop at ${Math.round(rate)} req/s = ${(rate / capacity).toFixed(1)}× the downstream's capacity (${options.slots} slots × ${options.serviceMs} ms = ${Math.round(capacity)} req/s), clients give up after ${options.timeoutMs} ms`,
    runs,
  })
  const [unprotected, protectedRun] = runs
  if (protectedRun !== undefined && protectedRun.error === undefined) {
    report.findings.push(...overloadFindings(protectedRun, unprotected, options.queueTimeoutMs))
  }
  return report
}
