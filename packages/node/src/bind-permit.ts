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

  constructor(
    readonly permit: Permit,
    readonly owner: object | undefined,
    readonly next: Binding | undefined,
  ) {}

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
 * (`close` before `finish`). Every listener is removed when the response ends.
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
  const binding = new Binding(permit, options?.owner, marked[BINDINGS])
  marked[BINDINGS] = binding
  // One listener in the common case: on Node ≥ 14 a response emits `close` after
  // `finish` too, so `close` alone tells both endings apart by `writableFinished`.
  // A pipelined request whose response has no socket yet never sees `res`
  // close when the client leaves, and its `req` may have closed already (a
  // body parser read it): only its socket tells, so only then watch that too.
  let unwatch: (() => void) | undefined
  let failed = false
  const settle = (): void => {
    const outcome = responseFinished(res)
      ? outcomeOf(res, options)
      : failed
        ? 'failure'
        : clientGone(req, res)
          ? 'ignore'
          : undefined
    if (outcome === undefined) return
    res.removeListener('close', settle)
    res.removeListener('pipe', onPipe)
    unwatch?.()
    binding.ended(outcome)
  }
  // `source.pipe(res)` unpipes on a source error and leaves `res` open for
  // good, and the permit with it, until the client gives up (Koa 2's flaw,
  // and every node:http or Express handler that pipes without a handler).
  const onPipe = (source: Readable): void => {
    source.once('error', (error: unknown) => {
      // The app's own handler (`source.on('error', next)`) answers in this same
      // emit; only a response still open a turn later is ours to end.
      setImmediate(() => {
        if (res.writableEnded || res.destroyed) return
        failed = true
        options?.onError?.('body', error)
        if (res.headersSent) {
          res.destroy()
        } else {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 21 })
          res.end('Internal Server Error')
        }
      })
    })
  }
  res.on('close', settle)
  res.on('pipe', onPipe)
  if (res.socket == null) unwatch = onSocketClose(req.socket, settle)
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
