export { guard } from './guard.js'
export { type ExpressRouteOptions, type ShedMiddleware, type ShedOptions, shed } from './shed.js'
