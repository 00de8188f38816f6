/**
 * `Expect: 100-continue`: served as the server's `checkContinue` listener, a
 * guarded app sends `100 Continue` only once it admits the request, and a
 * refused client is answered before it uploads its body.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { createAdmissionController } from '@spillway/core'
import { shed as shedExpress } from '@spillway/express'
import { shed as shedKoa } from '@spillway/koa'
import { shed as shedNode } from '@spillway/node'
import express4 from 'express4'
import express5 from 'express5'
import type { Context } from 'koa'
import koa2 from 'koa2'
import koa3 from 'koa3'
import { expectDrained, get, latch, nextEvent } from '../contract/support.js'

/** Reads the request body and answers `got <body>`, or waits for `hold` on `/hold`. */
type Build = (
  controller: ReturnType<typeof createAdmissionController>,
  hold: Promise<void>,
) => http.RequestListener

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => resolve(body))
    req.on('error', reject)
  })
}

const servers: [string, Build][] = [
  [
    'node:http',
    (controller, hold) =>
      shedNode(controller, async (req, res) => {
        if (req.url === '/hold') await hold
        res.end(`got ${await readBody(req)}`)
      }),
  ],
  ...(
    [
      ['Express 4', express4],
      ['Express 5', express5],
    ] as [string, typeof express5][]
  ).map(([name, express]): [string, Build] => [
    name,
    (controller, hold) => {
      const app = express()
      app.use(shedExpress(controller))
      app.use((req, res, next) => {
        const wait = req.url === '/hold' ? hold : Promise.resolve()
        wait.then(() => readBody(req)).then((body) => res.send(`got ${body}`), next)
      })
      return app
    },
  ]),
  ...(
    [
      ['Koa 2', koa2],
      ['Koa 3', koa3],
    ] as [string, typeof koa3][]
  ).map(([name, Koa]): [string, Build] => [
    name,
    (controller, hold) => {
      const app = new Koa()
      app.use(shedKoa(controller))
      app.use(async (ctx: Context) => {
        if (ctx.path === '/hold') await hold
        ctx.body = `got ${await readBody(ctx.req)}`
      })
      return app.callback()
    },
  ]),
]

/** Sends only the head of a POST that expects 100-continue; the body follows a `100 Continue`. */
async function expectContinue(port: number, path: string, body: string) {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  let received = ''
  let sentBody = false
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1')
    if (!sentBody && received.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
      sentBody = true
      socket.write(body)
    }
  })
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n` +
      // The server closes after its answer: the whole exchange is what the socket received.
      'Connection: close\r\n' +
      `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
  )
  await closed
  return { received, sentBody }
}

describe.each(servers)('%s as the checkContinue listener', (_name, build) => {
  it('sends 100 Continue once admitted, then reads the body', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const server = http.createServer()
    const listener = build(controller, Promise.resolve())
    server.on('request', listener)
    server.on('checkContinue', listener)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const { received, sentBody } = await expectContinue(port, '/upload', 'payload')
      expect(sentBody).toBe(true)
      expect(received).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /)
      expect(received).toMatch(/got payload$/)
      expect(received.match(/100 Continue/g)).toHaveLength(1)
      await expectDrained(controller)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      controller.close()
    }
  })

  it('answers a rejection without 100 Continue, so the body is never uploaded', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const hold = latch()
    const server = http.createServer()
    const listener = build(controller, hold.promise)
    server.on('request', listener)
    server.on('checkContinue', listener)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const admitted = nextEvent(controller, 'admit')
      const held = get(port, '/hold')
      await admitted
      const { received, sentBody } = await expectContinue(port, '/upload', 'payload')
      expect(sentBody).toBe(false)
      expect(received).toMatch(/^HTTP\/1\.1 503 /)
      expect(received).not.toMatch(/100 Continue/)
      expect(received).toMatch(/\r\nretry-after: [1-9]\d*\r\n/i)
      hold.open()
      expect((await held).status).toBe(200)
      await expectDrained(controller)
      expect(controller.stats().counters.rejected.queueFull).toBe(1)
    } finally {
      hold.open()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      controller.close()
    }
  })
})
