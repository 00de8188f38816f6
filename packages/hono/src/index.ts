export { readiness } from './readiness.js'
export { PROBLEM_CONTENT_TYPE, rejectionResponse, retryAfterValue } from './rejection.js'
export type { HonoRouteOptions, OnRejected, ShedOptions } from './route-options.js'
export { type ShedMiddleware, shed } from './shed.js'
