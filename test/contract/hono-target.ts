/** Hono for the contract, served through @hono/node-server. */
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { serve } from '@hono/node-server'
import type { AdmissionController } from '@spillway/core'
import { shed } from '@spillway/hono'
import { type Context, Hono, type MiddlewareHandler } from 'hono'
import type { Route, Running, Target } from './targets.js'

const failure = (): Error => new Error('handler failed')

/** The app for `routes`, each guarded by `guard(route)`. */
export function honoApp(routes: Route[], guard: (route: Route) => MiddlewareHandler): Hono {
  const app = new Hono()
  for (const route of routes) {
    const chain: MiddlewareHandler[] = []
    // A middleware before shed answers; Hono then never calls what follows.
    if (route.endedBefore) chain.push(async (c) => c.text('early'))
    chain.push(guard(route))
    if (route.endedAfter) chain.push(async (c) => c.text('ended'))
    for (const middleware of chain) app.use(route.path, middleware)
    const { handler } = route
    app.get(route.path, async (c: Context) => {
      handler.onEnter?.()
      if (handler.wait) await handler.wait()
      if (handler.reply === 'throw') throw failure()
      if (handler.reply === 'stream' && handler.stream) {
        return c.body(Readable.toWeb(handler.stream()) as ReadableStream)
      }
      return c.text(route.path)
    })
  }
  return app
}

async function listen(app: Hono): Promise<Running> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  const { port } = server.address() as AddressInfo
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        ;(server as import('node:http').Server).closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export const honoTarget: Target = {
  name: 'Hono (node-server)',
  holdsEarlyRetries: false,
  hasNextError: false,
  header: (input, name) => (input as Context).req.header(name),
  customRejection: () => (c: Context, r: { status: number }) => c.text('busy', r.status as 503),
  start: (controller, routes) =>
    listen(honoApp(routes, (route) => shed(controller, route.options ?? {}))),
  startOwn: async (options, route) => {
    let controller: AdmissionController | undefined
    const app = honoApp([route], () => {
      const middleware = shed(options)
      controller = middleware.controller
      return middleware
    })
    const running = await listen(app)
    return { ...running, controller: controller as AdmissionController }
  },
}
