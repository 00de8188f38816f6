/**
 * From a request log and the server samples to the figures every run reports.
 * Pure functions: the report test feeds them synthetic logs.
 */
import { ERROR, IMMEDIATE_REASONS, isOk, isRejection, type RequestLog, TIMEOUT } from './records.js'
import type { Sample } from './sampler.js'

/** Latency percentiles, ms; `null` when nothing was measured. */
export interface LatencySummary {
  count: number
  p50: number | null
  p90: number | null
  p99: number | null
  max: number | null
}

/** Nearest-rank percentile of an ascending array (`p` in 0..100); `null` for an empty array. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number
}

/** p50/p90/p99/max of the given latencies. */
export function summarizeLatency(values: readonly number[]): LatencySummary {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
  }
}

/** Did the server drain after the run: in flight and queued back to 0? */
export interface LeakCheck {
  drained: boolean
  /** How long after the load ended the check ran (or gave up), ms. */
  afterMs: number
  /** The controller's in flight and queue, or null when unprotected. */
  inFlight: number | null
  queued: number | null
  /** Handlers still running (the unprotected server's backlog). */
  active: number
  /** Waiting in the downstream pool or the p-limit queue. */
  backlog: number
}

/** The headline figures of one run. */
export interface RunSummary {
  durationMs: number
  sent: number
  offeredPerSecond: number
  ok: number
  /** 2xx answered within the latency objective. */
  okWithinSlo: number
  /** 2xx within the objective per second, over the load plus the time its last answers took. */
  goodputPerSecond: number
  /** Goodput ÷ the downstream's nominal capacity. */
  goodputOfCapacity: number | null
  rejectedByStatus: Record<string, number>
  rejectedPerSecond: number
  /** Non-2xx answers that are not 503/429 (e.g. 500, 404). */
  otherStatus: number
  timeouts: number
  errors: number
  latencyOk: LatencySummary
  latencyRejected: LatencySummary
  /** Rejections decided on arrival (`queueFull`, `overloaded`, ...); null when reasons are unknown. */
  latencyRejectedImmediate: LatencySummary | null
  /** Rejections after a wait in the queue (`queueTimeout`, `evicted`, `deadline`); null when unknown. */
  latencyRejectedAfterWait: LatencySummary | null
  /** Count of each rejection reason read from the answers. */
  rejectedByReason: Record<string, number>
  baselineRssBytes: number | null
  peakRssBytes: number | null
  rssGrowthBytes: number | null
  /**
   * Peak RSS of the run's second half minus that of its first half: ~0 when memory
   * is bounded (the heap grows to a plateau), positive when it grows with traffic.
   */
  rssSecondHalfGrowthBytes: number | null
  /** Server CPU over the load, % of one core. */
  serverCpuPercent: number | null
  /** The harness's CPU (load generator, sampling) over the load, % of one core. */
  generatorCpuPercent: number | null
  /** Highest per-interval event-loop delay p99 of the server during the load, ms. */
  serverEventLoopDelayMaxP99Ms: number | null
  /** Handler runs that finished for clients already gone, and all handler runs, at the leak check. */
  wasted: number | null
  handlerRuns: number | null
  leak: LeakCheck | null
}

/** Summarises a log over `durationMs` of load. */
export function summarize(
  log: RequestLog,
  durationMs: number,
  sloMs: number,
  capacityPerSecond: number,
): Pick<
  RunSummary,
  | 'durationMs'
  | 'sent'
  | 'offeredPerSecond'
  | 'ok'
  | 'okWithinSlo'
  | 'goodputPerSecond'
  | 'goodputOfCapacity'
  | 'rejectedByStatus'
  | 'rejectedPerSecond'
  | 'otherStatus'
  | 'timeouts'
  | 'errors'
  | 'latencyOk'
  | 'latencyRejected'
  | 'latencyRejectedImmediate'
  | 'latencyRejectedAfterWait'
  | 'rejectedByReason'
