/**
 * `soak` and `stall`: one spillway target, open loop at 3× capacity for a long
 * time, with every kind of client at once: the 20/50/30 priority mix, four
 * tenants keyed by `x-tenant` (fair queuing), clients that leave early (in the
 * queue, in the handler, in the response), and clients that read slowly.
 *
 * - `soak` (10 minutes by default): does memory plateau (RSS growth over the
 *   second half within {@link plateauToleranceBytes}), does the controller
 *   drain (in flight and queued back to 0), are the server's active resources
 *   (`process.getActiveResourcesInfo()`: sockets, timers) back to their count
 *   before the load, and how many handlers started for clients already gone.
 * - `stall` (20 s by default): the same load with more aborting clients, the
 *   target stopped (`SIGSTOP`) three times for `--stall-ms`, each time then let
 *   go (`SIGCONT`): no handler
 *   may run for a client already gone or past its deadline, and the critical
 *   class must serve again within a second.
 *
 * How it works: each route of the mix is one (tenant, priority, manner) cell;
 * clients with manners announce their patience in headers (`x-deadline`, read
 * by spillway as the request's deadline; `x-give-up-at`, read only by the
 * target's counters), so the target can count a handler start for a client
 * that has left even before Node has read its FIN.
 */

import { percentile } from '../harness/metrics.js'
import {
  type ClientBehaviour,
  isOk,
  isRejection,
  type RequestLog,
  type RouteShare,
  TIMEOUT,
} from '../harness/records.js'
import type { RunResult, RunSpec, StallRecord } from '../harness/run.js'
import type { Sample } from '../harness/sampler.js'
import { count, mb, ms, pct } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import { PRIORITIES, type PriorityName, type Protection, TENANT_HEADER } from '../target/config.js'
import {
  capacityOf,
  fixedSpillway,
  runOrRecord,
  type ScenarioOptions,
  targetWith,
} from './common.js'

/**
 * The scenario's own defaults: 8 slots × 100 ms (80 req/s, 240 req/s at 3×):
 * ten minutes at the demo's 1200 req/s would pass the open loop's 200,000
 * request cap, and a fifth of the rate leaves the shared cores to the server.
 */
export const SOAK_DEFAULTS: Partial<ScenarioOptions> = Object.freeze({ serviceMs: 100 })

/** `stall`: how long the target is stopped when `--stall-ms` is not given, ms. */
export const DEFAULT_STALL_MS = 1500

/** The tenants and their shares of the traffic. */
const TENANTS: ReadonlyArray<readonly [string, number]> = [
  ['t1', 40],
  ['t2', 30],
  ['t3', 20],
  ['t4', 10],
]

const PRIORITY_SHARES: Record<PriorityName, number> = { critical: 20, normal: 50, sheddable: 30 }

/** Bytes a slow reader asks for: more than loopback's initial socket buffers hold. */
export const SLOW_BODY_BYTES = 256 * 1024

/** The clients' manners and their shares. */
export const MANNERS: ReadonlyArray<{
  name: Manner
  weight: number
  client: ClientBehaviour
  query: string
}> = [
  { name: 'patient', weight: 85, client: {}, query: '' },
  // Leave in the queue (250 ms), in the handler (100 ms) or just after.
  { name: 'aborting', weight: 10, client: { abortAfterMs: [10, 400] }, query: '' },
  {
    name: 'slow reader',
    weight: 4,
    client: { readBytesPerSecond: 1024 * 1024 },
    query: `&bytes=${SLOW_BODY_BYTES}`,
  },
  // Reads at a quarter of that and leaves mid-response.
  {
    name: 'slow, leaves mid-response',
    weight: 1,
    client: { readBytesPerSecond: 256 * 1024, abortAfterMs: [150, 900] },
    query: `&bytes=${SLOW_BODY_BYTES}`,
  },
]

/** How a client behaves. */
export type Manner = 'patient' | 'aborting' | 'slow reader' | 'slow, leaves mid-response'

/** What a route of the soak mix stands for. */
export interface SoakCell {
  tenant: string
  priority: PriorityName
  manner: Manner
}

