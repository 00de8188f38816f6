/**
 * `retry-amplification`: does the producer slow down when told to? Users, each
 * sending its next logical request {@link THINK_MS} after the last one ended,
 * against the spillway-protected target (the shared one: `--framework`, its
 * downstream `--slots` × `--service-ms`, the fixed `--limit` and queue). With
 * zero latency the users would ask for `level` × capacity (3× by default;
 * `--levels`, or `--rate` logical requests/s).
 *
 * At each level, two runs, each against a fresh target process:
 *   - naive retries: plain `fetch`, a `503`/`429` retried at once, up to 10 attempts;
 *   - `@spillway/client`: `Retry-After`, retry budget, adaptive throttling.
 * Both give up on a logical request after `--timeout-ms`; the target reads the
 * client's remaining budget from `x-request-timeout-ms`. Reported beside the
 * shared table of every run (over attempts: what the server saw): requests at
 * the server per logical request (the retry amplification), goodput, and the
 * success rate and latency the users saw.
 *
 * Its own default downstream, 4 slots × 25 ms = 160 req/s, and limit 4: naive
 * clients multiply the load several times over, and that load must fit on the
 * same cores as the server.
 */

import type { RetryingClient } from '../harness/retrying-users.js'
import type { RetryingUsersSummary } from '../harness/retrying-users-summary.js'
import type { RunResult, RunSpec } from '../harness/run.js'
import { count, ms, pct, rate } from '../report/format.js'
import { createReport, type Report, type ReportTable } from '../report/model.js'
import type { Protection } from '../target/config.js'
import {
  capacityOf,
  fixedSpillway,
  runOrRecord,
  type ScenarioOptions,
  targetWith,
} from './common.js'

/** This scenario's defaults where they differ from the demo's. */
export const RETRY_AMPLIFICATION_DEFAULTS: Partial<ScenarioOptions> = {
  slots: 4,
  serviceMs: 25,
  limit: 4,
  levels: [3],
}

/** Pause between a user's logical requests, ms. */
export const THINK_MS = 200
/** Users per `@spillway/client` instance (one instance ≈ one calling service). */
export const USERS_PER_CLIENT = 24
/** Attempts a naive user makes before giving up. */
export const NAIVE_MAX_ATTEMPTS = 10
/** Hard cap on logical requests per run. */
export const MAX_LOGICAL_REQUESTS = 200_000
/** The header `@spillway/client` sends its remaining budget in, which the target reads. */
export const DEADLINE_HEADER = 'x-request-timeout-ms'

/** The target's protection: the fixed configuration, reading the client's deadline header. */
export function retryAmplificationProtection(
  options: ScenarioOptions,
  pressure = false,
): Protection {
  return {
    ...fixedSpillway(options),
    deadlineHeader: DEADLINE_HEADER,
    ...(pressure ? { pressure: true } : {}),
  }
}

/** Who calls which server, in the order they run. */
export interface RetryAmplificationArm {
  label: string
  client: RetryingClient
  protection: Protection
}

/**
 * Naive retries, then `@spillway/client`, against the fixed configuration.
 * With `--pressure` (the CPU-bound case: `--slots 0 --cpu-ms 2`), first the
 * same naive users against the unprotected target (not shedding at all), then
 * both clients against spillway with `createPressureMonitor()` too.
 */
export function retryAmplificationArms(options: ScenarioOptions): RetryAmplificationArm[] {
  const fixed = retryAmplificationProtection(options)
  const arms: RetryAmplificationArm[] = [
    { label: 'naive retries', client: 'naive', protection: fixed },
    { label: '@spillway/client', client: 'spillway-client', protection: fixed },
  ]
  if (options.pressure !== true) return arms
  const pressure = retryAmplificationProtection(options, true)
  return [
    { label: 'unprotected, naive retries', client: 'naive', protection: { kind: 'none' } },
    ...arms,
    { label: 'naive retries, pressure', client: 'naive', protection: pressure },
    { label: '@spillway/client, pressure', client: 'spillway-client', protection: pressure },
  ]
}

/** One level: the demand and its runs ({@link retryAmplificationArms}). */
export interface RetryAmplificationLevel {
  /** Multiple of capacity the users would ask at zero latency. */
  level: number
  /** Logical requests/s the users would ask at zero latency. */
  demandPerSecond: number
  users: number
  specs: RunSpec[]
}

