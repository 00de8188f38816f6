/**
 * `calibrate --url`: the stepped open-loop search against any HTTP server the
 * user runs (their own app, unprotected), then a suggested configuration with
 * its reasoning.
 *
 * How it works: open-loop steps of constant rate (×1.25 from `--start-rate`),
 * each a separate bounded run, so the search stops two steps after the knee
 * instead of pushing the server ever deeper into overload. Each step's
 * in-flight count comes from Little's law (goodput × mean latency), since a
 * foreign server has no `/__stats`. Only loopback addresses unless
 * `--allow-remote`: a load test against someone else's server is an attack.
 */
import { isIP } from 'node:net'
import { summarizeLatency } from '../harness/metrics.js'
import { type OpenLoopRequest, runOpenLoop } from '../harness/open-loop.js'
import { isOk, isRejection } from '../harness/records.js'
import { ms, rate } from '../report/format.js'
import { createReport, type Report } from '../report/model.js'
import { findKnee, type Step } from './calibrate.js'
import type { ScenarioOptions } from './common.js'

/** What `--url`, `--method`, `--header`, `--body` and `--allow-remote` resolve to. */
export interface UrlTarget {
  readonly host: string
  readonly port: number
  /** Path and query. */
  readonly path: string
  readonly url: string
  readonly request: OpenLoopRequest
}

/** One step's figures, beyond calibrate's. */
export interface UrlStep extends Step {
  /** Mean latency of 2xx answers, ms. */
  meanMs: number | null
  /** 503 and 429 answers per second (the server shedding by itself). */
  shed: number
  /** Timeouts and connection errors per second. */
  failed: number
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}

/** Checks and resolves the command line's target; throws an `Error` with the reason. */
export function resolveUrlTarget(input: {
  url: string
  method?: string | undefined
  headers?: readonly string[] | undefined
  body?: string | undefined
  allowRemote?: boolean | undefined
}): UrlTarget {
  let url: URL
  try {
    url = new URL(input.url)
  } catch {
    throw new Error(
      `--url must be an absolute URL such as http://127.0.0.1:3000/path, got ${input.url}`,
    )
  }
  if (url.protocol !== 'http:') {
    throw new Error(`--url must be an http: URL (plain HTTP on loopback), got ${url.protocol}`)
  }
  if (!isLoopback(url.hostname) && input.allowRemote !== true) {
    throw new Error(
      `refusing to load ${url.hostname}: calibrate sends hundreds of requests per second, so it targets loopback addresses (127.0.0.0/8, ::1, localhost) only. ` +
        'Pass --allow-remote to load a server of yours elsewhere, on a network you are allowed to load.',
    )
  }
  const headers: Record<string, string> = {}
  for (const line of input.headers ?? []) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`--header must look like "Name: value", got ${line}`)
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim()
  }
  const method = (input.method ?? (input.body === undefined ? 'GET' : 'POST')).toUpperCase()
  if (!/^[A-Z]+$/.test(method)) throw new Error(`--method must be an HTTP method, got ${method}`)
  if (input.body !== undefined && headers['content-length'] === undefined) {
    headers['Content-Length'] = String(Buffer.byteLength(input.body))
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 80 : Number(url.port),
    path: `${url.pathname}${url.search}`,
    url: url.href,
    request: {
      method,
      headers,
      ...(input.body === undefined ? {} : { body: input.body }),
    },
  }
}

/** A suggested configuration and why. */
export interface Suggestion {
  limit: number
  queueSize: number
  queueTimeoutMs: number
  /** Capacity seen: the highest goodput of any step, req/s. */
  capacity: number
  /** The reasoning, one line per figure. */
  reasoning: string[]
}

/** The configuration the steps suggest (pure: tested on synthetic steps). */
export function suggestConfiguration(
  steps: readonly UrlStep[],
  knee: number,
  sloMs: number,
): Suggestion | undefined {
  const k = steps[knee]
  const first = steps[0]
  if (k === undefined || first === undefined || k.meanMs === null || k.p99 === null) {
    return undefined
  }
  const capacity = Math.max(...steps.map((s) => s.goodput))
  const inFlight = (k.goodput * k.meanMs) / 1000
  const limit = Math.max(1, Math.ceil(inFlight * 1.25))
  const queueTimeoutMs = Math.min(1000, Math.max(50, Math.round(sloMs - k.p99)))
  const drainable = Math.floor((capacity * queueTimeoutMs) / 1000)
  const queueSize = Math.max(1, Math.min(2 * limit, drainable))
  const reasoning = [
    `Capacity: goodput peaked at ${rate(capacity)}; the knee is step ${knee + 1} (offered ${rate(k.offered)}, goodput ${rate(k.goodput)}, p50 ${ms(k.p50)} vs ${ms(first.p50)} at the first step, p99 ${ms(k.p99)}). Past it goodput stops following the offered rate or latency climbs.`,
    `limit ${limit} = ⌈goodput × mean latency × 1.25⌉ = ⌈${k.goodput.toFixed(0)}/s × ${k.meanMs.toFixed(1)} ms × 1.25⌉: Little's law gives the ${inFlight.toFixed(1)} requests in flight at the knee; the 25% headroom keeps the server busy when latency wobbles. Lower leaves capacity idle; higher lets the queue form inside the server, where nothing can shed it.`,
    `queue.timeoutMs ${queueTimeoutMs} = SLO ${sloMs} ms − p99 at the knee ${ms(k.p99)} (clamped to 50–1000 ms): a request that waited the whole timeout and was then served at the knee's p99 still answers within the SLO.${sloMs - k.p99 < 50 ? ' The p99 at the knee is already close to the SLO: a queue cannot help much; consider a shorter SLO-bound deadline or more capacity.' : ''}`,
    `queue.size ${queueSize} = min(2 × limit, capacity × timeout) = min(${2 * limit}, ${drainable}): at capacity a full queue drains in ${((queueSize / Math.max(capacity, 1)) * 1000).toFixed(0)} ms, within the timeout; a deeper queue would only hold requests that time out anyway.`,
    "Fixed or adaptive: a fixed limit fits a server whose capacity is what was just measured. If it changes at run time (a shared database, a downstream that autoscales or slows down, noisy neighbours), prefer limit: { algorithm: 'gradient2' }, which follows the latency, and keep these queue settings.",
  ]
  const shedAtKnee = k.offered > 0 ? k.shed / k.offered : 0
  if (steps.some((s) => s.shed > 0.01 * s.offered)) {
    reasoning.push(
      `The server answered 503/429 by itself (${(shedAtKnee * 100).toFixed(1)}% at the knee): it already sheds, so this is the knee of the protected server. Calibrate it unprotected (or with shed's dryRun: true) to see its own capacity.`,
    )
  }
  return { limit, queueSize, queueTimeoutMs, capacity, reasoning }
}

