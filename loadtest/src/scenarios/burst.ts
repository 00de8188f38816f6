/**
 * `burst`: 0.5× → 3× → 0.5× capacity, open loop. Recovery is the time from the
 * end of the surge until the 250 ms windows of sent requests are served like the
 * baseline (≥ 99% answered 2xx, p99 within max(2 × baseline p99, baseline p99 + 20 ms))
 * for 2 s in a row.
 */
import { summarizeLatency } from '../harness/metrics.js'
import { isOk, PRIORITY_MIX, type RequestLog } from '../harness/records.js'
import { ms } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import { describeProtection } from '../target/config.js'
import {
  capacityOf,
  comparedProtections,
  runOrRecord,
  type ScenarioOptions,
  targetWith,
} from './common.js'

/** How a run recovered after a surge. */
export interface Recovery {
  baselineP99Ms: number | null
  /** Seconds after the surge's end until latency was back to baseline for good; null if never within the run. */
  recoveredAfterSeconds: number | null
}

/** Measures recovery from a log (by send time). */
export function measureRecovery(
  log: RequestLog,
  baselineFromMs: number,
  surgeStartMs: number,
  surgeEndMs: number,
  endMs: number,
  windowMs = 250,
  sustainMs = 2000,
): Recovery {
  const window = (from: number, to: number) => {
    const ok: number[] = []
    let sent = 0
    for (let i = 0; i < log.sentMs.length; i++) {
      const t = log.sentMs[i] as number
      if (t < from || t >= to) continue
      sent++
      const status = log.status[i] as number
      if (isOk(status)) ok.push(log.latencyMs[i] as number)
    }
    return { sent, ok: ok.length, p99: summarizeLatency(ok).p99 }
  }
  const baseline = window(baselineFromMs, surgeStartMs)
  if (baseline.p99 === null) return { baselineP99Ms: null, recoveredAfterSeconds: null }
  const bound = Math.max(2 * baseline.p99, baseline.p99 + 20)
  const good = (w: ReturnType<typeof window>): boolean =>
    w.sent === 0 || (w.ok / w.sent >= 0.99 && w.p99 !== null && w.p99 <= bound)
  // Recovered at the start of the first 2 s of consecutive good windows: a later
  // one-off hiccup of a shared machine does not undo it.
  const needed = Math.ceil(sustainMs / windowMs)
  let streakStart: number | null = null
  let streak = 0
  for (let from = surgeEndMs; from < endMs; from += windowMs) {
    if (good(window(from, from + windowMs))) {
      streakStart ??= from
      streak++
      if (streak >= needed) break
    } else {
      streakStart = null
      streak = 0
    }
  }
  const recovered = streakStart !== null && streak >= needed
  return {
    baselineP99Ms: baseline.p99,
    recoveredAfterSeconds: recovered ? ((streakStart as number) - surgeEndMs) / 1000 : null,
  }
}

export async function burst(options: ScenarioOptions): Promise<Report> {
  const capacity = capacityOf(options)
  const surgeMs = (options.durationSeconds ?? 5) * 1000
  const calmMs = 5000
  const afterMs = 10_000
  const surgeRate = options.rate ?? 3 * capacity
  const report = createReport('burst', 'spillway burst: 0.5× → 3× → 0.5× capacity')
  const runs = []
  for (const protection of comparedProtections(options, false)) {
    const label = describeProtection(protection)
    const { result, log } = await runOrRecord({
      label,
      target: targetWith(options, protection),
      load: {
        model: 'open',
        phases: [
          { durationMs: calmMs, rate: capacity / 2 },
          { durationMs: surgeMs, rate: surgeRate },
          { durationMs: afterMs, rate: capacity / 2 },
        ],
        mix: [...PRIORITY_MIX],
        timeoutMs: options.timeoutMs,
      },
      sloMs: options.sloMs,
      bucketMs: 250,
    })
    runs.push(result)
    if (log === null) continue
    const recovery = measureRecovery(
      log,
      1000,
      calmMs,
      calmMs + surgeMs,
      calmMs + surgeMs + afterMs,
    )
    report.findings.push(
      `${label}: baseline p99 ${ms(recovery.baselineP99Ms)}; ` +
        (recovery.recoveredAfterSeconds === null
          ? `latency NOT back to baseline within the ${afterMs / 1000} s after the surge.`
          : `back to baseline ${recovery.recoveredAfterSeconds.toFixed(2)} s after the surge ended ` +
            `(target ≤ 1 s: ${recovery.recoveredAfterSeconds <= 1 ? 'met' : 'MISSED'}).`),
    )
  }
  report.groups.push({
    title: `${Math.round(capacity / 2)} req/s for ${calmMs / 1000} s → ${Math.round(surgeRate)} req/s for ${surgeMs / 1000} s → ${Math.round(capacity / 2)} req/s for ${afterMs / 1000} s`,
    runs,
    note: 'Recovery is measured on requests by send time, in 250 ms windows: back to baseline at the start of the first 2 s of windows in a row with ≥ 99% 2xx and p99 within max(2 × baseline, baseline + 20 ms).',
  })
  return report
}
