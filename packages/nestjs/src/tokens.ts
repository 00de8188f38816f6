/** Injection tokens and the metadata key of `@Shed()` / `@SkipShed()`. */

/** Injects the module's `AdmissionController`: `@Inject(SPILLWAY_CONTROLLER)`. */
export const SPILLWAY_CONTROLLER = Symbol('spillway.controller')
/** The options given to `forRoot` (or made by `forRootAsync`'s factory). */
export const SPILLWAY_OPTIONS = Symbol('spillway.options')
/** The resolved module: controller, route defaults, whether it owns the controller. */
export const SPILLWAY_RESOLVED = Symbol('spillway.resolved')
/** Metadata key read through `Reflector`: route options, or `false` for `@SkipShed()`. */
export const SHED_METADATA = 'spillway:shed'
