/**
 * One request's way through admission, shared by every Node adapter: skip,
 * classify through the user's functions, admit (synchronously when the
 * controller decides at once), then bind the permit to the response.
 * An adapter only turns the result into "call the next handler" or "answer
 * the rejection".
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type {
  AdmissionController,
  AdmissionRequest,
  AdmitOptions,
  Decision,
  Permit,
  Rejection,
} from '@spillway/core'
import { isThenable } from './answer-rejection.js'
import { type BindPermitOptions, bindPermit, heldBy } from './bind-permit.js'
import { abortSignalFor, type ClientSignal, clientGone } from './client-signal.js'
import { sendContinue } from './expect-continue.js'
import { afterNextPoll, turnIsLate } from './late-turn.js'
import { setRateLimitHeaders } from './rate-limit-headers.js'
import { holdIfEarly } from './retry-hold.js'
import { headerDeadline, type ResolvedRouteOptions } from './route-options.js'
import { warnOnce } from './warnings.js'

/**
 * What to do with a request: `proceed` to the handler (admitted, skipped, or
 * let through by a dry run), answer a `Rejection`, or nothing at all
 * (`gone`: the client left, or the response was ended elsewhere, while it waited).
 */
export type Passage = 'proceed' | 'gone' | Rejection

/** Admission for one route, built once by an adapter. */
export interface Gate<In> {
  readonly controller: AdmissionController
  /**
   * Runs admission for one request. Synchronous when the controller decides
   * at once; a promise when the request waits in the queue, or when it comes
   * in a late turn of the event loop (see `late-turn.ts`): then it is decided
   * a turn later, and only if its client is still there.
   */
  enter(input: In, req: IncomingMessage, res: ServerResponse): Passage | Promise<Passage>
}

const DRY_RUN: AdmitOptions = Object.freeze({ dryRun: true })

/** Calls a user function; a throw is reported and counts as "no answer" (the default applies). */
function attempt<In, T>(
  controller: AdmissionController,
  source: string,
  fn: (input: In) => T,
  input: In,
): T | undefined {
  try {
    return fn(input)
  } catch (error) {
    controller.reportError(source, error)
    return undefined
  }
}

/**
 * The route of a request for events and logs: the framework's route template
 * where it knows one, else the path without its query (a query may carry
 * secrets, and would make every request its own route).
 */
export type RouteOf<In> = (input: In, req: IncomingMessage) => string | undefined

/** The default `RouteOf`: the path of `req.url`, without its query. */
export function pathOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

const urlPath: RouteOf<unknown> = (_input, req) => pathOf(req.url)

