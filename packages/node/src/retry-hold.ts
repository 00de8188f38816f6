/**
 * Holding the answer to a client that retries before its `Retry-After`.
 *
 * Why: a client that retries a `503` at once, on the same keep-alive
 * connection, turns every rejection into another request. Under CPU-bound
 * overload each rejection costs real CPU (an Express `503` costs about as much
 * as routing a request), so shedding into such a storm burns the capacity it
 * meant to save: goodput falls below not shedding at all. A client on a
 * keep-alive connection sends its next request only after the last answer, so
 * answering no sooner than the `Retry-After` it was already given bounds the
 * rejections a connection can cost to one per `Retry-After`, and the
 * connections waiting out their hold stop competing for the loop.
 *
 * How it works:
 * - Each held kind of rejection answered on a connection records when the connection may
 *   come back (`Retry-After` from now), keyed by its socket.
 * - A request on that connection before then that is rejected again (for
 *   any reason but `closed`, or with `reasons: 'pressure'` only for
 *   `overloaded` or `sampled`) is answered when that time comes, at most
 *   `maxMs` later. A request that is
 *   admitted is served at once: the hold never costs goodput.
 * - Not held: a connection carrying `Forwarded`, `X-Forwarded-For` or `Via`
 *   (a proxy multiplexes many callers on one connection), HTTP/2 (streams
 *   share a session), and any request beyond `maxHeld` held at once by one
 *   controller (answered at once).
 * - A held client that leaves is dropped with its timer; nothing is written.
 */
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { AdmissionController, Rejection } from '@spillway/core'
import { onSocketClose } from './client-signal.js'

/** `holdEarlyRetries` after resolution. */
export interface RetryHoldOptions {
  /**
   * Which rejections are held: `'pressure'` those of process pressure
   * (`overloaded`, `sampled`: the server is short of CPU, so each rejection
   * costs capacity), `'all'` every one but `closed`.
   */
  readonly reasons: 'pressure' | 'all'
  /** Longest hold of one answer, in ms. */
  readonly maxMs: number
  /** Answers one controller holds at once; beyond, answered at once. */
  readonly maxHeld: number
}

// When each connection may come back: the end of the last `Retry-After` it was given.
const comeBackAt = new WeakMap<Socket, number>()
// Answers held per controller, so the cap holds however many routes share it.
const heldCounts = new WeakMap<AdmissionController, { count: number }>()

const PRESSURE_REASONS: ReadonlySet<string> = new Set(['overloaded', 'sampled'])

const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'via'] as const

function viaProxy(req: IncomingMessage): boolean {
  const { headers } = req
  for (const name of PROXY_HEADERS) if (headers[name] !== undefined) return true
  return false
}

/**
 * Returns the rejection to answer now, or a promise of it (or of `'gone'`
 * when the client leaves during the hold) for a connection that came back
 * before its `Retry-After`.
 */
export function holdIfEarly(
  controller: AdmissionController,
  options: RetryHoldOptions,
  req: IncomingMessage,
  rejection: Rejection,
): Rejection | Promise<Rejection | 'gone'> {
  const socket = req.socket as Socket | null
  // Shutting down: the answer says "go elsewhere", and holding it would delay the close.
  if (
    socket == null ||
    socket.destroyed ||
    req.httpVersionMajor >= 2 ||
    rejection.reason === 'closed' ||
    (options.reasons === 'pressure' && !PRESSURE_REASONS.has(rejection.reason))
  )
    return rejection
  const now = controller.now()
  const retryAfterMs = rejection.retryAfterSeconds * 1000
  const due = comeBackAt.get(socket)
  if (due === undefined || due <= now || viaProxy(req)) {
    comeBackAt.set(socket, now + retryAfterMs)
    return rejection
  }
  let held = heldCounts.get(controller)
  if (held === undefined) {
    held = { count: 0 }
    heldCounts.set(controller, held)
  }
  if (held.count >= options.maxHeld) {
    comeBackAt.set(socket, now + retryAfterMs)
    return rejection
  }
  const counter = held
  counter.count++
  const waitMs = Math.min(due - now, options.maxMs)
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      stopWatching()
      counter.count--
    }
    // The socket, not `res`: a pipelined response without its socket yet never emits `close`.
    const stopWatching = onSocketClose(socket, () => {
      done()
      resolve('gone')
    })
    const timer = setTimeout(() => {
      done()
      comeBackAt.set(socket, controller.now() + retryAfterMs)
      resolve(rejection)
    }, waitMs)
    // A held answer must not keep a process alive that is otherwise done.
    timer.unref()
  })
}
