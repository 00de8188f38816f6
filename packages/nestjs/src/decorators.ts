/** `@Shed()` and `@SkipShed()`: per-handler (or per-controller class) options, read through `Reflector`. */
import { type CustomDecorator, SetMetadata } from '@nestjs/common'
import { resolveObject } from '@spillway/core/internal'
import { ROUTE_OPTION_KEYS } from '@spillway/node/adapter-kit'
import type { ShedRouteOptions } from './options.js'
import { SHED_METADATA } from './tokens.js'

const NONE = Object.freeze(Object.fromEntries(ROUTE_OPTION_KEYS.map((k) => [k, undefined])))

/**
 * Route options for a handler or a whole controller class, merged over the
 * module's (a handler's win over its class's). Unknown keys fail here, when
 * the class is defined; values are checked against the controller at startup.
 */
export function Shed(options: ShedRouteOptions = {}): CustomDecorator<string> {
  resolveObject(options, '', NONE)
  return SetMetadata(SHED_METADATA, options)
}

/** Never shed, never counted: health checks, metrics. */
export function SkipShed(): CustomDecorator<string> {
  return SetMetadata(SHED_METADATA, false)
}
