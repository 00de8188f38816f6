/**
 * One fleet run: a shared Redis (when the protection has a shared `perKey`),
 * N target instances (separate processes, each its own spillway), nginx in
 * front, open-loop load through nginx, one instance killed mid-run. Everything
 * started here is stopped here, on every path, by its PID.
 */

import { type LeakCheck, summarizeLatency } from '../harness/metrics.js'
import { runOpenLoop } from '../harness/open-loop.js'
import { startTarget, type Target } from '../harness/processes.js'
import { Progress } from '../harness/progress.js'
import { ERROR, isOk, type RequestLog, type RouteShare, TIMEOUT } from '../harness/records.js'
import { assembleResult, type RunResult, type RunSpec } from '../harness/run.js'
import { fetchStats, type Sample, startSampler } from '../harness/sampler.js'
import { type NginxLogEntry, type Service, startNginx, startRedis } from '../harness/services.js'
import type { Protection, TargetConfig, TargetStats } from '../target/config.js'

/** What to run. */
export interface FleetSpec {
  label: string
  /** Each instance's target (the same for all; a shared perKey's Redis port is filled in here). */
  target: TargetConfig
  instances: number
  /** Arrivals per second at nginx, and for how long, ms. */
  rate: number
  durationMs: number
  /** Tenants as routes (`/normal?tenant=greedy`) with their share of the arrivals. */
  mix: RouteShare[]
  /** When to SIGKILL the last instance, ms into the load; never when absent. */
  killAtMs?: number | undefined
  /** nginx: attempts per request and the window for them. */
  tries: number
  retryWindowMs: number
  timeoutMs: number
  sloMs: number
  /** Binaries (from Debian's packages). */
  nginxBinary: string
  redisBinary?: string | undefined
}

/** Goodput and latency over a stretch of the run. */
export interface WindowFigures {
  fromMs: number
  toMs: number
  sent: number
  /** 2xx within the objective per second (by send time). */
  goodputPerSecond: number
  /** Every 2xx per second, however late (what was served at all). */
  okPerSecond: number
  /** 2xx p99, ms. */
  p99Ms: number | null
  status503: number
  status429: number
  timeouts: number
  errors: number
}

/** What the live instances' `/__stats` said over a stretch of the run: averages per sample. */
export interface InstanceFigures {
  /** Samples taken (every instance's, together). */
  samples: number
  /** The controller's `stats().limit`, `inFlight` and `queued`. */
  limit: number | null
  inFlight: number | null
  queued: number | null
  /** Admitted requests waiting inside the handler for a downstream slot. */
  downstreamQueued: number
}

/** One phase of a fleet run (before the kill, after it): the clients', nginx's and the instances' figures. */
export interface PhaseFigures extends WindowFigures {
  /** The instances alive in this phase × each one's capacity, req/s. */
  capacityPerSecond: number
  /** Goodput as a share of this phase's capacity. */
  goodputOfCapacity: number
  /** nginx's attempts for the requests it received in this phase. */
  retries: RetryFigures
  /** The live instances' state, sampled. */
  instances: InstanceFigures
}

/** Per tenant (route of the mix). */
export interface TenantFigures {
  tenant: string
  sent: number
  ok: number
  successRate: number | null
  status429: number
  status503: number
  timeouts: number
  errors: number
  p99Ms: number | null
}

/** What nginx's access log says about retries. */
export interface RetryFigures {
  /** Requests nginx logged. */
  requests: number
  /** Attempts made on instances (≥ requests: retries). */
  attempts: number
  /** `503`s the instances answered. */
  instance503: number
  /** Requests that met a `503` and got another answer from another instance: absorbed. */
  absorbed503: number
  /** Requests whose answer to the client was an instance's `503`: passed on. */
  passed503: number
  /** Attempts that failed to connect or broke (a dead instance), retried or not. */
  connectionFailures: number
  /** Requests answered 502/504 by nginx itself (every attempt failed). */
  gatewayErrors: number
}

