/**
 * A target server, run as a child process by the harness (`node --import tsx`).
 * Reads its {@link TargetConfig} from `SPILLWAY_TARGET`, listens on 127.0.0.1 on an
 * ephemeral port, reports `{ type: 'ready', port }` over IPC, and exits when the
 * harness disconnects, so it can never outlive the run.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AppContext, createExpressApp, createKoaApp } from './apps.js'
import type { TargetConfig } from './config.js'
import { createDownstream } from './downstream.js'
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
    pLimitPending: () => null,
    pLimit: null,
    adapter: null,
    early: config.protection.kind === 'spillway' && config.protection.early === true,
  }
  const { protection } = config
  if (protection.kind === 'spillway') {
    const { createController } = await import('./protect.js')
    context.controller = createController(protection)
    context.adapter = `${context.early ? '@spillway/node installEarlyGate' : `@spillway/${config.framework}`} (${process.env.SPILLWAY_FROM ?? 'src'})`
  } else if (protection.kind === 'p-limit') {
    const { default: pLimit } = await import('p-limit')
    const limit = pLimit(protection.concurrency)
    context.pLimit = limit
    context.pLimitPending = () => limit.pendingCount
  }
  const listener =
    config.framework === 'koa' ? await createKoaApp(context) : await createExpressApp(context)
  const server = createServer(listener)
  if (context.early && context.controller !== null) {
    const { installEarlyGate } = await import('@spillway/node')
    const { classify } = await import('./protect.js')
    installEarlyGate(server, context.controller, {
      priority: (req) => classify(new URL(req.url ?? '/', 'http://127.0.0.1').pathname),
      skip: (req) => req.url?.startsWith('/__') === true,
    })
  }
  // Longer than any run's idle gap, so the client's keep-alive sockets are never closed under it.
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo
    send({ type: 'ready', port, adapter: context.adapter })
  })
}

process.on('disconnect', () => process.exit(0))
main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) })
  process.exitCode = 1
  setTimeout(() => process.exit(1), 50).unref()
})
