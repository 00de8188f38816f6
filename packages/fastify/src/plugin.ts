/**
 * Fastify 5: one plugin. Admission runs in a route-level `onRequest` hook,
 * before the body is read; each route's options are resolved once, when the
 * route is declared (`onRoute`). The permit is bound to the raw response, so
 * it follows the response (streams, `reply.hijack()`, a client that leaves),
 * and to the handler's promise (`holdPermits`): whichever ends last releases it.
 */
import type { AdmissionController, AdmissionControllerOptions } from '@spillway/core'
import { describeValue, invalidOption, isPlainObject } from '@spillway/core/internal'
import {
  createGate,
  type Gate,
  holdPermits,
  isAdmissionController,
  isThenable,
  type Passage,
  ROUTE_OPTION_KEYS,
  type RouteOptions,
  resolveAdapterOptions,
  resolveRouteOptions,
} from '@spillway/node/adapter-kit'
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RouteOptions as FastifyRouteDefinition,
  HookHandlerDoneFunction,
} from 'fastify'
import { fastifyPlugin } from 'fastify-plugin'
import { readinessHandler } from './readiness.js'
import { answerRejection, type FastifyOnRejected } from './reply-rejection.js'

/** Per-route options: the shared ones (see `@spillway/node`) plus a Fastify `onRejected`. */
export interface SpillwayRouteOptions extends RouteOptions<FastifyRequest> {
  /**
   * Sends a custom rejection through `reply`, e.g. `reply.code(rejection.status).send(...)`;
   * it may be async. If it throws (or rejects) before sending, the default is
   * sent and the error reported as `onRejected`. The handler never runs.
   * @default sends the problem+json response
   */
  onRejected?: FastifyOnRejected | undefined
}

/** Plugin options: the controller's options (or a shared `controller`) plus route defaults. */
export interface SpillwayOptions extends AdmissionControllerOptions, SpillwayRouteOptions {
  /**
   * A controller to share (with other apps or adapters); the controller's
   * own options are then not allowed here.
   * @default undefined (the plugin makes its own from these options)
   */
  controller?: AdmissionController | undefined
  /**
   * Path of a `GET` readiness route: `200 {"status":"ok",...}` while the
   * controller is open, `503 {"status":"draining",...}` once it is closed.
   * Never shed, never counted.
   * @default undefined (no route)
   */
  readinessRoute?: string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The admission controller of `@spillway/fastify`: `stats()`, `on()`, `close()`. */
    spillway: AdmissionController
  }
  interface FastifyContextConfig {
    /** Route options merged over the plugin's, or `false`: never shed, never counted. */
    spillway?: SpillwayRouteOptions | false | undefined
  }
}

const OWN_KEYS = ['controller', 'readinessRoute']

function splitOptions(options: unknown): {
  controller: AdmissionController
  defaults: Record<string, unknown>
  readinessRoute: string | undefined
} {
  if (options !== undefined && !isPlainObject(options)) {
    throw invalidOption(
      'type',
      'options',
      `Expected \`options\` to be an object, got ${describeValue(options)}.`,
    )
  }
  const { controller: shared, readinessRoute, ...rest } = options ?? {}
  if (
    readinessRoute !== undefined &&
    (typeof readinessRoute !== 'string' || !readinessRoute.startsWith('/'))
  ) {
    throw invalidOption(
      typeof readinessRoute === 'string' ? 'range' : 'type',
      'readinessRoute',
      `Expected \`readinessRoute\` to be a path starting with "/", got ${describeValue(readinessRoute)}.`,
    )
  }
  const defaults = Object.fromEntries(
    Object.entries(rest).filter(([name]) => ROUTE_OPTION_KEYS.includes(name)),
  )
  if (shared !== undefined) {
    if (!isAdmissionController(shared)) {
      throw invalidOption(
        'type',
        'controller',
        `Expected \`controller\` to be an admission controller, got ${describeValue(shared)}.`,
      )
    }
    resolveRouteOptions(rest, shared, [...ROUTE_OPTION_KEYS, ...OWN_KEYS])
    return { controller: shared, defaults, readinessRoute }
  }
  const { controller } = resolveAdapterOptions(rest, undefined)
  return { controller, defaults, readinessRoute }
}

function routeOptionsOf(config: unknown, defaults: Record<string, unknown>) {
  if (config === undefined) return defaults
  if (!isPlainObject(config)) {
    throw invalidOption(
      'type',
      'config.spillway',
      `Expected \`config.spillway\` to be an object or \`false\`, got ${describeValue(config)}.`,
    )
  }
  return { ...defaults, ...config }
}

function spillwayPlugin(
  app: FastifyInstance,
  options: SpillwayOptions,
  done: (error?: Error) => void,
): void {
  let split: ReturnType<typeof splitOptions>
  try {
    split = splitOptions(options)
  } catch (error) {
    // Thrown, it would be lost and Fastify would only report a plugin timeout.
    done(error as Error)
    return
  }
  const { controller, defaults, readinessRoute } = split
  app.decorate('spillway', controller)

  const hookFor = (gate: Gate<FastifyRequest>, onRejected: FastifyOnRejected | undefined) => {
    const pass = (
      passage: Passage,
      request: FastifyRequest,
      reply: FastifyReply,
      done: HookHandlerDoneFunction,
    ): void => {
      if (passage === 'proceed') done()
      // The client left (or someone answered) while it waited: nothing runs, and
      // a hijacked reply stops Fastify's lifecycle without writing anything.
      else if (passage === 'gone') reply.hijack()
      else answerRejection(controller, onRejected, request, reply, passage)
    }
    return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      const passage = gate.enter(request, request.raw, reply.raw)
      if (passage instanceof Promise) {
        passage.then((settled) => pass(settled, request, reply, done), done)
      } else pass(passage, request, reply, done)
    }
  }

  const defaultRoute = resolveRouteOptions<FastifyRequest, FastifyOnRejected>(defaults, controller)
  const defaultHook = hookFor(createGate(controller, defaultRoute), defaultRoute.onRejected)

  app.addHook('onRoute', (route: FastifyRouteDefinition) => {
    const config = route.config?.spillway
    if (config === false) return
    let hook = defaultHook
    if (config !== undefined) {
      const resolved = resolveRouteOptions<FastifyRequest, FastifyOnRejected>(
        routeOptionsOf(config, defaults),
        controller,
      )
      hook = hookFor(createGate(controller, resolved), resolved.onRejected)
    }
    const existing = route.onRequest
    route.onRequest =
      existing === undefined ? [hook] : [hook, ...(Array.isArray(existing) ? existing : [existing])]
    const handler = route.handler
    route.handler = function held(this: FastifyInstance, request, reply) {
      const result: unknown = handler.call(this, request, reply)
      // Settled work frees the slot at the response's end; pending work holds it.
      if (isThenable(result)) holdPermits(reply.raw, result)
      return result
    } as typeof handler
  })

  if (readinessRoute !== undefined) {
    app.get(readinessRoute, { config: { spillway: false } }, readinessHandler(controller))
  }
  done()
}

/**
 * The plugin: `app.register(spillway, { limit: 64 })` makes its own
 * controller; `{ controller }` shares one. Every route declared after it is
 * guarded unless its `config.spillway` is `false`.
 */
export const spillway = fastifyPlugin(spillwayPlugin, {
  fastify: '5.x',
  name: '@spillway/fastify',
})