/** Figures of one step's log. */
function measureStep(
  log: { latencyMs: number[]; status: number[] },
  seconds: number,
  sloMs: number,
): UrlStep {
  const ok: number[] = []
  let good = 0
  let shed = 0
  let failed = 0
  for (let i = 0; i < log.status.length; i++) {
    const status = log.status[i] as number
    const latency = log.latencyMs[i] as number
    if (isOk(status)) {
      ok.push(latency)
      if (latency <= sloMs) good++
    } else if (isRejection(status)) shed++
    else if (status < 100) failed++
  }
  const latency = summarizeLatency(ok)
  const meanMs = ok.length === 0 ? null : ok.reduce((a, b) => a + b, 0) / ok.length
  return {
    offered: log.status.length / seconds,
    goodput: good / seconds,
    p50: latency.p50,
    p99: latency.p99,
    meanActive: meanMs === null ? null : ((good / seconds) * meanMs) / 1000,
    meanMs,
    shed: shed / seconds,
    failed: failed / seconds,
  }
}

/** Runs the stepped search against `target` and reports the knee and the suggestion. */
export async function calibrateUrl(
  options: ScenarioOptions,
  target: UrlTarget,
  startRate = 50,
): Promise<Report> {
  const stepMs = (options.durationSeconds ?? 3) * 1000
  const maxRate = options.rate ?? 1000
  const report = createReport('calibrate', `spillway calibrate: find the knee of ${target.url}`)
  const steps: UrlStep[] = []
  let pastKnee = 0
  for (let r = startRate; r <= maxRate && steps.length < 30; r *= 1.25) {
    const log = await runOpenLoop({
      host: target.host,
      port: target.port,
      phases: [{ durationMs: stepMs, rate: Math.round(r) }],
      mix: [{ path: target.path, weight: 1 }],
      timeoutMs: options.timeoutMs,
      request: target.request,
      // Bounded whatever the schedule: at most the step's requests.
      maxRequests: Math.ceil((Math.round(r) * stepMs) / 1000),
    })
    const step = measureStep(log, stepMs / 1000, options.sloMs)
    steps.push(step)
    process.stderr.write(
      `step ${steps.length}: offered ${rate(step.offered)}, goodput ${rate(step.goodput)}, p50 ${ms(step.p50)}, p99 ${ms(step.p99)}\n`,
    )
    // Two steps past the knee are enough to see it; going further only hurts the server.
    if (findKnee(steps) < steps.length - 1) pastKnee++
    if (pastKnee >= 2) break
  }
  const knee = findKnee(steps)
  report.tables.push({
    title: `Open loop against ${target.request.method} ${target.url}, ${stepMs / 1000} s steps from ${startRate} req/s (×1.25)`,
    headers: [
      'step',
      'offered',
      'goodput',
      'shed 503/429',
      'failed',
      '2xx p50',
      '2xx p99',
      'in flight',
      '',
    ],
    rows: steps.map((s, i) => [
      String(i + 1),
      rate(s.offered),
      rate(s.goodput),
      rate(s.shed),
      rate(s.failed),
      ms(s.p50),
      ms(s.p99),
      s.meanActive === null ? '-' : s.meanActive.toFixed(1),
      i === knee ? '← knee' : '',
    ]),
  })
  report.notes.push(
    `"in flight" is Little's law (goodput × mean 2xx latency); "failed" counts timeouts (client gives up after ${options.timeoutMs} ms) and connection errors; goodput counts 2xx within ${options.sloMs} ms.`,
  )
  const suggestion = suggestConfiguration(steps, knee, options.sloMs)
  if (suggestion === undefined) {
    report.findings.push(
      knee === -1
        ? `No knee found: even the first step (${startRate} req/s) was past capacity or failed; lower --start-rate or check the URL.`
        : 'No knee found: no 2xx answers to measure.',
    )
    return report
  }
  if (knee === steps.length - 1) {
    report.findings.push(
      `The server kept up with every step up to ${rate(steps[knee]?.offered ?? 0)}: its knee is higher; raise --rate.`,
    )
  }
  report.findings.push(
    `Suggested: createAdmissionController({ limit: ${suggestion.limit}, queue: { size: ${suggestion.queueSize}, timeoutMs: ${suggestion.queueTimeoutMs} } })`,
    ...suggestion.reasoning,
  )
  return report
}
