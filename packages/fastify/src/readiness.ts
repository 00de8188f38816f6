/**
 * Readiness follows draining, not load: an instance that said "not ready"
 * because it is busy would push its load onto the others and cascade.
 */
import type { AdmissionController } from '@spillway/core'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** A handler answering `200 ok` while `controller` is open and `503 draining` once closed. */
export function readinessHandler(controller: AdmissionController) {
  return (_request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { inFlight, queued, limit, pressure, closed } = controller.stats()
    return reply
      .code(closed ? 503 : 200)
      .header('cache-control', 'no-store')
      .send({ status: closed ? 'draining' : 'ok', inFlight, queued, limit, pressure })
  }
}
