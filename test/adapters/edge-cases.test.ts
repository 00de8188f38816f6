import http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { PassThrough } from 'node:stream'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { shed as shedExpress } from '@spillway/express'
import { shed as shedKoa } from '@spillway/koa'
import { shed as shedNode } from '@spillway/node'
import express4 from 'express4'
import express5 from 'express5'
import koa2 from 'koa2'
import koa3 from 'koa3'
import { errorsOf, expectDrained, get, latch, nextEvent, type Reply } from '../contract/support.js'
import { type Target, targets } from '../contract/targets.js'

async function listen(listener: http.RequestListener) {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => {})
  return socket
}

function admits(controller: AdmissionController, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const off = controller.on((event) => {
      if (event.type === 'admit' && ++seen === count) {
        off()
        resolve()
      }
    })
  })
}

describe('edge cases', () => {
  it('releases a pipelined request whose body a parser read before admission when its client leaves', async () => {
    const controller = createAdmissionController({ limit: 2, queue: { size: 0 } })
    const hold = latch()
    const app = express4()
    app.use(express4.json())
    app.use(shedExpress(controller))
    app.post('/', (_req, res) => {
      hold.promise.then(() => res.end('ok'))
    })
    const running = await listen(app)
    try {
      const both = admits(controller, 2)
      const socket = await connect(running.port)
      const post =
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'
      socket.write(post + post)
      await both
      socket.destroy()
      await expectDrained(controller)
    } finally {
      hold.open()
      await running.close()
      controller.close()
    }
  })

  it('drops a queued pipelined request whose body was read before admission when its client leaves', async () => {
    const controller = createAdmissionController({
      limit: 1,
      queue: { size: 2, timeoutMs: 60_000 },
    })
    const hold = latch()
    const app = express4()
    app.use(express4.json())
    app.use(shedExpress(controller))
    const ran: string[] = []
    app.all('/:name', (req, res) => {
      ran.push(req.params.name as string)
      hold.promise.then(() => res.end('ok'))
    })
    const running = await listen(app)
    try {
      const held = nextEvent(controller, 'admit')
      const first = await connect(running.port)
      first.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n')
      await held
      const queued = new Promise<void>((resolve) => {
        const off = controller.on((event) => {
          if (event.type === 'queue' && event.queued === 2) {
            off()
            resolve()
          }
        })
      })
      const socket = await connect(running.port)
      const post = (name: string) =>
        `POST /${name} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`
      socket.write(post('a') + post('b'))
      await queued
      socket.destroy()
      for (let i = 0; i < 200 && controller.stats().queued > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      expect(controller.stats().queued).toBe(0)
      hold.open()
      await expectDrained(controller)
      expect(ran).toEqual(['held'])
      first.destroy()
    } finally {
      hold.open()
      await running.close()
      controller.close()
    }
  })

  it('leaves no listener on a keep-alive socket after pipelined requests, and adds one at most', async () => {
    const controller = createAdmissionController({
      limit: 2,
      queue: { size: 20, timeoutMs: 60_000 },
    })
    const hold = latch()
    const sockets: net.Socket[] = []
    const running = await listen(
      shedNode(controller, (_req, res) => {
        hold.promise.then(() => res.end('ok'))
      }),
    )
    running.server.on('connection', (socket) => sockets.push(socket))
    try {
      const waiting = new Promise<void>((resolve) => {
        const off = controller.on((event) => {
          if (event.type === 'queue' && event.queued === 10) {
            off()
            resolve()
          }
        })
      })
      const socket = await connect(running.port)
      let text = ''
      const answered = latch()
      socket.setEncoding('utf8')
      socket.on('data', (chunk: string) => {
        text += chunk
        if (text.match(/HTTP\/1\.1 200 OK/g)?.length === 12) answered.open()
      })
      const server = sockets[0] as net.Socket
      const before = server.listenerCount('close')
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(12))
      await waiting
      // Node's own for the response being written, and one watch shared by
      // the eleven socketless responses (one each would warn past ten).
      expect(server.listenerCount('close')).toBe(before + 2)
      hold.open()
      await answered.promise
      expect(server.listenerCount('close')).toBe(before)
      socket.destroy()
      await expectDrained(controller)
    } finally {
      hold.open()
      await running.close()
      controller.close()
    }
  })
})

