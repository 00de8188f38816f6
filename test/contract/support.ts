/** Synchronisation and a small HTTP client for the contract: no sleeps, every wait bounded. */
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import type { AdmissionController, ControllerEvent } from '@spillway/core'

export interface Latch {
  promise: Promise<void>
  open(): void
}

export function latch(): Latch {
  let open!: () => void
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

type EventOf<T extends ControllerEvent['type']> = Extract<ControllerEvent, { type: T }>

/** Resolves with the next event of `type` that matches; subscribe before causing it. */
export function nextEvent<T extends ControllerEvent['type']>(
  controller: AdmissionController,
  type: T,
  matches: (event: EventOf<T>) => boolean = () => true,
): Promise<EventOf<T>> {
  return new Promise((resolve) => {
    const off = controller.on((event) => {
      if (event.type === type && matches(event as EventOf<T>)) {
        off()
        resolve(event as EventOf<T>)
      }
    })
  })
}

/** Collects every `error` event the controller publishes. */
export function errorsOf(controller: AdmissionController): { source: string; error: unknown }[] {
  const seen: { source: string; error: unknown }[] = []
  controller.on((event) => {
    if (event.type === 'error') seen.push({ source: event.source, error: event.error })
  })
  return seen
}

/**
 * Waits, briefly and boundedly, for nothing to be in flight or queued: a
 * release happens on `finish`/`close`, a moment after the client has its answer.
 */
export async function expectDrained(controller: AdmissionController): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { inFlight, queued } = controller.stats()
    if (inFlight === 0 && queued === 0) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const { inFlight, queued } = controller.stats()
  expect({ inFlight, queued }).toEqual({ inFlight: 0, queued: 0 })
}

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

export function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

/** A raw connection that has sent one request, so the test can leave mid-request. */
export async function rawRequest(port: number, path: string): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.on('error', () => {})
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  return socket
}

/** How the contract talks to a server: HTTP/1.1 by default, HTTP/2 for the http2 target. */
export interface Client {
  get(port: number, path: string, headers?: Record<string, string>): Promise<Reply>
  /** Sends one request and resolves once it is sent; `destroy()` leaves mid-request. */
  rawRequest(port: number, path: string): Promise<{ destroy(): void }>
  /** GETs `path`, calling `onData` with the text so far after each chunk; resolves with it all. */
  stream(port: number, path: string, onData: (text: string) => void): Promise<string>
}

export const http1Client: Client = {
  get,
  rawRequest,
  stream: (port, path, onData) =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            text += chunk
            onData(text)
          })
          res.on('end', () => resolve(text))
        })
        .on('error', reject)
    }),
}

/** One HTTP/2 session per request (h2c, prior knowledge), closed once the stream ends. */
function h2Request(port: number, path: string, headers: Record<string, string> = {}) {
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on('error', () => {})
  const stream = session.request({ ':path': path, ...headers })
  stream.on('close', () => session.close())
  return stream
}

export const http2Client: Client = {
  get: (port, path, headers) =>
    new Promise((resolve, reject) => {
      const stream = h2Request(port, path, headers)
      let status = 0
      let responseHeaders: http.IncomingHttpHeaders = {}
      let body = ''
      stream.on('response', (head) => {
        status = Number(head[':status'])
        responseHeaders = head as http.IncomingHttpHeaders
      })
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        body += chunk
      })
      stream.on('end', () => resolve({ status, headers: responseHeaders, body }))
      stream.on('error', reject)
    }),
  rawRequest: async (port, path) => {
    const stream = h2Request(port, path)
    stream.on('error', () => {})
    await new Promise<void>((resolve) => stream.once('ready', () => resolve()))
    // RST_STREAM (CANCEL): the client gives up this request, the connection stays.
    return { destroy: () => stream.close(http2.constants.NGHTTP2_CANCEL) }
  },
  stream: (port, path, onData) =>
    new Promise((resolve, reject) => {
      const stream = h2Request(port, path)
      let text = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        text += chunk
        onData(text)
      })
      stream.on('end', () => resolve(text))
      stream.on('error', reject)
    }),
}
