/**
 * `retry-amplification`: its figures on a hand-made log, then a short run of
 * both clients over real sockets on 127.0.0.1, each against a fresh target
 * process built from the command line's options (Koa, 4 slots × 25 ms,
 * limit 4). Asserts only what holds by construction, never a timing: the
 * target is the one asked for, the server drains, every attempt the clients
 * logged reached the server, and `@spillway/client`'s retries stay within its
 * budget (≤ 10% of calls, plus each client's reserve of 10 retries in its
 * first window, which covers the whole run).
 */
import { runningTargetCount, startTarget } from '../src/harness/processes.js'
import { createLog, TIMEOUT } from '../src/harness/records.js'
import type { LogicalLog } from '../src/harness/retrying-users.js'
import {
  type RetryingUsersSummary,
  summarizeRetryingUsers,
} from '../src/harness/retrying-users-summary.js'
import { runOne } from '../src/harness/run.js'
import { fetchStats } from '../src/harness/sampler.js'
import { DEFAULT_OPTIONS } from '../src/scenarios/common.js'
import {
  DEADLINE_HEADER,
  levelFindings,
  RETRY_AMPLIFICATION_DEFAULTS,
  retryAmplificationLevels,
  retryAmplificationTable,
} from '../src/scenarios/retry-amplification.js'
import { FRAMEWORKS } from '../src/target/config.js'
import { syntheticRun } from './synthetic.js'

describe('the retry-amplification figures', () => {
  const log = createLog()
  // Two logical requests: one refused twice then served, one that timed out on its only attempt.
  for (const [sentMs, latencyMs, status] of [
    [0, 1, 503],
    [1, 1, 503],
    [2, 20, 200],
    [100, 2000, TIMEOUT],
  ] as const) {
    log.sentMs.push(sentMs)
    log.latencyMs.push(latencyMs)
    log.status.push(status)
    log.route.push(0)
  }
  const logical: LogicalLog = {
    outcome: ['ok', 'timeout'],
    latencyMs: [22, 2000],
    clientRetries: null,
  }
  const snapshot = (admitted: number, queueFull: number, aborted: number) => ({
    limit: 4,
    inFlight: 0,
    queued: 0,
    counters: { admitted, rejected: { queueFull, aborted, queueTimeout: 0 } },
  })

  it('counts requests at the server from its controller, per logical request', () => {
    const summary = summarizeRetryingUsers(
      { client: 'naive', users: 1, durationMs: 1000 },
      logical,
      log,
      { before: snapshot(10, 5, 0), after: snapshot(11, 7, 1) },
    )
    expect(summary.serverReceived).toBe(4)
    expect(summary.attempts).toBe(4)
    expect(summary.amplification).toBe(2)
    // The last attempt ends at 2.1 s: rates are over that span, not the 1 s schedule.
    expect(summary.spanMs).toBe(2100)
    expect(summary.logicalPerSecond).toBeCloseTo(2 / 2.1)
    expect(summary.okPerSecond).toBeCloseTo(1 / 2.1)
    expect(summary.successRate).toBe(0.5)
    expect(summary.outcomes).toEqual({ ok: 1, refused: 0, throttled: 0, timeout: 1, error: 0 })
    expect(summary.latencyOk.p99).toBe(22)
    expect(summary.latencyAll.max).toBe(2000)
    expect(summary.serverRejectedByReason).toEqual({ queueFull: 2, aborted: 1 })
  })

  it('falls back to the attempts sent when the target has no controller', () => {
    const summary = summarizeRetryingUsers(
      { client: 'naive', users: 1, durationMs: 1000 },
      logical,
      log,
      { before: null, after: null },
    )
    expect([summary.serverReceived, summary.amplification]).toEqual([null, 2])
    expect(summary.serverRejectedByReason).toBeNull()
  })
})

describe('the retry-amplification findings', () => {
  const run = (label: string, goodputPerSecond: number, users?: Partial<RetryingUsersSummary>) => {
    const { result } = syntheticRun(true)
    const summary = { ...result.summary, goodputPerSecond }
    return {
      ...result,
      label,
      summary,
      ...(users === undefined ? {} : { users: users as RetryingUsersSummary }),
    }
  }
  const users = (amplification: number, perSecond: number): Partial<RetryingUsersSummary> => ({
    amplification,
    serverReceivedPerSecond: perSecond,
    okPerSecond: 100,
    successRate: 0.5,
    latencyOk: { count: 1, p50: 10, p90: 10, p99: 900, max: 900 },
  })

  it('compares the clients per server, and pressure shedding with not shedding at all', () => {
    const findings = levelFindings(
      [
        run('unprotected, naive retries', 100, users(1, 100)),
        run('naive retries', 150, users(6, 900)),
        run('@spillway/client', 150, users(1.05, 180)),
        run('naive retries, pressure', 90, users(4, 600)),
        run('@spillway/client, pressure', 450, users(1.1, 200)),
      ],
      500,
    )
    expect(findings).toHaveLength(4)
    expect(findings[0]).toMatch(/^spillway: retry amplification 1\.05× .* vs 6\.00× .* 5\.0× fewer/)
    expect(findings[1]).toMatch(
      /^spillway, pressure: retry amplification 1\.10× .* vs 4\.00× .* 3\.0× fewer/,
    )
    expect(findings[2]).toContain('goodput 90.0/s vs 100/s (90%; target ≥ 100%: MISSED)')
    expect(findings[3]).toContain('goodput 450/s (90% of capacity; target ≥ 90%)')
    expect(findings[3]).toContain('successful logical requests p99 900 ms')
    const met = levelFindings(
      [run('unprotected, naive retries', 100), run('naive retries, pressure', 101)],
      500,
    )
    expect(met).toEqual([expect.stringContaining('target ≥ 100%: met')])
  })

  it('says nothing of a pair whose run failed', () => {
    const failed = { ...run('@spillway/client', 0, users(1, 1)), error: 'target failed' }
    expect(levelFindings([run('naive retries', 1, users(2, 2)), failed], 500)).toEqual([])
  })
})