/** Everything one fleet run produced. */
export interface FleetResult {
  run: RunResult
  capacityPerSecond: number
  before: PhaseFigures
  after: PhaseFigures | null
  tenants: TenantFigures[]
  retries: RetryFigures
  /** Each instance's final state (null for the killed one). */
  instances: Array<{ port: number; killed: boolean; stats: TargetStats | null }>
  nginxConfig: string
  /** Every request the generator sent, for figures beyond the ones above. */
  log: RequestLog
}

/** Goodput and p99 for requests sent in `[fromMs, toMs)`. */
export function windowFigures(
  log: RequestLog,
  fromMs: number,
  toMs: number,
  sloMs: number,
): WindowFigures {
  const ok: number[] = []
  const figures = { sent: 0, within: 0, status503: 0, status429: 0, timeouts: 0, errors: 0 }
  for (let i = 0; i < log.sentMs.length; i++) {
    const sent = log.sentMs[i] as number
    if (sent < fromMs || sent >= toMs) continue
    figures.sent++
    const status = log.status[i] as number
    const latency = log.latencyMs[i] as number
    if (isOk(status)) {
      ok.push(latency)
      if (latency <= sloMs) figures.within++
    } else if (status === 503) figures.status503++
    else if (status === 429) figures.status429++
    else if (status === TIMEOUT) figures.timeouts++
    else if (status === ERROR) figures.errors++
  }
  return {
    fromMs,
    toMs,
    sent: figures.sent,
    goodputPerSecond: figures.within / ((toMs - fromMs) / 1000),
    okPerSecond: ok.length / ((toMs - fromMs) / 1000),
    p99Ms: summarizeLatency(ok).p99,
    status503: figures.status503,
    status429: figures.status429,
    timeouts: figures.timeouts,
    errors: figures.errors,
  }
}

/** Per-tenant figures from a log whose routes are the tenants. */
export function tenantFigures(log: RequestLog, mix: readonly RouteShare[]): TenantFigures[] {
  return mix.map((route, index) => {
    const ok: number[] = []
    const f = { sent: 0, status429: 0, status503: 0, timeouts: 0, errors: 0 }
    for (let i = 0; i < log.route.length; i++) {
      if (log.route[i] !== index) continue
      f.sent++
      const status = log.status[i] as number
      if (isOk(status)) ok.push(log.latencyMs[i] as number)
      else if (status === 429) f.status429++
      else if (status === 503) f.status503++
      else if (status === TIMEOUT) f.timeouts++
      else if (status === ERROR) f.errors++
    }
    return {
      tenant: new URL(route.path, 'http://x').searchParams.get('tenant') ?? route.path,
      ...f,
      ok: ok.length,
      successRate: f.sent === 0 ? null : ok.length / f.sent,
      p99Ms: summarizeLatency(ok).p99,
    }
  })
}

/** Averages of sampled `/__stats` taken in `[fromMs, toMs)` (ms since the load started). */
export function instanceFigures(
  samples: readonly Sample[],
  fromMs: number,
  toMs: number,
): InstanceFigures {
  const within = samples.filter((s) => s.tMs >= fromMs && s.tMs < toMs)
  const mean = (f: (s: Sample) => number | null): number | null => {
    const values = within.map(f).filter((v) => v !== null)
    return values.length === 0 ? null : values.reduce((n, v) => n + v, 0) / values.length
  }
  return {
    samples: within.length,
    limit: mean((s) => s.limit),
    inFlight: mean((s) => s.inFlight),
    queued: mean((s) => s.queued),
    downstreamQueued: mean((s) => s.downstreamQueued) ?? 0,
  }
}