/** The runs the scenario makes, from the command line's options (pure: the test reads it). */
export function retryAmplificationLevels(options: ScenarioOptions): RetryAmplificationLevel[] {
  const capacity = capacityOf(options)
  if (!Number.isFinite(capacity) && options.rate === undefined)
    throw new RangeError(
      'retry-amplification needs a capacity (--slots > 0, or --cpu-ms > 0) or a --rate',
    )
  const durationMs = (options.durationSeconds ?? 10) * 1000
  const demands =
    options.rate === undefined ? options.levels.map((level) => level * capacity) : [options.rate]
  return demands.map((demandPerSecond) => {
    const users = Math.max(1, Math.round((demandPerSecond * THINK_MS) / 1000))
    return {
      level: demandPerSecond / capacity,
      demandPerSecond,
      users,
      specs: retryAmplificationArms(options).map(({ client, label, protection }) => ({
        label,
        target: targetWith(options, protection),
        load: {
          model: 'users',
          client,
          users,
          usersPerClient: USERS_PER_CLIENT,
          thinkMs: THINK_MS,
          durationMs,
          timeoutMs: options.timeoutMs,
          naiveMaxAttempts: NAIVE_MAX_ATTEMPTS,
          maxLogicalRequests: MAX_LOGICAL_REQUESTS,
          path: '/normal',
        },
        sloMs: options.sloMs,
      })),
    }
  })
}

const reasons = (byReason: Record<string, number> | null | undefined): string =>
  byReason == null
    ? '-'
    : Object.entries(byReason)
        .filter(([, n]) => n > 0)
        .map(([reason, n]) => `${reason} ${count(n)}`)
        .join(', ') || '-'

/** The logical-request figures of a level's runs, side by side. */
export function retryAmplificationTable(title: string, runs: readonly RunResult[]): ReportTable {
  const row = (name: string, cell: (u: RetryingUsersSummary) => string): string[] => [
    name,
    ...runs.map((r) => (r.users === undefined ? '-' : cell(r.users))),
  ]
  const latency = (l: RetryingUsersSummary['latencyOk']): string =>
    l.count === 0 ? '-' : `${ms(l.p50)} / ${ms(l.p99)}`
  return {
    title,
    headers: ['', ...runs.map((r) => r.label)],
    rows: [
      row('users', (u) => count(u.users)),
      row('logical requests', (u) => `${count(u.logical)} (${rate(u.logicalPerSecond)})`),
      row(
        'requests at the server',
        (u) =>
          `${count(u.serverReceived)} (${rate(u.serverReceivedPerSecond)}); ${count(u.attempts)} sent`,
      ),
      row('retry amplification (at server ÷ logical)', (u) =>
        u.amplification === null ? '-' : `${u.amplification.toFixed(2)}×`,
      ),
      row('goodput (2xx answered) /s', (u) => rate(u.okPerSecond)),
      row('client success', (u) => pct(u.successRate, 1)),
      row('  ok / refused', (u) => `${count(u.outcomes.ok)} / ${count(u.outcomes.refused)}`),
      row(
        '  failed locally (ThrottledError) / timeout',
        (u) => `${count(u.outcomes.throttled)} / ${count(u.outcomes.timeout)}`,
      ),
      row('  error', (u) => count(u.outcomes.error)),
      row('client retries sent', (u) => count(u.clientRetries?.sent)),
      row('refusals not retried, why', (u) =>
        u.clientRetries === null ? '-' : reasons(u.clientRetries.notRetried),
      ),
      row('successful logical p50 / p99', (u) => latency(u.latencyOk)),
      row('all logical p50 / p99', (u) => latency(u.latencyAll)),
      row('server rejections by reason', (u) => reasons(u.serverRejectedByReason)),
    ],
  }
}

