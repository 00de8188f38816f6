/**
 * `tenants`: one heavy tenant and N light ones (default 4) share one target,
 * open loop at 3× its capacity in total: the heavy tenant offers 2.5×, the
 * light ones 0.5× between them, each naming itself in the `x-tenant` header.
 * Three runs: unprotected, spillway without a key (one global FIFO within a
 * priority), and spillway with `key` read from the header (core's fair
 * queuing: round-robin across keys, eviction from the heaviest key).
 *
 * How it works: the generator's mix has one route per tenant, each with its
 * header; the per-tenant figures come from the request log by route. The
 * route's `?as=` query only labels the report's per-route rows: no target reads it.
 */
import { summarizeLatency } from '../harness/metrics.js'
import { isOk, type RequestLog, type RouteShare, TIMEOUT } from '../harness/records.js'
import type { RunResult, RunSpec } from '../harness/run.js'
import { count, ms, pct, rate } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import { type Protection, TENANT_HEADER } from '../target/config.js'
import {
  capacityOf,
  fixedSpillway,
  runOrRecord,
  type ScenarioOptions,
  targetWith,
} from './common.js'

/**
 * The scenario's own defaults: 8 slots × 100 ms (80 req/s, 240 req/s at 3×).
 * At the demo's 400 req/s (1200 at 3×) the generator and the server, sharing a
 * loaded machine's cores, starve each other and every run times out alike.
 */
export const TENANTS_DEFAULTS: Partial<ScenarioOptions> = Object.freeze({ serviceMs: 100 })

/** Light tenants when `--light-tenants` is not given. */
export const DEFAULT_LIGHT_TENANTS = 4

/** The frameworks whose target reads a key (the others have no `key` wiring in the target). */
export const TENANT_FRAMEWORKS = ['express', 'koa'] as const

/** Shares of capacity: the heavy tenant 2.5×, the light ones 0.5× together (3× in total). */
const HEAVY_SHARE = 2.5
const LIGHT_SHARE = 0.5

/** The mix: `heavy`, then `light-1` … `light-N`, each with its `x-tenant` header. */
export function tenantMix(lightTenants: number): RouteShare[] {
  if (!Number.isInteger(lightTenants) || lightTenants < 1) {
    throw new RangeError(`--light-tenants must be an integer ≥ 1, got ${lightTenants}`)
  }
  const route = (tenant: string, weight: number): RouteShare => ({
    path: `/normal?as=${tenant}`,
    weight,
    headers: { [TENANT_HEADER]: tenant },
  })
  return [
    route('heavy', HEAVY_SHARE),
    ...Array.from({ length: lightTenants }, (_, i) =>
      route(`light-${i + 1}`, LIGHT_SHARE / lightTenants),
    ),
  ]
}

/** The tenant a mix route stands for. */
export function tenantOfRoute(route: RouteShare): string {
  return route.headers?.[TENANT_HEADER] ?? route.path
}

/** spillway keyed by the tenant header: what the scenario demonstrates. */
export function keyedSpillway(options: ScenarioOptions): Protection {
  return { ...(fixedSpillway(options) as Extract<Protection, { kind: 'spillway' }>), key: 'header' }
}

/** The compared runs, in order: unprotected, spillway without a key, spillway keyed by tenant. */
export function tenantSpecs(options: ScenarioOptions): RunSpec[] {
  const lightTenants = options.lightTenants ?? DEFAULT_LIGHT_TENANTS
  if (!(TENANT_FRAMEWORKS as readonly string[]).includes(options.framework)) {
    throw new RangeError(
      `the tenants scenario runs on ${TENANT_FRAMEWORKS.join(' or ')} (the other targets read no key), got --framework ${options.framework}`,
    )
  }
  const capacity = capacityOf(options)
  const durationMs = (options.durationSeconds ?? 10) * 1000
  const load = {
    model: 'open' as const,
    phases: [{ durationMs, rate: options.rate ?? 3 * capacity }],
    mix: tenantMix(lightTenants),
    timeoutMs: options.timeoutMs,
  }
  const runs: Array<[string, Protection]> = [
    ['unprotected', { kind: 'none' }],
    ['spillway, no key', fixedSpillway(options)],
    [`spillway, key = ${TENANT_HEADER}`, keyedSpillway(options)],
  ]
  return runs.map(([label, protection]) => ({
    label,
    target: targetWith(options, protection),
    load,
    sloMs: options.sloMs,
  }))
}

/** What one class of tenants (heavy, or the light ones together) got. */
export interface ClassFigures {
  tenantClass: 'heavy' | 'light'
  tenants: number
  sent: number
  ok: number
  /** 2xx / sent. */
  successRate: number | null
  /** The worst single tenant's 2xx / sent in the class. */
  worstSuccessRate: number | null
  /** 2xx within the objective per second of load. */
  goodputPerSecond: number
  /** 2xx p99, ms. */
  p99Ms: number | null
  status429: number
  status503: number
  timeouts: number
}

