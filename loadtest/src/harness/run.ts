/**
 * One run: start a target, sample its baseline, apply the load, wait for it to
 * drain (the leak check), stop it. The target is stopped on every path.
 */
import {
  describeProtection,
  downstreamCapacity,
  type TargetConfig,
  type TargetStats,
} from '../target/config.js'
import { runClosedLoop } from './closed-loop.js'
import {
  bucketize,
  type LeakCheck,
  type RouteSummary,
  type RunSummary,
  rssFigures,
  type Series,
  serverCpuFigures,
  summarize,
  summarizeRoutes,
} from './metrics.js'
import { type Phase, runOpenLoop } from './open-loop.js'
import { startTarget } from './processes.js'
import { Progress } from './progress.js'
import type { RequestLog, RouteShare } from './records.js'
import { type LogicalLog, type RetryingUsersLoad, runRetryingUsers } from './retrying-users.js'
import { type RetryingUsersSummary, summarizeRetryingUsers } from './retrying-users-summary.js'
import { fetchStats, type Sample, setServiceMs, startSampler } from './sampler.js'
import { compareMetrics, fetchMetrics, type ScrapedMetrics } from './scrape.js'

/** The load applied in one run. */
export type LoadSpec =
  | {
      model: 'open'
      phases: Phase[]
      mix: RouteShare[]
      timeoutMs: number
      /** A new connection per request instead of keep-alive. @default false */
      newConnection?: boolean
    }
  | {
      model: 'closed'
      connections: number
      durationMs: number
      mix: RouteShare[]
      timeoutMs: number
    }
  /** Users with a think time, retrying refusals naively or through `@spillway/client` (`retry-amplification`). */
  | ({ model: 'users' } & RetryingUsersLoad)

/** What to run. */
export interface RunSpec {
  /** Name in tables and charts. @default the protection's description */
  label?: string
  target: TargetConfig
  load: LoadSpec
  /** Latency objective for goodput, ms. */
  sloMs: number
  /** Changes of the downstream's operation time during the run (`capacity-step`). */
  serviceSteps?: Array<{ atMs: number; serviceMs: number }>
  /** How long to wait for the target to drain after the load, ms. @default 3000 */
  drainWaitMs?: number
  /** Chart bucket, ms. @default 500 */
  bucketMs?: number
  /**
   * Stops the target process (`SIGSTOP`) at `atMs` into the load for `durationMs`,
   * then lets it run again (`SIGCONT`): a stall like a long GC pause or a starved VM.
   */
  stalls?: Array<{ atMs: number; durationMs: number }>
  /**
   * After the drain, also wait (at most this long, ms) until the server's active
   * resources (`process.getActiveResourcesInfo()`) are back to their count
   * before the load, and record both. @default undefined (not checked)
   */
  resourceWaitMs?: number
}

/** What the server said of itself before the load and after the drain (soak). */
export interface ServerSnapshot {
  rssBytes: number
  heapUsedBytes: number | null
  /** `process.getActiveResourcesInfo()` counted by type. */
  activeResources: Record<string, number>
  startedGone: number
  startedPastDeadline: number
  /** Of `startedGone`, the longest a start came after its client's announced departure, ms. */
  startedGoneMaxLateMs: number
  /** Of `startedGone`, those that started more than 100 ms after their client left. */
  startedLongGone: number
}

/** A stall as it happened: when the target was stopped and let go, ms since the load started. */
export interface StallRecord {
  stoppedAtMs: number
  resumedAtMs: number
}

/** Everything one run produced, as written to JSON. */
export interface RunResult {
  label: string
  protection: string
  framework: TargetConfig['framework']
  adapter: string | null
  target: TargetConfig
  load: LoadSpec
  loadLabel: string
  capacityPerSecond: number | null
  sloMs: number
  summary: RunSummary
  routes: RouteSummary[]
  series: Series
  samples: Sample[]
  /** The controller's `stats()` at the leak check (spillway only). */
  finalControllerStats: TargetStats['controller']
  /** Set when the run could not be done (e.g. the target failed to start or rejected its configuration). */
  error?: string
  /** The server's own `/metrics` over the run beside the load generator's figures (`--metrics`). */
  metrics?: ScrapedMetrics
  /** Logical requests, their outcomes and the retry amplification (`users` load only). */
  users?: RetryingUsersSummary
  /** Before the load and after the drain (when `resourceWaitMs` is set). */
  server?: { before: ServerSnapshot; after: ServerSnapshot; resourcesBack: boolean }
  /** The stalls as they happened. */
  stalls?: StallRecord[]
}

