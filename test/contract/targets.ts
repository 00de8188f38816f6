/**
 * The five servers the contract runs against, each built from one neutral
 * description of routes, so every behaviour is checked the same way in each.
 */
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'
import type { AdmissionController } from '@spillway/core'
import { guard, shed as shedExpress } from '@spillway/express'
import { shed as shedKoa } from '@spillway/koa'
import { shed as shedNode } from '@spillway/node'
import express4 from 'express4'
import express5 from 'express5'
import type { Context, Next } from 'koa'
import koa2 from 'koa2'
import koa3 from 'koa3'
import { fastifyTarget } from './fastify-target.js'
import { honoTarget } from './hono-target.js'
import { nestTargets } from './nest-target.js'
import { type Client, http2Client } from './support.js'

/** What a route's handler does once admitted. */
export interface Handler {
  /** Called as the handler starts: proves it ran, and in what order. */
  onEnter?: () => void
  /** Awaited before answering: how a test holds a slot without sleeping. */
  wait?: () => Promise<void>
  /** `ok` answers 200 with the path; `stream` pipes `stream()` as the body. */
  reply: 'ok' | 'throw' | 'nextError' | 'stream'
  stream?: () => Readable
}

export interface Route {
  path: string
  /** Route options for `shed(controller, options)`; hooks get the framework's input. */
  options?: Record<string, unknown>
  handler: Handler
  /** A middleware before `shed` ends the response, then continues the chain. */
  endedBefore?: boolean
  /** A middleware after `shed` ends the response; the handler never runs. */
  endedAfter?: boolean
}

export interface Running {
  port: number
  close(): Promise<void>
}

export interface Target {
  name: string
  /** How the contract talks to it; HTTP/1.1 when absent. */
  client?: Client
  /** The framework passes errors with `next(err)`. */
  hasNextError: boolean
  /**
   * Answers to a keep-alive client that retries before its `Retry-After`
   * are held (`holdEarlyRetries`): not over HTTP/2, nor in Hono (no connection in the Fetch API).
   */
  holdsEarlyRetries?: false
  /** Reads a request header from what user hooks receive. */
  header(input: unknown, name: string): string | undefined
  /** An `onRejected` that answers `busy` as plain text with the rejection's status. */
  customRejection(): (...args: never[]) => void
  /** Serves `routes`, each guarded by `shed(controller, route.options)`. */
  start(controller: AdmissionController, routes: Route[]): Promise<Running>
  /** Serves one route guarded by `shed(options)`, returning the middleware's own controller. */
  startOwn(
    options: Record<string, unknown>,
    route: Route,
  ): Promise<Running & { controller: AdmissionController }>
}

async function listen(server: http.Server | http2.Http2Server): Promise<Running> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  // An HTTP/2 server has no closeAllConnections: track its sessions to end them.
  const sessions = new Set<http2.ServerHttp2Session>()
  if (!(server instanceof http.Server)) {
    server.on('session', (session: http2.ServerHttp2Session) => {
      sessions.add(session)
      session.once('close', () => sessions.delete(session))
    })
  }
  return {
    port,
    close: () => {
      if (server instanceof http.Server) server.closeAllConnections()
      for (const session of sessions) session.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

const failure = (): Error => new Error('handler failed')

// ---- node:http ----

type NodeListener = (req: http.IncomingMessage, res: http.ServerResponse) => void

function nodeHandler(route: Route) {
  const { handler } = route
  return (_req: http.IncomingMessage, res: http.ServerResponse): unknown => {
    if (route.endedAfter) {
      res.end('ended')
      return undefined
    }
    handler.onEnter?.()
    const answer = (): void => {
      if (res.writableEnded) return
      if (handler.reply === 'throw') throw failure()
      if (handler.reply === 'stream') handler.stream?.().pipe(res)
      else res.end(route.path)
    }
    return handler.wait ? handler.wait().then(answer) : answer()
  }
}

function nodeRouter(listeners: Map<string, NodeListener>, endedBefore: Set<string>): NodeListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const listener = listeners.get(path)
    if (listener === undefined) {
      res.statusCode = 404
      res.end()
      return
    }
    if (endedBefore.has(path)) res.end('early')
    listener(req, res)
  }
}

function nodeServer(listeners: Map<string, NodeListener>, endedBefore: Set<string>): http.Server {
  return http.createServer(nodeRouter(listeners, endedBefore))
}

const nodeTarget: Target = {
  name: 'node:http',
  hasNextError: false,
  header: (input, name) => {
    const value = (input as http.IncomingMessage).headers[name]
    return typeof value === 'string' ? value : undefined
  },
  customRejection:
    () => (_req: http.IncomingMessage, res: http.ServerResponse, r: { status: number }) => {
      res.writeHead(r.status, { 'content-type': 'text/plain' })
      res.end('busy')
    },
  start: (controller, routes) => {
    const listeners = new Map<string, NodeListener>()
    for (const route of routes) {
      listeners.set(route.path, shedNode(controller, route.options ?? {}, nodeHandler(route)))
    }
    const endedBefore = new Set(routes.filter((r) => r.endedBefore).map((r) => r.path))
    return listen(nodeServer(listeners, endedBefore))
  },
  startOwn: async (options, route) => {
    const listener = shedNode(options, nodeHandler(route))
    const running = await listen(nodeServer(new Map([[route.path, listener]]), new Set()))
    return { ...running, controller: listener.controller }
  },
}

// ---- node:http2, the compatibility API (h2c) ----

// The compat request and response mirror node:http's closely enough for the listener.
function http2Server(
  listeners: Map<string, NodeListener>,
  endedBefore = new Set<string>(),
): http2.Http2Server {
  return http2.createServer(nodeRouter(listeners, endedBefore) as never)
}

