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
  createPressureMonitor,
  type PressureMonitor,
  type PressureMonitorOptions,
} from '@spillway/node'
export { guard } from './guard.js'
export { type ReadinessBody, type ReadinessHandler, readiness } from './readiness.js'
export { type ExpressRouteOptions, type ShedMiddleware, type ShedOptions, shed } from './shed.js'
