import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdmissionController } from '@spillway/core'
import { type NodeRouteOptions, shed } from '@spillway/node'
import { connect, received } from './support.js'

/** A pressure source a test turns up and down. */
function dial(level: number): { level: number } {
  return { level }
}

interface Served {
  port: number
  handled: number
  drained(): boolean
  close(): Promise<void>
}

async function serve(pressure: { level: number }, route: NodeRouteOptions = {}): Promise<Served> {
  const controller = createAdmissionController({ limit: 4, pressure })
  // Other work in flight all along: pressure refuses only while something runs.
  const running = controller.tryAcquire()
  const served: Served = {
    port: 0,
    handled: 0,
    drained: () => false,
    close: () => {
      running?.release()
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  const server = http.createServer(
    shed(controller, route, (_req, res) => {
      served.handled++
      res.end('ok')
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  served.port = (server.address() as AddressInfo).port
  served.drained = () => {
    const { inFlight, queued } = controller.stats()
    return inFlight === 1 && queued === 0
  }
  return served
}

const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
const ANSWER = /HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n[\s\S]*?(?:\}|ok)/g

/** Sends one request on `socket` and waits for its whole answer; returns its status and how long it took. */
async function exchange(
  socket: import('node:net').Socket,
  request = REQUEST,
): Promise<{ status: number; ms: number }> {
  const started = performance.now()
  const text = await new Promise<string>((resolve) => {
    let buffer = ''
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('utf8')
      const match = new RegExp(ANSWER.source).exec(buffer)
      if (match) {
        socket.removeListener('data', onData)
        resolve(match[1] as string)
      }
    }
    socket.on('data', onData)
    socket.write(request)
  })
  return { status: Number(text), ms: performance.now() - started }
}

let servers: Served[] = []
afterEach(async () => {
  for (const s of servers) expect(s.drained()).toBe(true)
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})

async function start(pressure: { level: number }, route?: NodeRouteOptions): Promise<Served> {
  const s = await serve(pressure, route)
  servers.push(s)
  return s
}

describe('holdEarlyRetries', () => {
  it('answers a pressure rejection on a connection that came back before its Retry-After no sooner than maxMs', async () => {
    const s = await start(dial(1), { holdEarlyRetries: { maxMs: 300 } })
    const socket = await connect(s.port)
    const first = await exchange(socket)
    const second = await exchange(socket)
    expect(first.status).toBe(503)
    expect(first.ms).toBeLessThan(200)
    expect(second.status).toBe(503)
    expect(second.ms).toBeGreaterThanOrEqual(280)
    socket.destroy()
  })

  it('serves an early retry that is admitted at once', async () => {
    const pressure = dial(1)
    const s = await start(pressure, { holdEarlyRetries: { maxMs: 1000 } })
    const socket = await connect(s.port)
    expect((await exchange(socket)).status).toBe(503)
    pressure.level = 0
    const retry = await exchange(socket)
    expect(retry.status).toBe(200)
    expect(retry.ms).toBeLessThan(200)
    expect(s.handled).toBe(1)
    socket.destroy()
  })

  it('holds each connection on its own: a new connection is answered at once', async () => {
    const s = await start(dial(1), { holdEarlyRetries: { maxMs: 1000 } })
    const a = await connect(s.port)
    const b = await connect(s.port)
    expect((await exchange(a)).ms).toBeLessThan(200)
    const other = await exchange(b)
    expect(other.status).toBe(503)
    expect(other.ms).toBeLessThan(200)
    a.destroy()
    b.destroy()
  })

  it('does not hold a connection that carries a proxy header', async () => {
    const s = await start(dial(1), { holdEarlyRetries: { maxMs: 1000 } })
    const socket = await connect(s.port)
    const proxied = 'GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n'
    await exchange(socket, proxied)
    const again = await exchange(socket, proxied)
    expect(again.status).toBe(503)
    expect(again.ms).toBeLessThan(200)
    socket.destroy()
  })

  it("holds every kind of refusal by default, and only pressure's with reasons: pressure", async () => {
    for (const [reasons, held] of [
      [undefined, true],
      ['all', true],
      ['pressure', false],
    ] as const) {
      const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
      const blocker = controller.tryAcquire()
      expect(blocker).toBeDefined()
      const server = http.createServer(
        shed(controller, { holdEarlyRetries: { reasons, maxMs: 300 } }, (_req, res) =>
          res.end('ok'),
        ),
      )
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const socket = await connect((server.address() as AddressInfo).port)
      expect((await exchange(socket)).status).toBe(503)
      const retry = await exchange(socket)
      expect(retry.status).toBe(503)
      if (held) expect(retry.ms).toBeGreaterThanOrEqual(280)
      else expect(retry.ms).toBeLessThan(200)
      socket.destroy()
      blocker?.release()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
    }
  })

  it('frees the place of a client that leaves during the hold', async () => {
    const s = await start(dial(1), { holdEarlyRetries: { maxMs: 5000, maxHeld: 1 } })
    const socket = await connect(s.port)
    await exchange(socket)
    socket.write(REQUEST)
    await new Promise((resolve) => setTimeout(resolve, 100))
    socket.destroy()
    await new Promise((resolve) => setTimeout(resolve, 100))
    // The one place is free again: another early retry is held, not answered at once.
    const other = await connect(s.port)
    await exchange(other)
    const text = received(other)
    other.write(REQUEST)
    const raced = await Promise.race([
      text.then(() => 'answered'),
      new Promise((resolve) => setTimeout(() => resolve('held'), 300)),
    ])
    expect(raced).toBe('held')
    other.destroy()
  })

  it('answers at once beyond maxHeld', async () => {
    const s = await start(dial(1), { holdEarlyRetries: { maxMs: 1000, maxHeld: 1 } })
    const a = await connect(s.port)
    const b = await connect(s.port)
    await exchange(a)
    await exchange(b)
    const heldAnswer = exchange(a)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const overCap = await exchange(b)
    expect(overCap.ms).toBeLessThan(200)
    expect((await heldAnswer).ms).toBeGreaterThanOrEqual(900)
    a.destroy()
    b.destroy()
  })

  it.each([
    ['by default', {}],
    ['when turned off', { holdEarlyRetries: false }],
  ] as const)('answers at once %s', async (_name, route) => {
    const s = await start(dial(1), route)
    const socket = await connect(s.port)
    await exchange(socket)
    expect((await exchange(socket)).ms).toBeLessThan(200)
    socket.destroy()
  })

  it('holds with `true`', async () => {
    const s = await start(dial(1), { holdEarlyRetries: true })
    const socket = await connect(s.port)
    await exchange(socket)
    expect((await exchange(socket)).ms).toBeGreaterThanOrEqual(900)
    socket.destroy()
  })

  it('rejects invalid options with the house error', () => {
    const controller = createAdmissionController({ limit: 1 })
    const handler = (): void => {}
    for (const [value, option] of [
      ['yes', 'holdEarlyRetries'],
      [{ maxMs: 0 }, 'holdEarlyRetries.maxMs'],
      [{ maxMs: 1.5 }, 'holdEarlyRetries.maxMs'],
      [{ maxHeld: -1 }, 'holdEarlyRetries.maxHeld'],
      [{ reasons: 'some' }, 'holdEarlyRetries.reasons'],
      [{ maxMss: 1 }, 'holdEarlyRetries.maxMss'],
    ] as const) {
      expect(() => shed(controller, { holdEarlyRetries: value as never }, handler)).toThrow(
        expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option }),
      )
    }
  })
})
