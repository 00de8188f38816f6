import http from 'node:http'
import type { Rejection } from '@spillway/core'
import { problemBody, writeRejection } from '@spillway/node'
import { connect, once, received, startServer, type TestServer } from './support.js'

let server: TestServer
beforeEach(async () => {
  server = await startServer()
})
afterEach(() => server.close())

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

function get(path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: server.port, path, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      })
      .on('error', reject)
  })
}

const queueFull: Rejection = { reason: 'queueFull', status: 503, retryAfterSeconds: 2 }

describe('writeRejection', () => {
  it('writes the status, Retry-After, problem+json and no-store, keeping headers set earlier', async () => {
    const reply = get()
    const { res } = await server.nextExchange()
    res.setHeader('access-control-allow-origin', '*')
    expect(writeRejection(res, queueFull)).toBe(true)
    const { status, headers, body } = await reply
    expect(status).toBe(503)
    expect(headers['retry-after']).toBe('2')
    expect(headers['content-type']).toBe('application/problem+json')
    expect(headers['cache-control']).toBe('no-store')
    expect(headers['access-control-allow-origin']).toBe('*')
    expect(Number(headers['content-length'])).toBe(Buffer.byteLength(body))
    expect(JSON.parse(body)).toEqual({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: expect.any(String),
      reason: 'queueFull',
    })
  })

  it('answers quota with 429 Too Many Requests', async () => {
    const reply = get()
    const { res } = await server.nextExchange()
    writeRejection(res, { reason: 'quota', status: 429, retryAfterSeconds: 5 })
    const { status, body } = await reply
    expect(status).toBe(429)
    expect(JSON.parse(body)).toMatchObject({
      title: 'Too Many Requests',
      status: 429,
      reason: 'quota',
    })
  })

  it('rounds Retry-After up to whole seconds and never below 1', async () => {
    for (const [given, sent] of [
      [2.2, '3'],
      [0, '1'],
      [-4, '1'],
      [Number.NaN, '1'],
    ] as const) {
      const reply = get()
      const { res } = await server.nextExchange()
      writeRejection(res, { ...queueFull, retryAfterSeconds: given })
      expect((await reply).headers['retry-after']).toBe(sent)
    }
  })

  it('writes nothing once headers were sent, leaving the started response intact', async () => {
    const reply = get()
    const { res } = await server.nextExchange()
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('partial ')
    expect(writeRejection(res, queueFull)).toBe(false)
    res.end('answer')
    expect(await reply).toMatchObject({ status: 200, body: 'partial answer' })
  })

  it('writes nothing when the client has gone', async () => {
    const socket = await connect(server.port)
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const { res } = await server.nextExchange()
    const closed = once(res, 'close')
    socket.destroy()
    await closed
    expect(writeRejection(res, queueFull)).toBe(false)
    expect(res.headersSent).toBe(false)
  })

  it('answers a HEAD request with the status and headers only', async () => {
    const socket = await connect(server.port)
    const text = received(socket)
    socket.write('HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    const { res } = await server.nextExchange()
    writeRejection(res, queueFull)
    const reply = await text
    expect(reply).toMatch(/^HTTP\/1\.1 503/)
    expect(reply.endsWith('\r\n\r\n')).toBe(true)
  })
})

describe('problemBody', () => {
  it('builds each body once and shares it', () => {
    const again: Rejection = { reason: 'queueFull', status: 503, retryAfterSeconds: 9 }
    expect(problemBody(again)).toBe(problemBody(queueFull))
  })

  it('never leaks numbers from the controller into the body', () => {
    const body = JSON.parse(String(problemBody({ ...queueFull, retryAfterSeconds: 1234 })))
    expect(JSON.stringify(body)).not.toContain('1234')
  })
})
