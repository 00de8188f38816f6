/**
 * The guard that admits: it runs before every guarded handler, resolves the
 * handler's options once (first request), and binds the permit to the
 * platform's underlying `ServerResponse`: a guard has no after-step, and an
 * interceptor's `finalize` fires before a streamed body has ended. The route
 * function around it holds the permit for the handler's work too
 * (`route-work.ts`); an admission decided after that function returned
 * (queued, or after a guard that awaited) holds the work it left on the response.
 * On the Express platform it sees Express's `req`/`res`; on Fastify's, a
 * `FastifyRequest`/`FastifyReply`, whose `.raw` it binds.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common'
import { Reflector } from '@nestjs/core'
import type { Rejection } from '@spillway/core'
import { writeRejection } from '@spillway/node'
import {
  createGate,
  type Gate,
  holdPermits,
  isThenable,
  type Passage,
  resolveRouteOptions,
} from '@spillway/node/adapter-kit'
import type { NestOnRejected, ResolvedModule } from './options.js'
import { ShedRejectedException } from './rejected-exception.js'
import { decidedNow, workOf } from './route-work.js'
import { SHED_METADATA, SPILLWAY_RESOLVED } from './tokens.js'

interface Route {
  readonly gate: Gate<unknown>
  readonly onRejected: NestOnRejected | undefined
}

type Platform = { raw?: unknown }

/** Admission for every HTTP handler not marked `@SkipShed()`. */
export class SpillwayGuard implements CanActivate {
  readonly #reflector: Reflector
  readonly #module: ResolvedModule
  // Keyed by handler function: resolved once, on its first request.
  readonly #routes = new WeakMap<object, Route | null>()

  constructor(reflector: Reflector, module: ResolvedModule) {
    this.#reflector = reflector
    this.#module = module
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true
    const route = this.#routeOf(context)
    if (route === null) return true
    // What `switchToHttp().getRequest()` returns, without the three closures it makes per call.
    const request = context.getArgByIndex<Platform>(0)
    const response = context.getArgByIndex<Platform>(1)
    const req = (request.raw ?? request) as IncomingMessage
    const res = (response.raw ?? response) as ServerResponse
    const passage = route.gate.enter(request, req, res)
    if (passage instanceof Promise) {
      return passage.then((settled) => this.#pass(route, settled, request, response, res))
    }
    decidedNow(res)
    return this.#pass(route, passage, request, response, res)
  }

  #routeOf(context: ExecutionContext): Route | null {
    const handler = context.getHandler()
    let route = this.#routes.get(handler)
    if (route === undefined) {
      const given = this.#reflector.getAllAndOverride<Record<string, unknown> | false | undefined>(
        SHED_METADATA,
        [handler, context.getClass()],
      )
      if (given === false) route = null
      else {
        const { controller, defaults } = this.#module
        const resolved = resolveRouteOptions<unknown, NestOnRejected>(
          given === undefined ? defaults : { ...defaults, ...given },
          controller,
        )
        route = { gate: createGate(controller, resolved), onRejected: resolved.onRejected }
      }
      this.#routes.set(handler, route)
    }
    return route
  }

  #pass(
    route: Route,
    passage: Passage,
    request: unknown,
    response: unknown,
    res: ServerResponse,
  ): boolean | Promise<boolean> {
    if (passage === 'proceed') {
      // Decided after the route function returned: it left its work here.
      const work = workOf(res)
      if (work !== undefined) holdPermits(res, work)
      return true
    }
    if (passage === 'gone') throw new ShedRejectedException(undefined)
    const answered = this.#answer(route.onRejected, request, response, res, passage)
    if (answered === undefined) {
      handOver(response, res)
      throw new ShedRejectedException(passage)
    }
    return answered.then(() => {
      handOver(response, res)
      throw new ShedRejectedException(passage)
    })
  }

  /** `onRejected`, or the default when there is none or it fails before answering. */
  #answer(
    onRejected: NestOnRejected | undefined,
    request: unknown,
    response: unknown,
    res: ServerResponse,
    rejection: Rejection,
  ): Promise<void> | undefined {
    const fallBack = (error: unknown): void => {
      this.#module.controller.reportError('onRejected', error)
      // Half an answer that is never ended would hold the client and its socket for good.
      if (!writeRejection(res, rejection) && res.headersSent && !res.writableEnded) res.destroy()
    }
    if (onRejected === undefined) {
      writeRejection(res, rejection)
      return undefined
    }
    try {
      const result: unknown = onRejected(request, response, rejection)
      if (isThenable(result)) return Promise.resolve(result).then(() => undefined, fallBack)
    } catch (error) {
      fallBack(error)
    }
    return undefined
  }
}

/**
 * Nest's exception filter answers unless the platform says the response was
 * sent; Fastify says so only once the raw response has ended. A half-written
 * answer that was destroyed has not: hijack the reply so Fastify never tries
 * to write headers a second time.
 */
function handOver(response: unknown, res: ServerResponse): void {
  const reply = response as { sent?: boolean; hijack?: () => void }
  if (res.headersSent && reply.sent === false && typeof reply.hijack === 'function') reply.hijack()
}

// Decorators applied as calls: this package builds without decorator support.
Injectable()(SpillwayGuard)
Inject(Reflector)(SpillwayGuard, undefined, 0)
Inject(SPILLWAY_RESOLVED)(SpillwayGuard, undefined, 1)
