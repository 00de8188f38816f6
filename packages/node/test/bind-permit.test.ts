import http from 'node:http'
import { bindPermit } from '@spillway/node'
import {
  CountingPermit,
  connect,
  listenerCounts,
  once,
  received,
  startServer,
  type TestServer,
} from './support.js'

let server: TestServer
beforeEach(async () => {
  server = await startServer()
})
afterEach(() => server.close())

function get(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: server.port, path, agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      .on('error', reject)
  })
}

describe('bindPermit', () => {
  it('releases once with success when the response finishes, though close follows finish', async () => {
    const status = get('/')
    const exchange = await server.nextExchange()
    const before = listenerCounts(exchange)
    const permit = new CountingPermit()
    expect(bindPermit(permit, exchange.req, exchange.res)).toBe(true)
    expect(permit.released).toBe(false)
    const closed = once(exchange.res, 'close')
    exchange.res.end('ok')
    await closed
    expect(await status).toBe(200)
    expect(permit.outcomes).toEqual(['success'])
    // Its listeners stay on the closed response, which emits nothing more (a
    // stray second `close` releases nothing); the request keeps none.
    exchange.res.emit('close')
    expect(permit.outcomes).toEqual(['success'])
    expect(listenerCounts(exchange)).toEqual({
      ...before,
      'res.close': (before['res.close'] ?? 0) + 1,
    })
  })

  it('releases with failure for a 5xx by default and asks isFailure when given', async () => {
    const first = get('/')
    const a = await server.nextExchange()
    const byDefault = new CountingPermit()
    bindPermit(byDefault, a.req, a.res)
    a.res.statusCode = 502
    a.res.end()
    await first
    await byDefault.whenReleased()
    expect(byDefault.outcomes).toEqual(['failure'])

    const second = get('/')
    const b = await server.nextExchange()
    const custom = new CountingPermit()
    bindPermit(custom, b.req, b.res, { isFailure: (res) => res.statusCode === 429 })
    b.res.statusCode = 429
    b.res.end()
    await second
    await custom.whenReleased()
    expect(custom.outcomes).toEqual(['failure'])
  })

  it('falls back to the status rule and reports when isFailure throws', async () => {
    const status = get('/')
    const exchange = await server.nextExchange()
    const permit = new CountingPermit()
    const reported: [string, unknown][] = []
    const boom = new Error('hook failed')
    bindPermit(permit, exchange.req, exchange.res, {
      isFailure: () => {
        throw boom
      },
      onError: (source, error) => reported.push([source, error]),
    })
    exchange.res.statusCode = 503
    exchange.res.end()
    await status
    await permit.whenReleased()
    expect(permit.outcomes).toEqual(['failure'])
    expect(reported).toEqual([['isFailure', boom]])
  })

  it('releases with ignore once when the client leaves before the response finishes', async () => {
    const socket = await connect(server.port)
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const exchange = await server.nextExchange()
    const before = listenerCounts(exchange)
    const permit = new CountingPermit()
    bindPermit(permit, exchange.req, exchange.res)
    const closed = once(exchange.res, 'close')
    socket.destroy()
    await closed
    await permit.whenReleased()
    // Writing after the client left must not produce a second release.
    exchange.res.end('too late')
    await new Promise((resolve) => setImmediate(resolve))
    expect(permit.outcomes).toEqual(['ignore'])
    exchange.res.emit('close')
    expect(permit.outcomes).toEqual(['ignore'])
    expect(listenerCounts(exchange)).toEqual({
      ...before,
      'res.close': (before['res.close'] ?? 0) + 1,
    })
  })

  it('releases at once, without listening, when the client left before binding', async () => {
    const socket = await connect(server.port)
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const exchange = await server.nextExchange()
    const closed = once(exchange.res, 'close')
    socket.destroy()
    await closed
    const before = listenerCounts(exchange)
    const permit = new CountingPermit()
    expect(bindPermit(permit, exchange.req, exchange.res)).toBe(false)
    expect(permit.outcomes).toEqual(['ignore'])
    expect(listenerCounts(exchange)).toEqual(before)
  })

  it('releases at once with the outcome when the response had already finished', async () => {
    const status = get('/')
    const exchange = await server.nextExchange()
    exchange.res.statusCode = 500
    const finished = once(exchange.res, 'finish')
    exchange.res.end()
    await finished
    await status
    const permit = new CountingPermit()
    expect(bindPermit(permit, exchange.req, exchange.res)).toBe(false)
    expect(permit.outcomes).toEqual(['failure'])
  })

  it('does not mistake a request whose body was read for a client that left', async () => {
    const socket = await connect(server.port)
    const reply = received(socket, /\r\n\r\nok$/)
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello')
    const exchange = await server.nextExchange()
    exchange.req.resume()
    // On Node ≥ 16 a fully read request destroys itself and closes.
    await once(exchange.req, 'close')
    expect(exchange.req.destroyed).toBe(true)
    const permit = new CountingPermit()
    expect(bindPermit(permit, exchange.req, exchange.res)).toBe(true)
    expect(permit.released).toBe(false)
    exchange.res.end('ok')
    expect(await reply).toMatch(/^HTTP\/1\.1 200/)
    await permit.whenReleased()
    expect(permit.outcomes).toEqual(['success'])
    socket.destroy()
  })

  it('releases a pipelined request whose response never had a socket when the client leaves', async () => {
    const socket = await connect(server.port)
    socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n')
    const first = await server.nextExchange()
    const second = await server.nextExchange()
    const permits = [new CountingPermit(), new CountingPermit()]
    bindPermit(permits[0] as CountingPermit, first.req, first.res)
    bindPermit(permits[1] as CountingPermit, second.req, second.res)
    socket.destroy()
    await Promise.all(permits.map((p) => p.whenReleased()))
    expect(permits.map((p) => p.outcomes)).toEqual([['ignore'], ['ignore']])
  })
})
