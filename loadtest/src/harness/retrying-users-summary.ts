/**
 * The figures of a run of retrying users (`retry-amplification`) beyond what
 * every run reports: logical requests against the requests that reached the
 * server (retry amplification), and what the users saw. Pure: the test feeds
 * it hand-made logs.
 */
import type { ControllerStatsSnapshot } from '../target/config.js'
import { type LatencySummary, summarizeLatency } from './metrics.js'
import { isOk, type RequestLog } from './records.js'
import type {
  LogicalLog,
  LogicalOutcome,
  RetryingClient,
  RetryingUsersLoad,
} from './retrying-users.js'

/** Logical requests, their outcomes, and the retry amplification of one run. */
export interface RetryingUsersSummary {
  client: RetryingClient
  users: number
  /** From the first attempt to the end of the last one (the last logical requests end after the schedule), ms. */
  spanMs: number
  /** Logical requests the users made. */
  logical: number
  logicalPerSecond: number
  /** Attempts the clients sent (first tries and retries). */
  attempts: number
  /**
   * Requests that reached the server's admission over the run (its controller's
   * `admitted` plus every `rejected` reason); `null` when the target has no controller.
   */
  serverReceived: number | null
  serverReceivedPerSecond: number | null
  /** Requests at the server per logical request (attempts per logical request without a controller). */
  amplification: number | null
  /** 2xx answered per second, whatever their latency. */
  okPerSecond: number
  /** Logical requests that ended in a 2xx, as a fraction of all. */
  successRate: number | null
  outcomes: Record<LogicalOutcome, number>
  /** Successful logical requests, retries and waits included, ms. */
  latencyOk: LatencySummary
  /** Every logical request, ms. */
  latencyAll: LatencySummary
  /** `@spillway/client` only: retries sent, refusals handed back unretried by reason. */
  clientRetries: LogicalLog['clientRetries']
  /** The server's rejections over the run by reason (its controller's counters); `null` without one. */
  serverRejectedByReason: Record<string, number> | null
}

function received(stats: ControllerStatsSnapshot | null): number | null {
  const counters = stats?.counters
  if (counters?.admitted === undefined || counters.rejected === undefined) return null
  return counters.admitted + Object.values(counters.rejected).reduce((a, b) => a + b, 0)
}

function rejectedSince(
  before: ControllerStatsSnapshot | null,
  after: ControllerStatsSnapshot | null,
): Record<string, number> | null {
  const now = after?.counters?.rejected
  if (now === undefined) return null
  const then = before?.counters?.rejected ?? {}
  return Object.fromEntries(
    Object.entries(now)
      .map(([reason, n]) => [reason, n - (then[reason] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  )
}

/**
 * Summarises a run: `log` holds every attempt, `logical` every logical request;
 * `server` is the target's controller before the load and after it drained.
 */
export function summarizeRetryingUsers(
  load: Pick<RetryingUsersLoad, 'client' | 'users' | 'durationMs'>,
  logical: LogicalLog,
  log: RequestLog,
  server: { before: ControllerStatsSnapshot | null; after: ControllerStatsSnapshot | null },
): RetryingUsersSummary {
  let spanMs = load.durationMs
  let ok = 0
  for (let i = 0; i < log.status.length; i++) {
    const latency = log.latencyMs[i] as number
    spanMs = Math.max(spanMs, (log.sentMs[i] as number) + (Number.isFinite(latency) ? latency : 0))
    const status = log.status[i] as number
    if (isOk(status)) ok++
  }
  const seconds = spanMs / 1000
  const outcomes: Record<LogicalOutcome, number> = {
    ok: 0,
    refused: 0,
    throttled: 0,
    timeout: 0,
    error: 0,
  }
  const okLatency: number[] = []
  logical.outcome.forEach((outcome, i) => {
    outcomes[outcome]++
    if (outcome === 'ok') okLatency.push(logical.latencyMs[i] as number)
  })
  const count = logical.outcome.length
  const before = received(server.before)
  const after = received(server.after)
  const serverReceived = before === null || after === null ? null : after - before
  const reaching = serverReceived ?? log.status.length
  return {
    client: load.client,
    users: load.users,
    spanMs,
    logical: count,
    logicalPerSecond: count / seconds,
    attempts: log.status.length,
    serverReceived,
    serverReceivedPerSecond: serverReceived === null ? null : serverReceived / seconds,
    amplification: count === 0 ? null : reaching / count,
    okPerSecond: ok / seconds,
    successRate: count === 0 ? null : outcomes.ok / count,
    outcomes,
    latencyOk: summarizeLatency(okLatency),
    latencyAll: summarizeLatency(logical.latencyMs),
    clientRetries: logical.clientRetries,
    serverRejectedByReason: rejectedSince(server.before, server.after),
  }
}