/** The mix: one route per (tenant, priority, manner), weights multiplied; and what each route stands for. */
export function soakMix(abortingPercent = 10): { mix: RouteShare[]; cells: SoakCell[] } {
  const mix: RouteShare[] = []
  const cells: SoakCell[] = []
  for (const [tenant, tenantWeight] of TENANTS) {
    for (const priority of PRIORITIES) {
      for (const manner of MANNERS) {
        // More aborting clients take the patient ones' share.
        const weight =
          manner.name === 'aborting'
            ? abortingPercent
            : manner.name === 'patient'
              ? manner.weight + 10 - abortingPercent
              : manner.weight
        mix.push({
          path: `/${priority}?as=${tenant}-${manner.name.replace(/[ ,]+/g, '-')}${manner.query}`,
          weight: tenantWeight * PRIORITY_SHARES[priority] * weight,
          headers: { [TENANT_HEADER]: tenant },
          client: manner.client,
        })
        cells.push({ tenant, priority, manner: manner.name })
      }
    }
  }
  return { mix, cells }
}

/** spillway as the soak runs it: the fixed configuration, keyed by tenant, deadlines from `x-deadline`. */
export function soakProtection(options: ScenarioOptions): Protection {
  return { ...fixedSpillway(options), key: 'header', deadline: 'header' }
}

/** The `stall` scenario's share of aborting clients, %: more clients leave while the process is stopped. */
export const STALL_ABORTING_PERCENT = 25

/** How many times the `stall` scenario stops the target, evenly spaced. */
export const STALLS = 3

/**
 * The soak's run (one spillway target); with `stallMs` > 0, the stall test:
 * {@link STALLS} stops evenly spaced, and {@link STALL_ABORTING_PERCENT}% aborting clients.
 */
export function soakSpec(options: ScenarioOptions, durationMs: number, stallMs = 0): RunSpec {
  if (options.framework !== 'express' && options.framework !== 'koa') {
    throw new RangeError(
      `the soak runs on express or koa (the other targets read no key or deadline), got --framework ${options.framework}`,
    )
  }
  const capacity = capacityOf(options)
  const { mix } = soakMix(stallMs > 0 ? STALL_ABORTING_PERCENT : 10)
  const every = durationMs / (STALLS + 1)
  return {
    label: stallMs > 0 ? `spillway, stopped ${STALLS} × ${stallMs} ms` : 'spillway',
    target: targetWith(options, soakProtection(options)),
    load: {
      model: 'open',
      phases: [{ durationMs, rate: options.rate ?? 3 * capacity }],
      mix,
      timeoutMs: options.timeoutMs,
    },
    sloMs: options.sloMs,
    // Long runs chart in coarser buckets.
    bucketMs: durationMs > 120_000 ? 5000 : 500,
    resourceWaitMs: 5000,
    ...(stallMs > 0
      ? {
          stalls: Array.from({ length: STALLS }, (_, i) => ({
            atMs: every * (i + 1),
            durationMs: stallMs,
          })),
        }
      : {}),
  }
}

/** The RSS figures of the plateau verdict. */
export interface Plateau {
  /** Median RSS over the first, middle and last tenth of the load, bytes. */
  startBytes: number | null
  middleBytes: number | null
  endBytes: number | null
  /** `endBytes - middleBytes`: growth over the second half. */
  secondHalfGrowthBytes: number | null
  /** The same for the V8 heap in use. */
  heapMiddleBytes: number | null
  heapEndBytes: number | null
  toleranceBytes: number | null
  /** Growth within the tolerance. */
  flat: boolean
}

/**
 * Allowed RSS growth over the second half: 8 MB or 5% of the middle RSS,
 * whichever is larger. V8 grows its young generation and old-space pages in
 * steps of 1–16 MB and malloc keeps freed arenas, so a bounded process moves
 * by a few MB between samples; a leak of 120 bytes per request passes 8 MB
 * in the 72,000 requests of a 10-minute soak's second half (1.1 KB per request
 * in a 60 s run).
 */
export function plateauToleranceBytes(middleBytes: number): number {
  return Math.max(8 * 1024 * 1024, 0.05 * middleBytes)
}

