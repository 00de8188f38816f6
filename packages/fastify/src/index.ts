export {
  type SpillwayOptions,
  type SpillwayRouteOptions,
  spillway,
  spillway as default,
} from './plugin.js'
export type { FastifyOnRejected } from './reply-rejection.js'
