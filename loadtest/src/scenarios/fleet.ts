/**
 * `fleet`: three instances of the target app (each its own process and its own
 * spillway), nginx in front (retrying a `503` on another instance, bounded),
 * and a shared Redis holding each tenant's fleet-wide cap (`perKey` with
 * `@spillway/redis`). Open loop at 3× the fleet's capacity, one greedy tenant
 * and four polite ones; one instance is killed half-way. The same run without
 * spillway beside it.
 */
import type { RouteShare } from '../harness/records.js'
import { findNginx, findRedisServer } from '../harness/services.js'
import { count, ms, pct, rate } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import type { Protection } from '../target/config.js'
import { capacityOf, fixedSpillway, type ScenarioOptions, targetWith } from './common.js'
import { type FleetResult, type FleetSpec, runFleet } from './fleet-run.js'

/** Instances behind nginx. */
export const FLEET_INSTANCES = 3

/**
 * The fleet's own defaults: five processes (three instances, nginx, Redis) and
 * the generator share the machine's cores, so each instance's downstream is
 * 8 slots × 100 ms (80 req/s; 240 req/s for the fleet, 720 req/s at 3×).
 */
export const FLEET_DEFAULTS: Partial<ScenarioOptions> = Object.freeze({ serviceMs: 100 })

/** The tenants: one greedy (80% of arrivals), four polite (5% each), as `?tenant=`. */
export const TENANT_MIX: readonly RouteShare[] = [
  { path: '/normal?tenant=greedy', weight: 80 },
  { path: '/normal?tenant=polite-1', weight: 5 },
  { path: '/normal?tenant=polite-2', weight: 5 },
  { path: '/normal?tenant=polite-3', weight: 5 },
  { path: '/normal?tenant=polite-4', weight: 5 },
]

/** The shared store's settings in the scenario. */
export const FLEET_STORE = Object.freeze({
  // Short, so the killed instance's leases come back within the run (the default is 10 s).
  leaseMs: 3000,
  // Above the 10 ms default: five processes and the generator share the cores, and a
  // starved Redis answering late would turn the shared cap into a per-instance one.
  callTimeoutMs: 50,
  onError: 'open' as const,
})

/** Per-instance protection: the fixed spillway plus a fleet-wide cap per tenant on Redis. */
export function fleetSpillway(options: ScenarioOptions): Protection {
  return {
    ...(fixedSpillway(options) as Extract<Protection, { kind: 'spillway' }>),
    // One instance's worth of permits per tenant, across the whole fleet.
    perKey: { limit: options.limit, redis: { port: 0, ...FLEET_STORE } },
  }
}

/** The fleet's nominal capacity: instances × the downstream's. */
export function fleetCapacity(options: ScenarioOptions): number {
  return FLEET_INSTANCES * capacityOf(options)
}

/** Binaries from Debian's packages; throws saying which is missing. */
export function fleetBinaries(): { nginxBinary: string; redisBinary: string } {
  const nginxBinary = findNginx()
  const redisBinary = findRedisServer()
  const missing = [
    nginxBinary === undefined ? 'nginx' : undefined,
    redisBinary === undefined ? 'redis-server' : undefined,
  ].filter((m) => m !== undefined)
  if (nginxBinary === undefined || redisBinary === undefined) {
    throw new Error(
      `the fleet scenario needs ${missing.join(' and ')} (apt-get install -y ${missing.join(' ')})`,
    )
  }
  return { nginxBinary, redisBinary }
}

/** The two specs of a fleet comparison: without spillway, then with it. */
export function fleetSpecs(
  options: ScenarioOptions,
  binaries: { nginxBinary: string; redisBinary: string },
  durationMs: number,
  killAtMs: number | undefined,
): FleetSpec[] {
  const rate = options.rate ?? 3 * fleetCapacity(options)
  const common = {
    instances: FLEET_INSTANCES,
    rate,
    durationMs,
    mix: [...TENANT_MIX],
    killAtMs,
    // One retry on another instance, within a quarter of the client's patience.
    tries: 2,
    retryWindowMs: options.timeoutMs / 4,
    timeoutMs: options.timeoutMs,
    sloMs: options.sloMs,
    ...binaries,
  }
  return [
    { ...common, label: 'unprotected fleet', target: targetWith(options, { kind: 'none' }) },
    {
      ...common,
      label: 'spillway fleet (perKey on Redis)',
      target: targetWith(options, fleetSpillway(options)),
    },
  ]
}

function tenantRows(result: FleetResult): string[][] {
  return result.tenants.map((t) => [
    result.run.label,
    t.tenant,
    count(t.sent),
    pct(t.successRate, 1),
    count(t.status429),
    count(t.status503),
    count(t.timeouts + t.errors),
    ms(t.p99Ms),
  ])
}