function median(values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** RSS and heap at the start, middle and end of the load (medians over a tenth each), and the verdict. */
export function plateauOf(samples: readonly Sample[], durationMs: number): Plateau {
  const tenth = durationMs / 10
  const within = (from: number, to: number, pick: (s: Sample) => number | null | undefined) =>
    median(
      samples
        .filter((s) => s.tMs >= from && s.tMs < to)
        .map(pick)
        .filter((v): v is number => typeof v === 'number'),
    )
  const rss = (s: Sample) => s.rssBytes
  const heap = (s: Sample) => s.heapUsedBytes
  const middleFrom = durationMs / 2 - tenth / 2
  const startBytes = within(0, tenth, rss)
  const middleBytes = within(middleFrom, middleFrom + tenth, rss)
  const endBytes = within(durationMs - tenth, durationMs + 1, rss)
  const growth = middleBytes === null || endBytes === null ? null : endBytes - middleBytes
  const toleranceBytes = middleBytes === null ? null : plateauToleranceBytes(middleBytes)
  return {
    startBytes,
    middleBytes,
    endBytes,
    secondHalfGrowthBytes: growth,
    heapMiddleBytes: within(middleFrom, middleFrom + tenth, heap),
    heapEndBytes: within(durationMs - tenth, durationMs + 1, heap),
    toleranceBytes,
    flat: growth !== null && toleranceBytes !== null && growth < toleranceBytes,
  }
}

/** What one class of requests got. */
export interface ClassFigures {
  name: string
  sent: number
  ok: number
  /** 2xx / sent; `null` when none was sent. */
  successRate: number | null
  rejected: number
  /** Gave up (timeouts and deliberate aborts). */
  gaveUp: number
  p99Ms: number | null
}

/** Figures per priority for patient clients, and per manner. */
export function classFigures(
  log: RequestLog,
  cells: readonly SoakCell[],
  include: (index: number) => boolean = () => true,
): { byPriority: ClassFigures[]; byManner: ClassFigures[] } {
  const tally = (name: string, keep: (cell: SoakCell) => boolean): ClassFigures => {
    let sent = 0
    let rejected = 0
    let gaveUp = 0
    const latencies: number[] = []
    for (let i = 0; i < log.route.length; i++) {
      const cell = cells[log.route[i] as number]
      if (cell === undefined || !keep(cell) || !include(i)) continue
      sent++
      const status = log.status[i] as number
      if (isOk(status)) latencies.push(log.latencyMs[i] as number)
      else if (isRejection(status)) rejected++
      else if (status === TIMEOUT) gaveUp++
    }
    latencies.sort((a, b) => a - b)
    return {
      name,
      sent,
      ok: latencies.length,
      successRate: sent === 0 ? null : latencies.length / sent,
      rejected,
      gaveUp,
      p99Ms: percentile(latencies, 99),
    }
  }
  return {
    byPriority: PRIORITIES.map((p) =>
      tally(p, (cell) => cell.priority === p && cell.manner === 'patient'),
    ),
    byManner: MANNERS.map((m) => tally(m.name, (cell) => cell.manner === m.name)),
  }
}

/** Critical success (patient clients) around a stall, by when the request was sent. */
export interface StallFigures {
  stall: StallRecord
  before: ClassFigures
  during: ClassFigures
  /** Sent in the first second after `SIGCONT`. */
  firstSecondAfter: ClassFigures
  /** Sent from one second after `SIGCONT` on, for as long as the load lasted before the stall. */
  after: ClassFigures
}

/** The critical class before, during and after one stall. */
export function stallFigures(
  log: RequestLog,
  cells: readonly SoakCell[],
  stall: StallRecord,
  previousResumeMs = Number.NEGATIVE_INFINITY,
  nextStopMs = Number.POSITIVE_INFINITY,
): StallFigures {
  const critical = (from: number, to: number, name: string): ClassFigures => {
    const figures = classFigures(
      log,
      cells,
      (i) => (log.sentMs[i] as number) >= from && (log.sentMs[i] as number) < to,
    ).byPriority.find((f) => f.name === 'critical') as ClassFigures
    return { ...figures, name }
  }
  const { stoppedAtMs: stop, resumedAtMs: resume } = stall
  // At most 5 s each side, and never into the neighbouring stalls' own windows.
  return {
    stall,
    before: critical(Math.max(stop - 5000, previousResumeMs + 1000, 0), stop, 'before'),
    during: critical(stop, resume, 'during'),
    firstSecondAfter: critical(resume, resume + 1000, 'first second after'),
    after: critical(resume + 1000, Math.min(resume + 6000, nextStopMs), 'after'),
  }
}

/** Everything a soak or stall run is judged on. */
export interface SoakVerdict {
  plateau: Plateau
  drained: boolean
  resourcesBack: boolean
  resourcesBefore: Record<string, number>
  resourcesAfter: Record<string, number>
  /** Handler runs started for clients already gone, and past their deadline, over the run. */
  startedGone: number
  startedPastDeadline: number
  /** Of those, the longest a start came after its client's announced departure, ms. */
  startedGoneMaxLateMs: number
  /** Of those, the ones that started more than 100 ms after their client left. */
  startedLongGone: number
  /** Handler runs in all. */
  handlerRuns: number
  byPriority: ClassFigures[]
  byManner: ClassFigures[]
  stalls: StallFigures[]
}

/** Judges one run (`null` when it did not run). */
export function soakVerdict(
  result: RunResult,
  log: RequestLog,
  cells: readonly SoakCell[],
  durationMs: number,
): SoakVerdict {
  const server = result.server
  const { byPriority, byManner } = classFigures(log, cells)
  return {
    plateau: plateauOf(result.samples, durationMs),
    drained: result.summary.leak?.drained === true,
    resourcesBack: server?.resourcesBack === true,
    resourcesBefore: server?.before.activeResources ?? {},
    resourcesAfter: server?.after.activeResources ?? {},
    startedGone: (server?.after.startedGone ?? 0) - (server?.before.startedGone ?? 0),
    startedPastDeadline:
      (server?.after.startedPastDeadline ?? 0) - (server?.before.startedPastDeadline ?? 0),
    startedGoneMaxLateMs: server?.after.startedGoneMaxLateMs ?? 0,
    startedLongGone: (server?.after.startedLongGone ?? 0) - (server?.before.startedLongGone ?? 0),
    handlerRuns: result.summary.handlerRuns ?? 0,
    byPriority,
    byManner,
    stalls: (result.stalls ?? []).map((stall, i, all) =>
      stallFigures(log, cells, stall, all[i - 1]?.resumedAtMs, all[i + 1]?.stoppedAtMs),
    ),
  }
}

function resourcesText(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))
  return entries.length === 0 ? 'none' : entries.map(([type, n]) => `${type} ${n}`).join(', ')
}

