/**
 * What only NestJS has: forRootAsync, @SkipShed, class-level @Shed,
 * decoration-time checks, and the route functions that hold the slot for the
 * handler's work on both platforms.
 */
import type { AddressInfo } from 'node:net'
import 'reflect-metadata'
import {
  type CanActivate,
  Controller,
  Get,
  type INestApplication,
  Module,
  Req,
  Res,
  UseGuards,
  Version,
  VersioningType,
} from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter, RouteConfig } from '@nestjs/platform-fastify'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import {
  Shed,
  SkipShed,
  SPILLWAY_CONTROLLER,
  SpillwayGuard,
  SpillwayModule,
} from '@spillway/nestjs'
import { expectDrained, get, latch, nextEvent, rawRequest } from '../contract/support.js'

type Method = (...args: never[]) => unknown

/** A handler that opens `entered` when it starts and returns `result` once `hold` is opened. */
function heldHandler(result: string) {
  const entered = latch()
  const hold = latch()
  const fn = async () => {
    entered.open()
    await hold.promise
    return result
  }
  return { entered, hold, fn }
}

/** A controller class from methods, decorated by calls (no decorator syntax needed). */
function routes(
  methods: Record<
    string,
    { path: string; fn: Method; decorate?: MethodDecorator[]; params?: ParameterDecorator[] }
  >,
  classDecorators: ClassDecorator[] = [],
): new () => object {
  class Routes {}
  for (const [name, { path, fn, decorate = [], params = [] }] of Object.entries(methods)) {
    const descriptor: PropertyDescriptor = { value: fn, writable: true, configurable: true }
    Object.defineProperty(Routes.prototype, name, descriptor)
    for (const d of [Get(path), ...decorate]) d(Routes.prototype, name, descriptor)
    params.forEach((p, i) => {
      p(Routes.prototype, name, i)
    })
  }
  for (const d of [Controller(), ...classDecorators]) d(Routes)
  return Routes
}

type Platform = 'express' | 'fastify'

