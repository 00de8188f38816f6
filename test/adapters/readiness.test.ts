/**
 * Readiness in node:http, Express 4/5 and Koa 2/3 over real sockets: ok while
 * open even when saturated, draining from the moment close() runs while
 * granted permits finish, never shed, never counted.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { readiness as readinessExpress, shed as shedExpress } from '@spillway/express'
import { readiness as readinessKoa, shed as shedKoa } from '@spillway/koa'
import { readiness as readinessNode, shed as shedNode } from '@spillway/node'
import express4 from 'express4'
import express5 from 'express5'
import type { Context, Next } from 'koa'
import koa2 from 'koa2'
import koa3 from 'koa3'
import { expectDrained, get, latch, nextEvent } from '../contract/support.js'

type Listener = http.RequestListener

/** Serves `/ready` (before shed) and `/work` (guarded; waits for `hold`). */
type Build = (controller: AdmissionController, hold: () => Promise<void>) => Listener

const builds: Record<string, Build> = {
  'node:http': (controller, hold) => {
    const ready = readinessNode(controller)
    const guarded = shedNode(controller, async (_req, res) => {
      await hold()
      res.end('done')
    })
    return (req, res) => (req.url === '/ready' ? ready(req, res) : guarded(req, res))
  },
  ...Object.fromEntries(
    (
      [
        ['Express 4', express4],
        ['Express 5', express5],
      ] as const
    ).map(([name, express]) => [
      name,
      ((controller, hold) => {
        const app = (express as unknown as () => import('express').Express)()
        app.get('/ready', readinessExpress(controller))
        app.use(shedExpress(controller))
        app.get('/work', async (_req, res) => {
          await hold()
          res.end('done')
        })
        return app as unknown as Listener
      }) satisfies Build,
    ]),
  ),
  ...Object.fromEntries(
    (
      [
        ['Koa 2', koa2],
        ['Koa 3', koa3],
      ] as const
    ).map(([name, Koa]) => [
      name,
      ((controller, hold) => {
        const app = new (Koa as unknown as typeof import('koa'))()
        const ready = readinessKoa(controller)
        app.use((ctx: Context, next: Next) => (ctx.path === '/ready' ? ready(ctx, next) : next()))
        app.use(shedKoa(controller))
        app.use(async (ctx: Context) => {
          await hold()
          ctx.body = 'done'
        })
        return app.callback() as Listener
      }) satisfies Build,
    ]),
  ),
}

function head(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'HEAD', agent: false },
      (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString()
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

describe.each(Object.keys(builds))('readiness, %s', (name) => {
  let server: http.Server
  let port: number

  afterEach(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  async function start(controller: AdmissionController, hold: () => Promise<void>): Promise<void> {
    server = http.createServer((builds[name] as Build)(controller, hold))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  }

  it('answers 200 ok while saturated, 503 draining once closed while a permit finishes, and is never counted', async () => {
    const controller = createAdmissionController({
      limit: 1,
      queue: { size: 1, timeoutMs: 10_000 },
    })
    const gate = latch()
    await start(controller, () => gate.promise)

    const admitted = nextEvent(controller, 'admit')
    const running = get(port, '/work')
    await admitted
    const queued = nextEvent(controller, 'queue')
    const waiting = get(port, '/work')
    await queued
    expect((await get(port, '/work')).status).toBe(503)
    const before = controller.stats().counters

    const ok = await get(port, '/ready')
    expect(ok.status).toBe(200)
    expect(ok.headers['content-type']).toMatch(/^application\/json/)
    expect(ok.headers['cache-control']).toBe('no-store')
    expect(JSON.parse(ok.body)).toEqual({
      status: 'ok',
      inFlight: 1,
      queued: 1,
      limit: 1,
      pressure: 0,
    })

    controller.close()
    const turnedAway = await waiting
    expect(turnedAway.status).toBe(503)
    expect(JSON.parse(turnedAway.body)).toMatchObject({ reason: 'closed' })
    const draining = await get(port, '/ready')
    expect(draining.status).toBe(503)
    expect(JSON.parse(draining.body)).toEqual({
      status: 'draining',
      inFlight: 1,
      queued: 0,
      limit: 1,
      pressure: 0,
    })
    expect(await head(port, '/ready')).toEqual({ status: 503, body: '' })

    const after = controller.stats().counters
    expect(after.admitted).toBe(before.admitted)
    // Only the queued request's `closed` was added: the probes were never counted.
    expect(after.rejected.closed).toBe(before.rejected.closed + 1)
    expect(after.rejected.queueFull).toBe(before.rejected.queueFull)

    gate.open()
    expect(await running).toMatchObject({ status: 200, body: 'done' })
    await expectDrained(controller)
    expect((await get(port, '/ready')).status).toBe(503)
  })
})

describe('readiness arguments', () => {
  it.each([
    ['node', readinessNode],
    ['express', readinessExpress],
    ['koa', readinessKoa],
  ])('%s refuses something that is not a controller, naming it', (_name, readiness) => {
    expect(() => readiness({} as AdmissionController)).toThrow(
      expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'controller' }),
    )
  })
})