> {
  const okLatency: number[] = []
  const rejectedLatency: number[] = []
  const immediate: number[] = []
  const afterWait: number[] = []
  const rejectedByReason: Record<string, number> = {}
  const rejectedByStatus: Record<string, number> = {}
  let okWithinSlo = 0
  let timeouts = 0
  let errors = 0
  let otherStatus = 0
  let lastOkMs = durationMs
  for (let i = 0; i < log.status.length; i++) {
    const status = log.status[i] as number
    const latency = log.latencyMs[i] as number
    if (isOk(status)) {
      okLatency.push(latency)
      if (latency <= sloMs) okWithinSlo++
      lastOkMs = Math.max(lastOkMs, (log.sentMs[i] as number) + latency)
    } else if (isRejection(status)) {
      rejectedLatency.push(latency)
      rejectedByStatus[status] = (rejectedByStatus[status] ?? 0) + 1
      const reason = log.reason?.[i]
      if (reason !== undefined) {
        rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + 1
        ;(IMMEDIATE_REASONS.has(reason) ? immediate : afterWait).push(latency)
      }
    } else if (status === TIMEOUT) timeouts++
    else if (status === ERROR) errors++
    else otherStatus++
  }
  const seconds = durationMs / 1000
  // Over the span in which the answers were delivered: work still in flight when the
  // arrivals stop is answered after the end and must not inflate the rate.
  const goodputPerSecond = okWithinSlo / (lastOkMs / 1000)
  return {
    durationMs,
    sent: log.status.length,
    offeredPerSecond: log.status.length / seconds,
    ok: okLatency.length,
    okWithinSlo,
    goodputPerSecond,
    goodputOfCapacity: Number.isFinite(capacityPerSecond)
      ? goodputPerSecond / capacityPerSecond
      : null,
    rejectedByStatus,
    rejectedPerSecond: rejectedLatency.length / seconds,
    otherStatus,
    timeouts,
    errors,
    latencyOk: summarizeLatency(okLatency),
    latencyRejected: summarizeLatency(rejectedLatency),
    latencyRejectedImmediate: log.reason === undefined ? null : summarizeLatency(immediate),
    latencyRejectedAfterWait: log.reason === undefined ? null : summarizeLatency(afterWait),
    rejectedByReason,
  }
}

/** Per-route (priority class) figures. */
export interface RouteSummary {
  path: string
  sent: number
  ok: number
  /** 2xx ÷ sent. */
  successRate: number | null
  rejected: number
  timeouts: number
  latencyOk: LatencySummary
}

/** Splits a log by route index. */
export function summarizeRoutes(log: RequestLog, paths: readonly string[]): RouteSummary[] {
  return paths.map((path, index) => {
    const ok: number[] = []
    let sent = 0
    let rejected = 0
    let timeouts = 0
    for (let i = 0; i < log.route.length; i++) {
      if (log.route[i] !== index) continue
      sent++
      const status = log.status[i] as number
      if (isOk(status)) ok.push(log.latencyMs[i] as number)
      else if (isRejection(status)) rejected++
      else if (status === TIMEOUT) timeouts++
    }
    return {
      path,
      sent,
      ok: ok.length,
      successRate: sent === 0 ? null : ok.length / sent,
      rejected,
      timeouts,
      latencyOk: summarizeLatency(ok),
    }
  })
}

/** Figures per time bucket, for the charts. Rates are per second; latencies ms (`null`: none). */
export interface Series {
  bucketMs: number
  /** Bucket start, seconds since the load started. */
  t: number[]
  offered: number[]
  goodput: number[]
  shed: number[]
  timeouts: number[]
  p50: Array<number | null>
  p99: Array<number | null>
  rejectedP99: Array<number | null>
}

/**
 * Buckets a log. Rates count requests by completion time (what the server
 * delivered in that second); `offered` counts by send time.
 */
