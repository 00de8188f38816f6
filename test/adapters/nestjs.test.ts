/** What only NestJS has: forRootAsync, @SkipShed, class-level @Shed, decoration-time checks. */
import type { AddressInfo } from 'node:net'
import 'reflect-metadata'
import { Controller, Get, type INestApplication, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { Shed, SkipShed, SPILLWAY_CONTROLLER, SpillwayModule } from '@spillway/nestjs'
import { expectDrained, get, latch, nextEvent } from '../contract/support.js'

type Method = (...args: never[]) => unknown

/** A controller class from methods, decorated by calls (no decorator syntax needed). */
function routes(
  methods: Record<string, { path: string; fn: Method; decorate?: MethodDecorator[] }>,
  classDecorators: ClassDecorator[] = [],
): new () => object {
  class Routes {}
  for (const [name, { path, fn, decorate = [] }] of Object.entries(methods)) {
    const descriptor: PropertyDescriptor = { value: fn, writable: true, configurable: true }
    Object.defineProperty(Routes.prototype, name, descriptor)
    for (const d of [Get(path), ...decorate]) d(Routes.prototype, name, descriptor)
  }
  for (const d of [Controller(), ...classDecorators]) d(Routes)
  return Routes
}

async function start(imports: unknown[], controller: new () => object) {
  class AppModule {}
  Module({ imports: imports as never[], controllers: [controller] })(AppModule)
  // Throw instead of exiting the process on a startup error.
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false })
  await app.listen(0, '127.0.0.1')
  const port = (app.getHttpServer().address() as AddressInfo).port
  return { app, port, controller: app.get<AdmissionController>(SPILLWAY_CONTROLLER) }
}

describe('@spillway/nestjs', () => {
  let app: INestApplication | undefined
  afterEach(async () => {
    app?.getHttpServer().closeAllConnections()
    await app?.close()
    app = undefined
  })

  it('takes its options from forRootAsync, skips @SkipShed handlers and applies a class-level @Shed', async () => {
    const hold = latch()
    const seen: string[] = []
    const shared = createAdmissionController({ limit: 1, queue: { size: 0 } })
    shared.on((e) => e.type === 'admit' && seen.push(e.priority))
    const started = await start(
      [SpillwayModule.forRootAsync({ useFactory: async () => ({ controller: shared }) })],
      routes(
        {
          hold: {
            path: 'hold',
            fn: async () => {
              await hold.promise
              return 'held'
            },
          },
          health: { path: 'health', fn: () => 'fine', decorate: [SkipShed()] },
        },
        [Shed({ priority: 'sheddable' })],
      ),
    )
    app = started.app
    expect(started.controller).toBe(shared)
    const admitted = nextEvent(shared, 'admit')
    const first = get(started.port, '/hold')
    await admitted
    expect(await get(started.port, '/health')).toMatchObject({ status: 200, body: 'fine' })
    const rejected = await get(started.port, '/hold')
    expect(rejected.status).toBe(503)
    expect(rejected.headers['content-type']).toBe('application/problem+json')
    hold.open()
    await first
    await expectDrained(shared)
    expect(seen).toEqual(['sheddable'])
    shared.close()
  })

  it('holds the slot while a handler keeps working after its client left', async () => {
    const hold = latch()
    const entered = latch()
    const started = await start(
      [SpillwayModule.forRoot({ limit: 1, queue: { size: 0 } })],
      routes({
        slow: {
          path: 'slow',
          fn: async () => {
            entered.open()
            await hold.promise
            return 'late'
          },
        },
      }),
    )
    app = started.app
    const { controller } = started
    const net = await import('node:net')
    const socket = net.connect(started.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n')
    // The handler, not only the admission: one admitted in a late turn of a busy
    // loop starts a turn later, and not at all if its client has left by then.
    await entered.promise
    socket.destroy()
    expect((await get(started.port, '/slow')).status).toBe(503)
    expect(controller.stats().inFlight).toBe(1)
    hold.open()
    await expectDrained(controller)
    expect(controller.stats().counters.released.ignore).toBe(1)
  })

  it('fails at decoration on an unknown @Shed key and at startup on a bad module option', async () => {
    expect(() => Shed({ priorty: 'critical' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'priorty' }),
    )
    await expect(
      start([SpillwayModule.forRoot({ limit: -1 })], routes({ a: { path: 'a', fn: () => 'a' } })),
    ).rejects.toThrow(expect.objectContaining({ option: 'limit' }))
  })
})
