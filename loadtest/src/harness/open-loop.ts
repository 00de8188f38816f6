/**
 * Open-loop load: arrivals at a scheduled rate that never wait for answers,
 * as internet clients and retries behave. Each request gives up after
 * `timeoutMs` (the socket is destroyed, so the server can see the client leave).
 *
 * Arrivals are scheduled from the integral of the rate over the phases, checked
 * every few ms, so a late timer sends the arrivals it owes at once instead of
 * silently lowering the rate. Runs in the harness process, never in the server's.
 */
import { Agent, request } from 'node:http'
import {
  createLog,
  ERROR,
  isOk,
  isRejection,
  type RequestLog,
  type RouteShare,
  reasonOf,
  routePicker,
  seededRandom,
  TIMEOUT,
} from './records.js'

/** A stretch of constant arrival rate. */
export interface Phase {
  /** Length, ms. */
  durationMs: number
  /** Arrivals per second. */
  rate: number
}

/** Live counts, reported about once a second. */
export interface OpenLoopProgress {
  elapsedMs: number
  totalMs: number
  sent: number
  ok: number
  rejected: number
  timeouts: number
  errors: number
  outstanding: number
}

export interface OpenLoopOptions {
  port: number
  phases: readonly Phase[]
  mix: readonly RouteShare[]
  /** The client gives up after this long, ms. @default 2000 */
  timeoutMs?: number
  /** Hard cap on requests sent, whatever the schedule. @default 200000 */
  maxRequests?: number
  /** Called about once a second. */
  onProgress?: (progress: OpenLoopProgress) => void
  /** Called at the start of each phase after the first (e.g. to change the downstream). */
  onPhase?: (index: number) => void
  /** Seed for the route choice. @default 1 */
  seed?: number
  /**
   * A new TCP connection per request (`Connection: close`), as clients behind
   * no pool, or a load balancer that does not reuse, arrive: each waits in the
   * kernel's accept backlog before the server sees it. @default false (keep-alive)
   */
  newConnection?: boolean
  /** Where to send (`calibrate --url`; the caller checks it is allowed). @default '127.0.0.1' */
  host?: string
  /** Method, headers and body of every request (`calibrate --url`). @default a bodiless GET */
  request?: OpenLoopRequest
}

/** What every request of an open loop sends, beyond its path. */
export interface OpenLoopRequest {
  method?: string
  headers?: Record<string, string>
  body?: string
}

/** Arrivals owed by `elapsedMs` into the schedule. */
export function arrivalsDue(phases: readonly Phase[], elapsedMs: number): number {
  let due = 0
  let start = 0
  for (const phase of phases) {
    const inPhase = Math.min(Math.max(elapsedMs - start, 0), phase.durationMs)
    due += (inPhase * phase.rate) / 1000
    start += phase.durationMs
  }
  return Math.floor(due)
}

