/** A small synthetic run, built through the same code as a real one, for the report tests. */
import type { LeakCheck } from '../src/harness/metrics.js'
import { createLog, PRIORITY_MIX, type RequestLog, TIMEOUT } from '../src/harness/records.js'
import { assembleResult, type RunResult, type RunSpec } from '../src/harness/run.js'
import type { Sample } from '../src/harness/sampler.js'
import type { Protection, TargetStats } from '../src/target/config.js'

/**
 * `protectedRun` shapes the figures like a shedding server (fast 503s, bounded
 * latency), otherwise like a collapsing one (latency climbing to the timeout).
 */
export function syntheticRun(
  protectedRun: boolean,
  options: { samples?: boolean } = {},
): { result: RunResult; log: RequestLog } {
  const durationMs = 4000
  const protection: Protection = protectedRun
    ? { kind: 'spillway', limit: 10, queue: { size: 16, timeoutMs: 250 } }
    : { kind: 'none' }
  const spec: RunSpec = {
    target: { framework: 'express', protection, downstream: { slots: 8, serviceMs: 20 }, cpuMs: 0 },
    load: {
      model: 'open',
      phases: [{ durationMs, rate: 300 }],
      mix: [...PRIORITY_MIX],
      timeoutMs: 2000,
    },
    sloMs: 500,
  }
  const log = createLog()
  for (let i = 0; i < 1200; i++) {
    const sentMs = (i * durationMs) / 1200
    log.sentMs.push(sentMs)
    log.route.push(i % 3)
    if (protectedRun) {
      const shed = i % 3 === 2
      log.status.push(shed ? 503 : 200)
      log.latencyMs.push(shed ? 0.5 + (i % 5) / 10 : 20 + (i % 40))
    } else {
      // Latency grows with the backlog until clients give up.
      const latency = 20 + sentMs * 0.8
      log.status.push(latency >= 2000 ? TIMEOUT : 200)
      log.latencyMs.push(Math.min(latency, 2000))
    }
  }
  const samples: Sample[] = []
  if (options.samples !== false) {
    for (let t = 0; t <= durationMs; t += 250) {
      samples.push({
        tMs: t,
        rssBytes: (90 + (protectedRun ? 5 : t / 40)) * 2 ** 20,
        cpuMicros: t * 500,
        eventLoopDelayP99Ms: 11,
        active: protectedRun ? 10 : Math.round(t / 4),
        wasted: 0,
        completed: t,
        downstreamQueued: protectedRun ? 2 : Math.round(t / 4) - 8,
        limit: protectedRun ? 10 : null,
        inFlight: protectedRun ? 10 : null,
        queued: protectedRun ? 16 : null,
        pLimitPending: null,
      })
    }
  }
  const final: TargetStats = {
    rssBytes: 100 * 2 ** 20,
    cpuMicros: 2_000_000,
    eventLoopDelayP99Ms: 11,
    active: 0,
    completed: 1000,
    wasted: protectedRun ? 0 : 400,
    downstreamQueued: 0,
    serviceMs: 20,
    pLimitPending: null,
    adapter: protectedRun ? '@spillway/express' : null,
    controller: protectedRun ? { limit: 10, inFlight: 0, queued: 0 } : null,
  }
  const leak: LeakCheck = {
    drained: true,
    afterMs: 100,
    inFlight: protectedRun ? 0 : null,
    queued: protectedRun ? 0 : null,
    active: 0,
    backlog: 0,
  }
  const result = assembleResult(spec, log, {
    samples,
    baselineRssBytes: 90 * 2 ** 20,
    baselineCpuMicros: 0,
    generatorCpuPercent: 30,
    final,
    leak,
    adapter: final.adapter,
  })
  return { result, log }
}
