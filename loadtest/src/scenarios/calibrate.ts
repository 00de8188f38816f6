/**
 * `calibrate`: steps an open-loop load up (geometric, 3 s per step) against the
 * unprotected app, finds the knee (the last step where goodput still follows
 * the offered rate and p99 has not climbed), and prints a suggested configuration.
 */
import { summarizeLatency } from '../harness/metrics.js'
import type { Phase } from '../harness/open-loop.js'
import { isOk, PRIORITY_MIX, type RequestLog } from '../harness/records.js'
import type { Sample } from '../harness/sampler.js'
import { ms, rate } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import { runOrRecord, type ScenarioOptions, targetWith } from './common.js'

/** One step's figures. */
export interface Step {
  offered: number
  goodput: number
  p50: number | null
  p99: number | null
  meanActive: number | null
}

/** Figures of each step, from requests by send time and samples by time. */
export function measureSteps(
  log: RequestLog,
  samples: readonly Sample[],
  phases: readonly Phase[],
  sloMs: number,
): Step[] {
  let start = 0
  return phases.map((phase) => {
    const end = start + phase.durationMs
    const ok: number[] = []
    let sent = 0
    let good = 0
    for (let i = 0; i < log.sentMs.length; i++) {
      const t = log.sentMs[i] as number
      if (t < start || t >= end) continue
      sent++
      const status = log.status[i] as number
      const latency = log.latencyMs[i] as number
      if (isOk(status)) {
        ok.push(latency)
        if (latency <= sloMs) good++
      }
    }
    const active = samples.filter((s) => s.tMs >= start && s.tMs < end).map((s) => s.active)
    const seconds = phase.durationMs / 1000
    const latency = summarizeLatency(ok)
    start = end
    return {
      offered: sent / seconds,
      goodput: good / seconds,
      p50: latency.p50,
      p99: latency.p99,
      meanActive: active.length === 0 ? null : active.reduce((a, b) => a + b, 0) / active.length,
    }
  })
}

/**
 * Index of the knee: the last step before goodput falls below 95% of offered or
 * latency climbs. The climb is judged on the median (≤ max(2×, +10 ms) of the first
 * step's) and on p99 only loosely (≤ max(5×, +100 ms)): on a shared machine one
 * scheduler hiccup moves a 3-second step's p99 but not its median.
 */
export function findKnee(steps: readonly Step[]): number {
  const first = steps[0]
  if (first === undefined || first.p50 === null || first.p99 === null) return -1
  const p50Bound = Math.max(2 * first.p50, first.p50 + 10)
  const p99Bound = Math.max(5 * first.p99, first.p99 + 100)
  let knee = -1
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i] as Step
    const holds =
      s.goodput >= 0.95 * s.offered &&
      s.p50 !== null &&
      s.p50 <= p50Bound &&
      s.p99 !== null &&
      s.p99 <= p99Bound
    if (holds) knee = i
    else break
  }
  return knee
}

export async function calibrate(options: ScenarioOptions): Promise<Report> {
  const stepMs = (options.durationSeconds ?? 3) * 1000
  const maxRate = options.rate ?? 1000
  const phases: Phase[] = []
  for (let r = 50; r <= maxRate && phases.length < 30; r *= 1.25)
    phases.push({ durationMs: stepMs, rate: Math.round(r) })
  const report = createReport(
    'calibrate',
    'spillway calibrate: find the knee of the unprotected app',
  )
  const { result, log } = await runOrRecord({
    label: 'unprotected, stepped load',
    target: targetWith(options, { kind: 'none' }),
    load: { model: 'open', phases, mix: [...PRIORITY_MIX], timeoutMs: options.timeoutMs },
    sloMs: options.sloMs,
  })
  report.groups.push({
    title: `Open loop, ${phases.length} steps of ${stepMs / 1000} s from 50 to ${maxRate} req/s (×1.25)`,
    runs: [result],
  })
  if (log === null) return report
  const steps = measureSteps(log, result.samples, phases, options.sloMs)
  const knee = findKnee(steps)
  report.tables.push({
    title: 'Steps',
    headers: ['step', 'offered', 'goodput', '2xx p50', '2xx p99', 'mean running', ''],
    rows: steps.map((s, i) => [
      String(i + 1),
      rate(s.offered),
      rate(s.goodput),
      ms(s.p50),
      ms(s.p99),
      s.meanActive === null ? '-' : s.meanActive.toFixed(1),
      i === knee ? '← knee' : '',
    ]),
  })
  const kneeStep = steps[knee]
  if (kneeStep === undefined) {
    report.findings.push(
      'No knee found: even the first step was overloaded; lower the start rate or check the app.',
    )
    return report
  }
  const capacity = Math.max(...steps.map((s) => s.goodput))
  // Little's law: in flight = throughput × latency; 25% headroom so the downstream never idles.
  const inFlightAtKnee = kneeStep.meanActive ?? (kneeStep.offered * (kneeStep.p50 ?? 0)) / 1000
  const limit = Math.max(1, Math.ceil(inFlightAtKnee * 1.25))
  const timeoutMs = Math.min(1000, Math.max(50, Math.round(10 * (kneeStep.p50 ?? 25))))
  report.findings.push(
    `Knee at step ${knee + 1}: ${rate(kneeStep.offered)} offered, p99 ${ms(kneeStep.p99)}, ${kneeStep.meanActive?.toFixed(1) ?? '-'} running on average; highest goodput seen ${rate(capacity)}.`,
    `Suggested: createAdmissionController({ limit: ${limit}, queue: { size: ${2 * limit}, timeoutMs: ${timeoutMs} } }) — or limit: { algorithm: 'gradient2' } to follow capacity changes.`,
  )
  return report
}
