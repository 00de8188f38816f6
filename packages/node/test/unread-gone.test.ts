/**
 * A client that leaves while the server's event loop is blocked (a long
 * synchronous task, a GC pause, SIGSTOP) leaves its request and its FIN
 * unread in the kernel. When the loop runs again, Node parses the request and
 * emits `request` in one turn, and reads the FIN only in the next: in the turn
 * the request is parsed (or a queued one is admitted, before the poll phase),
 * its socket still looks live. These tests block the loop synchronously while
 * a client in a worker thread sends and leaves, then let it run.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Worker } from 'node:worker_threads'
import type { AdmissionController } from '@spillway/core'
import { shed } from '@spillway/node'

/** The client side, in a worker so it runs while the test's own thread is blocked. */
const CLIENT = `
const { workerData, parentPort } = require('node:worker_threads')
const net = require('node:net')
const flag = new Int32Array(workerData.shared)
const sockets = workerData.paths.map((path) => {
  const socket = net.connect(workerData.port, '127.0.0.1')
  socket.on('error', () => {})
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk) => { text += chunk })
  socket.on('close', () => parentPort.postMessage({ path, text }))
  return socket
})
let connected = 0
for (const socket of sockets) socket.once('connect', () => {
  if (++connected === sockets.length) parentPort.postMessage('connected')
})
parentPort.on('message', ({ send, leave, fresh = [] }) => {
  const alone = leave.filter((i) => !send.includes(i))
  let left = send.length + alone.length + fresh.length
  const done = () => {
    if (--left > 0) return
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
  }
  for (const i of send) {
    sockets[i].write('GET ' + workerData.paths[i] + ' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n', () => {
      // Written to the kernel: leaving now puts the FIN right behind the request.
      if (leave.includes(i)) sockets[i].destroy()
      done()
    })
  }
  for (const i of alone) { sockets[i].destroy(); done() }
  // A new connection that sends and leaves: the server accepts it, then reads it a turn later.
  for (const path of fresh) {
    const socket = net.connect(workerData.port, '127.0.0.1', () => {
      socket.write('GET ' + path + ' HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n', () => { socket.destroy(); done() })
    })
    socket.on('error', () => {})
  }
  if (left === 0) done()
})
`

/** Requests to send on open connections (`send`), connections to leave (`leave`), new connections that send and leave (`fresh`, paths). */
interface Plan {
  send: number[]
  leave: number[]
  fresh?: string[]
}

interface Client {
  /** Carries out `plan` while this thread waits blocked. */
  actWhileBlocked(plan: Plan, blockMs: number): void
  /** Sends without blocking (the loop keeps running). */
  act(plan: Plan): void
  /** What each connection received, once it has closed. */
  answers: Map<string, string>
  stop(): Promise<void>
}

async function startClient(port: number, paths: string[]): Promise<Client> {
  const shared = new SharedArrayBuffer(4)
  const flag = new Int32Array(shared)
  const worker = new Worker(CLIENT, { eval: true, workerData: { port, paths, shared } })
  const answers = new Map<string, string>()
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (message: 'connected' | { path: string; text: string }) => {
      if (message === 'connected') resolve()
      else answers.set(message.path, message.text)
    })
    worker.once('error', reject)
  })
  return {
    actWhileBlocked(plan, blockMs) {
      Atomics.store(flag, 0, 0)
      const start = performance.now()
      worker.postMessage(plan)
      // Blocked until the worker has written and left...
      Atomics.wait(flag, 0, 0, 5000)
      // ...and a little longer, so the bytes and the FIN are in our kernel buffers.
      const rest = blockMs - (performance.now() - start)
      if (rest > 0) Atomics.wait(flag, 0, 1, rest)
    },
    act(plan) {
      Atomics.store(flag, 0, 0)
      worker.postMessage(plan)
    },
    answers,
    stop: async () => {
      await worker.terminate()
    },
  }
}