/** Per-class figures from a run's log (routes are the tenants of {@link tenantMix}). */
export function classFigures(
  log: RequestLog,
  mix: readonly RouteShare[],
  durationMs: number,
  sloMs: number,
): ClassFigures[] {
  return (['heavy', 'light'] as const).map((tenantClass) => {
    const routes = mix
      .map((route, index) => ({ tenant: tenantOfRoute(route), index }))
      .filter((r) => r.tenant.startsWith(tenantClass))
      .map((r) => r.index)
    const perRoute = new Map(routes.map((r) => [r, { sent: 0, ok: 0 }]))
    const latencies: number[] = []
    const f = { sent: 0, within: 0, status429: 0, status503: 0, timeouts: 0 }
    for (let i = 0; i < log.route.length; i++) {
      const own = perRoute.get(log.route[i] as number)
      if (own === undefined) continue
      f.sent++
      own.sent++
      const status = log.status[i] as number
      const latency = log.latencyMs[i] as number
      if (isOk(status)) {
        own.ok++
        latencies.push(latency)
        if (latency <= sloMs) f.within++
      } else if (status === 429) f.status429++
      else if (status === 503) f.status503++
      else if (status === TIMEOUT) f.timeouts++
    }
    const rates = [...perRoute.values()].filter((r) => r.sent > 0).map((r) => r.ok / r.sent)
    return {
      tenantClass,
      tenants: routes.length,
      sent: f.sent,
      ok: latencies.length,
      successRate: f.sent === 0 ? null : latencies.length / f.sent,
      worstSuccessRate: rates.length === 0 ? null : Math.min(...rates),
      goodputPerSecond: f.within / (durationMs / 1000),
      p99Ms: summarizeLatency(latencies).p99,
      status429: f.status429,
      status503: f.status503,
      timeouts: f.timeouts,
    }
  })
}

/** Runs the scenario: 3 × 10 s of load by default. */
export async function tenants(options: ScenarioOptions): Promise<Report> {
  const lightTenants = options.lightTenants ?? DEFAULT_LIGHT_TENANTS
  const specs = tenantSpecs(options)
  const capacity = capacityOf(options)
  const first = specs[0] as RunSpec
  if (first.load.model !== 'open') throw new Error('the tenants scenario is open loop')
  const { durationMs, rate: offered } = first.load.phases[0] as { durationMs: number; rate: number }
  const report = createReport(
    'tenants',
    `spillway tenants: one heavy and ${lightTenants} light tenants at ${(offered / capacity).toFixed(1)}× capacity, fair queuing by key`,
  )
  const runs: RunResult[] = []
  const rows: string[][] = []
  const figures: Array<{ label: string; classes: ClassFigures[]; run: RunResult }> = []
  for (const spec of specs) {
    const { result, log } = await runOrRecord(spec)
    runs.push(result)
    if (log === null) continue
    const classes = classFigures(log, first.load.mix, durationMs, spec.sloMs)
    figures.push({ label: result.label, classes, run: result })
    for (const c of classes) {
      rows.push([
        result.label,
        c.tenantClass === 'heavy' ? 'heavy' : `light (${c.tenants})`,
        count(c.sent),
        pct(c.successRate, 1),
        pct(c.worstSuccessRate, 1),
        `${rate(c.goodputPerSecond)} (${pct(c.goodputPerSecond / capacity)})`,
        ms(c.p99Ms),
        count(c.status429),
        count(c.status503),
        count(c.timeouts),
      ])
    }
  }
  report.groups.push({
    title: `Open loop at ${Math.round(offered)} req/s = ${(offered / capacity).toFixed(1)}× capacity (${options.slots} slots × ${options.serviceMs} ms = ${Math.round(capacity)} req/s): heavy ${HEAVY_SHARE}×, ${lightTenants} light ${LIGHT_SHARE}× together, tenant in the ${TENANT_HEADER} header`,
    runs,
  })
  report.tables.push({
    title: `Per tenant class (goodput: 2xx within ${options.sloMs} ms per second, share of capacity)`,
    headers: [
      'run',
      'class',
      'sent',
      '2xx rate',
      'worst tenant 2xx',
      'goodput',
      '2xx p99',
      '429',
      '503',
      'timeouts',
    ],
    rows,
  })
  for (const { label, classes, run } of figures) {
    const heavy = classes.find((c) => c.tenantClass === 'heavy')
    const light = classes.find((c) => c.tenantClass === 'light')
    const leak = run.summary.leak
    report.findings.push(
      `${label}: light tenants ${pct(light?.successRate, 1)} served (worst ${pct(light?.worstSuccessRate, 1)}, 2xx p99 ${ms(light?.p99Ms)}), heavy ${pct(heavy?.successRate, 1)} (2xx p99 ${ms(heavy?.p99Ms)}); total goodput ${pct(run.summary.goodputOfCapacity)} of capacity${leak === null ? '' : `; drained: ${leak.drained ? 'yes' : 'NO'}`}.`,
    )
  }
  return report
}
