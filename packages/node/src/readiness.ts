/**
 * Readiness probes that know about draining: `200 { status: 'ok' }` while the
 * controller is open, `503 { status: 'draining' }` from the moment `close()`
 * is called, even while granted permits finish.
 *
 * Draining, not load, decides readiness: an instance that reports not-ready
 * because it is busy makes the balancer push its load onto the others, which
 * then turn busy and not-ready too (a cascade); shedding already handles
 * overload. The probe reads `stats()` only: it takes no permit and counts as
 * neither an admission nor a rejection, so it is never shed by the controller
 * it reports on (route it before, or outside, any `shed()` layer).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AdmissionController } from '@spillway/core'
import { invalidOption } from '@spillway/core/internal'

/** The probe's JSON body. */
export interface ReadinessBody {
  readonly status: 'ok' | 'draining'
  readonly inFlight: number
  readonly queued: number
  /** The limit in force (the algorithm's limit capped by pressure). */
  readonly limit: number
  /** Process pressure in [0, 1]. */
  readonly pressure: number
}

/** Status code and body of the probe right now: for adapters of other frameworks. */
export function readinessState(controller: AdmissionController): {
  statusCode: 200 | 503
  body: ReadinessBody
} {
  const stats = controller.stats()
  const draining = stats.closed
  return {
    statusCode: draining ? 503 : 200,
    body: {
      status: draining ? 'draining' : 'ok',
      inFlight: stats.inFlight,
      queued: stats.queued,
      limit: stats.effectiveLimit,
      pressure: stats.pressure,
    },
  }
}

/** A node:http (and Express) handler answering the readiness probe. */
export type ReadinessHandler = (req: IncomingMessage, res: ServerResponse) => void

/** Throws the house option error unless `controller` has `stats()`. */
export function checkReadinessController(
  controller: unknown,
): asserts controller is AdmissionController {
  const c = controller as { stats?: unknown } | null
  if (typeof c !== 'object' || c === null || typeof c.stats !== 'function') {
    throw invalidOption(
      'type',
      'controller',
      'Expected `controller` to be an admission controller (from createAdmissionController, or `.controller` of a shed() middleware).',
    )
  }
}

/**
 * A handler that answers whatever is routed to it with the readiness of
 * `controller`. Node: `if (req.url === '/ready') return ready(req, res)`;
 * Express: `app.get('/ready', readiness(controller))`, before `shed()`.
 */
export function readiness(controller: AdmissionController): ReadinessHandler {
  checkReadinessController(controller)
  return (req, res) => {
    const { statusCode, body } = readinessState(controller)
    const json = JSON.stringify(body)
    res.statusCode = statusCode
    res.setHeader('Content-Type', 'application/json; charset=utf-8')
    res.setHeader('Content-Length', Buffer.byteLength(json))
    // A probe answer is about this instant: never serve it from a cache.
    res.setHeader('Cache-Control', 'no-store')
    if (statusCode === 503) {
      // Draining: let keep-alive probers reconnect elsewhere rather than reuse this socket.
      res.setHeader('Connection', 'close')
    }
    res.end(req.method === 'HEAD' ? undefined : json)
  }
}
