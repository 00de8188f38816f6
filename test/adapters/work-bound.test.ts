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

/** Counts handlers running at once. */
function meter() {
  let running = 0
  const state = { max: 0, ran: 0 }
  return {
    state,
    async work(): Promise<void> {
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

/** Answers 504 after `ms` unless the response ended: a typical node:http/Express timeout. */
function answerLate(res: http.ServerResponse, ms: number): void {
  const timer = setTimeout(() => {
    if (!res.headersSent) {
      res.writeHead(504, { 'content-type': 'text/plain' })
      res.end('timeout')
    }
  }, ms)
  res.once('close', () => clearTimeout(timer))
}

/** A server whose timeout middleware answers 504 after `timeoutMs`, in front of `shed` and `work`. */
type Build = (
  controller: AdmissionController,
  work: () => Promise<void>,
  timeoutMs?: number,
) => http.RequestListener

const servers: [string, Build][] = [
  [
    'node:http (the handler returns a promise)',
    (controller, work, timeoutMs = TIMEOUT_MS) => {
      const listener = shedNode(controller, async (_req, res) => {
        await work()
        if (!res.headersSent) res.end('done')
      })
      return (req, res) => {
        answerLate(res, timeoutMs)
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
    (controller, work, timeoutMs = TIMEOUT_MS) => {
      const app = express()
      app.use((_req, res, next) => {
        answerLate(res, timeoutMs)
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
    (controller, work, timeoutMs = TIMEOUT_MS) => {
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
          }, timeoutMs)
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
    // Work held by a latch, not a timer: on a busy machine the checks below could
    // outlast a fixed 300 ms and meet a slot freed by work that had simply ended.
    const entered = latch()
    const hold = latch()
    const work = async (): Promise<void> => {
      entered.open()
      await hold.promise
    }
    // A timeout the test outlasts: a 504 sent before the client leaves would make
    // the outcome that answer's (a failure), and a busy loop takes two turns to
    // start a handler admitted late (see late-turn.ts).
    const server = await listen(build(controller, work, 30_000))
    try {
      const socket = await rawRequest(server.port, '/work')
      // The work, not only the admission: one admitted in a late turn of a busy
      // loop starts a turn later, and not at all if its client has left by then.
      await entered.promise
      const released = nextEvent(controller, 'release')
      socket.destroy()
      // The client is gone but the handler still works: the slot stays taken.
      await sleep(WORK_MS / 3)
      expect(controller.stats().inFlight).toBe(1)
      expect((await get(server.port, '/work')).status).toBe(503)
      hold.open()
      expect((await released).outcome).toBe('ignore')
      await expectDrained(controller)
    } finally {
      hold.open()
      await server.close()
      controller.close()
    }
  })
})
