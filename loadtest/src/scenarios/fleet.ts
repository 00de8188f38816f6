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
import { type FleetResult, type FleetSpec, type PhaseFigures, runFleet } from './fleet-run.js'
import { TENANT_FRAMEWORKS } from './tenants.js'

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

/**
 * Each instance's concurrency limit: the downstream's slots unless `--limit`
 * was given. A limit above the slots admits requests that then wait inside the
 * handler for a slot: a saturated instance's admitted requests take
 * limit ÷ slots × the service time (10 ÷ 4 × 200 ms = 500 ms, the whole
 * objective, before any queue wait), which is what the survivors of a kill are.
 */
export function fleetLimit(options: ScenarioOptions): number {
  return options.limitGiven === true || options.slots <= 0 ? options.limit : options.slots
}

/** Per-instance protection: the fixed spillway plus a fleet-wide cap per tenant on Redis. */
export function fleetSpillway(options: ScenarioOptions): Protection {
  const limit = fleetLimit(options)
  return {
    ...(fixedSpillway({ ...options, limit }) as Extract<Protection, { kind: 'spillway' }>),
    // One instance's worth of permits per tenant, across the whole fleet.
    perKey: { limit, redis: { port: 0, ...FLEET_STORE } },
  }
}

/**
 * nginx's window for retries: half the queue timeout. What an instance refuses
 * at once (a dead instance's refused connection, a full queue's 503) is retried
 * on another; a 503 that already waited out a queue is passed on, since its
 * client has spent the queue timeout and a second wait and service would land
 * after the objective, on survivors already full.
 */