async function serve(listener: http.RequestListener) {
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function drained(controller: AdmissionController): Promise<void> {
  for (let i = 0; i < 200 && controller.stats().inFlight + controller.stats().queued > 0; i++) {
    await sleep(5)
  }
  expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await sleep(5)
  expect(check()).toBe(true)
}

describe('a client that left while the event loop was blocked', () => {
  it('does not get its handler run when a free slot admits it in the turn its request is parsed', async () => {
    const ran: string[] = []
    const listener = shed({ limit: 4, queue: { size: 4, timeoutMs: 5000 } }, (req, res) => {
      ran.push(req.url as string)
      res.end('done')
    })
    const server = await serve(listener)
    const client = await startClient(server.port, ['/gone', '/live', '/earlier'])
    try {
      // A server in use (an idle one reads each request as it comes).
      client.act({ send: [2], leave: [] })
      await until(() => ran.includes('/earlier'))
      // Longer than the heartbeat's idle cut-off (1 s): a stall is not idleness.
      client.actWhileBlocked({ send: [0, 1], leave: [0] }, 1200)
      // The client that stayed is answered; the one that left never runs.
      await until(() => ran.includes('/live'))
      await sleep(50)
      expect(ran).toEqual(['/earlier', '/live'])
      // Decided once its FIN was read: refused as `aborted`, not admitted.
      expect(listener.controller.stats().counters).toMatchObject({
        admitted: 2,
        rejected: { aborted: 1 },
      })
      await drained(listener.controller)
      expect(listener.controller.stats().inFlight).toBe(0)
    } finally {
      await client.stop()
      await server.close()
      listener.controller.close()
    }
  })

  it('does not get its handler run when it connected, sent and left while the loop was blocked', async () => {
    const ran: string[] = []
    const listener = shed({ limit: 4, queue: { size: 4, timeoutMs: 5000 } }, (req, res) => {
      ran.push(req.url as string)
      res.end('done')
    })
    const server = await serve(listener)
    const client = await startClient(server.port, ['/earlier', '/live'])
    try {
      client.act({ send: [0], leave: [] })
      await until(() => ran.includes('/earlier'))
      client.actWhileBlocked({ send: [1], leave: [], fresh: ['/gone-1', '/gone-2'] }, 200)
      await until(() => ran.includes('/live'))
      await sleep(100)
      expect(ran).toEqual(['/earlier', '/live'])
      await drained(listener.controller)
    } finally {
      await client.stop()
      await server.close()
      listener.controller.close()
    }
  })

  it('does not get its handler run when its queued request is admitted as the loop wakes, before the FIN is read', async () => {
    const ran: string[] = []
    // The first request holds the only slot for 20 ms: its timer is overdue when the
    // loop wakes, so the waiter is admitted in the timers phase, before any socket is read.
    const listener = shed({ limit: 1, queue: { size: 4, timeoutMs: 5000 } }, (req, res) => {
      ran.push(req.url as string)
      setTimeout(() => res.end('done'), 20)
    })
    const server = await serve(listener)
    const client = await startClient(server.port, ['/first', '/queued'])
    try {
      client.act({ send: [0], leave: [] })
      await until(() => ran.includes('/first'))
      client.act({ send: [1], leave: [] })
      await until(() => listener.controller.stats().queued === 1)
      client.actWhileBlocked({ send: [], leave: [1] }, 100)
      await until(() => client.answers.has('/queued'))
      await sleep(50)
      expect(ran).toEqual(['/first'])
      await drained(listener.controller)
    } finally {
      await client.stop()
      await server.close()
      listener.controller.close()
    }
  })

  it('decides late requests one at a time, so one slot serves them all with a synchronous handler', async () => {
    const ran: string[] = []
    // No queue: a late request that took its slot before running would refuse every other.
    const listener = shed({ limit: 1, queue: { size: 0 } }, (req, res) => {
      ran.push(req.url as string)
      res.end('done')
    })
    const server = await serve(listener)
    const late = ['/a', '/b', '/c', '/d']
    const client = await startClient(server.port, [...late, '/earlier'])
    try {
      client.act({ send: [late.length], leave: [] })
      await until(() => ran.includes('/earlier'))
      client.actWhileBlocked({ send: [0, 1, 2, 3], leave: [] }, 100)
      await until(() => late.every((p) => ran.includes(p)))
      expect(listener.controller.stats().counters.rejected.queueFull).toBe(0)
      await drained(listener.controller)
    } finally {
      await client.stop()
      await server.close()
      listener.controller.close()
    }
  })

  it('still serves every client that stayed, when many arrive while the loop was blocked', async () => {
    const ran: string[] = []
    const listener = shed({ limit: 8, queue: { size: 16, timeoutMs: 5000 } }, (req, res) => {
      ran.push(req.url as string)
      res.end('done')
    })
    const server = await serve(listener)
    const paths = Array.from({ length: 12 }, (_, i) => `/${i % 3 === 0 ? 'gone' : 'live'}-${i}`)
    const client = await startClient(server.port, [...paths, '/earlier'])
    try {
      client.act({ send: [paths.length], leave: [] })
      await until(() => ran.includes('/earlier'))
      ran.length = 0
      const send = paths.map((_, i) => i)
      const leave = send.filter((i) => i % 3 === 0)
      client.actWhileBlocked({ send, leave }, 100)
      const live = paths.filter((p) => p.includes('live'))
      await until(() => live.every((p) => ran.includes(p)))
      await sleep(50)
      expect([...ran].sort()).toEqual([...live].sort())
      await drained(listener.controller)
    } finally {
      await client.stop()
      await server.close()
      listener.controller.close()
    }
  })
})