function snapshotOf(stats: TargetStats): ServerSnapshot {
  return {
    rssBytes: stats.rssBytes,
    heapUsedBytes: stats.heapUsedBytes ?? null,
    activeResources: stats.activeResources ?? {},
    startedGone: stats.startedGone ?? 0,
    startedPastDeadline: stats.startedPastDeadline ?? 0,
    startedGoneMaxLateMs: stats.startedGoneMaxLateMs ?? 0,
    startedLongGone: stats.startedLongGone ?? 0,
  }
}

/** True when no type of active resource counts more than before the load. */
export function resourcesBack(
  before: Record<string, number>,
  after: Record<string, number>,
): boolean {
  return Object.entries(after).every(([type, n]) => n <= (before[type] ?? 0))
}

async function waitForResources(
  port: number,
  before: Record<string, number>,
  waitMs: number,
): Promise<{ stats: TargetStats; back: boolean }> {
  const start = performance.now()
  for (;;) {
    const stats = await fetchStats(port)
    const back = resourcesBack(before, stats.activeResources ?? {})
    if (back || performance.now() - start >= waitMs) return { stats, back }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** Total load time of a spec, ms. */
export function loadDurationMs(load: LoadSpec): number {
  return load.model === 'open'
    ? load.phases.reduce((sum, p) => sum + p.durationMs, 0)
    : load.durationMs
}

/** "open loop 1200/s" or "closed loop 200 conn", for labels. */
export function describeLoad(load: LoadSpec): string {
  if (load.model === 'closed') return `closed loop, ${load.connections} connections`
  if (load.model === 'users')
    return `${load.users} users, think ${load.thinkMs} ms, ${load.client === 'naive' ? 'naive retries' : '@spillway/client'}`
  const rates = [...new Set(load.phases.map((p) => Math.round(p.rate)))]
  return `open loop, ${rates.join(' → ')} req/s`
}

async function leakCheck(
  port: number,
  waitMs: number,
): Promise<{ leak: LeakCheck; stats: TargetStats }> {
  const start = performance.now()
  for (;;) {
    const stats = await fetchStats(port)
    const c = stats.controller
    const backlog = stats.downstreamQueued + (stats.pLimitPending ?? 0)
    const drained =
      stats.active === 0 && backlog === 0 && (c === null || (c.inFlight === 0 && c.queued === 0))
    const afterMs = performance.now() - start
    if (drained || afterMs >= waitMs) {
      return {
        leak: {
          drained,
          afterMs,
          inFlight: c?.inFlight ?? null,
          queued: c?.queued ?? null,
          active: stats.active,
          backlog,
        },
        stats,
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** What the server side of a run produced. */
export interface ServerObservations {
  samples: Sample[]
  baselineRssBytes: number | null
  /** Server CPU time before the load, µs. */
  baselineCpuMicros: number | null
  /** The harness's CPU over the load, % of one core. */
  generatorCpuPercent: number | null
  /** `/__stats` at the leak check. */
  final: TargetStats
  leak: LeakCheck
  adapter: string | null
}

/** Computes a run's result from its log and the server's observations (pure; the report test uses it too). */
export function assembleResult(
  spec: RunSpec,
  log: RequestLog,
  server: ServerObservations,
): RunResult {
  const capacity = downstreamCapacity(spec.target)
  const totalMs = loadDurationMs(spec.load)
  const summary: RunSummary = {
    ...summarize(log, totalMs, spec.sloMs, capacity),
    ...rssFigures(server.baselineRssBytes, server.samples, totalMs),
    ...serverCpuFigures(server.baselineCpuMicros, server.samples, totalMs),
    generatorCpuPercent: server.generatorCpuPercent,
    wasted: server.final.wasted,
    handlerRuns: server.final.completed,
    leak: server.leak,
  }
  return {
    label: spec.label ?? describeProtection(spec.target.protection),
    protection: describeProtection(spec.target.protection),
    framework: spec.target.framework,
    adapter: server.adapter,
    target: spec.target,
    load: spec.load,
    loadLabel: describeLoad(spec.load),
    capacityPerSecond: Number.isFinite(capacity) ? capacity : null,
    sloMs: spec.sloMs,
    summary,
    routes:
      spec.load.model === 'open'
        ? summarizeRoutes(
            log,
            spec.load.mix.map((r) => r.path),
          )
        : [],
    // One client timeout past the schedule: the last answers (or give-ups) land there.
    series: bucketize(log, totalMs + spec.load.timeoutMs, spec.sloMs, spec.bucketMs ?? 500),
    samples: server.samples,
    finalControllerStats: server.final.controller,
  }
}

/** Runs one spec; returns the result and the raw log (the log is not written to JSON). */
export async function runOne(spec: RunSpec): Promise<{ result: RunResult; log: RequestLog }> {
  const label = spec.label ?? describeProtection(spec.target.protection)
  const target = await startTarget(spec.target)
  const progress = new Progress(label)
  try {
    // Let the freshly started process settle before reading its baseline RSS.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const baseline = await fetchStats(target.port)
    const metricsBefore = target.metrics ? await fetchMetrics(target.port) : null
    const t0 = performance.now()
    const harnessCpu = process.cpuUsage()
    const sampler = startSampler(target.port, t0)
    const stepTimers = (spec.serviceSteps ?? []).map((step) =>
      setTimeout(() => void setServiceMs(target.port, step.serviceMs).catch(() => {}), step.atMs),
    )
    const stalls: StallRecord[] = []
    let stopped = false
    const resume = (): void => {
      if (!stopped) return
      stopped = false
      try {
        process.kill(target.pid, 'SIGCONT')
      } catch {
        // Already gone: nothing to let go.
      }
      const last = stalls[stalls.length - 1]
      if (last !== undefined) last.resumedAtMs = performance.now() - t0
    }
    for (const stall of spec.stalls ?? []) {
      stepTimers.push(
        setTimeout(() => {
          if (stopped) return
          try {
            process.kill(target.pid, 'SIGSTOP')
          } catch {
            return
          }
          stopped = true
          stalls.push({ stoppedAtMs: performance.now() - t0, resumedAtMs: Number.NaN })
          stepTimers.push(setTimeout(resume, stall.durationMs))
        }, stall.atMs),
      )
    }
    let log: RequestLog
    let logical: LogicalLog | undefined
    try {
      if (spec.load.model === 'open') {
        log = await runOpenLoop({
          port: target.port,
          phases: spec.load.phases,
          mix: spec.load.mix,
          timeoutMs: spec.load.timeoutMs,
          newConnection: spec.load.newConnection === true,
          onProgress: (p) => progress.update(p.elapsedMs, p.totalMs, p, sampler.latest),
        })
      } else if (spec.load.model === 'users') {
        const run = await runRetryingUsers({
          ...spec.load,
          port: target.port,
          onProgress: (p) =>
            progress.update(p.elapsedMs, p.totalMs, { sent: p.attempts, ok: p.ok }, sampler.latest),
        })
        log = run.log
        logical = run.logical
      } else {
        log = await runClosedLoop({
          port: target.port,
          connections: spec.load.connections,
          durationMs: spec.load.durationMs,
          mix: spec.load.mix,
          timeoutMs: spec.load.timeoutMs,
          onProgress: (p) =>
            progress.update(p.elapsedMs, p.totalMs, { sent: p.answered }, sampler.latest),
        })
      }
    } finally {
      for (const timer of stepTimers) clearTimeout(timer)
      // Never leave a stopped process behind, whatever ended the load.
      resume()
      await sampler.stop()
    }
    const used = process.cpuUsage(harnessCpu)
    const generatorCpuPercent = ((used.user + used.system) / 1000 / (performance.now() - t0)) * 100
    const { leak, stats } = await leakCheck(target.port, spec.drainWaitMs ?? 3000)
    const resources =
      spec.resourceWaitMs === undefined
        ? undefined
        : await waitForResources(target.port, baseline.activeResources ?? {}, spec.resourceWaitMs)
    const result = assembleResult(spec, log, {
      samples: sampler.samples,
      baselineRssBytes: baseline.rssBytes,
      baselineCpuMicros: baseline.cpuMicros,
      generatorCpuPercent,
      final: stats,
      leak,
      adapter: target.adapter,
    })
    if (resources !== undefined) {
      result.server = {
        before: snapshotOf(baseline),
        after: snapshotOf(resources.stats),
        resourcesBack: resources.back,
      }
    }
    if (spec.stalls !== undefined) result.stalls = stalls
    if (logical !== undefined && spec.load.model === 'users') {
      result.users = summarizeRetryingUsers(spec.load, logical, log, {
        before: baseline.controller,
        after: stats.controller,
      })
    }
    if (metricsBefore !== null) {
      result.metrics = compareMetrics(
        metricsBefore,
        await fetchMetrics(target.port),
        log,
        spec.load.model === 'users' ? [{ path: spec.load.path, weight: 1 }] : spec.load.mix,
      )
    }
    progress.done(result.summary)
    return { result, log }
  } finally {
    progress.clear()
    await target.stop()
  }
}
