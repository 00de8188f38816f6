/**
 * Each example's exported `createServer()`, run in-process on port 0: clients
 * that give up while their requests are queued or in flight must leave the
 * controller drained, with its full capacity back for the next burst.
 */
import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServer as expressBasic } from '../../examples/express-basic/src/app.js'
import { createServer as expressPriorities } from '../../examples/express-priorities/src/app.js'
import { createServer as koaBasic } from '../../examples/koa-basic/src/app.js'
import { createServer as nodeHttp } from '../../examples/node-http/src/app.js'

/** The examples' configuration: 8 in flight, 16 queued. */
const LIMIT = 8
const QUEUE = 16
/** Bounds the condition polling below: a broken example fails, it never hangs. */
const MAX_POLLS = 500

interface Stats {
  inFlight: number
  queued: number
  counters: {
    /** Requests that ever had to wait. */
    queued: number
    released: { success: number; failure: number; ignore: number }
    rejected: Record<string, number>
  }
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    })
  })
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

function get(url: string): { request: http.ClientRequest; status: Promise<number> } {
  let request: http.ClientRequest | undefined
  const status = new Promise<number>((resolve) => {
    request = http.get(url, { agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', () => resolve(0))
    })
    // A request this test aborts resolves 0: its outcome is read from the stats.
    request.on('error', () => resolve(0))
  })
  return { request: request as http.ClientRequest, status }
}

async function stats(origin: string): Promise<Stats> {
  return new Promise((resolve, reject) => {
    http
      .get(`${origin}/stats`, { agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve(JSON.parse(body) as Stats))
      })
      .on('error', reject)
  })
}

/** Polls `/stats` (which spillway skips) until `done` holds, at most `MAX_POLLS` times. */
async function until(origin: string, done: (s: Stats) => boolean, what: string): Promise<Stats> {
  let last: Stats | undefined
  for (let i = 0; i < MAX_POLLS; i++) {
    last = await stats(origin)
    if (done(last)) return last
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`never saw ${what}; last stats: ${JSON.stringify(last)}`)
}

describe.each([
  ['express-basic', expressBasic, '/'],
  ['express-priorities', expressPriorities, '/report'],
  ['koa-basic', koaBasic, '/'],
  ['node-http', nodeHttp, '/'],
] as const)('the examples/%s server', (_name, createServer, route) => {
  let server: Server
  let origin: string

  beforeEach(async () => {
    server = createServer()
    origin = await listen(server)
  })

  afterEach(() => close(server))

  it('drains when clients give up while queued or in flight, and serves a full burst after', async () => {
    const burst = Array.from({ length: LIMIT + QUEUE }, () => get(`${origin}${route}`))
    await until(origin, (s) => s.queued > 0, 'a queued request')
    for (const { request } of burst) request.destroy()
    await Promise.all(burst.map(({ status }) => status))

    const drained = await until(
      origin,
      (s) => s.inFlight === 0 && s.queued === 0,
      'inFlight and queued back to 0',
    )
    // The aborts really hit queued or in-flight requests, or this test proved nothing.
    const left = (drained.counters.rejected.aborted ?? 0) + drained.counters.released.ignore
    expect(left).toBeGreaterThan(0)

    // No slot leaked: a burst of exactly the limit is admitted at once (none waits) and served.
    const again = Array.from({ length: LIMIT }, () => get(`${origin}${route}`))
    expect(await Promise.all(again.map(({ status }) => status))).toEqual(
      Array.from({ length: LIMIT }, () => 200),
    )
    const after = await stats(origin)
    expect(after).toMatchObject({ inFlight: 0, queued: 0 })
    expect(after.counters.queued).toBe(drained.counters.queued)
  }, 30_000)
})
