/** Real servers on 127.0.0.1 whose requests a test takes one at a time. */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import net from 'node:net'
import type { Outcome, Permit } from '@spillway/core'

export interface Exchange {
  req: IncomingMessage
  res: ServerResponse
}

export interface TestServer {
  port: number
  /** The next request the server receives, in arrival order. */
  nextExchange(): Promise<Exchange>
  close(): Promise<void>
}

export async function startServer(): Promise<TestServer> {
  const arrived: Exchange[] = []
  const waiting: ((exchange: Exchange) => void)[] = []
  const server = http.createServer((req, res) => {
    const take = waiting.shift()
    if (take) take({ req, res })
    else arrived.push({ req, res })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    port,
    nextExchange: () => {
      const ready = arrived.shift()
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve))
    },
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** A raw client connection, so a test can leave mid-request. */
export async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => {})
  return socket
}

/** Everything the server sends until it closes the connection or `until` matches. */
export function received(socket: net.Socket, until?: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      text += chunk
      if (until?.test(text)) resolve(text)
    })
    socket.once('close', () => resolve(text))
  })
}

export function once(emitter: NodeJS.EventEmitter, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()))
}

/** A permit that records every call, so a double release shows (the real one hides it). */
export class CountingPermit implements Permit {
  readonly priority = 'normal'
  readonly outcomes: (Outcome | undefined)[] = []
  get released(): boolean {
    return this.outcomes.length > 0
  }
  release(outcome?: Outcome): void {
    this.outcomes.push(outcome)
  }
  /** Resolves once the permit has been released at least once. */
  whenReleased(): Promise<void> {
    return new Promise((resolve, reject) => {
      let turns = 0
      const poll = (): void => {
        if (this.released) resolve()
        else if (++turns > 100_000) reject(new Error('the permit was never released'))
        else setImmediate(poll)
      }
      poll()
    })
  }
}

/** Listener counts of the events the glue subscribes to, to prove none is left behind. */
export function listenerCounts({ req, res }: Exchange): Record<string, number> {
  return {
    'req.close': req.listenerCount('close'),
    'res.close': res.listenerCount('close'),
    'res.finish': res.listenerCount('finish'),
  }
}
