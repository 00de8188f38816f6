/**
 * The same routes and work as `apps.ts`, in Fastify 5, Hono (through
 * @hono/node-server) and NestJS 11 (Express platform). Each is turned into a
 * node:http request listener, so `server.ts` serves every framework alike.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { type AppContext, bodyOf, control, runWork, statsOf, WORK_ROUTES } from './apps.js'
import type { Framework } from './config.js'
import { clientTimesOf } from './work.js'

const gone = (req: IncomingMessage, res: ServerResponse): boolean =>
  req.socket.destroyed || res.destroyed

/** Fastify 5: the plugin on the app; side routes opt out with `config.spillway: false`. */
async function createFastifyApp(context: AppContext): Promise<RequestListener> {
  const { default: Fastify } = await import('fastify')
  let listener: RequestListener | undefined
  const { createServer } = await import('node:http')
  // Fastify's own routing function, served by `server.ts`'s server like the others.
  const app = Fastify({
    serverFactory: (handler) => {
      listener = handler as RequestListener
      return createServer(handler)
    },
  })
  const side = { config: { spillway: false as const } }
  app.get('/__stats', side, async () => statsOf(context))
  app.get('/__control', side, async (request) =>
    control(context, new URL(request.url, 'http://127.0.0.1')),
  )
  if (context.controller !== null && !context.early) {
    const { spillway } = await import('@spillway/fastify')
    const { classify, adapterRouteOptions } = await import('./protect.js')
    await app.register(spillway, {
      controller: context.controller,
      priority: (request) => classify(request.url),
      ...adapterRouteOptions(context.config.protection),
    })
  }
  if (context.config.protection.kind === 'passthrough') {
    app.addHook('onRequest', (_request, _reply, done) => done())
  }
  app.get('/trivial', (_request, reply) => {
    reply.send('ok')
  })
  for (const route of WORK_ROUTES) {
    app.get(route, async (request, reply) => {
      const present = await runWork(
        context,
        () => gone(request.raw, reply.raw),
        clientTimesOf(request.headers),
      )
      if (present)
        return reply.type('text/plain').send(bodyOf((request.query as { bytes?: unknown }).bytes))
      return reply
    })
  }
  await app.ready()
  return listener as RequestListener
}

/** Hono through @hono/node-server's request listener. */
async function createHonoApp(context: AppContext): Promise<RequestListener> {
  const { Hono } = await import('hono')
  const { getRequestListener } = await import('@hono/node-server')
  const app = new Hono()
  app.get('/__stats', (c) => c.json(statsOf(context)))
  app.get('/__control', (c) => c.json(control(context, new URL(c.req.url))))
  if (context.controller !== null && !context.early) {
    const { shed } = await import('@spillway/hono')
    const { classify, adapterRouteOptions } = await import('./protect.js')
    app.use(
      '*',
      shed(context.controller, {
        priority: (c) => classify(c.req.path),
        ...adapterRouteOptions(context.config.protection),
      }),
    )
  }
  if (context.config.protection.kind === 'passthrough') app.use('*', (_c, next) => next())
  app.get('/trivial', (c) => c.text('ok'))
  for (const route of WORK_ROUTES) {
    app.get(route, async (c) => {
      const signal = c.req.raw.signal
      const present = await runWork(context, () => signal.aborted, {
        deadline: Number(c.req.header('x-deadline')) || undefined,
        giveUpAt: Number(c.req.header('x-give-up-at')) || undefined,
      })
      return present ? c.text('done') : c.body(null, 499 as 200)
    })
  }
  return getRequestListener(app.fetch) as unknown as RequestListener
}

/**
 * NestJS on its Express platform: the module's global guard; decorators are
 * applied as calls, so this file needs no decorator support.
 */
async function createNestApp(context: AppContext): Promise<RequestListener> {
  await import('reflect-metadata')
  const common = await import('@nestjs/common')
  const { NestFactory } = await import('@nestjs/core')
  const { ExpressAdapter } = await import('@nestjs/platform-express')
  const { default: express } = await import('express')
  // With the early gate in front, the app adds no adapter of its own.
  const nest =
    context.controller === null || context.early ? null : await import('@spillway/nestjs')
  const { classify, adapterRouteOptions } = await import('./protect.js')

  class Routes {}
  const proto = Routes.prototype as unknown as Record<string, unknown>
  const route = (
    name: string,
    path: string,
    body: (req: IncomingMessage, res: ServerResponse) => unknown,
    skip = false,
  ): void => {
    const descriptor: PropertyDescriptor = { value: body, writable: true, configurable: true }
    Object.defineProperty(proto, name, descriptor)
    common.Get(path)(proto, name, descriptor)
    common.Req()(proto, name, 0)
    common.Res({ passthrough: true })(proto, name, 1)
    if (skip && nest !== null) nest.SkipShed()(proto, name, descriptor)
  }
  route('stats', '/__stats', () => statsOf(context), true)
  route(
    'control',
    '/__control',
    (req) => control(context, new URL(req.url ?? '/', 'http://127.0.0.1')),
    true,
  )
  route('trivial', '/trivial', () => 'ok')
  for (const path of WORK_ROUTES) {
    route(`work${path.slice(1)}`, path, async (req, res) => {
      const present = await runWork(context, () => gone(req, res), clientTimesOf(req.headers))
      return present ? 'done' : undefined
    })
  }
  common.Controller()(Routes)

  const imports =
    nest === null || context.controller === null
      ? []
      : [
          nest.SpillwayModule.forRoot({
            controller: context.controller,
            priority: (req: IncomingMessage) =>
              classify(new URL(req.url ?? '/', 'http://x').pathname),
            ...adapterRouteOptions(context.config.protection),
          }),
        ]
  const providers: import('@nestjs/common').Provider[] = []
  if (context.config.protection.kind === 'passthrough') {
    const { APP_GUARD } = await import('@nestjs/core')
    providers.push({ provide: APP_GUARD, useValue: { canActivate: () => true } })
  }
  class AppModule {}
  common.Module({ imports, providers, controllers: [Routes] })(AppModule)
  const server = express()
  server.disable('x-powered-by')
  server.disable('etag')
  const app = await NestFactory.create(AppModule, new ExpressAdapter(server), { logger: false })
  await app.init()
  return server as unknown as RequestListener
}

/** The request listener of a Fastify, Hono or NestJS target. */
export function createFrameworkApp(
  framework: Exclude<Framework, 'express' | 'koa'>,
  context: AppContext,
): Promise<RequestListener> {
  switch (framework) {
    case 'fastify':
      return createFastifyApp(context)
    case 'hono':
      return createHonoApp(context)
    case 'nest':
      return createNestApp(context)
  }
}
