/**
 * Samples a target's `GET /__stats` on a timer, with its own connection, so the
 * harness can chart in-flight, queue depth, limit and RSS over time.
 */
import { Agent, request } from 'node:http'
import type { TargetStats } from '../target/config.js'

/** One sample, flattened for charts and JSON. */
export interface Sample {
  /** ms since the load started. */
  tMs: number
  rssBytes: number
  /** V8 heap in use, bytes (null when the target does not say). */
  heapUsedBytes?: number | null
  /** Server CPU time used so far, µs. */
  cpuMicros: number
  /** Server event-loop delay p99 over the last interval, ms. */
  eventLoopDelayP99Ms: number
  /** Handlers running. */
  active: number
  wasted: number
  completed: number
  downstreamQueued: number
  /** Controller's state, or null when unprotected. */
  limit: number | null
  inFlight: number | null
  queued: number | null
  /** The controller's pressure level in [0, 1] (0 without a pressure source), or null when unprotected. */
  pressure?: number | null
  /** p-limit's queue, or null. */
  pLimitPending: number | null
}

/** Fetches `/__stats` once; rejects after `timeoutMs`. */
export function fetchStats(port: number, agent?: Agent, timeoutMs = 2000): Promise<TargetStats> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/__stats', agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as TargetStats)
        } catch (error) {
          reject(error)
        }
      })
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error('stats request timed out')))
    req.once('error', reject)
    req.end()
  })
}

/** Sets the downstream operation time of a running target (`GET /__control?serviceMs=`). */
export function setServiceMs(port: number, serviceMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: `/__control?serviceMs=${serviceMs}` },
      (res) => {
        res.resume()
        res.once('end', () => resolve())
      },
    )
    req.setTimeout(2000, () => req.destroy(new Error('control request timed out')))
    req.once('error', reject)
    req.end()
  })
}

/** Turns a stats answer into a sample taken at `tMs`. */
export function toSample(tMs: number, stats: TargetStats): Sample {
  return {
    tMs,
    rssBytes: stats.rssBytes,
    heapUsedBytes: stats.heapUsedBytes ?? null,
    cpuMicros: stats.cpuMicros,
    eventLoopDelayP99Ms: stats.eventLoopDelayP99Ms,
    active: stats.active,
    wasted: stats.wasted,
    completed: stats.completed,
    downstreamQueued: stats.downstreamQueued,
    limit: stats.controller?.limit ?? null,
    inFlight: stats.controller?.inFlight ?? null,
    queued: stats.controller?.queued ?? null,
    pressure: typeof stats.controller?.pressure === 'number' ? stats.controller.pressure : null,
    pLimitPending: stats.pLimitPending,
  }
}

/** A running sampler. */
export interface Sampler {
  readonly samples: Sample[]
  /** The most recent sample, if any. */
  readonly latest: Sample | undefined
  /** Stops the timer and waits for the request in progress. */
  stop(): Promise<void>
}

/** Samples every `everyMs` from now on; `t0` is `performance.now()` at the load's start. */
export function startSampler(port: number, t0: number, everyMs = 250): Sampler {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const samples: Sample[] = []
  let pending: Promise<void> = Promise.resolve()
  let busy = false
  const timer = setInterval(() => {
    // An overloaded target may answer slowly: never stack sampling requests up.
    if (busy) return
    busy = true
    const tMs = performance.now() - t0
    pending = fetchStats(port, agent)
      .then((stats) => {
        samples.push(toSample(tMs, stats))
      })
      .catch(() => {})
      .finally(() => {
        busy = false
      })
  }, everyMs)
  return {
    samples,
    get latest() {
      return samples[samples.length - 1]
    },
    async stop() {
      clearInterval(timer)
      await pending
      agent.destroy()
    },
  }
}