/** Retry figures from nginx's log (`status upstream_statuses` per request). */
export function retryFigures(entries: readonly NginxLogEntry[]): RetryFigures {
  const figures: RetryFigures = {
    requests: entries.length,
    attempts: 0,
    instance503: 0,
    absorbed503: 0,
    passed503: 0,
    connectionFailures: 0,
    gatewayErrors: 0,
  }
  for (const { status, attempts } of entries) {
    figures.attempts += attempts.length
    let met503 = false
    for (const attempt of attempts) {
      if (attempt === 503) {
        figures.instance503++
        met503 = true
      } else if (attempt === 502 || attempt === 504) figures.connectionFailures++
    }
    const last = attempts[attempts.length - 1]
    if (status === 503 && last === 503) figures.passed503++
    else if (met503) figures.absorbed503++
    if (status === 502 || status === 504) figures.gatewayErrors++
  }
  return figures
}

function withRedisPort(protection: Protection, port: number): Protection {
  if (protection.kind !== 'spillway' || protection.perKey?.redis === undefined) return protection
  return {
    ...protection,
    perKey: { ...protection.perKey, redis: { ...protection.perKey.redis, port } },
  }
}

function needsRedis(protection: Protection): boolean {
  return protection.kind === 'spillway' && protection.perKey?.redis !== undefined
}

