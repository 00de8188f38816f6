/** Fastify 5 for the contract: the plugin on the app, `config.spillway` per route. */
import type { AdmissionController } from '@spillway/core'
import spillway from '@spillway/fastify'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import type { Route, Running, Target } from './targets.js'

const failure = (): Error => new Error('handler failed')

function handlerOf(route: Route) {
  const { handler } = route
  return async (_request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    handler.onEnter?.()
    if (handler.wait) await handler.wait()
    if (reply.sent) return reply
    if (handler.reply === 'throw') throw failure()
    if (handler.reply === 'stream' && handler.stream) return reply.send(handler.stream())
    return reply.type('text/plain').send(route.path)
  }
}

async function build(
  register: Record<string, unknown>,
  routes: Route[],
  perRoute: boolean,
): Promise<Running & { controller: AdmissionController }> {
  const app = Fastify()
  const endedBefore = new Set(routes.filter((r) => r.endedBefore).map((r) => r.path))
  // App-level hooks run before route-level ones, so before admission.
  app.addHook('onRequest', (request, reply, done) => {
    if (endedBefore.has(request.url)) reply.code(200).send('early')
    else done()
  })
  await app.register(spillway, register)
  for (const route of routes) {
    app.get(route.path, {
      config: perRoute ? { spillway: route.options ?? {} } : {},
      // Route-level hooks run after the plugin's.
      onRequest: route.endedAfter
        ? (_request, reply, _done) => {
            reply.code(200).send('ended')
          }
        : [],
      handler: handlerOf(route),
    })
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    port,
    controller: app.spillway,
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    },
  }
}

export const fastifyTarget: Target = {
  name: 'Fastify 5',
  hasNextError: false,
  header: (input, name) => {
    const value = (input as FastifyRequest).headers[name]
    return typeof value === 'string' ? value : undefined
  },
  customRejection: () => (_request: FastifyRequest, reply: FastifyReply, r: { status: number }) => {
    reply.code(r.status).type('text/plain').send('busy')
  },
  start: (controller, routes) => build({ controller }, routes, true),
  startOwn: (options, route) => build(options, [route], false),
}
