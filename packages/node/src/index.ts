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
export {
  type BindPermitOptions,
  bindPermit,
  type IsFailure,
  isServerError,
  type ReportError,
} from './bind-permit.js'
export { type EarlyGate, installEarlyGate } from './early-gate.js'
export * from './pressure-monitor.js'
export type { RateLimitHeaders } from './rate-limit-headers.js'
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
