export { Shed, SkipShed } from './decorators.js'
export { SpillwayGuard } from './guard.js'
export { SpillwayInterceptor } from './interceptor.js'
export { SpillwayModule, type SpillwayModuleAsyncOptions } from './module.js'
export type {
  NestOnRejected,
  ShedRouteOptions,
  SpillwayModuleOptions,
} from './options.js'
export { ShedRejectedException } from './rejected-exception.js'
export { SHED_METADATA, SPILLWAY_CONTROLLER } from './tokens.js'
