/**
 * Telling that the client went away, and turning it into an abort signal.
 *
 * Why not `req.destroyed`: on Node ≥ 16 a request auto-destroys once its body
 * has been read, while the client is still waiting for the answer. The
 * response and the socket are what tell a departed client: `res` is destroyed
 * when its socket closes first, and a pipelined request whose response has no
 * socket yet only sees its socket destroyed (its `res` never emits `close`,
 * and its `req` may have closed long before, when a body parser read it).
 */
import { type IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { AbortSignalLike } from '@spillway/core'

/** An HTTP/2 compatibility response's stream; node:http responses have none. */
function streamOf(res: ServerResponse): { aborted?: boolean } | undefined {
  // Asking a node:http response for a property it lacks walks its whole
  // prototype chain, which Express swaps on every request (a slow lookup,
  // uncached): `instanceof` only compares prototypes.
  if (res instanceof ServerResponse) return undefined
  return (res as ServerResponse & { stream?: { aborted?: boolean } }).stream
}

/**
 * True when the response was handed over in full. An HTTP/2 compatibility
 * response reads `writableFinished` after the client's RST_STREAM too, so its
 * stream says whether it was cut (`aborted`).
 */
export function responseFinished(res: ServerResponse): boolean {
  return res.writableFinished && streamOf(res)?.aborted !== true
}

/** True when the client left before the response finished: nobody will read an answer. */
export function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  if (res.writableFinished) return streamOf(res)?.aborted === true
  return res.destroyed || req.socket == null || req.socket.destroyed
}

/**
 * An abort signal for one request that aborts when its client goes away, and
 * `dispose()` to drop its listeners once the request has been admitted or rejected.
 */
export interface ClientSignal extends AbortSignalLike {
  /** Removes every listener it placed on `res` and the socket. Idempotent. */
  dispose(): void
}

type Listener = () => void

interface SocketWatch {
  readonly listeners: Set<Listener>
  readonly onClose: Listener
}

// One `close` listener per socket however many pipelined requests wait on it
// (one each would trip MaxListenersExceededWarning past ten), removed with the last.
const watches = new WeakMap<Socket, SocketWatch>()

/**
 * Calls `listener` once when `socket` closes; returns the function that stops
 * watching. For a pipelined response with no socket yet, the only event that
 * tells its client left.
 */
export function onSocketClose(socket: Socket, listener: Listener): () => void {
  let watch = watches.get(socket)
  if (watch === undefined) {
    const listeners = new Set<Listener>()
    const onClose = (): void => {
      watches.delete(socket)
      for (const each of [...listeners]) each()
    }
    watch = { listeners, onClose }
    watches.set(socket, watch)
    socket.once('close', onClose)
  }
  const { listeners, onClose } = watch
  listeners.add(listener)
  return () => {
    if (!listeners.delete(listener) || listeners.size > 0) return
    if (watches.get(socket) === watch) watches.delete(socket)
    socket.removeListener('close', onClose)
  }
}

/**
 * Listens to `res` (and a pipelined one's socket) only while someone listens
 * to it: the controller subscribes only when it queues the request, so the
 * common case (admitted or rejected at once) costs one small object and no
 * listener. A real `AbortSignal` would cost an `AbortController` and an `EventTarget` per request.
 */
class LazyClientSignal implements ClientSignal {
  readonly #req: IncomingMessage
  readonly #res: ServerResponse
  #listeners: Listener[] | undefined
  // Made on first subscription only: most requests never wait, so never need it.
  #onClose: Listener | undefined
  #unwatch: (() => void) | undefined
  #aborted = false

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req
    this.#res = res
  }

  get aborted(): boolean {
    if (!this.#aborted && clientGone(this.#req, this.#res)) this.#aborted = true
    return this.#aborted
  }

  addEventListener(type: 'abort', listener: Listener): void {
    if (type !== 'abort' || this.#aborted) return
    if (this.#listeners === undefined) {
      this.#listeners = []
      this.#onClose ??= () => this.#closed()
      this.#res.on('close', this.#onClose)
      // A queued pipelined response has no socket yet (see `onSocketClose`).
      if (this.#res.socket == null) this.#unwatch = onSocketClose(this.#req.socket, this.#onClose)
    }
    // Every listener here runs at most once (abort happens once), so
    // `{ once: true }` needs no separate handling.
    if (!this.#listeners.includes(listener)) this.#listeners.push(listener)
  }

  removeEventListener(type: 'abort', listener: Listener): void {
    if (type !== 'abort' || this.#listeners === undefined) return
    const index = this.#listeners.indexOf(listener)
    if (index !== -1) this.#listeners.splice(index, 1)
    if (this.#listeners.length === 0) this.dispose()
  }

  dispose(): void {
    if (this.#listeners === undefined) return
    this.#listeners = undefined
    this.#res.removeListener('close', this.#onClose as Listener)
    this.#unwatch?.()
    this.#unwatch = undefined
  }

  #closed(): void {
    // Answered elsewhere while it waited (a timeout middleware): nobody awaits
    // this work either, and admitting it later would feed the limit a bogus sample.
    if (!responseFinished(this.#res) && !clientGone(this.#req, this.#res)) return
    const listeners = this.#listeners
    this.#aborted = true
    this.dispose()
    if (listeners !== undefined) for (const listener of listeners) listener()
  }
}

/**
 * A signal that aborts when the client of `req`/`res` goes away (its socket
 * closes before the response finished), or, once subscribed, when the
 * response is finished by someone else, for `AdmissionRequest.signal`: a
 * queued request then leaves the queue at once and its handler never runs.
 * Call `dispose()` once the decision is made.
 */
export function abortSignalFor(req: IncomingMessage, res: ServerResponse): ClientSignal {
  return new LazyClientSignal(req, res)
}
