/**
 * Readiness follows draining, not load: an instance that said "not ready"
 * because it is busy would push its load onto the others and cascade.
 */
import type { AdmissionController } from '@spillway/core'
import type { Context } from 'hono'

/**
 * A handler answering `200 {"status":"ok",...}` while `controller` is open and
 * `503 {"status":"draining",...}` once it is closed. Route it outside `shed()`
 * (or with `skip`): a probe is never shed nor counted.
 */
export function readiness(controller: AdmissionController): (c: Context) => Response {
  return (c) => {
    const { inFlight, queued, effectiveLimit, pressure, closed } = controller.stats()
    c.header('cache-control', 'no-store')
    // Draining: let keep-alive probers reconnect elsewhere rather than reuse this socket.
    if (closed) c.header('connection', 'close')
    // `limit` is the limit in force, as in every adapter's probe.
    return c.json(
      { status: closed ? 'draining' : 'ok', inFlight, queued, limit: effectiveLimit, pressure },
      closed ? 503 : 200,
    )
  }
}
