// A trivial-route server for instruction counting (run under callgrind by
// measure.mjs): `node serve.mjs <framework> <arm> [requests]`.
//
// framework: node (node:http), express, koa, fastify, hono (@hono/node-server),
// nest (NestJS on Express), nest-fastify (NestJS on Fastify).
// arm: `bare`; `pass` (one no-op layer where spillway's sits: a middleware, a
// Fastify route-level onRequest hook added in onRoute, a Nest global guard, a
// wrapping node:http listener), separating the framework's cost of one more
// layer from spillway's; `pass-interceptor` (NestJS: a no-op global guard and
// a no-op global interceptor, the two layers @spillway/nestjs installs); `spillway` (a limit that never binds); `reject` (one
// slot, held by /hold, no queue: every /trivial request is answered 503);
// `gate-reject` (the same, answered by `installEarlyGate` in front of the bare
// app, before the framework sees the request).
//
// It serves on 127.0.0.1 and prints its port. `requests` > 0: it exits once that
// many answers to /trivial have finished (callgrind's total is then startup plus
// exactly that many); 0 (the default): it runs until GET /__exit. GET /__cpu
// answers this process's CPU time so far (µs). Plain JavaScript on the built
// packages: no loader under valgrind.
import http from 'node:http'

// CLOCK_SLOWDOWN=k (measure.mjs sets 50 under valgrind): `performance.now()`
// runs k times slower, as the program does under valgrind, before spillway
// reads it. Otherwise a 1 ms garbage collection takes 50 ms on the clock and
// spillway's late-turn check (packages/node/src/late-turn.ts) takes the loop
// for a blocked one: admissions then start a turn later (a setImmediate and a
// promise each), and how many do depends on the machine's load, not on the
// code measured. The wrapper costs a few dozen instructions per clock read.
const slowdown = Number(process.env.CLOCK_SLOWDOWN ?? 1)
if (slowdown > 1) {
  const realNow = Object.getPrototypeOf(performance).now
  const start = realNow.call(performance)
  performance.now = () => start + (realNow.call(performance) - start) / slowdown
}

const [framework, givenArm, count] = process.argv.slice(2)
const arm = givenArm === 'hook' ? 'pass' : givenArm
const total = Number(count ?? 0)
const { createAdmissionController } = await import('@spillway/core')
const rejecting = arm === 'reject' || arm === 'gate-reject'
const shared =
  arm === 'bare' || arm === 'pass' || arm === 'pass-interceptor'
    ? null
    : createAdmissionController(
        rejecting ? { limit: 1, queue: { size: 0 } } : { limit: 1000, queue: { size: 128 } },
      )
// The framework's own adapter; `gate-reject` leaves the app bare and gates the server.
const controller = arm === 'gate-reject' ? null : shared
const hold = new Promise(() => {})

async function nodeListener() {
  // /hold is never answered.
  const ok = (req, res) => (req.url === '/hold' ? undefined : res.end('ok'))
  if (controller) return (await import('@spillway/node')).shed(controller, ok)
  if (arm === 'pass') {
    const wrap = (handler) => (req, res) => handler(req, res)
    return wrap(ok)
  }
  return ok
}

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
  // A no-op route-level onRequest hook added in onRoute, as the plugin adds its own.
  if (arm === 'pass') {
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
  if (arm === 'pass') {
    app.use('*', async (_c, next) => {
      await next()
    })
  }
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
  if (arm === 'pass') app.use((_req, _res, next) => next())
  app.get('/trivial', (_req, res) => res.end('ok'))
  app.get('/hold', () => {})
  return app
}

async function koaListener() {
  const { default: Koa } = await import('koa')
  const app = new Koa()
  if (controller) app.use((await import('@spillway/koa')).shed(controller))
  if (arm === 'pass') app.use((_ctx, next) => next())
  app.use((ctx) => {
    if (ctx.path === '/hold') return hold
    ctx.body = 'ok'
    return undefined
  })
  return app.callback()
}

async function nestListener(platform) {
  await import('reflect-metadata')
  const common = await import('@nestjs/common')
  const { NestFactory, APP_GUARD, APP_INTERCEPTOR } = await import('@nestjs/core')
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
  class PassGuard {
    canActivate() {
      return true
    }
  }
  common.Injectable()(PassGuard)
  class PassInterceptor {
    intercept(_context, next) {
      return next.handle()
    }
  }
  common.Injectable()(PassInterceptor)
  class AppModule {}
  const imports = controller
    ? [(await import('@spillway/nestjs')).SpillwayModule.forRoot({ controller })]
    : []
  const providers =
    arm === 'pass' || arm === 'pass-interceptor'
      ? [{ provide: APP_GUARD, useClass: PassGuard }]
      : []
  // What @spillway/nestjs installs, doing nothing: a global guard and a global interceptor.
  if (arm === 'pass-interceptor') {
    providers.push({ provide: APP_INTERCEPTOR, useClass: PassInterceptor })
  }
  common.Module({ imports, controllers: [Routes], providers })(AppModule)
  if (platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify')
    let listener
    const adapter = new FastifyAdapter({
      serverFactory: (handler) => {
        listener = handler
        return http.createServer(handler)
      },
    })
    const app = await NestFactory.create(AppModule, adapter, { logger: false })
    await app.init()
    await app.getHttpAdapter().getInstance().ready()
    return listener
  }
  const { ExpressAdapter } = await import('@nestjs/platform-express')
  const { default: express } = await import('express')
  const server = express()
  server.disable('x-powered-by')
  server.disable('etag')
  const app = await NestFactory.create(AppModule, new ExpressAdapter(server), { logger: false })
  await app.init()
  return server
}

const builders = {
  node: nodeListener,
  fastify: fastifyListener,
  hono: honoListener,
  express: expressListener,
  koa: koaListener,
  nest: () => nestListener('express'),
  'nest-fastify': () => nestListener('fastify'),
}
if (
  builders[framework] === undefined ||
  !['bare', 'pass', 'pass-interceptor', 'spillway', 'reject', 'gate-reject'].includes(arm)
) {
  throw new Error(
    `usage: serve.mjs <${Object.keys(builders).join('|')}> <bare|pass|pass-interceptor|spillway|reject|gate-reject>`,
  )
}
const listener = await builders[framework]()
const cpuMicros = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}
// The side routes never reach the framework: they are not the request measured.
const server = http.createServer((req, res) => {
  if (req.url === '/__cpu') {
    res.end(JSON.stringify({ cpuMicros: cpuMicros(), userMicros: process.cpuUsage().user }))
  } else if (req.url === '/__exit') res.end('bye', () => process.exit(0))
  else listener(req, res)
})
// Under callgrind the server runs ~50× slower: keep idle keep-alive sockets open
// rather than racing the client's reuse of them.
server.keepAliveTimeout = 600_000
if (arm === 'gate-reject') {
  const { installEarlyGate } = await import('@spillway/node')
  installEarlyGate(server, shared, { skip: (req) => req.url.startsWith('/__') })
}
let answered = 0
if (total > 0) {
  server.on('request', (req, res) => {
    if (req.url !== '/trivial') return
    res.once('finish', () => {
      if (++answered === total) {
        process.stdout.write(`${JSON.stringify({ done: answered, cpuMicros: cpuMicros() })}\n`)
        process.exit(0)
      }
    })
  })
}
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ port: server.address().port, cpuMicros: cpuMicros() })}\n`,
  )
})
