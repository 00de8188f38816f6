export { readiness } from './readiness.js'
export { type KoaRouteOptions, type ShedMiddleware, type ShedOptions, shed } from './shed.js'
