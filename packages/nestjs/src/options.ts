/**
 * Module options: the controller's options (or a shared `controller`) plus
 * the route options every guarded handler starts from.
 */
import type { AdmissionController, AdmissionControllerOptions, Rejection } from '@spillway/core'
import { describeValue, invalidOption, isPlainObject } from '@spillway/core/internal'
import {
  isAdmissionController,
  ROUTE_OPTION_KEYS,
  type RouteOptions,
  resolveAdapterOptions,
  resolveRouteOptions,
} from '@spillway/node/adapter-kit'

/**
 * A custom rejection: `request` and `response` are the platform's (Express
 * `req`/`res`, or Fastify's `FastifyRequest`/`FastifyReply`).
 */
// biome-ignore lint/suspicious/noExplicitAny: the platform decides the request and response types
export type NestOnRejected = (request: any, response: any, rejection: Rejection) => unknown

/** Route options for `@Shed()` and the module's defaults; hooks get the platform's request. */
// biome-ignore lint/suspicious/noExplicitAny: hooks get the platform's request (Express or Fastify)
export interface ShedRouteOptions extends RouteOptions<any> {
  /**
   * Answers a rejection instead of the default, through `response`; it may be
   * async. If it throws or rejects before answering, the default is sent and
   * the error reported as `onRejected`.
   * @default the problem+json response
   */
  onRejected?: NestOnRejected | undefined
}

/** Options of `SpillwayModule.forRoot`. */
export interface SpillwayModuleOptions extends AdmissionControllerOptions, ShedRouteOptions {
  /**
   * A controller to share; the controller's own options are then not allowed.
   * @default undefined (the module makes its own, and closes it on shutdown)
   */
  controller?: AdmissionController | undefined
  /**
   * Install the guard for every route (`APP_GUARD`). With `false`, add
   * `@UseGuards(SpillwayGuard)` where wanted.
   * @default true
   */
  globalGuard?: boolean | undefined
}

/** What the guard works from. */
export interface ResolvedModule {
  readonly controller: AdmissionController
  /** Route options as given, merged under each `@Shed()`'s. */
  readonly defaults: Readonly<Record<string, unknown>>
  /** True when the module made the controller, so closes it on shutdown. */
  readonly owned: boolean
}

/** Checks module options once, at startup, with the house messages. */
export function resolveModuleOptions(options: unknown): ResolvedModule {
  if (options !== undefined && !isPlainObject(options)) {
    throw invalidOption(
      'type',
      'options',
      `Expected \`options\` to be an object, got ${describeValue(options)}.`,
    )
  }
  const { controller: shared, globalGuard, ...rest } = options ?? {}
  if (globalGuard !== undefined && typeof globalGuard !== 'boolean') {
    throw invalidOption(
      'type',
      'globalGuard',
      `Expected \`globalGuard\` to be a boolean, got ${describeValue(globalGuard)}.`,
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
    resolveRouteOptions(rest, shared)
    return { controller: shared, defaults, owned: false }
  }
  return { controller: resolveAdapterOptions(rest, undefined).controller, defaults, owned: true }
}
