/** Synchronisation and a small HTTP client for the contract: no sleeps, every wait bounded. */
import http from 'node:http'
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
