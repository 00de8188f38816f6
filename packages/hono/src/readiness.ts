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
    const { inFlight, queued, limit, pressure, closed } = controller.stats()
    c.header('cache-control', 'no-store')
    return c.json(
      { status: closed ? 'draining' : 'ok', inFlight, queued, limit, pressure },
      closed ? 503 : 200,
    )
  }
}
