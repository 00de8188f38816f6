/**
 * A target server, run as a child process by the harness (`node --import tsx`).
 * Reads its {@link TargetConfig} from `SPILLWAY_TARGET`, listens on 127.0.0.1 on an
 * ephemeral port, reports `{ type: 'ready', port }` over IPC, and exits when the
 * harness disconnects, so it can never outlive the run.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AppContext, createExpressApp, createKoaApp } from './apps.js'
import type { TargetConfig } from './config.js'
import { createDownstream } from './downstream.js'
import { createFrameworkApp } from './framework-apps.js'
import { createWork } from './work.js'

function send(message: Record<string, unknown>): void {
  if (process.send !== undefined) process.send(message)
}

async function main(): Promise<void> {
  const raw = process.env.SPILLWAY_TARGET
  if (raw === undefined) throw new Error('SPILLWAY_TARGET is not set')
  const config = JSON.parse(raw) as TargetConfig
  const downstream = createDownstream(config.downstream.slots, config.downstream.serviceMs)
  const context: AppContext = {
    config,
    work: createWork(downstream, config.cpuMs),
    downstream,
    controller: null,
    keyStoreStats: null,
    pLimitPending: () => null,
    pLimit: null,
    adapter: null,
    early: config.protection.kind === 'spillway' && config.protection.early === true,
  }
  const { protection } = config
  if (protection.kind === 'spillway') {
    const { createController } = await import('./protect.js')
    const built = await createController(protection)
    context.controller = built.controller
    context.keyStoreStats = built.keyStoreStats
    const pkg = config.framework === 'nest' ? 'nestjs' : config.framework
    context.adapter = `${context.early ? '@spillway/node installEarlyGate' : `@spillway/${pkg}`} (${process.env.SPILLWAY_FROM ?? 'src'})`
    if (config.metrics === true) {
      const { Registry } = await import('prom-client')
      const { collectMetrics } = await import('@spillway/prometheus')
      const registry = new Registry()
      collectMetrics(context.controller, { registry, name: 'target' })
      context.metrics = async () => ({
        contentType: registry.contentType,
        body: await registry.metrics(),
      })
    }
  } else if (protection.kind === 'p-limit') {
    const { default: pLimit } = await import('p-limit')
    const limit = pLimit(protection.concurrency)
    context.pLimit = limit
    context.pLimitPending = () => limit.pendingCount
  }
  const listener =
    config.framework === 'koa'
      ? await createKoaApp(context)
      : config.framework === 'express'
        ? await createExpressApp(context)
        : await createFrameworkApp(config.framework, context)
  const server = createServer(listener)
  if (context.early && context.controller !== null) {
    const { installEarlyGate } = await import('@spillway/node')
    const { classify, adapterRouteOptions, keyReader } = await import('./protect.js')
    const keyOf = protection.kind === 'spillway' ? keyReader(protection) : null
    const urlOf = (req: IncomingMessage) => new URL(req.url ?? '/', 'http://127.0.0.1')
    installEarlyGate(server, context.controller, {
      priority: (req) => classify(urlOf(req).pathname),
      ...adapterRouteOptions(protection),
      ...(keyOf === null
        ? {}
        : {
            key: (req: IncomingMessage) =>
              keyOf(Object.fromEntries(urlOf(req).searchParams), req.headers),
          }),
      // The harness's side routes and the Prometheus scrape are never shed.
      skip: (req) => req.url?.startsWith('/__') === true || urlOf(req).pathname === '/metrics',
    })
  }
  // Longer than any run's idle gap, so the client's keep-alive sockets are never closed under it.
  server.keepAliveTimeout = 60_000
  const backlog = config.listenBacklog === undefined ? {} : { backlog: config.listenBacklog }
  server.listen({ port: 0, host: '127.0.0.1', ...backlog }, () => {
    const { port } = server.address() as AddressInfo
    send({ type: 'ready', port, adapter: context.adapter, metrics: context.metrics !== undefined })
  })
}

process.on('disconnect', () => process.exit(0))
main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) })
  process.exitCode = 1
  setTimeout(() => process.exit(1), 50).unref()
})
