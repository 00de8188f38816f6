/**
 * What every scenario shares: the default target (Express, a downstream of
 * 8 slots × 20 ms = 400 req/s), the protections compared, and the options the CLI parses.
 */
import type { RequestLog } from '../harness/records.js'
import { type RunResult, type RunSpec, runOne } from '../harness/run.js'
import type { AdaptiveLimitConfig, Framework, Protection, TargetConfig } from '../target/config.js'

/** Options common to the scenarios (all optional on the command line). */
export interface ScenarioOptions {
  /** Seconds of load per run (scenario-specific default when absent). */
  durationSeconds?: number | undefined
  /** Offered rate, req/s, overriding the scenario's multiple of capacity. */
  rate?: number | undefined
  framework: Framework
  slots: number
  serviceMs: number
  cpuMs: number
  /** The target's `server.listen` backlog; `undefined` leaves Node's default (511). */
  listenBacklog?: number | undefined
  /** Client timeout, ms. */
  timeoutMs: number
  /** Latency objective for goodput, ms. */
  sloMs: number
  /** The fixed spillway configuration. */
  limit: number
  queueSize: number
  queueTimeoutMs: number
  /**
   * Whether `queueSize`/`queueTimeoutMs` were given on the command line: if not,
   * adaptive limits run with the controller's default queue, as a user who
   * writes only `{ limit: { algorithm } }` gets.
   */
  queueGiven?: boolean | undefined
  /**
   * Whether `limit` was given on the command line: if not, the fleet derives
   * each instance's limit from the downstream's slots.
   */
  limitGiven?: boolean | undefined
  /** Adaptive algorithms to include where the scenario compares them. */
  adaptive: Array<AdaptiveLimitConfig['algorithm']>
  /** Load multiples of capacity (overload). */
  levels: number[]
  /** Open loop with a new connection per request (overload only). */
  newConnection?: boolean | undefined
  /**
   * Also compare spillway with `createPressureMonitor()` (event-loop pressure
   * shedding), through the framework adapter and through `installEarlyGate`
   * (overload only).
   */
  pressure?: boolean | undefined
  /** Light tenants beside the heavy one (`tenants`; 4 when absent). */
  lightTenants?: number | undefined
  /** How long the target is stopped (`SIGSTOP`) half-way, ms (`soak` and `stall` only). */
  stallMs?: number | undefined
}

/** Defaults: the downstream and spillway configuration of the demo. */
export const DEFAULT_OPTIONS: ScenarioOptions = {
  framework: 'express',
  slots: 8,
  serviceMs: 20,
  cpuMs: 0,
  timeoutMs: 2000,
  sloMs: 500,
  limit: 10,
  queueSize: 16,
  queueTimeoutMs: 250,
  adaptive: ['gradient2', 'aimd', 'vegas'],
  levels: [2, 4],
}

/**
 * Nominal capacity, req/s: the downstream's, or with `--slots 0` the event
 * loop's (one core spending `cpuMs` per request), whichever binds first.
 */
export function capacityOf(options: ScenarioOptions): number {
  const downstream =
    options.slots > 0 ? (options.slots / options.serviceMs) * 1000 : Number.POSITIVE_INFINITY
  const cpu = options.cpuMs > 0 ? 1000 / options.cpuMs : Number.POSITIVE_INFINITY
  return Math.min(downstream, cpu)
}

/** The target with a given protection. */
export function targetWith(options: ScenarioOptions, protection: Protection): TargetConfig {
  return {
    framework: options.framework,
    protection,
    downstream: { slots: options.slots, serviceMs: options.serviceMs },
    cpuMs: options.cpuMs,
    ...(options.listenBacklog === undefined ? {} : { listenBacklog: options.listenBacklog }),
  }
}

