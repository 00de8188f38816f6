/**
 * A server-level gate: admission runs in the server's own `request` listener,
 * in front of whatever the framework installed there (Express's app, Koa's
 * `app.callback()`, Fastify's router), so a shed request costs
 * classification, the decision and the `503`, and none of the framework's
 * own request processing (routing, context objects, hooks, body parsing).
 *
 * Opt-in per server, after the framework has attached its listener:
 *
 *     const server = app.listen(3000)      // or http.createServer(app.callback())
 *     installEarlyGate(server, { pressure: createPressureMonitor() }, { priority: (req) => ... })
 *
 * The hooks (`priority`, `key`, `deadline`, `skip`, `onRejected`) get the raw
 * `IncomingMessage`: classify from `req.url`, `req.method` and headers. An
 * admitted request reaches the framework with its permit already bound to the
 * response; do not shed the same requests again with the same controller in
 * the framework (each pass would take a slot).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AdmissionController } from '@spillway/core'
import { type NodeRouteOptions, type NodeShedOptions, shed } from './shed.js'

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/** An installed gate. */
export interface EarlyGate {
  readonly controller: AdmissionController
  /** Puts the server's own listeners back as they were. Idempotent. */
  uninstall(): void
}

/**
 * Moves the server's current `request` listeners behind one spillway gate.
 * With an options object it makes its own controller; with a controller it
 * shares it. Throws, like `shed()`, on invalid options.
 */
export function installEarlyGate(
  server: Server,
  options: NodeShedOptions | AdmissionController | undefined,
  routeOptions?: NodeRouteOptions,
): EarlyGate {
  const inner = server.listeners('request') as Listener[]
  const forward: Listener = (req, res) => {
    for (const listener of inner) listener.call(server, req, res)
  }
  const gate =
    routeOptions === undefined
      ? shed(options as NodeShedOptions, forward)
      : shed(options as AdmissionController, routeOptions, forward)
  server.removeAllListeners('request')
  server.on('request', gate)
  let installed = true
  return {
    controller: gate.controller,
    uninstall() {
      if (!installed) return
      installed = false
      server.removeListener('request', gate)
      for (const listener of inner) server.on('request', listener)
    },
  }
}