export function fleetRetryWindowMs(options: ScenarioOptions): number {
  return Math.max(1, Math.min(options.queueTimeoutMs / 2, options.timeoutMs / 4))
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
  // The tenant is the perKey key: without it the greedy tenant's cap would never apply.
  if (!(TENANT_FRAMEWORKS as readonly string[]).includes(options.framework)) {
    throw new RangeError(
      `the fleet scenario runs on ${TENANT_FRAMEWORKS.join(' or ')} (the other targets read no key), got --framework ${options.framework}`,
    )
  }
  const rate = options.rate ?? 3 * fleetCapacity(options)
  const common = {
    instances: FLEET_INSTANCES,
    rate,
    durationMs,
    mix: [...TENANT_MIX],
    killAtMs,
    // Each instance at most once: a retry that meets the dead instance still has a live one to try.
    tries: FLEET_INSTANCES,
    retryWindowMs: fleetRetryWindowMs(options),
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

function mean(value: number | null, digits = 1): string {
  return value === null ? '-' : value.toFixed(digits)
}

function phaseRow(label: string, name: string, phase: PhaseFigures, alive: number): string[] {
  const { retries, instances } = phase
  return [
    label,
    name,
    `${alive} × ${rate(phase.capacityPerSecond / alive)} = ${rate(phase.capacityPerSecond)}`,
    `${rate(phase.goodputPerSecond)} (${pct(phase.goodputOfCapacity)})`,
    ms(phase.p99Ms),
    count(retries.absorbed503),
    count(retries.passed503),
    count(retries.connectionFailures),
    count(retries.gatewayErrors),
    `${mean(instances.limit, 0)} / ${mean(instances.inFlight)} / ${mean(instances.queued)} / ${mean(instances.downstreamQueued)}`,
  ]
}

function fleetRows(result: FleetResult): string[][] {
  const { before, after } = result
  return [
    phaseRow(result.run.label, 'before the kill', before, FLEET_INSTANCES),
    ...(after === null
      ? []
      : [phaseRow(result.run.label, 'after the kill', after, FLEET_INSTANCES - 1)]),
  ]
}

/** How far below the before-kill share the after-kill share may fall, in points of capacity. */
export const KILL_TOLERANCE = 0.1

/**
 * The kill's verdict: goodput after the kill, as a share of the capacity left,
 * no more than {@link KILL_TOLERANCE} below the share before it (goodput drops
 * by about a third, the capacity killed, and no more).
 */
export function killVerdict(result: FleetResult): string {
  const { before, after } = result
  if (after === null) return 'No instance was killed.'
  const drop =
    before.goodputPerSecond > 0 ? pct(1 - after.goodputPerSecond / before.goodputPerSecond) : '-'
  // A fleet with no goodput to lose (collapsed before the kill) has nothing to hold.
  const verdict =
    before.goodputOfCapacity <= KILL_TOLERANCE
      ? 'not judged, collapsed before the kill'
      : after.goodputOfCapacity >= before.goodputOfCapacity - KILL_TOLERANCE
        ? 'held'
        : 'NOT held'
  return `${result.run.label}: goodput ${pct(before.goodputOfCapacity)} of the fleet's capacity before the kill, ${pct(after.goodputOfCapacity)} of the remaining two thirds after it (${rate(before.goodputPerSecond)} → ${rate(after.goodputPerSecond)}, ${drop} less; a third is 33%): ${verdict} (target: the after-kill share no more than ${Math.round(KILL_TOLERANCE * 100)} points below the before-kill share).`
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
    note: `Each spillway instance: limit ${fleetLimit(options)}, queue ${options.queueSize} / ${options.queueTimeoutMs} ms; nginx: up to ${specs[0]?.tries} tries within ${specs[0]?.retryWindowMs} ms. Charts and server figures are from instance 1 (a survivor); goodput and latency are the clients’, through nginx.`,
  })
  report.tables.push({
    title:
      'Fleet, per phase (before the kill from 1 s in; after it from 1 s after): goodput as a share of that phase’s capacity; 503s nginx absorbed by retrying another instance vs passed to clients; the live instances’ sampled stats()',
    headers: [
      'run',
      'phase',
      'capacity (instances × each)',
      'goodput within objective (share)',
      '2xx p99',
      '503 absorbed',
      '503 passed on',
      'refused/broken attempts',
      '502/504 to clients',
      'limit / in flight / queued / waiting for a slot (mean)',
    ],
    rows: results.flatMap(fleetRows),
  })
  report.tables.push({
    title: `Per tenant (cap: ${fleetLimit(options)} in flight per tenant across the fleet, on Redis)`,
    headers: ['run', 'tenant', 'sent', '2xx rate', '429', '503', 'timeouts+errors', '2xx p99'],
    rows: results.flatMap(tenantRows),
  })
  const [bare, protectedRun] = results
  if (bare !== undefined && protectedRun !== undefined) {
    const stores = protectedRun.instances.flatMap((i) =>
      i.stats?.keyStore == null ? [] : [i.stats.keyStore as Record<string, number>],
    )
    const sum = (name: string) => stores.reduce((n, s) => n + (Number(s[name]) || 0), 0)
    const polite = protectedRun.tenants.filter((t) => t.tenant.startsWith('polite'))
    const greedy = protectedRun.tenants.find((t) => t.tenant === 'greedy')
    report.findings.push(
      `spillway fleet: goodput ${pct(protectedRun.before.goodputPerSecond / capacity)} of the fleet's capacity before the kill (unprotected: ${pct(bare.before.goodputPerSecond / capacity)}), 2xx p99 ${ms(protectedRun.before.p99Ms)} (unprotected: ${ms(bare.before.p99Ms)}).`,
      killVerdict(protectedRun),
      killVerdict(bare),
      `Polite tenants' success rate with spillway: ${polite.map((t) => pct(t.successRate, 1)).join(', ')}; greedy: ${pct(greedy?.successRate, 1)} (${count(greedy?.status429)} refused with 429 at its fleet-wide cap).`,
      `nginx absorbed ${count(protectedRun.retries.absorbed503)} 503s by retrying another instance and passed ${count(protectedRun.retries.passed503)} on; ${count(protectedRun.retries.connectionFailures)} attempts met a dead or broken connection.`,
      `Redis store on the survivors: ${count(sum('calls'))} calls, ${count(sum('timeouts'))} timed out (${FLEET_STORE.callTimeoutMs} ms), ${count(sum('fallbacks'))} decisions by onError '${FLEET_STORE.onError}'.`,
    )
  }
  return report
}