function fleetRow(result: FleetResult): string[] {
  const { before, after, retries } = result
  const third = result.capacityPerSecond / FLEET_INSTANCES
  return [
    result.run.label,
    `${rate(before.goodputPerSecond)} (${pct(before.goodputPerSecond / result.capacityPerSecond)})`,
    ms(before.p99Ms),
    after === null
      ? '-'
      : `${rate(after.goodputPerSecond)} (${pct(after.goodputPerSecond / (result.capacityPerSecond - third))} of 2/3)`,
    ms(after?.p99Ms),
    count(retries.absorbed503),
    count(retries.passed503),
    count(retries.connectionFailures),
    count(retries.gatewayErrors),
  ]
}

/** Runs the scenario: about 2 × 20 s of load by default, the kill at half time. */
export async function fleet(options: ScenarioOptions): Promise<Report> {
  const binaries = fleetBinaries()
  const durationMs = (options.durationSeconds ?? 20) * 1000
  const killAtMs = durationMs / 2
  const capacity = fleetCapacity(options)
  const specs = fleetSpecs(options, binaries, durationMs, killAtMs)
  const report = createReport(
    'fleet',
    'spillway fleet: three instances behind nginx, a greedy tenant capped on Redis, one instance killed',
  )
  const results: FleetResult[] = []
  for (const spec of specs) results.push(await runFleet(spec))
  const rateOffered = specs[0]?.rate ?? 0
  report.groups.push({
    title: `Open loop at ${Math.round(rateOffered)} req/s through nginx = ${(rateOffered / capacity).toFixed(1)}× the fleet's capacity (${FLEET_INSTANCES} × ${options.slots} slots × ${options.serviceMs} ms = ${Math.round(capacity)} req/s); instance 3 SIGKILLed at ${killAtMs / 1000} s`,
    runs: results.map((r) => r.run),
    note: 'Charts and server figures are from instance 1 (a survivor); goodput and latency are the clients’, through nginx.',
  })
  report.tables.push({
    title:
      'Fleet: before and after the kill; 503s nginx absorbed by retrying another instance vs passed to clients',
    headers: [
      'run',
      'goodput before kill',
      '2xx p99 before',
      'goodput after kill',
      '2xx p99 after',
      '503 absorbed',
      '503 passed on',
      'refused/broken attempts',
      '502/504 to clients',
    ],
    rows: results.map(fleetRow),
  })
  report.tables.push({
    title: `Per tenant (cap: ${options.limit} in flight per tenant across the fleet, on Redis)`,
    headers: ['run', 'tenant', 'sent', '2xx rate', '429', '503', 'timeouts+errors', '2xx p99'],
    rows: results.flatMap(tenantRows),
  })
  const [bare, protectedRun] = results
  if (bare !== undefined && protectedRun !== undefined) {
    const drop =
      protectedRun.after === null
        ? null
        : 1 - protectedRun.after.goodputPerSecond / protectedRun.before.goodputPerSecond
    const stores = protectedRun.instances.flatMap((i) =>
      i.stats?.keyStore == null ? [] : [i.stats.keyStore as Record<string, number>],
    )
    const sum = (name: string) => stores.reduce((n, s) => n + (Number(s[name]) || 0), 0)
    const polite = protectedRun.tenants.filter((t) => t.tenant.startsWith('polite'))
    const greedy = protectedRun.tenants.find((t) => t.tenant === 'greedy')
    report.findings.push(
      `spillway fleet: goodput ${pct(protectedRun.before.goodputPerSecond / capacity)} of the fleet's capacity before the kill (unprotected: ${pct(bare.before.goodputPerSecond / capacity)}), 2xx p99 ${ms(protectedRun.before.p99Ms)} (unprotected: ${ms(bare.before.p99Ms)}).`,
      drop === null
        ? 'No instance was killed.'
        : `After one of three instances was killed, spillway's goodput dropped by ${pct(drop)} (a third is 33%); unprotected: ${bare.after === null ? '-' : pct(1 - bare.after.goodputPerSecond / Math.max(bare.before.goodputPerSecond, 1e-9))}.`,
      `Polite tenants' success rate with spillway: ${polite.map((t) => pct(t.successRate, 1)).join(', ')}; greedy: ${pct(greedy?.successRate, 1)} (${count(greedy?.status429)} refused with 429 at its fleet-wide cap).`,
      `nginx absorbed ${count(protectedRun.retries.absorbed503)} 503s by retrying another instance and passed ${count(protectedRun.retries.passed503)} on; ${count(protectedRun.retries.connectionFailures)} attempts met a dead or broken connection.`,
      `Redis store on the survivors: ${count(sum('calls'))} calls, ${count(sum('timeouts'))} timed out (${FLEET_STORE.callTimeoutMs} ms), ${count(sum('fallbacks'))} decisions by onError '${FLEET_STORE.onError}'.`,
    )
  }
  return report
}