const http2Target: Target = {
  ...nodeTarget,
  name: 'node:http2 (compatibility API)',
  holdsEarlyRetries: false,
  client: http2Client,
  start: (controller, routes) => {
    const listeners = new Map<string, NodeListener>()
    for (const route of routes) {
      listeners.set(route.path, shedNode(controller, route.options ?? {}, nodeHandler(route)))
    }
    const endedBefore = new Set(routes.filter((r) => r.endedBefore).map((r) => r.path))
    return listen(http2Server(listeners, endedBefore))
  },
  startOwn: async (options, route) => {
    const listener = shedNode(options, nodeHandler(route))
    const running = await listen(http2Server(new Map([[route.path, listener]])))
    return { ...running, controller: listener.controller }
  },
}

// ---- Express ----

type ExpressFactory = typeof express5
type Req = import('express').Request
type Res = import('express').Response
type NextFn = import('express').NextFunction

function expressHandler(route: Route) {
  const { handler } = route
  return (_req: Req, res: Res, next: NextFn): unknown => {
    handler.onEnter?.()
    const answer = (): void => {
      if (res.writableEnded) return
      switch (handler.reply) {
        case 'throw':
          throw failure()
        case 'nextError':
          next(failure())
          return
        case 'stream':
          handler.stream?.().pipe(res)
          return
        default:
          res.status(200).send(route.path)
      }
    }
    // Returned, so `guard` holds the slot until the work settles and hands a throw to next().
    return handler.wait ? handler.wait().then(answer) : answer()
  }
}

function expressTarget(name: string, express: ExpressFactory): Target {
  const build = (routes: [Route, ReturnType<typeof shedExpress>][]) => {
    const app = express()
    for (const [route, middleware] of routes) {
      const chain: import('express').RequestHandler[] = []
      if (route.endedBefore) {
        chain.push((_req, res, next) => {
          res.end('early')
          next()
        })
      }
      chain.push(middleware)
      if (route.endedAfter) chain.push((_req, res) => res.end('ended'))
      chain.push(guard(expressHandler(route)))
      app.get(route.path, ...chain)
    }
    return http.createServer(app)
  }
  return {
    name,
    hasNextError: true,
    header: (input, header) => (input as Req).get(header),
    customRejection: () => (_req: Req, res: Res, r: { status: number }) => {
      res.status(r.status).type('text/plain').send('busy')
    },
    start: (controller, routes) =>
      listen(build(routes.map((route) => [route, shedExpress(controller, route.options ?? {})]))),
    startOwn: async (options, route) => {
      const middleware = shedExpress(options)
      const running = await listen(build([[route, middleware]]))
      return { ...running, controller: middleware.controller }
    },
  }
}

// ---- Koa ----

type KoaMiddleware = (ctx: Context, next: Next) => unknown
type KoaFactory = typeof koa3

function chain(middleware: KoaMiddleware[]): KoaMiddleware {
  return (ctx, next) => {
    const run = (i: number): Promise<unknown> => {
      const current = middleware[i]
      if (current === undefined) return Promise.resolve(next())
      return Promise.resolve(current(ctx, () => run(i + 1)))
    }
    return run(0)
  }
}

function koaHandler(route: Route): KoaMiddleware {
  const { handler } = route
  return async (ctx) => {
    handler.onEnter?.()
    if (handler.wait) await handler.wait()
    if (!ctx.writable || ctx.respond === false) return
    if (handler.reply === 'throw') throw failure()
    if (handler.reply === 'stream' && handler.stream) ctx.body = handler.stream()
    else ctx.body = route.path
  }
}

function koaTarget(name: string, Koa: KoaFactory): Target {
  const build = (routes: [Route, KoaMiddleware][]) => {
    const app = new Koa()
    // Handler errors are expected here; Koa would print each one.
    app.silent = true
    const table = new Map<string, KoaMiddleware>()
    for (const [route, middleware] of routes) {
      const parts: KoaMiddleware[] = []
      if (route.endedBefore) {
        parts.push((ctx, next) => {
          ctx.respond = false
          ctx.res.statusCode = 200
          ctx.res.end('early')
          return next()
        })
      }
      parts.push(middleware)
      if (route.endedAfter) {
        parts.push((ctx) => {
          ctx.respond = false
          ctx.res.statusCode = 200
          ctx.res.end('ended')
        })
      }
      parts.push(koaHandler(route))
      table.set(route.path, chain(parts))
    }
    app.use((ctx, next) => table.get(ctx.path)?.(ctx, next))
    return http.createServer(app.callback())
  }
  return {
    name,
    hasNextError: false,
    header: (input, header) => (input as Context).get(header) || undefined,
    customRejection: () => (ctx: Context, r: { status: number }) => {
      ctx.status = r.status
      ctx.type = 'text/plain'
      ctx.body = 'busy'
    },
    start: (controller, routes) =>
      listen(build(routes.map((route) => [route, shedKoa(controller, route.options ?? {})]))),
    startOwn: async (options, route) => {
      const middleware = shedKoa(options)
      const running = await listen(build([[route, middleware]]))
      return { ...running, controller: middleware.controller }
    },
  }
}

export const targets: Target[] = [
  nodeTarget,
  expressTarget('Express 4', express4 as unknown as ExpressFactory),
  expressTarget('Express 5', express5),
  koaTarget('Koa 2', koa2 as unknown as KoaFactory),
  koaTarget('Koa 3', koa3),
  fastifyTarget,
  honoTarget,
  ...nestTargets,
]

/** The contract's own list: every HTTP/1.1 target, plus node:http2's compatibility API. */
export const contractTargets: Target[] = [...targets, http2Target]
