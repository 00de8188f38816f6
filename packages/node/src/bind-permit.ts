/**
 * Binding a permit to a response, and to the handler's work.
 *
 * How it works: a permit bound to a response is released when the response
 * has ended (finished, or its client left) **and** every piece of work the
 * adapter declared with `holdPermits` has settled. An answer written
 * elsewhere (a timeout middleware's 504) therefore does not free the slot
 * while the handler still runs. Bindings hang off the response under a
 * symbol, one small object per permit, so a second layer of the same
 * controller finds the permit its request already holds (`heldBy`). Not in a
 * WeakMap: V8's minor GC then keeps every response (and its request and
 * socket) alive until a full GC: five times the garbage collector's
 * instructions per request (callgrind: 3,900 → 19,500).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import type { Outcome, Permit } from '@spillway/core'
import { failOption } from '@spillway/core/internal'
import { clientGone, onSocketClose, responseFinished } from './client-signal.js'

/** How a response ended, from its status: a server error is a drop signal for adaptive limits. */
export type IsFailure = (res: ServerResponse) => boolean

/** Receives an error thrown by a user hook, e.g. `controller.reportError`. */
export type ReportError = (source: string, error: unknown) => void

export interface BindPermitOptions {
  /**
   * Decides whether a finished response counts as a `failure`.
   * @default (res) => res.statusCode >= 500
   */
  isFailure?: IsFailure | undefined
  /**
   * Called when `isFailure` throws; the default rule decides instead.
   * @default undefined (the error is dropped)
   */
  onError?: ReportError | undefined
  /**
   * Marks the response as holding a permit of `owner` (a controller), so a
   * second layer of the same controller reuses it (`heldBy`) instead of
   * taking a second slot.
   * @default undefined (no mark)
   */
  owner?: object | undefined
}

/** The default `isFailure`: any 5xx. */
export const isServerError: IsFailure = (res) => res.statusCode >= 500

function outcomeOf(res: ServerResponse, options: BindPermitOptions | undefined): Outcome {
  const isFailure = options?.isFailure
  if (isFailure !== undefined) {
    try {
      return isFailure(res) ? 'failure' : 'success'
    } catch (error) {
      options?.onError?.('isFailure', error)
    }
  }
  return isServerError(res) ? 'failure' : 'success'
}

const BINDINGS = Symbol('spillway.bindings')

/** One permit bound to one response; a response may carry one per controller. */
class Binding {
  /** Declared work not yet settled. */
  pending = 0
  /** Set once the response has ended; the permit goes when `pending` is 0 too. */
  outcome: Outcome | undefined = undefined
  /** A piped source failed and its response was cut for it: the outcome is a failure. */
  failed = false
  /** Stops watching the socket of a pipelined response (see `bindPermit`). */
  unwatch: (() => void) | undefined = undefined

  constructor(
    readonly permit: Permit,
    readonly req: IncomingMessage,
    readonly options: BindPermitOptions | undefined,
    readonly owner: object | undefined,
    readonly next: Binding | undefined,
  ) {}

  /** The response (or a pipelined one's socket) closed: it has ended unless it is still open. */
  closed(res: ServerResponse): void {
    if (this.outcome !== undefined) return
    const outcome = responseFinished(res)
      ? outcomeOf(res, this.options)
      : this.failed
        ? 'failure'
        : clientGone(this.req, res)
          ? 'ignore'
          : undefined
    if (outcome === undefined) return
    this.unwatch?.()
    this.unwatch = undefined
    this.ended(outcome)
  }

  ended(outcome: Outcome): void {
    this.outcome = outcome
    if (this.pending === 0) this.permit.release(outcome)
  }

  settled(): void {
    this.pending--
    if (this.pending === 0 && this.outcome !== undefined) this.permit.release(this.outcome)
  }
}

interface Marked {
  [BINDINGS]?: Binding | undefined
}

function bindingsOf(res: ServerResponse): Binding | undefined {
  return (res as ServerResponse & Marked)[BINDINGS]
}

// The listeners are the same two functions on every response (`this` is the
// response, its bindings hang off it): no closure per request, and one pair
// per response however many controllers bind to it. They stay on the response
// after it has closed: it emits nothing more, and they go with it (removing
// them cost more than a tenth of what spillway adds per request).

/**
 * A response emits `close` once, after `finish` too (Node ≥ 14), so `close`
 * alone tells both endings apart by `writableFinished`.
 */
