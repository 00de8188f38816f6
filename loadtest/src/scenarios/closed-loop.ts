/**
 * `closed-loop`: does the producer slow down when told to? Many users, each
 * sending its next logical request a think time after the last one ended,
 * against a spillway-protected server whose downstream serves `slots ×
 * 1000 / serviceMs` requests/s. With zero latency the users would ask for
 * `users × 1000 / thinkMs` requests/s, `overload`× that capacity (3× by default).
 *
 * Two runs, each against a fresh server process:
 *   - naive: plain `fetch`, retrying a 503/429 at once, up to `naiveMaxAttempts`;
 *   - @spillway/client: Retry-After, retry budget, adaptive throttling.
 * Both give up on a logical request after `timeoutMs`. Reported: requests that
 * reached the server per logical request (retry amplification), goodput, and
 * the client-observed success rate and latency.
 *
 * Generator and server share the machine's cores: compare the two runs as
 * ratios, not the absolute figures.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createClient, ThrottledError } from '@spillway/client'
import { loadtestRoot, tsconfigPath, tsxLoaderUrl } from '../harness/paths.js'
import type { ClosedLoopServerConfig, ClosedLoopServerStats } from './closed-loop-server.js'

/** Options of {@link runClosedLoopScenario}; every field is optional. */
export interface ClosedLoopScenarioOptions {
  /** Concurrent users. @default 96 */
  users?: number
  /** Users per `@spillway/client` instance (one instance ≈ one calling service). @default 24 */
  usersPerClient?: number
  /** Think time between a user's logical requests, in ms. @default 200 */
  thinkMs?: number
  /** Length of each run, in ms. @default 10000 */
  durationMs?: number
  /** Downstream slots. @default 4 */
  slots?: number
  /** Downstream service time, in ms. @default 25 */
  serviceMs?: number
  /** Spillway queue size on the server. @default 16 */
  queueSize?: number
  /** Spillway queue timeout on the server, in ms. @default 250 */
  queueTimeoutMs?: number
  /**
   * CPU the server spends on every request before admission, even one it sheds
   * (parsing, auth, logging), in ms. @default 0
   */
  perRequestCpuMs?: number
  /** A logical request's time budget, in ms (both variants). @default 2000 */
  timeoutMs?: number
  /** Attempts a naive client makes before giving up. @default 10 */
  naiveMaxAttempts?: number
  /** Hard cap on logical requests per run, so a run stays bounded. @default 200000 */
  maxLogicalRequests?: number
  /** Which variants to run. @default ['naive', 'spillway'] */
  variants?: readonly ClosedLoopVariant[]
}

export type ClosedLoopVariant = 'naive' | 'spillway'

/** Latency percentiles, ms. */
export interface LatencyFigures {
  p50: number | null
  p90: number | null
  p99: number | null
  max: number | null
}

/** The figures of one run. */
export interface ClosedLoopRunResult {
  variant: ClosedLoopVariant
  durationS: number
  /** Logical requests the users made. */
  logical: number
  /** Requests that reached the server. */
  serverReceived: number
  /** `serverReceived / logical`. */
  amplification: number
  /** Requests/s that reached the server. */
  offeredPerSecond: number
  /** Requests/s the server's downstream answered 200. */
  goodputPerSecond: number
  /** Logical requests that ended in a 200, as a fraction of `logical`. */
  successRate: number
  /** Logical requests by how they ended. */
  outcomes: { ok: number; refused: number; throttled: number; timeout: number; error: number }
  /** Latency of successful logical requests (retries and waits included). */
  successLatencyMs: LatencyFigures
  /** Latency of every logical request. */
  allLatencyMs: LatencyFigures
  /** Spillway's rejections at the server, by reason. */
  serverRejectedByReason: Record<string, number>
  /** The server's controller after the run (should be 0 and 0). */
  drained: { inFlight: number; queued: number }
  /**
   * `@spillway/client` only (empty for naive): retries sent, and refusals it
   * handed back without retrying, by reason (`client.stats()`, all instances).
   */
  clientRetries: { sent: number; notRetried: Record<string, number> }
}

export interface ClosedLoopScenarioResult {
  config: Required<Omit<ClosedLoopScenarioOptions, 'variants'>> & {
    capacityPerSecond: number
    demandPerSecond: number
  }
  runs: ClosedLoopRunResult[]
}

const DEFAULTS = {
  users: 96,
  usersPerClient: 24,
  thinkMs: 200,
  durationMs: 10_000,
  slots: 4,
  serviceMs: 25,
  queueSize: 16,
  queueTimeoutMs: 250,
  perRequestCpuMs: 0,
  timeoutMs: 2000,
  naiveMaxAttempts: 10,
  maxLogicalRequests: 200_000,
}

function percentiles(values: number[]): LatencyFigures {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number): number | null => {
    if (sorted.length === 0) return null
    const rank = Math.ceil((p / 100) * sorted.length)
    return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number)
  }
  return { p50: at(50), p90: at(90), p99: at(99), max: at(100) }
}

