export { type ExpressRouteOptions, type ShedMiddleware, type ShedOptions, shed } from './shed.js'