/** Naive retrying clients vs `@spillway/client`, against the same protected target. */
export async function retryAmplification(options: ScenarioOptions): Promise<Report> {
  const levels = retryAmplificationLevels(options)
  const capacity = capacityOf(options)
  const report = createReport(
    'retry-amplification',
    'spillway retry-amplification: do clients slow down when told to? naive retries vs @spillway/client',
  )
  for (const { level, demandPerSecond, users, specs } of levels) {
    const runs: RunResult[] = []
    for (const spec of specs) runs.push((await runOrRecord(spec)).result)
    const downstream =
      options.slots > 0 ? `${options.slots} slots × ${options.serviceMs} ms` : 'no downstream'
    const target = `${downstream}${options.cpuMs > 0 ? `, ${options.cpuMs} ms CPU per request` : ''}`
    const title =
      `${users} users, think ${THINK_MS} ms → demand ${Math.round(demandPerSecond)}/s = ` +
      (Number.isFinite(capacity)
        ? `${level.toFixed(1)}× capacity (${target} = ${Math.round(capacity)}/s); `
        : `no capacity limit (${target}); `) +
      `limit ${options.limit}, queue ${options.queueSize} / ${options.queueTimeoutMs} ms; ` +
      `budget ${options.timeoutMs} ms per logical request`
    report.groups.push({
      title: `${title}: every attempt`,
      runs,
      note: 'These rows count attempts, tries and retries alike (what the server saw); the table "logical requests" counts what the users saw.',
    })
    report.tables.push(
      retryAmplificationTable(
        `${title}: logical requests`,
        runs.filter((r) => r.error === undefined),
      ),
    )
    const tag = `[${Number.isFinite(capacity) ? `${level.toFixed(1)}×` : `${Math.round(demandPerSecond)}/s`}] `
    report.findings.push(...levelFindings(runs, capacity).map((f) => tag + f))
  }
  return report
}

const byLabel = (runs: readonly RunResult[], label: string): RunResult | undefined =>
  runs.find((r) => r.label === label && r.error === undefined)

/** What a level's runs say: amplification per server; with pressure, against not shedding. */
export function levelFindings(runs: readonly RunResult[], capacity: number): string[] {
  const findings: string[] = []
  for (const suffix of ['', ', pressure']) {
    const naive = byLabel(runs, `naive retries${suffix}`)?.users
    const client = byLabel(runs, `@spillway/client${suffix}`)?.users
    if (naive?.amplification == null || client?.amplification == null) continue
    const fewer =
      (naive.serverReceivedPerSecond ?? 0) / Math.max(1, client.serverReceivedPerSecond ?? 0)
    findings.push(
      `spillway${suffix}: retry amplification ${client.amplification.toFixed(2)}× with @spillway/client ` +
        `(its budget allows 1.1× plus a reserve of 10 retries per client) vs ${naive.amplification.toFixed(2)}× with naive ` +
        `immediate retries: the server received ${fewer.toFixed(1)}× fewer requests per second for the same users; ` +
        `goodput ${rate(client.okPerSecond)} vs ${rate(naive.okPerSecond)}, client success ${pct(client.successRate, 1)} vs ${pct(naive.successRate, 1)}.`,
    )
  }
  const bare = byLabel(runs, 'unprotected, naive retries')
  const naivePressure = byLabel(runs, 'naive retries, pressure')
  const clientPressure = byLabel(runs, '@spillway/client, pressure')
  if (bare !== undefined && naivePressure !== undefined) {
    const ratio =
      naivePressure.summary.goodputPerSecond / Math.max(1e-9, bare.summary.goodputPerSecond)
    findings.push(
      `Naive users, shedding for pressure vs not shedding at all: goodput ${rate(naivePressure.summary.goodputPerSecond)} vs ` +
        `${rate(bare.summary.goodputPerSecond)} (${pct(ratio)}; target ≥ 100%: ${ratio >= 1 ? 'met' : 'MISSED'}), ` +
        `2xx p99 ${ms(naivePressure.summary.latencyOk.p99)} vs ${ms(bare.summary.latencyOk.p99)}.`,
    )
  }
  if (clientPressure !== undefined) {
    const s = clientPressure.summary
    findings.push(
      `@spillway/client callers against pressure shedding: goodput ${rate(s.goodputPerSecond)}` +
        `${Number.isFinite(capacity) ? ` (${pct(s.goodputPerSecond / capacity)} of capacity; target ≥ 90%)` : ''}, ` +
        `2xx p99 ${ms(s.latencyOk.p99)} (target ≤ 200 ms), successful logical requests p99 ${ms(clientPressure.users?.latencyOk.p99)} (retries and waits included).`,
    )
  }
  return findings
}
