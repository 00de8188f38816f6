/**
 * The target apps: the same routes and work in Express 5 and Koa 3.
 *   /critical /normal /sheddable  the work, classified by route (20/50/30 in the mix)
 *   /trivial                      no work at all (the `overhead` scenario)
 *   /__stats                      counters, RSS and the controller's stats() (never shed)
 *   /__control?serviceMs=40       changes the downstream's operation time (`capacity-step`)
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { AdmissionController } from '@spillway/core'
import type { TargetConfig, TargetStats } from './config.js'
import type { Downstream } from './downstream.js'
import { type ClientTimes, clientTimesOf, type Work } from './work.js'

/** What the apps share: the work, the downstream and the (optional) controller. */
export interface AppContext {
  config: TargetConfig
  work: Work
  downstream: Downstream
  controller: AdmissionController | null
  /** The shared per-key store's stats, when the controller has one. */
  keyStoreStats: (() => Record<string, unknown>) | null
  /** Pending count of the p-limit queue, when the target uses one. */
  pLimitPending: () => number | null
  /** Runs `fn` through the p-limit queue, when the target uses one. */
  pLimit: (<T>(fn: () => Promise<T>) => Promise<T>) | null
  /** The adapter protecting the server, for the record. */
  adapter: string | null
  /** Admission runs in the server's listener (`installEarlyGate`): the app adds no adapter. */
  early: boolean
  /** The Prometheus exposition, when the target serves `/metrics`. */
  metrics?: (() => Promise<{ contentType: string; body: string }>) | undefined
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()

export function statsOf(context: AppContext): TargetStats {
  const cpu = process.cpuUsage()
  // Per sampling interval: reset after each read, so a sample shows that interval's delay.
  const eventLoopDelayP99Ms = loopDelay.percentile(99) / 1e6
  loopDelay.reset()
  const memory = process.memoryUsage()
  return {
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    activeResources: countResources(),
    cpuMicros: cpu.user + cpu.system,
    eventLoopDelayP99Ms,
    active: context.work.active,
    completed: context.work.completed,
    wasted: context.work.wasted,
    startedGone: context.work.startedGone,
    startedPastDeadline: context.work.startedPastDeadline,
    startedGoneMaxLateMs: context.work.startedGoneMaxLateMs,
    startedLongGone: context.work.startedLongGone,
    downstreamQueued: context.downstream.queued,
    serviceMs: context.downstream.serviceMs,
    pLimitPending: context.pLimitPending(),
    adapter: context.adapter,
    controller: context.controller === null ? null : { ...context.controller.stats() },
    keyStore: context.keyStoreStats?.() ?? null,
  }
}

/** `process.getActiveResourcesInfo()` counted by type: sockets, timers, ... keeping the loop alive. */
function countResources(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1
  return counts
}

export function control(context: AppContext, url: URL): { serviceMs: number } {
  const serviceMs = Number(url.searchParams.get('serviceMs'))
  if (Number.isFinite(serviceMs) && serviceMs > 0) context.downstream.serviceMs = serviceMs
  return { serviceMs: context.downstream.serviceMs }
}

/** The request's key reader for the target's protection (see `protect.ts`), or none. */
function keyReaderOf(
  context: AppContext,
  keyReader: typeof import('./protect.js').keyReader,
): ReturnType<typeof keyReader> {
  const { protection } = context.config
  return protection.kind === 'spillway' ? keyReader(protection) : null
}

/** Whether the spillway protection takes each request's deadline from its `x-deadline` header. */
function deadlineFromHeader(context: AppContext): boolean {
  const { protection } = context.config
  return protection.kind === 'spillway' && protection.deadline === 'header'
}

export const WORK_ROUTES = new Set(['/critical', '/normal', '/sheddable'])

/** Builds the Express 5 app. */
export async function createExpressApp(context: AppContext): Promise<RequestListener> {
  const { default: express } = await import('express')
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag')
  // Side routes come before any protection, so the harness can always sample.
  app.get('/__stats', (_req, res) => {
    res.json(statsOf(context))
  })
  app.get('/__control', (req, res) => {
    res.json(control(context, new URL(req.url, 'http://127.0.0.1')))
  })
  const metrics = context.metrics
  if (metrics !== undefined) {
    app.get('/metrics', async (_req, res) => {
      const { contentType, body } = await metrics()
      res.type(contentType).send(body)
    })
  }
  if (context.controller !== null && !context.early) {
    const { shed } = await import('@spillway/express')
    const { classify, adapterRouteOptions, keyReader } = await import('./protect.js')
    const keyOf = keyReaderOf(context, keyReader)
    app.use(
      shed(context.controller, {
        priority: (req) => classify(req.path),
        ...adapterRouteOptions(context.config.protection),
        ...(keyOf === null ? {} : { key: (req) => keyOf(req.query, req.headers) }),
        ...(deadlineFromHeader(context)
          ? { deadline: (req) => clientTimesOf(req.headers).deadline }
          : {}),
      }),
    )
  }
  if (context.config.protection.kind === 'passthrough') app.use((_req, _res, next) => next())
  app.get('/trivial', (_req, res) => {
    res.end('ok')
  })
  for (const route of WORK_ROUTES) {
    app.get(route, async (req, res) => {
      const present = await runWork(context, () => gone(req, res), clientTimesOf(req.headers))
      if (present) answer(res, req.query.bytes)
    })
  }
  return app as unknown as RequestListener
}

/**
 * The handler body. With p-limit, the common mistake: the work waits in an
 * unbounded queue, and runs even when its client left long ago.
 */
export function runWork(
  context: AppContext,
  clientGone: () => boolean,
  announced?: ClientTimes,
): Promise<boolean> {
  const limited = context.pLimit
  return limited === null
    ? context.work.run(clientGone, announced)
    : limited(() => context.work.run(clientGone, announced))
}

// One shared body for `?bytes=`: the soak's slow readers get a large answer without a copy per request.
let filler = Buffer.alloc(0)

/** The body of a work route: `done`, or `?bytes=N` bytes (at most 4 MiB) for clients that read slowly. */
export function bodyOf(bytes: unknown): string | Buffer {
  const n = typeof bytes === 'string' ? Number(bytes) : Number.NaN
  if (!Number.isInteger(n) || n <= 0) return 'done'
  const size = Math.min(n, 4 * 1024 * 1024)
  if (filler.length < size) filler = Buffer.alloc(size, 'x')
  return filler.subarray(0, size)
}

function answer(res: ServerResponse, bytes: unknown): void {
  res.setHeader('content-type', 'text/plain')
  res.end(bodyOf(bytes))
}

function gone(req: IncomingMessage, res: ServerResponse): boolean {
  return req.socket.destroyed || res.destroyed
}

/** Builds the Koa 3 app. */
export async function createKoaApp(context: AppContext): Promise<RequestListener> {
  const { default: Koa } = await import('koa')
  const app = new Koa()
  app.use(async (ctx, next) => {
    if (ctx.path === '/__stats') ctx.body = statsOf(context)
    else if (ctx.path === '/__control')
      ctx.body = control(context, new URL(ctx.url, 'http://127.0.0.1'))
    else if (ctx.path === '/metrics' && context.metrics !== undefined) {
      const { contentType, body } = await context.metrics()
      ctx.type = contentType
      ctx.body = body
    } else await next()
  })
  if (context.controller !== null && !context.early) {
    const { shed } = await import('@spillway/koa')
    const { classify, adapterRouteOptions, keyReader } = await import('./protect.js')
    const keyOf = keyReaderOf(context, keyReader)
    app.use(
      shed(context.controller, {
        priority: (ctx) => classify(ctx.path),
        ...adapterRouteOptions(context.config.protection),
        ...(keyOf === null ? {} : { key: (ctx) => keyOf(ctx.query, ctx.headers) }),
        ...(deadlineFromHeader(context)
          ? { deadline: (ctx) => clientTimesOf(ctx.headers).deadline }
          : {}),
      }),
    )
  }
  if (context.config.protection.kind === 'passthrough') app.use((_ctx, next) => next())
  app.use(async (ctx) => {
    if (ctx.path === '/trivial') {
      ctx.body = 'ok'
      return
    }
    if (!WORK_ROUTES.has(ctx.path)) {
      ctx.status = 404
      return
    }
    const present = await runWork(context, () => gone(ctx.req, ctx.res), clientTimesOf(ctx.headers))
    if (present) ctx.body = bodyOf(ctx.query.bytes)
  })
  return app.callback()
}
