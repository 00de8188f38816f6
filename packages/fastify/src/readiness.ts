/**
 * Readiness follows draining, not load: an instance that said "not ready"
 * because it is busy would push its load onto the others and cascade.
 */
import type { AdmissionController } from '@spillway/core'
import { readinessState } from '@spillway/node/adapter-kit'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** A handler answering `200 ok` while `controller` is open and `503 draining` once closed. */
export function readinessHandler(controller: AdmissionController) {
  return (_request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { statusCode, body } = readinessState(controller)
    reply.code(statusCode).header('cache-control', 'no-store')
    // Draining: let keep-alive probers reconnect elsewhere rather than reuse this socket.
    if (statusCode === 503) reply.header('connection', 'close')
    return reply.send(body)
  }
}
