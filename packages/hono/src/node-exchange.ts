/**
 * The Node fast path: on `@hono/node-server`, `c.env` carries the Node
 * request and response (`incoming`, `outgoing`). Watching them costs one
 * listener, where the Web path costs a full `Request` (reading
 * `c.req.raw.signal` makes the server build one, with an `AbortController`)
 * and a wrapped body (which pushes the server off its fixed-body fast path).
 *
 * How it works: the response's `close` (emitted after `finish` too) tells both
 * endings apart by `writableFinished`, so the permit is released once the
 * whole body was handed over, streams included, or with `ignore` when the
 * client left first. A pipelined response with no socket yet never closes
 * when its client leaves; its request does (Node destroys every pending
 * request of a closed socket), so that one is watched too. Duck-typed: this
 * package imports nothing from `node:` and runs wherever Hono runs.
 */
import type { AbortSignalLike, Outcome, Permit } from '@spillway/core'

type Listener = () => void

interface Emitter {
  on(event: 'close', listener: Listener): unknown
  removeListener(event: 'close', listener: Listener): unknown
}

/** What is used of Node's `ServerResponse`. */
interface Outgoing extends Emitter {
  readonly writableFinished: boolean
  readonly destroyed: boolean
  readonly socket?: unknown
}

/** What is used of Node's `IncomingMessage`. */
interface Incoming extends Emitter {
  readonly socket?: { readonly destroyed?: boolean } | null
}

/** A Node request and response, as `@hono/node-server` hands them over. */
export interface NodeExchange {
  readonly incoming: Incoming
  readonly outgoing: Outgoing
}

function isEmitter(value: unknown): value is Emitter {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Emitter).on === 'function' &&
    typeof (value as Emitter).removeListener === 'function'
  )
}

/**
 * The Node request and response of `c.env`, or `undefined` anywhere else
 * (`app.fetch`, Bun, Deno, Workers). HTTP/2 compatibility responses (they
 * carry a `stream`) take the Web path: their `close` does not tell a cut
 * stream from a finished one the same way.
 */
export function nodeExchangeOf(env: unknown): NodeExchange | undefined {
  if (typeof env !== 'object' || env === null) return undefined
  const { incoming, outgoing } = env as { incoming?: unknown; outgoing?: unknown }
  if (!isEmitter(incoming) || !isEmitter(outgoing)) return undefined
  const out = outgoing as Partial<Outgoing> & { stream?: unknown }
  if (typeof out.writableFinished !== 'boolean' || out.stream !== undefined) return undefined
  return { incoming, outgoing: outgoing as Outgoing }
}

/** True when the client left before the response was handed over in full. */
function clientGone({ incoming, outgoing }: NodeExchange): boolean {
  if (outgoing.writableFinished) return false
  const socket = incoming.socket
  return outgoing.destroyed || socket == null || socket.destroyed === true
}

/**
 * Calls `listener` on the response's `close`, and on the request's too when
 * the response has no socket yet (pipelined); returns the function that stops.
 */
function onClose(exchange: NodeExchange, listener: Listener): Listener {
  const { incoming, outgoing } = exchange
  const pipelined = outgoing.socket == null
  outgoing.on('close', listener)
  if (pipelined) incoming.on('close', listener)
  return () => {
    outgoing.removeListener('close', listener)
    if (pipelined) incoming.removeListener('close', listener)
  }
}

/**
 * An abort signal for `AdmissionRequest.signal` that aborts when the client
 * leaves. It listens only once subscribed (the controller subscribes only when
 * the request waits in the queue), so an admission decided at once costs this
 * one small object.
 */
export class NodeClientSignal implements AbortSignalLike {
  readonly #exchange: NodeExchange
  #listeners: Listener[] | undefined
  #stop: Listener | undefined
  #aborted = false

  constructor(exchange: NodeExchange) {
    this.#exchange = exchange
  }

  get aborted(): boolean {
    if (!this.#aborted && clientGone(this.#exchange)) this.#aborted = true
    return this.#aborted
  }

  addEventListener(type: 'abort', listener: Listener): void {
    if (type !== 'abort' || this.#aborted) return
    if (this.#listeners === undefined) {
      this.#listeners = []
      this.#stop = onClose(this.#exchange, () => this.#closed())
    }
    // Abort happens once: every listener runs at most once, `{ once: true }` or not.
    if (!this.#listeners.includes(listener)) this.#listeners.push(listener)
  }

  removeEventListener(type: 'abort', listener: Listener): void {
    if (type !== 'abort' || this.#listeners === undefined) return
    const index = this.#listeners.indexOf(listener)
    if (index !== -1) this.#listeners.splice(index, 1)
    if (this.#listeners.length === 0) this.#dispose()
  }

  #dispose(): void {
    this.#listeners = undefined
    this.#stop?.()
    this.#stop = undefined
  }

  #closed(): void {
    // A request's `close` also follows a body read in full: not a departure.
    if (!clientGone(this.#exchange)) return
    const listeners = this.#listeners
    this.#aborted = true
    this.#dispose()
    if (listeners !== undefined) for (const listener of listeners) listener()
  }
}

/**
 * Releases `permit` once the response has been handed over in full
 * (`outcome`) or its client has left (`ignore`), whichever comes first;
 * at once if that has already happened.
 */
export function releaseOnClose(exchange: NodeExchange, permit: Permit, outcome: Outcome): void {
  if (exchange.outgoing.writableFinished) {
    permit.release(outcome)
    return
  }
  if (clientGone(exchange)) {
    permit.release('ignore')
    return
  }
  const stop = onClose(exchange, () => {
    const ended = exchange.outgoing.writableFinished
    if (!ended && !clientGone(exchange)) return
    stop()
    permit.release(ended ? outcome : 'ignore')
  })
}