function classRow(run: string, f: ClassFigures): string[] {
  return [
    run,
    f.name,
    count(f.sent),
    pct(f.successRate, 2),
    count(f.rejected),
    count(f.gaveUp),
    ms(f.p99Ms),
  ]
}

/** Runs `soak` (no stall) or `stall` and reports the verdicts. */
async function soakScenario(
  options: ScenarioOptions,
  kind: 'soak' | 'stall',
  stallMs: number,
): Promise<Report> {
  const durationMs = (options.durationSeconds ?? (kind === 'soak' ? 600 : 20)) * 1000
  const spec = soakSpec(options, durationMs, stallMs)
  const { cells } = soakMix(stallMs > 0 ? STALL_ABORTING_PERCENT : 10)
  const capacity = capacityOf(options)
  const offered = (spec.load.model === 'open' && spec.load.phases[0]?.rate) || 0
  const report = createReport(
    kind,
    kind === 'soak'
      ? `spillway soak: ${durationMs / 1000} s at ${(offered / capacity).toFixed(1)}× capacity, priorities, tenants, aborting and slow clients`
      : `spillway stall: the target stopped ${STALLS} times for ${stallMs} ms in ${durationMs / 1000} s at ${(offered / capacity).toFixed(1)}× capacity, ${STALL_ABORTING_PERCENT}% aborting clients`,
  )
  const { result, log } = await runOrRecord(spec)
  report.groups.push({
    title: `Open loop at ${Math.round(offered)} req/s (${(offered / capacity).toFixed(1)}× ${Math.round(capacity)} req/s): 20/50/30 priorities, 4 tenants (40/30/20/10%) keyed by ${TENANT_HEADER}, ${stallMs > 0 ? `${95 - STALL_ABORTING_PERCENT}% patient, ${STALL_ABORTING_PERCENT}%` : '85% patient, 10%'} aborting, 5% slow readers`,
    runs: [result],
  })
  if (log === null) return report
  const v = soakVerdict(result, log, cells, durationMs)
  const p = v.plateau
  report.tables.push({
    title: 'Verdict',
    headers: ['check', 'figure', 'verdict'],
    rows: [
      [
        'RSS start / middle / end (median of each tenth)',
        `${mb(p.startBytes)} / ${mb(p.middleBytes)} / ${mb(p.endBytes)}; heap middle / end ${mb(p.heapMiddleBytes)} / ${mb(p.heapEndBytes)}`,
        '',
      ],
      [
        'RSS growth over the second half',
        `${p.secondHalfGrowthBytes === null ? '-' : `${((p.secondHalfGrowthBytes ?? 0) / 2 ** 20).toFixed(1)} MB`} (tolerance ${mb(p.toleranceBytes)})`,
        kind === 'stall' ? 'not judged (short run)' : p.flat ? 'plateau' : 'GROWING',
      ],
      [
        'in flight and queued after the load',
        `in flight ${result.summary.leak?.inFlight ?? '-'}, queued ${result.summary.leak?.queued ?? '-'}`,
        v.drained ? 'drained' : 'NOT drained',
      ],
      [
        'active resources before / after',
        `${resourcesText(v.resourcesBefore)} / ${resourcesText(v.resourcesAfter)}`,
        v.resourcesBack ? 'no growth' : 'GREW',
      ],
      [
        'handler runs for clients already gone / past their deadline',
        `${count(v.startedGone)} / ${count(v.startedPastDeadline)} of ${count(v.handlerRuns)} runs${v.startedGone > 0 ? ` (${count(v.startedLongGone)} more than 100 ms after the client left; the latest ${ms(v.startedGoneMaxLateMs)} after)` : ''}`,
        // Gone within 100 ms: a client leaving in the very turn its request is admitted.
        v.startedLongGone > 0 || v.startedPastDeadline > 0
          ? 'SOME'
          : v.startedGone > 0
            ? 'races only'
            : 'none',
      ],
    ],
  })
  report.tables.push({
    title: 'Per class (priorities: patient clients only)',
    headers: ['run', 'class', 'sent', '2xx rate', 'rejected', 'gave up', '2xx p99'],
    rows: [...v.byPriority, ...v.byManner].map((f) => classRow(result.label, f)),
  })
  for (const s of v.stalls) {
    report.tables.push({
      title: `Critical (patient) around the stall: stopped at ${(s.stall.stoppedAtMs / 1000).toFixed(1)} s, let go at ${(s.stall.resumedAtMs / 1000).toFixed(1)} s (by time sent)`,
      headers: ['run', 'window', 'sent', '2xx rate', 'rejected', 'gave up', '2xx p99'],
      rows: [s.before, s.during, s.firstSecondAfter, s.after].map((f) => classRow(result.label, f)),
    })
    report.findings.push(
      `Critical success before the stall ${pct(s.before.successRate, 2)}, sent during it ${pct(s.during.successRate, 2)}, in the first second after ${pct(s.firstSecondAfter.successRate, 2)}, from 1 s after on ${pct(s.after.successRate, 2)}.`,
    )
  }
  report.findings.unshift(
    `RSS ${mb(p.startBytes)} → ${mb(p.middleBytes)} → ${mb(p.endBytes)}${kind === 'soak' ? ` (${p.flat ? 'plateau' : 'GROWING'} over the second half)` : ''}; ${v.drained ? 'drained' : 'NOT drained'}; active resources ${v.resourcesBack ? 'back to their count before the load' : 'GREW'}; ${count(v.startedGone)} handler runs for clients already gone (${count(v.startedLongGone)} gone more than 100 ms), ${count(v.startedPastDeadline)} past their deadline.`,
  )
  return report
}

/** `pnpm loadtest soak`: 10 minutes at 3× by default. */
export function soak(options: ScenarioOptions): Promise<Report> {
  return soakScenario(options, 'soak', options.stallMs ?? 0)
}

/** `pnpm loadtest stall`: 20 s at 3×, the target stopped three times for `--stall-ms` (1500). */
export function stall(options: ScenarioOptions): Promise<Report> {
  return soakScenario(options, 'stall', options.stallMs ?? DEFAULT_STALL_MS)
}
