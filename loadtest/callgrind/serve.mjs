// A trivial-route server for instruction counting (run under callgrind by
// measure.mjs): `node serve.mjs <framework> <arm> <requests>`, arm one of
// `bare`, `hook` (Fastify only: a no-op route hook), `spillway` (a limit that never binds) or `reject` (one slot, held
// by /hold, no queue: every /trivial request is answered 503). It serves on
// 127.0.0.1, prints its port, and exits once `requests` answers to /trivial
// have finished, so callgrind's total covers startup plus exactly that many.
// Plain JavaScript on the built packages: no loader under valgrind.
import http from 'node:http'

const [framework, arm, count] = process.argv.slice(2)
const total = Number(count)
const { createAdmissionController } = await import('@spillway/core')
const controller =
  arm === 'bare' || arm === 'hook'
    ? null
    : createAdmissionController(
        arm === 'reject' ? { limit: 1, queue: { size: 0 } } : { limit: 1000, queue: { size: 128 } },
      )
const hold = new Promise(() => {})

async function fastifyListener() {
  const { default: Fastify } = await import('fastify')
  let listener
  const app = Fastify({
    serverFactory: (handler) => {
      listener = handler
      return http.createServer(handler)
    },
  })
  if (controller) await app.register((await import('@spillway/fastify')).spillway, { controller })
  // `hook`: a no-op route-level onRequest hook added in onRoute, as the plugin adds its own:
  // separates Fastify's cost of one more hook from spillway's.
  if (arm === 'hook') {
    app.addHook('onRoute', (route) => {
      route.onRequest = [(_request, _reply, done) => done()]
    })
  }
  app.get('/trivial', (_request, reply) => {
    reply.send('ok')
  })
  app.get('/hold', () => hold)
  await app.ready()
  return listener
}

async function honoListener() {
  const { Hono } = await import('hono')
  const { getRequestListener } = await import('@hono/node-server')
  const app = new Hono()
  if (controller) app.use('*', (await import('@spillway/hono')).shed(controller))
  app.get('/trivial', (c) => c.text('ok'))
  app.get('/hold', () => hold)
  return getRequestListener(app.fetch)
}

async function expressListener() {
  const { default: express } = await import('express')
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag')
  if (controller) app.use((await import('@spillway/express')).shed(controller))
  app.get('/trivial', (_req, res) => res.end('ok'))
  app.get('/hold', () => {})
  return app
}

async function nestListener() {
  await import('reflect-metadata')
  const common = await import('@nestjs/common')
  const { NestFactory } = await import('@nestjs/core')
  const { ExpressAdapter } = await import('@nestjs/platform-express')
  const { default: express } = await import('express')
  class Routes {
    trivial() {
      return 'ok'
    }
    hold() {
      return hold
    }
  }
  for (const name of ['trivial', 'hold']) {
    const d = Object.getOwnPropertyDescriptor(Routes.prototype, name)
    common.Get(`/${name}`)(Routes.prototype, name, d)
  }
  common.Controller()(Routes)
  class AppModule {}
  const imports = controller
    ? [(await import('@spillway/nestjs')).SpillwayModule.forRoot({ controller })]
    : []
  common.Module({ imports, controllers: [Routes] })(AppModule)
  const server = express()
  server.disable('x-powered-by')
  server.disable('etag')
  const app = await NestFactory.create(AppModule, new ExpressAdapter(server), { logger: false })
  await app.init()
  return server
}

const builders = {
  fastify: fastifyListener,
  hono: honoListener,
  express: expressListener,
  nest: nestListener,
}
const listener = await builders[framework]()
const server = http.createServer(listener)
server.keepAliveTimeout = 60_000
let answered = 0
server.on('request', (req, res) => {
  if (req.url !== '/trivial') return
  res.once('finish', () => {
    if (++answered === total) {
      const cpu = process.cpuUsage()
      process.stdout.write(
        `${JSON.stringify({ done: answered, cpuMicros: cpu.user + cpu.system })}\n`,
      )
      process.exit(0)
    }
  })
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({
      port: server.address().port,
      cpuMicros: (() => {
        const c = process.cpuUsage()
        return c.user + c.system
      })(),
    })}\n`,
  )
})