describe.each([
  ['Koa 2', koa2 as unknown as typeof koa3],
  ['Koa 3', koa3],
])('%s', (_name, Koa) => {
  it.each(['after its first chunk', 'before its first byte', 'as it is set'])(
    'releases the permit when a streamed body is destroyed without an error %s',
    async (when) => {
      const app = new Koa()
      app.silent = true
      const body = new PassThrough()
      const set = latch()
      const limiter = shedKoa({ limit: 1, queue: { size: 0 } })
      app.use(limiter)
      app.use(async (ctx) => {
        ctx.body = body
        set.open()
        if (when === 'as it is set') {
          body.destroy()
          await new Promise((resolve) => setImmediate(resolve))
        }
      })
      const running = await listen(app.callback())
      try {
        const socket = await connect(running.port)
        const clientClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
        socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        // The body set, not only the request admitted: one admitted in a late turn
        // of a busy loop reaches the handler a turn later.
        await set.promise
        if (when === 'after its first chunk') {
          const firstChunk = new Promise<void>((resolve) => socket.once('data', () => resolve()))
          body.write('part')
          await firstChunk
        }
        // A cancelled upstream: `close` without `end` and without an error.
        if (when !== 'as it is set') body.destroy()
        await expectDrained(limiter.controller)
        await clientClosed
      } finally {
        await running.close()
        limiter.controller.close()
      }
    },
  )
})

it('drops a queued request whose client half-closes its socket, and never runs its handler', async () => {
  const controller = createAdmissionController({ limit: 1, queue: { size: 1, timeoutMs: 60_000 } })
  const hold = latch()
  const ran: string[] = []
  const running = await listen(
    shedNode(controller, (req, res) => {
      ran.push(req.url ?? '')
      hold.promise.then(() => res.end('ok'))
    }),
  )
  try {
    const admitted = nextEvent(controller, 'admit')
    const first = get(running.port, '/held')
    await admitted
    const queued = nextEvent(controller, 'queue')
    const socket = await connect(running.port)
    socket.write('GET /left HTTP/1.1\r\nHost: x\r\n\r\n')
    await queued
    const left = nextEvent(controller, 'reject')
    socket.end()
    expect((await left).rejection.reason).toBe('aborted')
    expect(controller.stats().queued).toBe(0)
    hold.open()
    expect((await first).status).toBe(200)
    await expectDrained(controller)
    expect(ran).toEqual(['/held'])
  } finally {
    hold.open()
    await running.close()
    controller.close()
  }
})

it('releases once, as a success, when an Express route passes on with next(route) or next(router)', async () => {
  const controller = createAdmissionController({ limit: 2, queue: { size: 0 } })
  const app = express5()
  const router = express5.Router()
  router.get('/r', shedExpress(controller), (_req, _res, next) => next('router'))
  app.use(router)
  app.get('/r', (_req, res) => {
    res.send('after router')
  })
  app.get('/x', shedExpress(controller), (_req, _res, next) => next('route'))
  app.get('/x', (_req, res) => {
    res.send('next route')
  })
  const running = await listen(app)
  try {
    expect(await get(running.port, '/r')).toMatchObject({ status: 200, body: 'after router' })
    expect(await get(running.port, '/x')).toMatchObject({ status: 200, body: 'next route' })
    await expectDrained(controller)
    expect(controller.stats().counters.released).toEqual({ success: 2, failure: 0, ignore: 0 })
  } finally {
    await running.close()
    controller.close()
  }
})

it.each([
  ['Koa 2', koa2 as unknown as typeof koa3],
  ['Koa 3', koa3],
])(
  '%s: holds the permit of a ctx.respond = false response until the handler ends it',
  async (_name, Koa) => {
    const app = new Koa()
    const limiter = shedKoa({ limit: 1, queue: { size: 0 } })
    const chainDone = latch()
    const finish = latch()
    app.use(async (_ctx, next) => {
      await next()
      chainDone.open()
    })
    app.use(limiter)
    app.use((ctx) => {
      ctx.respond = false
      finish.promise.then(() => ctx.res.end('raw'))
    })
    const running = await listen(app.callback())
    try {
      const reply = get(running.port, '/')
      await chainDone.promise
      // The middleware chain is over; the response is not: the slot stays taken.
      expect(limiter.controller.stats().inFlight).toBe(1)
      finish.open()
      expect(await reply).toMatchObject({ body: 'raw' })
      await expectDrained(limiter.controller)
      expect(limiter.controller.stats().counters.released.success).toBe(1)
    } finally {
      finish.open()
      await running.close()
      limiter.controller.close()
    }
  },
)