async function start(
  imports: unknown[],
  controller: new () => object,
  platform?: Platform,
  setUp?: (app: INestApplication) => void,
) {
  class AppModule {}
  Module({ imports: imports as never[], controllers: [controller] })(AppModule)
  // Throw instead of exiting the process on a startup error.
  const options = { logger: false as const, abortOnError: false }
  const app =
    platform === undefined
      ? await NestFactory.create(AppModule, options)
      : await NestFactory.create(
          AppModule,
          platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
          options,
        )
  setUp?.(app)
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
    const { entered, hold, fn } = heldHandler('late')
    const started = await start(
      [SpillwayModule.forRoot({ limit: 1, queue: { size: 0 } })],
      routes({ slow: { path: 'slow', fn } }),
    )
    app = started.app
    const { controller } = started
    const socket = await rawRequest(started.port, '/slow')
    // The handler, not only the admission: one admitted in a late turn of a busy
    // loop starts a turn later, and not at all once its client has gone.
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

/** Sends platform-natively through `@Res()`: Express's `res.send`, Fastify's `reply.send`. */
function send(response: unknown, body: string): void {
  ;(response as { send(body: string): void }).send(body)
}

/** A guard that awaits before it lets the request through, so guards after it run late. */
class LateGuard implements CanActivate {
  async canActivate(): Promise<boolean> {
    await new Promise((resolve) => setImmediate(resolve))
    return true
  }
}

describe.each<Platform>(['express', 'fastify'])(
  "@spillway/nestjs holds the slot for the handler's work (%s)",
  (platform) => {
    let app: INestApplication | undefined
    let controller: AdmissionController
    afterEach(async () => {
      app?.getHttpServer().closeAllConnections()
      await app?.close()
      app = undefined
      controller?.close()
    })

    async function serve(
      methods: Parameters<typeof routes>[0],
      options: { queue?: { size: number; timeoutMs?: number }; globalGuard?: boolean } = {},
      setUp?: (app: INestApplication) => void,
    ): Promise<number> {
      controller = createAdmissionController({ limit: 1, queue: options.queue ?? { size: 0 } })
      const module = SpillwayModule.forRoot({ controller, globalGuard: options.globalGuard })
      const started = await start([module], routes(methods), platform, setUp)
      app = started.app
      return started.port
    }

    /** A request whose client leaves once its handler has started. */
    async function leaveMidHandler(port: number, path: string, entered: Promise<void>) {
      const socket = await rawRequest(port, path)
      await entered
      socket.destroy()
    }

    it('releases as ignore only once a handler that throws after its client left has thrown', async () => {
      const entered = latch()
      const hold = latch()
      let threw = false
      const port = await serve({
        slow: {
          path: 'slow',
          fn: async () => {
            entered.open()
            await hold.promise
            threw = true
            throw new Error('late failure')
          },
        },
        fast: { path: 'fast', fn: () => 'fast' },
      })
      await leaveMidHandler(port, '/slow', entered.promise)
      expect((await get(port, '/fast')).status).toBe(503)
      const released = nextEvent(controller, 'release')
      hold.open()
      const event = await released
      expect(threw).toBe(true)
      expect(event.outcome).toBe('ignore')
      await expectDrained(controller)
      expect(controller.stats().counters.released).toEqual({ success: 0, failure: 0, ignore: 1 })
    })

    it('holds the slot of a @Res() handler that answered and keeps working', async () => {
      const hold = latch()
      let finished = false
      const port = await serve({
        answered: {
          path: 'answered',
          fn: async (response: never) => {
            send(response, 'answered')
            await hold.promise
            finished = true
          },
          params: [Res()],
        },
        fast: { path: 'fast', fn: () => 'fast' },
      })
      expect(await get(port, '/answered')).toMatchObject({ status: 200, body: 'answered' })
      // Answered, but the handler still works: its slot stays taken.
      expect((await get(port, '/fast')).status).toBe(503)
      expect(controller.stats().inFlight).toBe(1)
      const released = nextEvent(controller, 'release')
      hold.open()
      expect((await released).outcome).toBe('success')
      expect(finished).toBe(true)
      await expectDrained(controller)
    })

    it('holds the slot of a request admitted from the queue whose client leaves mid-handler', async () => {
      const first = latch()
      const { entered, hold, fn } = heldHandler('slow')
      const port = await serve(
        {
          first: {
            path: 'first',
            fn: async () => {
              await first.promise
              return 'first'
            },
          },
          slow: { path: 'slow', fn },
          fast: { path: 'fast', fn: () => 'fast' },
        },
        { queue: { size: 1, timeoutMs: 50 } },
      )
      const admitted = nextEvent(controller, 'admit')
      const firstReply = get(port, '/first')
      await admitted
      const queued = nextEvent(controller, 'queue')
      const socket = await rawRequest(port, '/slow')
      await queued
      first.open()
      expect((await firstReply).body).toBe('first')
      // Admitted from the queue, so after its route function returned.
      await entered.promise
      socket.destroy()
      // Waits its 50 ms in the queue behind the departed client's handler, then is refused.
      expect((await get(port, '/fast')).status).toBe(503)
      expect(controller.stats().inFlight).toBe(1)
      const released = nextEvent(controller, 'release')
      hold.open()
      expect((await released).outcome).toBe('ignore')
      await expectDrained(controller)
      expect(controller.stats().counters.released).toEqual({ success: 1, failure: 0, ignore: 1 })
    })

    it('holds the slot when SpillwayGuard runs after a guard that awaits', async () => {
      const { entered, hold, fn } = heldHandler('slow')
      const port = await serve(
        {
          slow: { path: 'slow', fn, decorate: [UseGuards(LateGuard, SpillwayGuard)] },
          fast: { path: 'fast', fn: () => 'fast', decorate: [UseGuards(SpillwayGuard)] },
        },
        { globalGuard: false },
      )
      await leaveMidHandler(port, '/slow', entered.promise)
      expect((await get(port, '/fast')).status).toBe(503)
      const released = nextEvent(controller, 'release')
      hold.open()
      expect((await released).outcome).toBe('ignore')
      await expectDrained(controller)
    })

    it('keeps the route metadata adapters read: versions, and Fastify route config', async () => {
      const config =
        platform === 'fastify' ? [RouteConfig({ answer: 'configured' })] : ([] as MethodDecorator[])
      const port = await serve(
        {
          one: { path: 'v', fn: () => 'one', decorate: [Version('1')] },
          two: {
            path: 'v',
            fn: (request: { routeOptions?: { config?: { answer?: string } } }) =>
              `two ${request.routeOptions?.config?.answer ?? ''}`.trim(),
            decorate: [Version('2'), ...config],
            params: [Req()],
          },
        },
        {},
        (nest) => {
          nest.enableVersioning({ type: VersioningType.HEADER, header: 'x-version' })
        },
      )
      expect((await get(port, '/v', { 'x-version': '1' })).body).toBe('one')
      expect((await get(port, '/v', { 'x-version': '2' })).body).toBe(
        platform === 'fastify' ? 'two configured' : 'two',
      )
      await expectDrained(controller)
      expect(controller.stats().counters.released.success).toBe(2)
    })
  },
)