async function drainCheck(
  targets: readonly Target[],
  waitMs: number,
): Promise<{ leak: LeakCheck; stats: TargetStats[] }> {
  const start = performance.now()
  for (;;) {
    const stats = await Promise.all(targets.map((t) => fetchStats(t.port, undefined, 5000)))
    const sum = (f: (s: TargetStats) => number) => stats.reduce((n, s) => n + f(s), 0)
    const leak: LeakCheck = {
      drained: false,
      afterMs: performance.now() - start,
      inFlight: stats.some((s) => s.controller !== null)
        ? sum((s) => s.controller?.inFlight ?? 0)
        : null,
      queued: stats.some((s) => s.controller !== null)
        ? sum((s) => s.controller?.queued ?? 0)
        : null,
      active: sum((s) => s.active),
      backlog: sum((s) => s.downstreamQueued + (s.pLimitPending ?? 0)),
    }
    leak.drained =
      leak.active === 0 && leak.backlog === 0 && (leak.inFlight ?? 0) === 0 && !leak.queued
    if (leak.drained || leak.afterMs >= waitMs) return { leak, stats }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Runs one fleet spec and stops everything it started. */
export async function runFleet(spec: FleetSpec): Promise<FleetResult> {
  const started: Array<{ stop(graceMs?: number): Promise<void> }> = []
  const progress = new Progress(spec.label)
  try {
    let redis: Service | undefined
    let protection = spec.target.protection
    if (needsRedis(protection)) {
      if (spec.redisBinary === undefined) throw new Error('this protection needs redis-server')
      redis = await startRedis(spec.redisBinary)
      started.push(redis)
      protection = withRedisPort(protection, redis.port)
    }
    const target: TargetConfig = { ...spec.target, protection }
    const targets = await Promise.all(
      // Started together; on a busy machine three tsx processes take a while to come up.
      Array.from({ length: spec.instances }, () => startTarget(target, 60_000)),
    )
    started.push(...targets)
    const nginx = await startNginx(spec.nginxBinary, {
      upstreamPorts: targets.map((t) => t.port),
      tries: spec.tries,
      retryWindowMs: spec.retryWindowMs,
    })
    started.push(nginx)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const survivor = targets[0] as Target
    // Generous: a freshly started instance on a busy machine may be slow to answer.
    const baseline = await fetchStats(survivor.port, undefined, 10_000)
    const t0 = performance.now()
    // nginx logs wall-clock times: this is the load's start on that clock.
    const wallT0 = Date.now()
    const harnessCpu = process.cpuUsage()
    // Charts show one instance that survives (the others behave alike); the phase
    // figures average every live instance (the victim's sampler fails once it is dead).
    const samplers = targets.map((t) => startSampler(t.port, t0))
    const sampler = samplers[0] as (typeof samplers)[number]
    const victim = spec.killAtMs === undefined ? undefined : targets[targets.length - 1]
    const killTimer =
      victim === undefined
        ? undefined
        : setTimeout(() => process.kill(victim.pid, 'SIGKILL'), spec.killAtMs)
    let log: RequestLog
    try {
      log = await runOpenLoop({
        port: nginx.port,
        phases: [{ durationMs: spec.durationMs, rate: spec.rate }],
        mix: spec.mix,
        timeoutMs: spec.timeoutMs,
        onProgress: (p) => progress.update(p.elapsedMs, p.totalMs, p, sampler.latest),
      })
    } finally {
      clearTimeout(killTimer)
      await Promise.all(samplers.map((s) => s.stop()))
    }
    const used = process.cpuUsage(harnessCpu)
    const generatorCpuPercent = ((used.user + used.system) / 1000 / (performance.now() - t0)) * 100
    const survivors = targets.filter((t) => t !== victim)
    // Returns as soon as drained; a starved machine needs a while to finish its last handlers.
    const { leak, stats } = await drainCheck(survivors, 10_000)
    const entries = await nginx.stopAndReadLog()
    const capacity = survivors.length + (victim === undefined ? 0 : 1)
    const perInstance = (spec.target.downstream.slots / spec.target.downstream.serviceMs) * 1000
    const runSpec: RunSpec = {
      label: spec.label,
      target,
      load: {
        model: 'open',
        phases: [{ durationMs: spec.durationMs, rate: spec.rate }],
        mix: spec.mix,
        timeoutMs: spec.timeoutMs,
      },
      sloMs: spec.sloMs,
    }
    const run = assembleResult(runSpec, log, {
      samples: sampler.samples,
      baselineRssBytes: baseline.rssBytes,
      baselineCpuMicros: baseline.cpuMicros,
      generatorCpuPercent,
      final: stats[0] as TargetStats,
      leak,
      adapter: survivor.adapter,
    })
    // The fleet's capacity, not one instance's.
    const fleetCapacity = capacity * perInstance
    run.capacityPerSecond = fleetCapacity
    run.summary.goodputOfCapacity = run.summary.goodputPerSecond / fleetCapacity
    run.loadLabel = `${run.loadLabel} through nginx to ${spec.instances} instances`
    progress.done(run.summary)
    const killAt = spec.killAtMs
    const allSamples = samplers.flatMap((s) => s.samples)
    const phase = (fromMs: number, toMs: number, alive: number): PhaseFigures => {
      const window = windowFigures(log, fromMs, toMs, spec.sloMs)
      const phaseCapacity = alive * perInstance
      return {
        ...window,
        capacityPerSecond: phaseCapacity,
        goodputOfCapacity: window.goodputPerSecond / phaseCapacity,
        retries: retryFigures(
          entries.filter((e) => e.startMs - wallT0 >= fromMs && e.startMs - wallT0 < toMs),
        ),
        instances: instanceFigures(allSamples, fromMs, toMs),
      }
    }
    return {
      run,
      capacityPerSecond: fleetCapacity,
      // From 1 s in (connections opened, the first samples taken) to the kill.
      before: phase(
        Math.min(1000, (killAt ?? spec.durationMs) / 4),
        killAt ?? spec.durationMs,
        capacity,
      ),
      // A second for the fleet to settle after the kill (requests in flight there are retried or fail).
      after:
        killAt === undefined
          ? null
          : phase(Math.min(killAt + 1000, spec.durationMs), spec.durationMs, survivors.length),
      tenants: tenantFigures(log, spec.mix),
      retries: retryFigures(entries),
      instances: targets.map((t) => ({
        port: t.port,
        killed: t === victim,
        stats: t === victim ? null : (stats[survivors.indexOf(t)] ?? null),
      })),
      nginxConfig: nginx.config,
      log,
    }
  } finally {
    progress.clear()
    // nginx first (it holds connections to the instances), then the instances, then Redis.
    for (const service of started.reverse()) await service.stop().catch(() => {})
  }
}