interface ServerHandle {
  port: number
  stats(): Promise<ClosedLoopServerStats>
  stop(): Promise<void>
}

/** Starts the target in a child process; resolves once it listens (at most 20 s). */
function startServer(config: ClosedLoopServerConfig): Promise<ServerHandle> {
  const entry = join(loadtestRoot(), 'src', 'scenarios', 'closed-loop-server.ts')
  const child: ChildProcess = spawn(process.execPath, ['--import', tsxLoaderUrl(), entry], {
    env: {
      ...process.env,
      CLOSED_LOOP_SERVER: JSON.stringify(config),
      TSX_TSCONFIG_PATH: tsconfigPath(),
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const killOnExit = (): void => {
    child.kill('SIGKILL')
  }
  process.once('exit', killOnExit)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit)
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
    await exited
    clearTimeout(timer)
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop().then(() => reject(new Error('closed-loop server did not start within 20 s')))
    }, 20_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`closed-loop server exited early (code ${code})`))
    })
    child.once('message', (message) => {
      clearTimeout(timer)
      const { port } = message as { port: number }
      resolve({
        port,
        stop,
        stats: async () => {
          const response = await fetch(`http://127.0.0.1:${port}/__stats`)
          return (await response.json()) as ClosedLoopServerStats
        },
      })
    })
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

type Outcome = keyof ClosedLoopRunResult['outcomes']

/** One naive logical request: retry a refusal at once, until success, attempts or time run out. */
async function naiveRequest(url: string, timeoutMs: number, maxAttempts: number): Promise<Outcome> {
  const signal = AbortSignal.timeout(timeoutMs)
  const outcome: Outcome = 'refused'
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      const response = await fetch(url, { signal })
      await response.arrayBuffer()
      if (response.status !== 503 && response.status !== 429) {
        return response.ok ? 'ok' : 'error'
      }
    } catch (error) {
      return (error as Error).name === 'TimeoutError' ? 'timeout' : 'error'
    }
  }
  return outcome
}

/** One logical request through `@spillway/client`. */
async function spillwayRequest(
  client: ReturnType<typeof createClient>,
  url: string,
): Promise<Outcome> {
  try {
    const response = await client(url)
    await response.arrayBuffer()
    if (response.status === 503 || response.status === 429) return 'refused'
    return response.ok ? 'ok' : 'error'
  } catch (error) {
    if (error instanceof ThrottledError)
      return error.reason === 'deadline' ? 'timeout' : 'throttled'
    return (error as Error).name === 'TimeoutError' ? 'timeout' : 'error'
  }
}

async function runVariant(
  variant: ClosedLoopVariant,
  o: typeof DEFAULTS,
  onProgress?: (line: string) => void,
): Promise<ClosedLoopRunResult> {
  const server = await startServer({
    slots: o.slots,
    serviceMs: o.serviceMs,
    limit: o.slots,
    queueSize: o.queueSize,
    queueTimeoutMs: o.queueTimeoutMs,
    perRequestCpuMs: o.perRequestCpuMs,
  })
  try {
    const url = `http://127.0.0.1:${server.port}/work`
    const clients = Array.from({ length: Math.ceil(o.users / o.usersPerClient) }, () =>
      createClient({ timeoutMs: o.timeoutMs }),
    )
    const outcomes = { ok: 0, refused: 0, throttled: 0, timeout: 0, error: 0 }
    const successLatency: number[] = []
    const allLatency: number[] = []
    let logical = 0
    const start = performance.now()
    const endAt = start + o.durationMs
    const progress = setInterval(() => {
      const s = ((performance.now() - start) / 1000).toFixed(0)
      onProgress?.(`${variant}: ${s} s, ${logical} logical requests, ${outcomes.ok} ok`)
    }, 1000)
    const user = async (index: number): Promise<void> => {
      const client = clients[Math.floor(index / o.usersPerClient)] as (typeof clients)[number]
      // Spread the first requests over one think time, so users do not move in lockstep.
      await sleep(Math.random() * o.thinkMs)
      while (performance.now() < endAt && logical < o.maxLogicalRequests) {
        logical++
        const t0 = performance.now()
        const outcome =
          variant === 'naive'
            ? await naiveRequest(url, o.timeoutMs, o.naiveMaxAttempts)
            : await spillwayRequest(client, url)
        const latency = performance.now() - t0
        outcomes[outcome]++
        allLatency.push(latency)
        if (outcome === 'ok') successLatency.push(latency)
        await sleep(o.thinkMs)
      }
    }
    await Promise.all(Array.from({ length: o.users }, (_, i) => user(i)))
    clearInterval(progress)
    const durationS = (performance.now() - start) / 1000
    // Let in-flight releases land before reading the controller.
    await sleep(50)
    const stats = await server.stats()
    const clientRetries = { sent: 0, notRetried: {} as Record<string, number> }
    if (variant === 'spillway') {
      for (const client of clients) {
        for (const origin of Object.values(client.stats())) {
          clientRetries.sent += origin.counters.retries
          for (const [reason, n] of Object.entries(origin.counters.notRetried)) {
            clientRetries.notRetried[reason] = (clientRetries.notRetried[reason] ?? 0) + n
          }
        }
      }
    }
    return {
      variant,
      durationS,
      logical,
      serverReceived: stats.received,
      amplification: logical === 0 ? 0 : stats.received / logical,
      offeredPerSecond: stats.received / durationS,
      goodputPerSecond: stats.served / durationS,
      successRate: logical === 0 ? 0 : outcomes.ok / logical,
      outcomes,
      successLatencyMs: percentiles(successLatency),
      allLatencyMs: percentiles(allLatency),
      serverRejectedByReason: stats.rejectedByReason,
      drained: { inFlight: stats.inFlight, queued: stats.queued },
      clientRetries,
    }
  } finally {
    await server.stop()
  }
}