function onResponseClose(this: ServerResponse): void {
  for (let binding = bindingsOf(this); binding !== undefined; binding = binding.next) {
    binding.closed(this)
  }
}

/**
 * `source.pipe(res)` unpipes on a source error and leaves `res` open for
 * good, and its permits with it, until the client gives up (Koa 2's flaw,
 * and every node:http or Express handler that pipes without a handler).
 */
function onResponsePipe(this: ServerResponse, source: Readable): void {
  source.once('error', (error: unknown) => {
    // The app's own handler (`source.on('error', next)`) answers in this same
    // emit; only a response still open a turn later is ours to end.
    setImmediate(failBody, this, error)
  })
}

function failBody(res: ServerResponse, error: unknown): void {
  if (res.writableEnded || res.destroyed) return
  for (let binding = bindingsOf(res); binding !== undefined; binding = binding.next) {
    binding.failed = true
    binding.options?.onError?.('body', error)
  }
  if (res.headersSent) {
    res.destroy()
  } else {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 21 })
    res.end('Internal Server Error')
  }
}

function isPermit(value: unknown): value is Permit {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { release?: unknown }).release === 'function'
  )
}

/**
 * Releases `permit` exactly once when the response ends and the work
 * declared with `holdPermits` has settled: with the outcome from `isFailure`
 * once it has finished, or with `ignore` when the client went away first
 * (`close` before `finish`). It listens to the response's `close` and `pipe`
 * (and, for a pipelined response with no socket yet, to its socket's `close`,
 * removed once it has ended).
 *
 * Returns `true` when the permit is now bound to a response in progress, and
 * `false` when it was released at once because the response had already
 * finished or its client had already gone (listeners attached now would never
 * fire, so checking first is what keeps such a permit from leaking).
 */
export function bindPermit(
  permit: Permit,
  req: IncomingMessage,
  res: ServerResponse,
  options?: BindPermitOptions,
): boolean {
  if (!isPermit(permit))
    failOption('type', 'permit', 'a permit (an object with `release()`)', permit)
  if (responseFinished(res)) {
    permit.release(outcomeOf(res, options))
    return false
  }
  if (clientGone(req, res)) {
    permit.release('ignore')
    return false
  }
  const marked = res as ServerResponse & Marked
  const next = marked[BINDINGS]
  const binding = new Binding(permit, req, options, options?.owner, next)
  marked[BINDINGS] = binding
  // The first binding listens for every binding of this response (a later one
  // finds it open, so its listeners are still there).
  if (next === undefined) {
    res.on('close', onResponseClose)
    res.on('pipe', onResponsePipe)
  }
  // A pipelined request whose response has no socket yet never sees `res`
  // close when the client leaves, and its `req` may have closed already (a
  // body parser read it): only its socket tells, so only then watch that too.
  if (res.socket == null) binding.unwatch = onSocketClose(req.socket, () => binding.closed(res))
  return true
}

/**
 * Keeps every permit bound to `res` until `work` settles (fulfilled or
 * rejected), even when the response has ended before: the slot bounds the
 * handler's work, not only its answer. Does nothing for a response that holds
 * no permit (skipped, or admitted before `bindPermit`).
 */
export function holdPermits(res: ServerResponse, work: PromiseLike<unknown>): void {
  const head = (res as ServerResponse & Marked)[BINDINGS]
  if (head === undefined) return
  let held: Binding[] | Binding | undefined
  for (let binding: Binding | undefined = head; binding !== undefined; binding = binding.next) {
    if (binding.permit.released) continue
    binding.pending++
    if (held === undefined) held = binding
    else if (Array.isArray(held)) held.push(binding)
    else held = [held, binding]
  }
  if (held === undefined) return
  const holding = held
  let done = false
  const settled = (): void => {
    // A hand-made thenable may call back twice, or both callbacks.
    if (done) return
    done = true
    if (Array.isArray(holding)) for (const binding of holding) binding.settled()
    else holding.settled()
  }
  try {
    work.then(settled, settled)
  } catch {
    // A `then` that throws will never call back: the work is as settled as it gets.
    settled()
  }
}

/** True when `res` already carries a permit bound for `owner` (a controller). */
export function heldBy(res: ServerResponse, owner: object): boolean {
  for (
    let binding = (res as ServerResponse & Marked)[BINDINGS];
    binding !== undefined;
    binding = binding.next
  ) {
    if (binding.owner === owner) return true
  }
  return false
}