/** The fixed-limit spillway protection. */
export function fixedSpillway(options: ScenarioOptions): Extract<Protection, { kind: 'spillway' }> {
  return {
    kind: 'spillway',
    limit: options.limit,
    queue: { size: options.queueSize, timeoutMs: options.queueTimeoutMs },
  }
}

/**
 * An adaptive spillway protection: only `{ limit: { algorithm } }` (the
 * controller's default queue), or the fixed one's queue when one was given.
 */
export function adaptiveSpillway(
  options: ScenarioOptions,
  algorithm: AdaptiveLimitConfig['algorithm'],
): Protection {
  if (options.queueGiven !== true) return { kind: 'spillway', limit: { algorithm } }
  return {
    kind: 'spillway',
    limit: { algorithm },
    queue: { size: options.queueSize, timeoutMs: options.queueTimeoutMs },
  }
}

/** The protections compared under overload: none, p-limit, fixed spillway, then each adaptive limit. */
export function comparedProtections(options: ScenarioOptions, withAdaptive = true): Protection[] {
  return [
    { kind: 'none' },
    { kind: 'p-limit', concurrency: options.slots },
    fixedSpillway(options),
    ...(withAdaptive ? options.adaptive.map((a) => adaptiveSpillway(options, a)) : []),
    ...(options.pressure === true
      ? [
          { ...fixedSpillway(options), pressure: true },
          // The same refusals answered before the framework's request processing runs.
          { ...fixedSpillway(options), pressure: true, early: true } as const,
          // Hono has no hold (no connection in the Fetch API).
          ...(options.framework === 'hono'
            ? []
            : [{ ...fixedSpillway(options), pressure: true, holdEarlyRetries: true } as const]),
          // The cheapest refusal, and one per Retry-After for a client that comes back early.
          {
            ...fixedSpillway(options),
            pressure: true,
            early: true,
            holdEarlyRetries: true,
          } as const,
        ]
      : []),
  ]
}

/**
 * Runs a spec; a target that cannot start (e.g. an adaptive limit that the
 * core does not accept yet) becomes a result with `error` instead of ending the scenario.
 */
export async function runOrRecord(
  spec: RunSpec,
): Promise<{ result: RunResult; log: RequestLog | null }> {
  try {
    return await runOne(spec)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`${spec.label ?? 'run'}: not run: ${message}\n`)
    return { result: failedResult(spec, message), log: null }
  }
}

function failedResult(spec: RunSpec, error: string): RunResult {
  const empty = { count: 0, p50: null, p90: null, p99: null, max: null }
  return {
    label: spec.label ?? spec.target.protection.kind,
    protection: spec.target.protection.kind,
    framework: spec.target.framework,
    adapter: null,
    target: spec.target,
    load: spec.load,
    loadLabel: '',
    capacityPerSecond: null,
    sloMs: spec.sloMs,
    summary: {
      durationMs: 0,
      sent: 0,
      offeredPerSecond: 0,
      ok: 0,
      okWithinSlo: 0,
      goodputPerSecond: 0,
      goodputOfCapacity: null,
      rejectedByStatus: {},
      rejectedPerSecond: 0,
      otherStatus: 0,
      timeouts: 0,
      errors: 0,
      latencyOk: empty,
      latencyRejected: empty,
      latencyRejectedImmediate: null,
      latencyRejectedAfterWait: null,
      rejectedByReason: {},
      baselineRssBytes: null,
      peakRssBytes: null,
      rssGrowthBytes: null,
      rssSecondHalfGrowthBytes: null,
      serverCpuPercent: null,
      generatorCpuPercent: null,
      serverEventLoopDelayMaxP99Ms: null,
      wasted: null,
      handlerRuns: null,
      leak: null,
    },
    routes: [],
    series: {
      bucketMs: 500,
      t: [],
      offered: [],
      goodput: [],
      shed: [],
      timeouts: [],
      p50: [],
      p99: [],
      rejectedP99: [],
    },
    samples: [],
    finalControllerStats: null,
    error,
  }
}
