export { answerRejection, isThenable, type OnRejected } from './answer-rejection.js'
export {
  type BindPermitOptions,
  bindPermit,
  type IsFailure,
  isServerError,
  type ReportError,
} from './bind-permit.js'
export { abortSignalFor, type ClientSignal, clientGone } from './client-signal.js'
export { type EarlyGate, installEarlyGate } from './early-gate.js'
export { createGate, type Gate, type Passage } from './gate.js'
export * from './pressure-monitor.js'
export {
  headerDeadline,
  isAdmissionController,
  type ResolvedRouteOptions,
  ROUTE_OPTION_KEYS,
  type RouteOptions,
  resolveAdapterOptions,
  resolveRouteOptions,
} from './route-options.js'
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
