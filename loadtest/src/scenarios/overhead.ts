/**
 * `overhead`: a trivial route, bare Express vs the same app behind spillway
 * (a limit that never binds) and behind a pass-through middleware (the cost of
 * any extra layer), closed loop with 50 connections, rounds in alternating
 * order so drift on a shared machine hits every server alike; reported as the
 * median of the paired ratios.
 */
import { runClosedLoop } from '../harness/closed-loop.js'
import { summarizeLatency } from '../harness/metrics.js'
import { startTarget, type Target } from '../harness/processes.js'
import { fetchStats } from '../harness/sampler.js'
import { ms, rate } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import type { Protection } from '../target/config.js'
import { type ScenarioOptions, targetWith } from './common.js'

const CONNECTIONS = 50
const ROUNDS = 10
/** Warm-up per server before anything counts: the spillway path has more code for the JIT to optimise. */
const WARMUP_MS = 3000

export async function overhead(options: ScenarioOptions): Promise<Report> {
  const durationMs = (options.durationSeconds ?? 3) * 1000
  const report = createReport(
    'overhead',
    `spillway overhead: trivial ${options.framework} route, bare vs spillway`,
  )
  const variants: Array<{ label: string; protection: Protection; metrics?: boolean }> = [
    { label: `bare ${options.framework}`, protection: { kind: 'none' } },
    // Any middleware costs a layer: this one separates that from spillway's own work.
    { label: 'pass-through middleware', protection: { kind: 'passthrough' } },
    {
      label: 'spillway (limit 1000, never binds)',
      protection: { kind: 'spillway', limit: 1000, queue: { size: 128, timeoutMs: 1000 } },
    },
    // The same with @spillway/prometheus attached: the per-request cost of metrics on.
    {
      label: 'spillway + prometheus collector',
      protection: { kind: 'spillway', limit: 1000, queue: { size: 128, timeoutMs: 1000 } },
      metrics: true,
    },
  ]
  const targets: Target[] = []
  const rows: string[][] = []
  const throughput: number[][] = variants.map(() => [])
  const cpuPerRequest: number[][] = variants.map(() => [])
  try {
    for (const v of variants) {
      targets.push(
        await startTarget({ ...targetWith(options, v.protection), metrics: v.metrics === true }),
      )
    }
    const mix = [{ path: '/trivial', weight: 1 }]
    for (const t of targets) {
      await runClosedLoop({ port: t.port, connections: CONNECTIONS, durationMs: WARMUP_MS, mix })
    }
    for (let round = 0; round < ROUNDS; round++) {
      // Forward then backward order: a drift in the machine's load favours no server.
      const forward = variants.map((_, i) => i)
      const order = round % 2 === 0 ? forward : [...forward].reverse()
      for (const i of order) {
        const target = targets[i] as Target
        const cpuBefore = (await fetchStats(target.port)).cpuMicros
        const log = await runClosedLoop({
          port: target.port,
          connections: CONNECTIONS,
          durationMs,
          mix,
        })
        const ok = log.status.filter((s) => s >= 200 && s < 300).length
        const perSecond = ok / (durationMs / 1000)
        ;(throughput[i] as number[]).push(perSecond)
        // Server CPU per answered request: unlike throughput, it does not depend on how
        // much of the 2 cores the load generator happened to take this round.
        const cpuMicros = (await fetchStats(target.port)).cpuMicros - cpuBefore
        ;(cpuPerRequest[i] as number[]).push(cpuMicros / Math.max(1, log.status.length))
        const latency = summarizeLatency(log.latencyMs)
        rows.push([
          String(round + 1),
          (variants[i] as (typeof variants)[number]).label,
          rate(perSecond),
          ms(latency.p50),
          ms(latency.p99),
          String(log.status.length - ok),
        ])
        process.stderr.write(
          `round ${round + 1} ${(variants[i] as (typeof variants)[number]).label}: ${rate(perSecond)}\n`,
        )
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.stop()))
  }
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length)
  // The median of paired ratios: one round disturbed by another process's burst cannot sway it.
  const pairedRatio = (of: number[], to: number[]): { median: number; each: number[] } => {
    const each = to.map((b, i) => (of[i] ?? 0) / b)
    const sorted = [...each].sort((a, b) => a - b)
    return { median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, each }
  }
  const [bare, passthrough, protectedRuns, withMetrics] = throughput as [
    number[],
    number[],
    number[],
    number[],
  ]
  const { median: ratio, each: ratios } = pairedRatio(protectedRuns, bare)
  const { median: layerRatio } = pairedRatio(passthrough, bare)
  const { median: ownRatio } = pairedRatio(protectedRuns, passthrough)
  const median = (v: number[]): number =>
    [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0
  const [bareCpu, passthroughCpu, spillwayCpu, metricsCpu] = cpuPerRequest.map(median) as [
    number,
    number,
    number,
    number,
  ]
  const { median: metricsRatio } = pairedRatio(withMetrics, protectedRuns)
  report.tables.push({
    title: `Closed loop, ${CONNECTIONS} connections, ${durationMs / 1000} s per run, alternating`,
    headers: ['round', 'server', 'throughput', 'p50', 'p99', 'non-2xx'],
    rows,
  })
  report.findings.push(
    `spillway keeps ${(ratio * 100).toFixed(1)}% of bare throughput (median of paired rounds; means ${rate(mean(protectedRuns))} vs ${rate(mean(bare))}; ` +
      `per round ${ratios.map((r) => `${(r * 100).toFixed(1)}%`).join(', ')}); target ≥ 97%: ${ratio >= 0.97 ? 'met' : 'MISSED'}.`,
    `A pass-through middleware alone keeps ${(layerRatio * 100).toFixed(1)}% of bare throughput (mean ${rate(mean(passthrough))}); ` +
      `spillway keeps ${(ownRatio * 100).toFixed(1)}% of the pass-through's: that is its own cost, the rest is the framework's extra layer.`,
    `Server CPU per request (median of rounds): bare ${bareCpu.toFixed(1)} µs, pass-through ${passthroughCpu.toFixed(1)} µs, ` +
      `spillway ${spillwayCpu.toFixed(1)} µs: spillway adds ${(spillwayCpu - passthroughCpu).toFixed(1)} µs ` +
      `(${(((spillwayCpu - bareCpu) / bareCpu) * 100).toFixed(1)}% over bare). Throughput is bounded by the load generator sharing the cores; CPU per request is not.`,
    `Metrics on (@spillway/prometheus attached): ${(metricsRatio * 100).toFixed(1)}% of spillway's throughput without them (median of paired rounds), server CPU ${metricsCpu.toFixed(1)} µs per request vs ${spillwayCpu.toFixed(1)} µs (${(metricsCpu - spillwayCpu).toFixed(1)} µs); callgrind's instruction counts per request are the steadier figure (packages/prometheus/bench).`,
  )
  return report
}