it('lets a queued request go at once when a middleware before it answers it, feeding no sample', async () => {
  const controller = createAdmissionController({ limit: 1, queue: { size: 1, timeoutMs: 60_000 } })
  const hold = latch()
  const ran: string[] = []
  const app = express4()
  // A timeout middleware: it answers on its own while the request still waits. Once
  // it is queued, not right after next(): a request that comes in a late turn of a
  // busy loop is decided, and queued, a turn later.
  app.use((req, res, next) => {
    if (req.path === '/late') {
      const off = controller.on((event) => {
        if (event.type !== 'queue') return
        off()
        res.status(503).end('timed out')
      })
    }
    next()
  })
  app.use(shedExpress(controller))
  app.get('/:name', (req, res) => {
    ran.push(req.params.name as string)
    hold.promise.then(() => res.end('ok'))
  })
  const running = await listen(app)
  let first: Promise<Reply> | undefined
  try {
    const admitted = nextEvent(controller, 'admit')
    first = get(running.port, '/held')
    await admitted
    expect(await get(running.port, '/late')).toMatchObject({ status: 503, body: 'timed out' })
    for (let i = 0; i < 200 && controller.stats().queued > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    // Its place in the queue is free while the slot is still taken.
    expect(controller.stats()).toMatchObject({ inFlight: 1, queued: 0 })
    hold.open()
    expect((await first).status).toBe(200)
    await expectDrained(controller)
    expect(ran).toEqual(['held'])
    // Only the request that ran fed the limit; the other answer was not its work.
    expect(controller.stats().counters.released).toEqual({ success: 1, failure: 0, ignore: 0 })
  } finally {
    hold.open()
    await first?.catch(() => undefined)
    await running.close()
    controller.close()
  }
})

it.each([
  ['Express 4', express4 as unknown as typeof express5],
  ['Express 5', express5],
])(
  '%s: releases once when a handler throws after sending headers, or destroys its response',
  async (_name, express) => {
    const controller = createAdmissionController({ limit: 2, queue: { size: 0 } })
    const app = express()
    app.get('/throw', shedExpress(controller), (_req, res) => {
      res.writeHead(200, { 'content-length': 100 })
      res.write('part')
      throw new Error('failed midway')
    })
    app.get('/destroy', shedExpress(controller), (_req, res) => {
      res.destroy()
    })
    // An error handler after shed: headers are gone, so all it can do is pass it on.
    app.use((error: unknown, _req: unknown, _res: unknown, next: (error: unknown) => void) => {
      next(error)
    })
    const running = await listen(app)
    try {
      for (const path of ['/throw', '/destroy']) {
        const outcome = await get(running.port, path).then(
          () => 'answered',
          (error: Error) => error.message,
        )
        expect(outcome).toMatch(/aborted|socket hang up|ECONNRESET/)
      }
      await expectDrained(controller)
      const { success, failure, ignore } = controller.stats().counters.released
      expect(success + failure + ignore).toBe(2)
    } finally {
      await running.close()
      controller.close()
    }
  },
)

/** Resolves once `count` requests wait in the queue together. */
function queuedUpTo(controller: AdmissionController, count: number): Promise<void> {
  return new Promise((resolve) => {
    const off = controller.on((event) => {
      if (event.type === 'queue' && event.queued === count) {
        off()
        resolve()
      }
    })
  })
}

it('serves every queued request when the server closes with them waiting', async () => {
  const controller = createAdmissionController({ limit: 1, queue: { size: 3, timeoutMs: 60_000 } })
  const hold = latch()
  const running = await listen(
    shedNode(controller, (_req, res) => {
      hold.promise.then(() => res.end('ok'))
    }),
  )
  try {
    const full = queuedUpTo(controller, 3)
    const replies = [0, 1, 2, 3].map(() => get(running.port, '/'))
    await full
    const closed = new Promise<void>((resolve) => running.server.close(() => resolve()))
    hold.open()
    expect((await Promise.all(replies)).map((reply) => reply.status)).toEqual([200, 200, 200, 200])
    await closed
    await expectDrained(controller)
  } finally {
    hold.open()
    await running.close()
    controller.close()
  }
})

/** Fails instead of hanging when no answer comes: the bound only ends a failing test sooner. */
function within(reply: Promise<Reply>, ms: number): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([reply, late]).finally(() => clearTimeout(timer))
}