describe.each(FRAMEWORKS)('the %s target of retry-amplification', (framework) => {
  it('refuses a queued request once the budget in its deadline header has run out', async () => {
    const target = await startTarget({
      framework,
      protection: {
        kind: 'spillway',
        limit: 1,
        queue: { size: 4, timeoutMs: 2000 },
        deadlineHeader: DEADLINE_HEADER,
      },
      downstream: { slots: 1, serviceMs: 300 },
      cpuMs: 0,
    })
    try {
      const url = `http://127.0.0.1:${target.port}/normal`
      const answer = async (headers: Record<string, string>) => {
        const response = await fetch(url, { headers })
        return { status: response.status, body: await response.text() }
      }
      const first = answer({})
      await new Promise((resolve) => setTimeout(resolve, 50))
      // Both wait behind the first; only the one whose caller said 100 ms is refused for it.
      const [hurried, patient] = await Promise.all([
        answer({ [DEADLINE_HEADER]: '100' }),
        answer({}),
      ])
      expect((await first).status).toBe(200)
      expect(hurried.status).toBe(503)
      expect(JSON.parse(hurried.body)).toMatchObject({ reason: 'deadline' })
      expect(patient.status).toBe(200)
      expect((await fetchStats(target.port)).controller).toMatchObject({ inFlight: 0, queued: 0 })
    } finally {
      await target.stop()
    }
  })
})

describe('retry-amplification over real sockets', () => {
  it('keeps @spillway/client retries within its budget against a Koa target at 3× capacity', async () => {
    const options = {
      ...DEFAULT_OPTIONS,
      ...RETRY_AMPLIFICATION_DEFAULTS,
      framework: 'koa' as const,
      durationSeconds: 1.5,
    }
    const [level] = retryAmplificationLevels(options)
    if (level === undefined) throw new Error('no level')
    const users = 24
    const usersPerClient = 12
    const runs = []
    for (const spec of level.specs) {
      if (spec.load.model !== 'users') throw new Error('not a users load')
      // Fewer users with a shorter think time: the same 3×, a lighter generator.
      const { result } = await runOne({
        ...spec,
        load: { ...spec.load, users, usersPerClient, thinkMs: 50 },
      })
      runs.push(result)
    }
    const [naive, client] = runs
    expect(naive?.users?.client).toBe('naive')
    expect(client?.users?.client).toBe('spillway-client')
    for (const run of runs) {
      expect(run.adapter).toBe('@spillway/koa (src)')
      expect(run.target.downstream).toEqual({ slots: 4, serviceMs: 25 })
      expect(run.finalControllerStats?.limit).toBe(4)
      expect(run.summary.leak?.drained).toBe(true)
      expect(run.finalControllerStats).toMatchObject({ inFlight: 0, queued: 0 })
      const u = run.users
      if (u === undefined) throw new Error('no users summary')
      expect(u.logical).toBeGreaterThan(0)
      expect(u.outcomes.error).toBe(0)
      // Every attempt logged reached the server's admission, and nothing else did.
      const unsent = run.summary.errors
      expect(u.serverReceived).toBeLessThanOrEqual(u.attempts)
      expect(u.serverReceived).toBeGreaterThanOrEqual(u.attempts - unsent - run.summary.timeouts)
    }
    if (naive?.users === undefined || client?.users === undefined) return
    expect(naive.users.amplification).toBeGreaterThanOrEqual(1)
    const c = client.users
    const clients = Math.ceil(users / usersPerClient)
    // Calls failed locally sent nothing; counting every timeout as unsent only overstates retries.
    const sent = c.logical - c.outcomes.throttled - c.outcomes.timeout
    expect((c.serverReceived ?? 0) - sent).toBeLessThanOrEqual(0.1 * c.logical + 10 * clients)
    expect(c.clientRetries?.sent).toBeLessThanOrEqual(0.1 * c.logical + 10 * clients)
    expect(Object.keys(c.clientRetries?.notRetried ?? {}).sort()).toEqual([
      'attemptsExhausted',
      'bodyNotReplayable',
      'budget',
      'deadline',
      'notIdempotent',
      'retryAfterTooLong',
      'throttle',
    ])
    const table = retryAmplificationTable('t', runs)
    expect(table.headers).toEqual(['', 'naive retries', '@spillway/client'])
    expect(table.rows.find((r) => r[0]?.startsWith('retry amplification'))?.[2]).toBe(
      `${c.amplification?.toFixed(2)}×`,
    )
    expect(runningTargetCount()).toBe(0)
  }, 90_000)
})
