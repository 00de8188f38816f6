import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Outcome, Permit } from '@spillway/core'
import { clientGone, onSocketClose } from './client-signal.js'

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

/**
 * Releases `permit` exactly once when the response ends: with the outcome
 * from `isFailure` once it has finished, or with `ignore` when the client went
 * away first (`close` before `finish`). Every listener is removed on release.
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
  if (res.writableFinished) {
    permit.release(outcomeOf(res, options))
    return false
  }
  if (clientGone(req, res)) {
    permit.release('ignore')
    return false
  }
  // One listener in the common case: on Node ≥ 14 a response emits `close` after
  // `finish` too, so `close` alone tells both endings apart by `writableFinished`.
  // A pipelined request whose response has no socket yet never sees `res`
  // close when the client leaves, and its `req` may have closed already (a
  // body parser read it): only its socket tells, so only then watch that too.
  let unwatch: (() => void) | undefined
  const settle = (): void => {
    const outcome = res.writableFinished
      ? outcomeOf(res, options)
      : clientGone(req, res)
        ? 'ignore'
        : undefined
    if (outcome === undefined) return
    res.removeListener('close', settle)
    unwatch?.()
    permit.release(outcome)
  }
  res.on('close', settle)
  if (res.socket == null) unwatch = onSocketClose(req.socket, settle)
  return true
}
