/** What only Fastify has: plugin options, `config.spillway`, hooks, `reply.hijack()`, readiness. */
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import spillway, { spillway as named } from '@spillway/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { expectDrained, get, latch, nextEvent } from '../contract/support.js'

describe('@spillway/fastify', () => {
  let app: FastifyInstance
  let controller: AdmissionController

  const start = async (): Promise<number> => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    return typeof address === 'object' && address !== null ? address.port : 0
  }

  beforeEach(() => {
    app = Fastify()
    controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
  })
  afterEach(async () => {
    app.server.closeAllConnections()
    await app.close()
    controller.close()
  })

  it('exports the plugin both as default and as `spillway`, and decorates the app with the controller', async () => {
    expect(named).toBe(spillway)
    await app.register(spillway, { controller })
    expect(app.spillway).toBe(controller)
  })

  it('never sheds nor counts a route with config.spillway false while saturated', async () => {
    const hold = latch()
    await app.register(spillway, { controller })
    app.get('/hold', async () => {
      await hold.promise
      return 'held'
    })
    app.get('/healthz', { config: { spillway: false } }, async () => 'fine')
    const port = await start()
    const admitted = nextEvent(controller, 'admit')
    const first = get(port, '/hold')
    await admitted
    expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: 'fine' })
    expect(controller.stats().counters).toMatchObject({ admitted: 1, rejected: { queueFull: 0 } })
    hold.open()
    await first
    await expectDrained(controller)
  })

  it('merges config.spillway over the plugin defaults', async () => {
    const seen: string[] = []
    controller.on((e) => e.type === 'admit' && seen.push(e.priority))
    await app.register(spillway, { controller, priority: 'sheddable' })
    app.get('/default', async () => 'd')
    app.get('/critical', { config: { spillway: { priority: 'critical' } } }, async () => 'c')
    const port = await start()
    await get(port, '/default')
    await get(port, '/critical')
    expect(seen).toEqual(['sheddable', 'critical'])
    await expectDrained(controller)
  })

  it('rejects an unknown config.spillway key at route declaration, with a did-you-mean', async () => {
    await app.register(spillway, { controller })
    expect(() =>
      app.get('/x', { config: { spillway: { priorty: 'critical' } as never } }, async () => 'x'),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_SPILLWAY_INVALID_OPTION',
        option: 'priorty',
        message: expect.stringContaining('Did you mean `priority`?'),
      }),
    )
    expect(() => app.get('/y', { config: { spillway: true as never } }, async () => 'y')).toThrow(
      expect.objectContaining({ option: 'config.spillway' }),
    )
  })

  it('fails registration on bad plugin options', async () => {
    await expect(app.register(spillway, { limit: 1, readinessRoute: 'ready' })).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'readinessRoute' }),
    )
    const other = Fastify()
    await expect(other.register(spillway, { controller, limit: 2 } as never)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'limit' }),
    )
    await other.close()
  })

  it('answers rejections through reply, so onSend and onResponse hooks see them', async () => {
    const hold = latch()
    const sent: number[] = []
    const responded: number[] = []
    app.addHook('onSend', async (_request, reply) => {
      sent.push(reply.statusCode)
    })
    app.addHook('onResponse', async (_request, reply) => {
      responded.push(reply.statusCode)
    })
    await app.register(spillway, { controller })
    app.get('/hold', async () => {
      await hold.promise
      return 'held'
    })
    app.get('/shed', async () => 'never')
    const port = await start()
    const admitted = nextEvent(controller, 'admit')
    const first = get(port, '/hold')
    await admitted
    const rejected = await get(port, '/shed')
    expect(rejected.status).toBe(503)
    expect(rejected.headers['content-type']).toBe('application/problem+json')
    expect(sent).toContain(503)
    expect(responded).toContain(503)
    hold.open()
    await first
    await expectDrained(controller)
  })

  it('holds the slot of a hijacked reply until the raw response ends', async () => {
    const done = latch()
    const hijacked = latch()
    await app.register(spillway, { controller })
    app.get('/raw', (_request, reply) => {
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/plain' })
      reply.raw.write('part ')
      hijacked.open()
      done.promise.then(() => reply.raw.end('end'))
    })
    const port = await start()
    const answer = get(port, '/raw')
    // The handler, not only the admission: one admitted in a late turn of a busy
    // loop starts a turn later, and the slot is taken from admission on anyway.
    await hijacked.promise
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(controller.stats().inFlight).toBe(1)
    done.open()
    expect(await answer).toMatchObject({ status: 200, body: 'part end' })
    await expectDrained(controller)
    expect(controller.stats().counters.released.success).toBe(1)
  })

  it('holds the slot after reply.send() until the handler work settles', async () => {
    const work = latch()
    await app.register(spillway, { controller })
    app.get('/early', async (_request, reply) => {
      reply.send('answered')
      await work.promise
      return reply
    })
    const port = await start()
    expect(await get(port, '/early')).toMatchObject({ status: 200, body: 'answered' })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(controller.stats().inFlight).toBe(1)
    work.open()
    await expectDrained(controller)
    expect(controller.stats().counters.released.success).toBe(1)
  })

  it('serves readiness 200 while open and 503 draining after close(), never counted', async () => {
    const hold = latch()
    await app.register(spillway, { controller, readinessRoute: '/ready' })
    app.get('/hold', async () => {
      await hold.promise
      return 'held'
    })
    const port = await start()
    const admitted = nextEvent(controller, 'admit')
    const first = get(port, '/hold')
    await admitted
    // Busy is not unready.
    const busy = await get(port, '/ready')
    expect(busy.status).toBe(200)
    expect(JSON.parse(busy.body)).toEqual({
      status: 'ok',
      inFlight: 1,
      queued: 0,
      limit: 1,
      pressure: 0,
    })
    controller.close()
    const draining = await get(port, '/ready')
    expect(draining.status).toBe(503)
    expect(JSON.parse(draining.body)).toMatchObject({ status: 'draining', inFlight: 1 })
    hold.open()
    await first
    await expectDrained(controller)
    expect(controller.stats().counters.admitted).toBe(1)
    expect(controller.stats().counters.rejected.closed).toBe(0)
  })

  it('sends the default rejection and reports when an async onRejected rejects', async () => {
    const hold = latch()
    const reported: string[] = []
    controller.on((e) => e.type === 'error' && reported.push(e.source))
    await app.register(spillway, {
      controller,
      onRejected: async () => {
        throw new Error('onRejected failed')
      },
    })
    app.get('/hold', async () => {
      await hold.promise
      return 'held'
    })
    app.get('/shed', async () => 'never')
    const port = await start()
    const admitted = nextEvent(controller, 'admit')
    const first = get(port, '/hold')
    await admitted
    const rejected = await get(port, '/shed')
    expect(rejected.status).toBe(503)
    expect(JSON.parse(rejected.body)).toMatchObject({ reason: 'queueFull' })
    expect(reported).toEqual(['onRejected'])
    hold.open()
    await first
    await expectDrained(controller)
  })
})