/** Builds the admission step for one route; see `Passage` for its result. */
export function createGate<In, OnRejected>(
  controller: AdmissionController,
  route: ResolvedRouteOptions<In, OnRejected>,
  routeOf: RouteOf<In> = urlPath,
): Gate<In> {
  const admitOptions = route.dryRun ? DRY_RUN : undefined
  const bindOptions: BindPermitOptions = {
    isFailure: route.isFailure,
    onError: (source, error) => controller.reportError(source, error),
    owner: controller,
  }
  const { priority, key, deadline, deadlineHeader, skip, onShed, warnings } = route
  const { rateLimitHeaders, rateLimitQuota, holdEarlyRetries } = route

  // Observe-only: whatever it does, the rejection is answered as it would have been.
  const observe = (input: In, rejection: Rejection): void => {
    if (onShed === undefined) return
    try {
      const result: unknown = onShed(input, rejection)
      if (isThenable(result)) {
        result.then(undefined, (error: unknown) => controller.reportError('onShed', error))
      }
    } catch (error) {
      controller.reportError('onShed', error)
    }
  }

  const classify = (input: In, req: IncomingMessage, signal: ClientSignal): AdmissionRequest => {
    const request: AdmissionRequest = { signal, method: req.method }
    const path = routeOf(input, req)
    if (path !== undefined) request.route = path
    if (typeof priority === 'string') request.priority = priority
    else if (priority !== undefined) {
      const name = attempt(controller, 'priority', priority, input)
      if (typeof name === 'string') request.priority = name
    }
    if (key !== undefined) {
      const name = attempt(controller, 'key', key, input)
      if (typeof name === 'string') request.key = name
    }
    let deadlineMs: number | undefined
    if (deadline !== undefined) {
      const at = attempt(controller, 'deadline', deadline, input)
      // The documented rule: non-finite counts as none (-Infinity would reject every request).
      if (typeof at === 'number' && Number.isFinite(at)) deadlineMs = at
    }
    if (deadlineHeader !== undefined) {
      const at = headerDeadline(req, deadlineHeader, route.deadlineHeaderMaxMs, controller.now())
      if (at !== undefined && (deadlineMs === undefined || at < deadlineMs)) deadlineMs = at
    }
    if (deadlineMs !== undefined) request.deadline = deadlineMs
    return request
  }

  // Admitted from the queue in a late turn: the request may have waited unread, and
  // its client's FIN with it. Start the handler once Node has read the socket again.
  const present = (permit: Permit, req: IncomingMessage, res: ServerResponse): Promise<Passage> =>
    new Promise<void>(afterNextPoll).then(() => {
      if (clientGone(req, res)) {
        // Free the slot now rather than when the response closes (release is idempotent).
        permit.release('ignore')
        return 'gone'
      }
      // Answered elsewhere meanwhile: the binding releases it with that answer's outcome.
      if (res.writableEnded) return 'gone'
      sendContinue(req, res)
      return 'proceed'
    })

  // `read`: decided after a poll phase that read the request's socket again.
  const settle = (
    decision: Decision,
    signal: ClientSignal,
    input: In,
    req: IncomingMessage,
    res: ServerResponse,
    read: boolean,
  ): Passage | Promise<Passage> => {
    signal.dispose()
    if (decision.admitted) {
      // False when the client left, or someone answered, while it waited.
      if (!bindPermit(decision.permit, req, res, bindOptions)) return 'gone'
      if (!read && turnIsLate()) return present(decision.permit, req, res)
      sendContinue(req, res)
      return 'proceed'
    }
    const { rejection } = decision
    if (rejection.reason === 'aborted' && clientGone(req, res)) return 'gone'
    if (res.writableEnded) return 'gone'
    if (rateLimitHeaders !== false && rejection.reason === 'quota') {
      const quota =
        typeof rateLimitQuota === 'function'
          ? attempt(controller, 'rateLimitQuota', rateLimitQuota, input)
          : rateLimitQuota
      setRateLimitHeaders(res, rateLimitHeaders, rejection, quota)
    }
    observe(input, rejection)
    return rejection
  }

  // A promise here is an admission waiting out a late turn: never a rejection to hold.
  const answer = (
    passage: Passage | Promise<Passage>,
    req: IncomingMessage,
  ): Passage | Promise<Passage> =>
    holdEarlyRetries === undefined || typeof passage === 'string' || passage instanceof Promise
      ? passage
      : holdIfEarly(controller, holdEarlyRetries, req, passage)

  return {
    controller,
    enter(input, req, res) {
      // Already answered upstream: there is no work left to protect.
      if (res.writableEnded) return 'proceed'
      // An outer layer of this controller already holds a slot for this request:
      // a second one would deadlock at `limit: 1` and halve capacity elsewhere.
      if (heldBy(res, controller)) {
        if (warnings) {
          warnOnce(
            controller,
            'SPILLWAY_SAME_CONTROLLER_TWICE',
            'One controller guards this request twice (two shed layers on one path, e.g. ' +
              "app.use(shed(c)) and a route's shed(c, …)). The inner layer reuses the outer " +
              "layer's permit, so its priority, key and deadline do not apply. Silence with " +
              '`warnings: false` on the inner layer.',
          )
        }
        return 'proceed'
      }
      if (skip !== undefined && attempt(controller, 'skip', skip, input) === true) {
        sendContinue(req, res)
        return 'proceed'
      }
      // The loop was blocked or busy: the request may have waited unread, and its
      // client's FIN with it. Decide once Node has read the socket again (a client gone
      // by then is refused as `aborted`, and nothing is written); until then it takes no
      // slot, so late requests do not crowd out each other (a synchronous handler's
      // permit is back before the next late request is decided).
      if (turnIsLate()) {
        return new Promise<void>(afterNextPoll).then(() =>
          res.writableEnded ? 'gone' : decide(input, req, res, true),
        )
      }
      return decide(input, req, res, false)
    },
  }

  function decide(
    input: In,
    req: IncomingMessage,
    res: ServerResponse,
    read: boolean,
  ): Passage | Promise<Passage> {
    const signal = abortSignalFor(req, res)
    const decision = controller.admit(classify(input, req, signal), admitOptions)
    if (decision instanceof Promise) {
      return decision.then((settled) =>
        answer(settle(settled, signal, input, req, res, false), req),
      )
    }
    return answer(settle(decision, signal, input, req, res, read), req)
  }
}
