/**
 * `@spillway/node/adapter-kit`: the pieces every Node framework adapter is
 * built from (one request's way through admission, the shared route options,
 * the client-gone signal, answering a rejection through a user hook). Not
 * part of the public API: semver binds only the root export, and these may
 * change in any release together with the adapters that use them.
 */
export { answerRejection, isThenable, type OnRejected } from './answer-rejection.js'
export { heldBy, holdPermits } from './bind-permit.js'
export { abortSignalFor, type ClientSignal, clientGone } from './client-signal.js'
export { sendContinue } from './expect-continue.js'
export { createGate, type Gate, type Passage, pathOf, type RouteOf } from './gate.js'
export { setRateLimitHeaders } from './rate-limit-headers.js'
export { checkReadinessController, readinessState } from './readiness.js'
export {
  headerDeadline,
  isAdmissionController,
  type ResolvedRouteOptions,
  ROUTE_OPTION_KEYS,
  type RouteOptions,
  resolveAdapterOptions,
  resolveRouteOptions,
} from './route-options.js'
export { noteOwnController, warnOnce } from './warnings.js'
