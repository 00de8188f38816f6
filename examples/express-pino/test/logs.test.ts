import http, { type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createServer } from '../src/app.js'

/** A pino destination that keeps each JSON line. */
function memory(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      }
      done()
    },
  })
  return { lines, stream }
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      .on('error', reject)
  })
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
}

interface Stats {
  inFlight: number
  queued: number
  counters: { rejected: { queueFull: number } }
}

async function stats(port: number): Promise<Stats> {
  return JSON.parse((await get(port, '/stats')).body) as Stats
}

/** 40 requests against a held downstream: 8 in flight, 16 queued, 16 shed; then the downstream frees. */
async function burst(port: number, release: () => void) {
  const replies = Promise.all(
    Array.from({ length: 40 }, (_, i) => get(port, `/orders/${i + 1}?pretty=1`)),
  )
  for (let i = 0; i < 500; i++) {
    const now = await stats(port)
    if (now.inFlight === 8 && now.queued === 16 && now.counters.rejected.queueFull === 16) break
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  release()
  return replies
}

function held(): { downstream: () => Promise<void>; release: () => void } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  return { downstream: () => gate, release }
}

async function drained(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const stats = JSON.parse((await get(port, '/stats')).body) as {
      inFlight: number
      queued: number
    }
    if (stats.inFlight === 0 && stats.queued === 0) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error('the controller did not drain')
}

describe('examples/express-pino', () => {
  it('logs one line per shed request, with method, route and reason', async () => {
    const { lines, stream } = memory()
    const { downstream, release } = held()
    const server = createServer(pino(stream), downstream)
    const port = await listen(server)
    try {
      const replies = await burst(port, release)
      const shed = replies.filter((reply) => reply.status === 503)
      expect(shed).toHaveLength(16)
      expect(replies.filter((reply) => reply.status === 200)).toHaveLength(24)
      await drained(port)
      const logged = lines.filter((line) => line.msg === 'request shed')
      expect(logged).toHaveLength(shed.length)
      for (const line of logged) {
        expect(line).toMatchObject({ level: 40, method: 'GET', reason: 'queueFull', status: 503 })
        // The path, never its query.
        expect(line.route).toMatch(/^\/orders\/\d+$/)
      }
    } finally {
      await close(server)
    }
  })

  it('answers the same 503s when the logger throws', async () => {
    const logger = pino(memory().stream)
    logger.warn = () => {
      throw new Error('log sink down')
    }
    const { downstream, release } = held()
    const server = createServer(logger, downstream)
    const port = await listen(server)
    try {
      const replies = await burst(port, release)
      const shed = replies.filter((reply) => reply.status === 503)
      expect(shed).toHaveLength(16)
      for (const reply of shed)
        expect(JSON.parse(reply.body)).toMatchObject({ reason: 'queueFull' })
      await drained(port)
    } finally {
      await close(server)
    }
  })
})
