/**
 * The slot bounds the handler's work, not only its answer: a timeout
 * middleware in front of `shed` answers 504 after 100 ms while 300 ms
 * handlers keep running; with `limit: 2`, no more than two may ever run.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { guard, shed as shedExpress } from '@spillway/express'
import { shed as shedKoa } from '@spillway/koa'
import { shed as shedNode } from '@spillway/node'
import express4 from 'express4'
import express5 from 'express5'
import type { Context, Next } from 'koa'
import koa2 from 'koa2'
import koa3 from 'koa3'
import { expectDrained, get, latch, nextEvent, rawRequest } from '../contract/support.js'

const TIMEOUT_MS = 100
const WORK_MS = 300
const REQUESTS = 40

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Counts handlers running at once; `entered` opens as the first one starts. */
function meter() {
  let running = 0
  const state = { max: 0, ran: 0 }
  const entered = latch()
  return {
    state,
    entered: entered.promise,
    async work(): Promise<void> {
      entered.open()
      running++
      state.ran++
      state.max = Math.max(state.max, running)
      try {
        await sleep(WORK_MS)
      } finally {
        running--
      }
    },
  }
}

async function listen(listener: http.RequestListener) {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Answers 504 after TIMEOUT_MS unless the response ended: a typical node:http/Express timeout. */
function answerLate(res: http.ServerResponse): void {
  const timer = setTimeout(() => {
    if (!res.headersSent) {
      res.writeHead(504, { 'content-type': 'text/plain' })
      res.end('timeout')
    }
  }, TIMEOUT_MS)
  res.once('close', () => clearTimeout(timer))
}

type Build = (controller: AdmissionController, work: () => Promise<void>) => http.RequestListener

const servers: [string, Build][] = [
  [
    'node:http (the handler returns a promise)',
    (controller, work) => {
      const listener = shedNode(controller, async (_req, res) => {
        await work()
        if (!res.headersSent) res.end('done')
      })
      return (req, res) => {
        answerLate(res)
        listener(req, res)
      }
    },
  ],
  ...(
    [
      ['Express 4', express4],
      ['Express 5', express5],
    ] as [string, typeof express5][]
  ).map(([name, express]): [string, Build] => [
    `${name} (the handler wrapped in guard)`,
    (controller, work) => {
      const app = express()
      app.use((_req, res, next) => {
        answerLate(res)
        next()
      })
      app.get(
        '/work',
        shedExpress(controller),
        guard(async (_req, res) => {
          await work()
          if (!res.headersSent) res.send('done')
        }),
      )
      return app
    },
  ]),
  ...(
    [
      ['Koa 2', koa2],
      ['Koa 3', koa3],
    ] as [string, typeof koa3][]
  ).map(([name, Koa]): [string, Build] => [
    `${name} (await next())`,
    (controller, work) => {
      const app = new Koa()
      app.silent = true
      // A koa-timeout style middleware: whichever comes first answers.
      app.use(async (ctx: Context, next: Next) => {
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            ctx.status = 504
            ctx.body = 'timeout'
            resolve()
          }, TIMEOUT_MS)
        })
        await Promise.race([next(), late])
        clearTimeout(timer)
      })
      app.use(shedKoa(controller))
      app.use(async (ctx: Context) => {
        await work()
        if (ctx.writable) ctx.body = 'done'
      })
      return app.callback()
    },
  ]),
]

describe.each(servers)('%s', (_name, build) => {
  it('never runs more handlers at once than the limit when a timeout answers first', async () => {
    const controller = createAdmissionController({
      limit: 2,
      queue: { size: REQUESTS, timeoutMs: 10_000 },
    })
    const { state, work } = meter()
    const server = await listen(build(controller, work))
    try {
      const replies = await Promise.all(
        Array.from({ length: REQUESTS }, () => get(server.port, '/work')),
      )
      expect(replies.filter((reply) => reply.status === 504).length).toBeGreaterThan(0)
      await expectDrained(controller)
      expect(state.max).toBeLessThanOrEqual(2)
      expect(state.ran).toBeGreaterThanOrEqual(2)
    } finally {
      await server.close()
      controller.close()
    }
  })

  it('holds the slot while the work runs after its client left, then releases it as ignore', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const { work, entered } = meter()
    const server = await listen(build(controller, work))
    try {
      const socket = await rawRequest(server.port, '/work')
      // The work, not only the admission: one admitted in a late turn of a busy
      // loop starts a turn later, and not at all if its client has left by then.
      await entered
      const released = nextEvent(controller, 'release')
      socket.destroy()
      // The client is gone but the handler still works: the slot stays taken.
      await sleep(WORK_MS / 3)
      expect(controller.stats().inFlight).toBe(1)
      expect((await get(server.port, '/work')).status).toBe(503)
      expect((await released).outcome).toBe('ignore')
      await expectDrained(controller)
    } finally {
      await server.close()
      controller.close()
    }
  })
})
