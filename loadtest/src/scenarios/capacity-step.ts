/**
 * `capacity-step`: open loop at 0.8× the initial capacity; halfway through,
 * the downstream's operation time doubles (capacity halves, so the same load
 * becomes 1.6×). Shows how each limit follows: fixed vs the adaptive algorithms.
 */
import { summarizeLatency } from '../harness/metrics.js'
import { isOk, isRejection, PRIORITY_MIX, type RequestLog } from '../harness/records.js'
import type { RunResult } from '../harness/run.js'
import { ms, rate } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import { describeProtection, type Protection } from '../target/config.js'
import {
  adaptiveSpillway,
  capacityOf,
  fixedSpillway,
  runOrRecord,
  type ScenarioOptions,
  targetWith,
} from './common.js'

function half(
  log: RequestLog,
  run: RunResult,
  fromMs: number,
  toMs: number,
  sloMs: number,
): string[] {
  const ok: number[] = []
  let good = 0
  let shed = 0
  for (let i = 0; i < log.sentMs.length; i++) {
    const t = log.sentMs[i] as number
    if (t < fromMs || t >= toMs) continue
    const status = log.status[i] as number
    if (isOk(status)) {
      ok.push(log.latencyMs[i] as number)
      if ((log.latencyMs[i] as number) <= sloMs) good++
    } else if (isRejection(status)) shed++
  }
  const seconds = (toMs - fromMs) / 1000
  const samples = run.samples.filter((s) => s.tMs >= fromMs && s.tMs < toMs)
  const mean = (values: Array<number | null>): string => {
    const v = values.filter((x): x is number => x !== null)
    return v.length === 0 ? '-' : (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)
  }
  const p99 = summarizeLatency(ok).p99
  return [
    rate(good / seconds),
    rate(shed / seconds),
    ms(p99),
    mean(samples.map((s) => s.limit)),
    mean(samples.map((s) => s.inFlight ?? s.active)),
  ]
}

export async function capacityStep(options: ScenarioOptions): Promise<Report> {
  const capacity = capacityOf(options)
  const halfMs = (options.durationSeconds ?? 10) * 1000
  const offered = options.rate ?? 0.8 * capacity
  const report = createReport(
    'capacity-step',
    'spillway capacity-step: the downstream slows to half its capacity mid-run',
  )
  const protections: Protection[] = [
    { kind: 'none' },
    fixedSpillway(options),
    ...options.adaptive.map((a) => adaptiveSpillway(options, a)),
  ]
  const runs: RunResult[] = []
  const rows: string[][] = []
  for (const protection of protections) {
    const label = describeProtection(protection)
    const { result, log } = await runOrRecord({
      label,
      target: targetWith(options, protection),
      load: {
        model: 'open',
        phases: [{ durationMs: 2 * halfMs, rate: offered }],
        mix: [...PRIORITY_MIX],
        timeoutMs: options.timeoutMs,
      },
      sloMs: options.sloMs,
      serviceSteps: [{ atMs: halfMs, serviceMs: options.serviceMs * 2 }],
    })
    runs.push(result)
    if (log === null) continue
    // Skip the first second (start-up) and the second after the step (transition) in the per-half figures.
    rows.push([label, 'before', ...half(log, result, 1000, halfMs, options.sloMs)])
    rows.push([label, 'after', ...half(log, result, halfMs + 1000, 2 * halfMs, options.sloMs)])
  }
  report.groups.push({
    title: `${Math.round(offered)} req/s; the downstream goes from ${options.serviceMs} to ${options.serviceMs * 2} ms per operation at ${halfMs / 1000} s (capacity ${Math.round(capacity)} → ${Math.round(capacity / 2)} req/s)`,
    runs,
  })
  report.tables.push({
    title: 'Before and after the step (first second of each half skipped)',
    headers: ['run', 'half', 'goodput', 'shed', '2xx p99', 'mean limit', 'mean in flight'],
    rows,
  })
  return report
}
