import { createAdmissionController } from '@spillway/core'
import { abortSignalFor, createGate, resolveRouteOptions } from '@spillway/node/adapter-kit'
import { connect, listenerCounts, once, startServer, type TestServer } from './support.js'

let server: TestServer
beforeEach(async () => {
  server = await startServer()
})
afterEach(() => server.close())

describe('abortSignalFor', () => {
  it('aborts once, and detaches, when the client leaves', async () => {
    const socket = await connect(server.port)
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const exchange = await server.nextExchange()
    const before = listenerCounts(exchange)
    const signal = abortSignalFor(exchange.req, exchange.res)
    let calls = 0
    const listener = (): void => {
      calls++
    }
    signal.addEventListener('abort', listener, { once: true })
    signal.addEventListener('abort', listener)
    expect(signal.aborted).toBe(false)
    const closed = once(exchange.res, 'close')
    socket.destroy()
    await closed
    await new Promise((resolve) => setImmediate(resolve))
    expect(signal.aborted).toBe(true)
    expect(calls).toBe(1)
    expect(listenerCounts(exchange)).toEqual(before)
  })

  it('places no listener until one subscribes, and removes them on dispose', async () => {
    const socket = await connect(server.port)
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    const exchange = await server.nextExchange()
    const before = listenerCounts(exchange)
    const signal = abortSignalFor(exchange.req, exchange.res)
    expect(listenerCounts(exchange)).toEqual(before)
    const listener = (): void => {
      throw new Error('must not run after dispose')
    }
    signal.addEventListener('abort', listener)
    expect(listenerCounts(exchange)).not.toEqual(before)
    signal.dispose()
    expect(listenerCounts(exchange)).toEqual(before)
    socket.destroy()
    await once(exchange.res, 'close')
    // Still reports the truth when read, without listeners.
    expect(signal.aborted).toBe(true)
  })

  it('does not abort when the request body has been read and the request closed', async () => {
    const socket = await connect(server.port)
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi')
    const exchange = await server.nextExchange()
    const signal = abortSignalFor(exchange.req, exchange.res)
    let aborted = false
    signal.addEventListener('abort', () => {
      aborted = true
    })
    exchange.req.resume()
    await once(exchange.req, 'close')
    expect(aborted).toBe(false)
    expect(signal.aborted).toBe(false)
    signal.dispose()
    socket.destroy()
  })
})

describe('a queued request whose client leaves', () => {
  it('leaves the queue at once and leaves no listener on the request or response', async () => {
    const controller = createAdmissionController({
      limit: 1,
      queue: { size: 4, timeoutMs: 60_000 },
    })
    const gate = createGate(controller, resolveRouteOptions(undefined, controller))

    const holder = await connect(server.port)
    holder.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n')
    const held = await server.nextExchange()
    expect(gate.enter(held.req, held.req, held.res)).toBe('proceed')

    const leaver = await connect(server.port)
    leaver.write('GET /queued HTTP/1.1\r\nHost: x\r\n\r\n')
    const queued = await server.nextExchange()
    const before = listenerCounts(queued)
    const socket = queued.req.socket
    const socketBefore = ['close', 'end', 'error'].map((e) => socket.listenerCount(e))
    const passage = gate.enter(queued.req, queued.req, queued.res)
    expect(passage).toBeInstanceOf(Promise)
    expect(controller.stats().queued).toBe(1)

    leaver.destroy()
    expect(await passage).toBe('gone')
    expect(controller.stats().queued).toBe(0)
    expect(controller.stats().inFlight).toBe(1)
    expect(controller.stats().counters.rejected.aborted).toBe(1)
    expect(listenerCounts(queued)).toEqual(before)
    expect(['close', 'end', 'error'].map((e) => socket.listenerCount(e))).toEqual(socketBefore)

    held.res.end('done')
    await once(held.res, 'finish')
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
    holder.destroy()
    controller.close()
  })
})