/** Runs the scenario: the naive run, then the `@spillway/client` run, each on a fresh server. */
export async function runClosedLoopScenario(
  options: ClosedLoopScenarioOptions = {},
  onProgress?: (line: string) => void,
): Promise<ClosedLoopScenarioResult> {
  const o = { ...DEFAULTS }
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && key !== 'variants') (o as Record<string, unknown>)[key] = value
  }
  const runs: ClosedLoopRunResult[] = []
  for (const variant of options.variants ?? (['naive', 'spillway'] as const)) {
    runs.push(await runVariant(variant, o, onProgress))
  }
  return {
    config: {
      ...o,
      capacityPerSecond: (o.slots * 1000) / o.serviceMs,
      demandPerSecond: (o.users * 1000) / o.thinkMs,
    },
    runs,
  }
}

/** A plain-text table of the runs, side by side. */
export function formatClosedLoop(result: ClosedLoopScenarioResult): string {
  const c = result.config
  const ms = (v: number | null): string => (v === null ? '-' : `${v}`)
  const rows: Array<[string, (r: ClosedLoopRunResult) => string]> = [
    ['logical requests', (r) => `${r.logical}`],
    ['logical /s', (r) => (r.logical / r.durationS).toFixed(0)],
    ['requests at server', (r) => `${r.serverReceived}`],
    ['retry amplification', (r) => `${r.amplification.toFixed(2)}×`],
    ['offered at server /s', (r) => r.offeredPerSecond.toFixed(0)],
    ['goodput (200) /s', (r) => r.goodputPerSecond.toFixed(0)],
    ['client success', (r) => `${(r.successRate * 100).toFixed(1)}%`],
    ['  ok / refused', (r) => `${r.outcomes.ok} / ${r.outcomes.refused}`],
    ['  throttled / timeout', (r) => `${r.outcomes.throttled} / ${r.outcomes.timeout}`],
    ['  error', (r) => `${r.outcomes.error}`],
    [
      'ok latency p50/p99 ms',
      (r) => `${ms(r.successLatencyMs.p50)} / ${ms(r.successLatencyMs.p99)}`,
    ],
    ['all latency p50/p99 ms', (r) => `${ms(r.allLatencyMs.p50)} / ${ms(r.allLatencyMs.p99)}`],
    [
      'server rejections',
      (r) =>
        Object.entries(r.serverRejectedByReason)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ') || '-',
    ],
    [
      'not retried, why',
      (r) =>
        Object.entries(r.clientRetries.notRetried)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ') || '-',
    ],
    ['server drained', (r) => `${r.drained.inFlight === 0 && r.drained.queued === 0}`],
  ]
  const header = [
    `closed-loop: ${c.users} users, think ${c.thinkMs} ms → demand ${c.demandPerSecond}/s = ` +
      `${(c.demandPerSecond / c.capacityPerSecond).toFixed(1)}× capacity ` +
      `(${c.slots} slots × ${c.serviceMs} ms = ${c.capacityPerSecond}/s); ` +
      `queue ${c.queueSize} / ${c.queueTimeoutMs} ms; budget ${c.timeoutMs} ms per request; ` +
      `server CPU per request ${c.perRequestCpuMs} ms`,
  ]
  const width = 24
  const cells = rows.map(([label, cell]) => [label, ...result.runs.map(cell)])
  const colWidth = Math.max(20, ...cells.flatMap((row) => row.slice(1).map((c) => c.length + 2)))
  const lines = [
    ...header,
    ''.padEnd(width) + result.runs.map((r) => r.variant.padStart(colWidth)).join(''),
  ]
  for (const [label, ...values] of cells) {
    lines.push((label as string).padEnd(width) + values.map((v) => v.padStart(colWidth)).join(''))
  }
  return lines.join('\n')
}