export function bucketize(
  log: RequestLog,
  totalMs: number,
  sloMs: number,
  bucketMs: number,
): Series {
  const n = Math.max(1, Math.ceil(totalMs / bucketMs))
  const offered = new Array<number>(n).fill(0)
  const goodput = new Array<number>(n).fill(0)
  const shed = new Array<number>(n).fill(0)
  const timeouts = new Array<number>(n).fill(0)
  const ok: number[][] = Array.from({ length: n }, () => [])
  const rejected: number[][] = Array.from({ length: n }, () => [])
  const clamp = (ms: number): number => Math.min(n - 1, Math.max(0, Math.floor(ms / bucketMs)))
  for (let i = 0; i < log.status.length; i++) {
    const sent = log.sentMs[i] as number
    const latency = log.latencyMs[i] as number
    const status = log.status[i] as number
    offered[clamp(sent)] = (offered[clamp(sent)] as number) + 1
    const done = clamp(sent + (Number.isFinite(latency) ? latency : 0))
    if (isOk(status)) {
      ;(ok[done] as number[]).push(latency)
      if (latency <= sloMs) goodput[done] = (goodput[done] as number) + 1
    } else if (isRejection(status)) {
      ;(rejected[done] as number[]).push(latency)
      shed[done] = (shed[done] as number) + 1
    } else if (status === TIMEOUT) timeouts[done] = (timeouts[done] as number) + 1
  }
  const perSecond = (values: number[]): number[] => values.map((v) => (v * 1000) / bucketMs)
  return {
    bucketMs,
    t: Array.from({ length: n }, (_, i) => (i * bucketMs) / 1000),
    offered: perSecond(offered),
    goodput: perSecond(goodput),
    shed: perSecond(shed),
    timeouts: perSecond(timeouts),
    p50: ok.map((values) => summarizeLatency(values).p50),
    p99: ok.map((values) => summarizeLatency(values).p99),
    rejectedP99: rejected.map((values) => summarizeLatency(values).p99),
  }
}

/** Server CPU and event-loop delay from the samples taken during the load. */
export function serverCpuFigures(
  baselineCpuMicros: number | null,
  samples: readonly Sample[],
  loadMs: number,
): Pick<RunSummary, 'serverCpuPercent' | 'serverEventLoopDelayMaxP99Ms'> {
  const during = samples.filter((s) => s.tMs <= loadMs)
  const last = during[during.length - 1]
  return {
    serverCpuPercent:
      baselineCpuMicros === null || last === undefined || last.tMs <= 0
        ? null
        : ((last.cpuMicros - baselineCpuMicros) / 1000 / last.tMs) * 100,
    serverEventLoopDelayMaxP99Ms:
      during.length === 0 ? null : Math.max(...during.map((s) => s.eventLoopDelayP99Ms)),
  }
}

/** Peak and baseline RSS from the samples. */
export function rssFigures(
  baselineRssBytes: number | null,
  samples: readonly Sample[],
  loadMs: number,
): Pick<
  RunSummary,
  'baselineRssBytes' | 'peakRssBytes' | 'rssGrowthBytes' | 'rssSecondHalfGrowthBytes'
> {
  const peakOf = (list: readonly Sample[]): number | null =>
    list.length === 0 ? null : Math.max(...list.map((s) => s.rssBytes))
  const peak = peakOf(samples)
  const during = samples.filter((s) => s.tMs <= loadMs)
  const first = peakOf(during.filter((s) => s.tMs < loadMs / 2))
  const second = peakOf(during.filter((s) => s.tMs >= loadMs / 2))
  return {
    baselineRssBytes,
    peakRssBytes: peak,
    rssGrowthBytes: baselineRssBytes === null || peak === null ? null : peak - baselineRssBytes,
    rssSecondHalfGrowthBytes: first === null || second === null ? null : second - first,
  }
}
