/**
 * Express readiness probe: a handler, `app.get('/ready', readiness(controller))`,
 * mounted before `shed()`. The node:http handler serves Express as it is.
 */
export { type ReadinessBody, type ReadinessHandler, readiness } from '@spillway/node'
