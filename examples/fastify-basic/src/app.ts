import spillway from '@spillway/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { createDownstream } from './downstream.js'

/**
 * A Fastify 5 app whose every route goes through the spillway plugin: 8
 * requests in flight, 16 more may wait up to a second, the rest get `503`
 * with `Retry-After`. `GET /stats` opts out (`config.spillway: false`) and
 * shows the controller's live state; `GET /ready` is the readiness route.
 * Closing the app closes the controller.
 */
export async function createApp(): Promise<FastifyInstance> {
  const downstream = createDownstream()
  const app = Fastify()
  await app.register(spillway, {
    limit: 8,
    queue: { size: 16, timeoutMs: 1000 },
    readinessRoute: '/ready',
  })
  app.get('/stats', { config: { spillway: false } }, async () => app.spillway.stats())
  app.get('/', async () => {
    await downstream()
    return { ok: true }
  })
  app.addHook('onClose', async () => app.spillway.close())
  return app
}
