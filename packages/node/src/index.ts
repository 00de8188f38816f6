export {
  type BindPermitOptions,
  bindPermit,
  type IsFailure,
  isServerError,
  type ReportError,
} from './bind-permit.js'
export * from './pressure-monitor.js'
export {
  type ReadinessBody,
  type ReadinessHandler,
  readiness,
} from './readiness.js'
export {
  type NodeRouteOptions,
  type NodeShedOptions,
  type RequestHandler,
  type ShedListener,
  shed,
} from './shed.js'
export {
  PROBLEM_CONTENT_TYPE,
  problemBody,
  retryAfterValue,
  writeRejection,
} from './write-rejection.js'
