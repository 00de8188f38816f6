/**
 * Closed-loop load through autocannon: N keep-alive connections, each sending
 * its next request when the last is answered. It hides collapse (latency
 * settles at connections ÷ capacity) and is reported beside the open loop.
 */
import autocannon from 'autocannon'
import { createLog, ERROR, type RequestLog, type RouteShare, TIMEOUT } from './records.js'

export interface ClosedLoopOptions {
  port: number
  connections: number
  durationMs: number
  /** Requests cycled through by each connection, in order, after their weights. */
  mix: readonly RouteShare[]
  /** Client timeout, ms (autocannon counts whole seconds). @default 2000 */
  timeoutMs?: number
  /** Stops early after this many answers. @default 500000 */
  maxRequests?: number
  onProgress?: (progress: { elapsedMs: number; totalMs: number; answered: number }) => void
}

/** Interleaves the mix into a short sequence with the mix's proportions (weights are small integers). */
export function mixSequence(mix: readonly RouteShare[]): string[] {
  const sequence: string[] = []
  const left = mix.map((r) => r.weight)
  for (;;) {
    let added = false
    for (let i = 0; i < mix.length; i++) {
      if ((left[i] as number) > 0) {
        sequence.push((mix[i] as RouteShare).path)
        left[i] = (left[i] as number) - 1
        added = true
      }
    }
    if (!added) return sequence
  }
}

/** Runs autocannon for `durationMs` and records every answer (route is `-1`: autocannon does not say which). */
export function runClosedLoop(options: ClosedLoopOptions): Promise<RequestLog> {
  const timeoutMs = options.timeoutMs ?? 2000
  const maxRequests = options.maxRequests ?? 500_000
  const log = createLog()
  const start = performance.now()
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${options.port}`,
        connections: options.connections,
        duration: options.durationMs / 1000,
        timeout: Math.max(1, Math.round(timeoutMs / 1000)),
        requests: mixSequence(options.mix).map((path) => ({ method: 'GET' as const, path })),
      },
      (error) => {
        clearInterval(progressTimer)
        if (error) reject(error)
        else resolve(log)
      },
    )
    const record = (status: number, latencyMs: number): void => {
      const now = performance.now() - start
      log.sentMs.push(Math.max(0, now - latencyMs))
      log.latencyMs.push(latencyMs)
      log.status.push(status)
      log.route.push(-1)
      if (log.status.length >= maxRequests) instance.stop()
    }
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      record(statusCode, responseTime)
    })
    instance.on('reqError', (error: unknown) => {
      const timedOut = error instanceof Error && /timed out/.test(error.message)
      record(timedOut ? TIMEOUT : ERROR, timedOut ? timeoutMs : Number.NaN)
    })
    const progressTimer = setInterval(() => {
      options.onProgress?.({
        elapsedMs: performance.now() - start,
        totalMs: options.durationMs,
        answered: log.status.length,
      })
    }, 1000)
  })
}