/** Runs the schedule to its end, waits for every request to finish or give up, returns the log. */
export function runOpenLoop(options: OpenLoopOptions): Promise<RequestLog> {
  const timeoutMs = options.timeoutMs ?? 2000
  const maxRequests = options.maxRequests ?? 200_000
  const totalMs = options.phases.reduce((sum, p) => sum + p.durationMs, 0)
  const pick = routePicker(options.mix, seededRandom(options.seed ?? 1))
  // A separate stream for the clients' manners, so adding them changes no route choice.
  const random = seededRandom((options.seed ?? 1) + 1)
  // Keep-alive with no socket cap: an arrival never waits for a socket, and finished
  // sockets are reused instead of churning through ephemeral ports.
  const agent = new Agent({
    keepAlive: options.newConnection !== true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: options.newConnection === true ? 0 : 1024,
  })
  const log = createLog()
  const reasons: string[] = []
  log.reason = reasons
  let sent = 0
  let outstanding = 0
  const counts = { ok: 0, rejected: 0, timeouts: 0, errors: 0 }
  const start = performance.now()

  return new Promise((resolve) => {
    let scheduleDone = false
    const finishIfDone = (): void => {
      if (scheduleDone && outstanding === 0) {
        clearInterval(progressTimer)
        agent.destroy()
        resolve(log)
      }
    }
    const fire = (sentMs: number): void => {
      const index = log.sentMs.length
      const route = pick()
      log.sentMs.push(sentMs)
      log.latencyMs.push(Number.NaN)
      log.status.push(ERROR)
      log.route.push(route)
      reasons.push('')
      sent++
      outstanding++
      const t0 = performance.now()
      let settled = false
      const settle = (answer: number): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        const latency = performance.now() - t0
        // An answer that lands after the timeout (our timer ran late on a busy machine)
        // is one the real client would never have seen: count it as the client giving up.
        const status = latency >= leaveAfterMs ? TIMEOUT : answer
        log.latencyMs[index] = Math.min(latency, leaveAfterMs)
        log.status[index] = status
        if (status === TIMEOUT) counts.timeouts++
        else if (status === ERROR) counts.errors++
        else if (isOk(status)) counts.ok++
        else counts.rejected++
        outstanding--
        finishIfDone()
      }
      const share = options.mix[route] as RouteShare
      const behaviour = share.client
      let headers =
        share.headers === undefined
          ? options.request?.headers
          : { ...options.request?.headers, ...share.headers }
      // The client gives up at its timeout, or earlier when it is one that aborts.
      let leaveAfterMs = timeoutMs
      if (behaviour !== undefined) {
        const abort = behaviour.abortAfterMs
        if (abort !== undefined) {
          leaveAfterMs = Math.min(timeoutMs, abort[0] + random() * (abort[1] - abort[0]))
        }
        const now = Date.now()
        headers = {
          ...headers,
          'x-deadline': String(Math.round(now + timeoutMs)),
          'x-give-up-at': String(Math.round(now + leaveAfterMs)),
        }
      }
      const req = request(
        {
          host: options.host ?? '127.0.0.1',
          port: options.port,
          path: share.path,
          agent,
          method: options.request?.method ?? 'GET',
          headers,
        },
        (res) => {
          const status = res.statusCode ?? ERROR
          const readRate = behaviour?.readBytesPerSecond
          if (readRate !== undefined && isOk(status)) {
            // A slow reader: pause after each chunk for as long as its size takes at `readRate`.
            res.on('data', (chunk: Buffer) => {
              res.pause()
              setTimeout(() => res.resume(), (chunk.length / readRate) * 1000)
            })
            res.once('end', () => settle(status))
          } else if (isRejection(status)) {
            // Read the small problem+json body for its machine-readable `reason`.
            let body = ''
            res.setEncoding('utf8')
            res.on('data', (chunk: string) => {
              if (body.length < 4096) body += chunk
            })
            res.once('end', () => {
              reasons[index] = reasonOf(body)
              settle(status)
            })
          } else {
            res.resume()
            res.once('end', () => settle(status))
          }
          res.once('error', () => settle(ERROR))
        },
      )
      // A client that leaves early (or at its timeout) is recorded as giving up either way.
      const timer = setTimeout(() => {
        settle(TIMEOUT)
        req.destroy()
      }, leaveAfterMs)
      req.once('error', () => settle(ERROR))
      req.end(options.request?.body)
    }

    let phaseIndex = 0
    let phaseEndMs = options.phases[0]?.durationMs ?? 0
    const tick = (): void => {
      const elapsed = performance.now() - start
      while (phaseIndex < options.phases.length - 1 && elapsed >= phaseEndMs) {
        phaseIndex++
        phaseEndMs += (options.phases[phaseIndex] as Phase).durationMs
        options.onPhase?.(phaseIndex)
      }
      const due = Math.min(arrivalsDue(options.phases, elapsed), maxRequests)
      while (sent < due) fire(elapsed)
      if (elapsed >= totalMs || sent >= maxRequests) {
        scheduleDone = true
        finishIfDone()
        return
      }
      setTimeout(tick, 2)
    }
    const progressTimer = setInterval(() => {
      options.onProgress?.({
        elapsedMs: performance.now() - start,
        totalMs,
        sent,
        outstanding,
        ...counts,
      })
    }, 1000)
    tick()
  })
}
