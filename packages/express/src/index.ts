export { type ReadinessBody, type ReadinessHandler, readiness } from './readiness.js'
export { type ExpressRouteOptions, type ShedMiddleware, type ShedOptions, shed } from './shed.js'
