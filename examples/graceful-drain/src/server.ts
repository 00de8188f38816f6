import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createApp } from './app.js'

// `PORT=0` picks a free port; the URL printed below is the one to use.
const port = Number(process.env.PORT ?? 3000)
/** How long in-flight requests may take to finish after SIGTERM before the process gives up. */
const GRACE_MS = Number(process.env.GRACE_MS ?? 10_000)
/**
 * How long to keep accepting connections (answering 503) after SIGTERM, so
 * load balancers see `/ready` fail and stop sending before the port closes.
 * In Kubernetes: at least readiness periodSeconds × failureThreshold.
 */
const UNREADY_MS = Number(process.env.UNREADY_MS ?? 0)

const { app, controller } = createApp()
const server = createServer(app)
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address() as AddressInfo
  console.log(`listening on http://127.0.0.1:${bound}`)
})

function drain(signal: string): void {
  console.log(`${signal}: draining (${controller.stats().inFlight} in flight)`)
  // Readiness turns 503 at once; queued and new requests get 503 `closed`;
  // permits already granted stay valid until their responses end.
  controller.close()
  // Whatever happens, the process ends within the grace period.
  setTimeout(() => {
    console.log(`grace period over with ${controller.stats().inFlight} in flight: exiting`)
    process.exit(1)
  }, GRACE_MS).unref()
  setTimeout(() => {
    // Stop accepting; `close` fires once every connection has ended.
    server.close(() => {
      console.log('drained: exiting')
      process.exitCode = 0
    })
    // Keep-alive connections go as soon as they are idle, not after keepAliveTimeout.
    const idle = setInterval(() => server.closeIdleConnections(), 50)
    idle.unref()
    server.once('close', () => clearInterval(idle))
  }, UNREADY_MS)
}

process.once('SIGTERM', () => drain('SIGTERM'))
process.once('SIGINT', () => drain('SIGINT'))
