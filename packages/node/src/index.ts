// The whole install line is the adapter: what a user's app needs from the core comes with it.
export {
  type AdmissionController,
  type AdmissionControllerOptions,
  type AdmissionRequest,
  type ControllerEvent,
  type ControllerListener,
  type ControllerStats,
  createAdmissionController,
  type Decision,
  type LimitOptions,
  type Outcome,
  type Permit,
  type PressureSource,
  type QueueOptions,
  type QueueOrder,
  RejectedError,
  type Rejection,
  type RejectionReason,
  type RetryAfterOptions,
} from '@spillway/core'
export { answerRejection, isThenable, type OnRejected } from './answer-rejection.js'
export {
  type BindPermitOptions,
  bindPermit,
  heldBy,
  holdPermits,
  type IsFailure,
  isServerError,
  type ReportError,
} from './bind-permit.js'
export { abortSignalFor, type ClientSignal, clientGone } from './client-signal.js'
export { type EarlyGate, installEarlyGate } from './early-gate.js'
export { sendContinue } from './expect-continue.js'
export { createGate, type Gate, type Passage } from './gate.js'
export * from './pressure-monitor.js'
export {
  checkReadinessController,
  type ReadinessBody,
  type ReadinessHandler,
  readiness,
  readinessState,
} from './readiness.js'
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