describe.each(targets)('$name', (target: Target) => {
  it('answers the default rejection and reports when an async onRejected rejects', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const hold = latch()
    const errors = errorsOf(controller)
    const onRejected = async (): Promise<void> => {
      await Promise.resolve()
      throw new Error('onRejected failed late')
    }
    const running = await target.start(controller, [
      { path: '/a', options: { onRejected }, handler: { reply: 'ok', wait: () => hold.promise } },
    ])
    try {
      const admitted = nextEvent(controller, 'admit')
      const first = get(running.port, '/a')
      await admitted
      const rejected = await within(get(running.port, '/a'), 2000)
      expect(rejected.status).toBe(503)
      expect(rejected.headers['content-type']).toBe('application/problem+json')
      expect(JSON.parse(rejected.body)).toMatchObject({ reason: 'queueFull' })
      expect(errors.map((e) => e.source)).toEqual(['onRejected'])
      hold.open()
      expect((await first).status).toBe(200)
      await expectDrained(controller)
    } finally {
      hold.open()
      await running.close()
      controller.close()
    }
  })

  it('lets an async onRejected answer after an await', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const hold = latch()
    const custom = target.customRejection() as (...args: unknown[]) => void
    const onRejected = async (...args: unknown[]): Promise<unknown> => {
      // Real async work (a log write, a lookup) ends in a later turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve))
      // Hono's hook answers with the Response it returns; the others return nothing.
      return custom(...args)
    }
    const running = await target.start(controller, [
      { path: '/a', options: { onRejected }, handler: { reply: 'ok', wait: () => hold.promise } },
    ])
    try {
      const admitted = nextEvent(controller, 'admit')
      const first = get(running.port, '/a')
      await admitted
      expect(await within(get(running.port, '/a'), 2000)).toMatchObject({
        status: 503,
        body: 'busy',
      })
      hold.open()
      expect((await first).status).toBe(200)
      await expectDrained(controller)
    } finally {
      hold.open()
      await running.close()
      controller.close()
    }
  })

  it('treats a non-finite deadline or a non-string priority from a hook as none', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const admits: string[] = []
    controller.on((event) => {
      if (event.type === 'admit') admits.push(event.priority)
    })
    const routes = [-Infinity, Infinity, Number.NaN].map((at, i) => ({
      path: `/${i}`,
      options: { deadline: () => at, priority: () => ({ toString: () => 'critical' }) },
      handler: { reply: 'ok' as const },
    }))
    const running = await target.start(controller, routes)
    try {
      for (const route of routes) {
        expect(await get(running.port, route.path)).toMatchObject({ status: 200, body: route.path })
      }
      expect(admits).toEqual(['normal', 'normal', 'normal'])
      await expectDrained(controller)
    } finally {
      await running.close()
      controller.close()
    }
  })

  it('turns every queued request away, and lets the held one finish, when the controller closes', async () => {
    const controller = createAdmissionController({
      limit: 1,
      queue: { size: 3, timeoutMs: 60_000 },
    })
    const hold = latch()
    const running = await target.start(controller, [
      { path: '/a', handler: { reply: 'ok', wait: () => hold.promise } },
    ])
    try {
      const full = queuedUpTo(controller, 3)
      const replies = [0, 1, 2, 3].map(() => get(running.port, '/a'))
      await full
      controller.close()
      hold.open()
      const answers = await Promise.all(replies)
      // Which of the four arrived first, and was admitted, is up to the network.
      expect(answers.map((reply) => reply.status).sort()).toEqual([200, 503, 503, 503])
      for (const reply of answers.filter((answer) => answer.status === 503)) {
        expect(JSON.parse(reply.body)).toMatchObject({ reason: 'closed' })
      }
      await expectDrained(controller)
    } finally {
      hold.open()
      await running.close()
      controller.close()
    }
  })
})

// Koa and Hono answer through a value (ctx.body, a returned Response): their hooks never write half a response.
describe.each(
  targets.filter((target) => !target.name.startsWith('Koa') && !target.name.startsWith('Hono')),
)('$name', (target: Target) => {
  it('ends the response when onRejected throws after it started writing', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const hold = latch()
    const errors = errorsOf(controller)
    const onRejected = (
      _req: unknown,
      reply: http.ServerResponse | { raw: http.ServerResponse },
    ): void => {
      // Fastify hands its reply; the half-written answer goes to the socket underneath.
      const res = 'raw' in reply ? reply.raw : reply
      res.writeHead(503, { 'content-length': 10 })
      res.write('half')
      throw new Error('onRejected failed midway')
    }
    const running = await target.start(controller, [
      { path: '/a', options: { onRejected }, handler: { reply: 'ok', wait: () => hold.promise } },
    ])
    let first: Promise<Reply> | undefined
    try {
      const admitted = nextEvent(controller, 'admit')
      first = get(running.port, '/a')
      await admitted
      // A half-written answer that is never ended would hold the client and its socket.
      const outcome = await within(get(running.port, '/a'), 2000).then(
        () => 'ended normally',
        (error: Error) => error.message,
      )
      expect(outcome).toMatch(/aborted|socket hang up|ECONNRESET/)
      expect(errors.map((e) => e.source)).toEqual(['onRejected'])
      hold.open()
      expect((await first).status).toBe(200)
      await expectDrained(controller)
    } finally {
      hold.open()
      await first?.catch(() => undefined)
      await running.close()
      controller.close()
    }
  })
})
