/**
 * The server of the `cost` scenario: one trivial route, bare or behind one
 * layer, so that per-request cost can be counted (instructions under
 * callgrind, CPU time without it). Configured by `COST_ARM` and
 * `COST_FRAMEWORK`; prints `port <n>` once listening.
 *
 *   GET /         "ok" (the route measured)
 *   GET /__cpu    this process's CPU time so far, µs (JSON)
 *   GET /__exit   answers, then exits (callgrind writes its counts at exit)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'

export type CostArm = 'bare' | 'passthrough' | 'spillway' | 'spillway-gradient2'

const arm = (process.env.COST_ARM ?? 'bare') as CostArm
const framework = process.env.COST_FRAMEWORK ?? 'node'

function side(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.url === '/__cpu') {
    const { user, system } = process.cpuUsage()
    res.end(JSON.stringify({ cpuMicros: user + system }))
    return true
  }
  if (req.url === '/__exit') {
    res.end('bye', () => process.exit(0))
    return true
  }
  return false
}

const ok = (_req: IncomingMessage, res: ServerResponse): void => {
  res.end('ok')
}

/** A limit that never binds: the cost of admission itself, not of waiting. */
function controllerOptions() {
  return arm === 'spillway-gradient2'
    ? { limit: { algorithm: 'gradient2' as const, initial: 1000, max: 1000 } }
    : { limit: 1000 }
}

async function nodeListener(): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  if (arm === 'bare') return (req, res) => side(req, res) || ok(req, res)
  if (arm === 'passthrough') {
    // What any wrapping listener costs: one more call.
    const wrap =
      (handler: typeof ok) =>
      (req: IncomingMessage, res: ServerResponse): void =>
        handler(req, res)
    const inner = wrap(ok)
    return (req, res) => side(req, res) || inner(req, res)
  }
  const { shed } = await import('@spillway/node')
  const guarded = shed(controllerOptions(), ok)
  return (req, res) => side(req, res) || guarded(req, res)
}

async function expressListener(): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  const { default: express } = await import('express')
  const app = express()
  app.get('/__cpu', (req, res) => side(req, res))
  app.get('/__exit', (req, res) => side(req, res))
  if (arm === 'passthrough') app.use((_req, _res, next) => next())
  else if (arm !== 'bare') {
    const { shed } = await import('@spillway/express')
    app.use(shed(controllerOptions()))
  }
  app.get('/', (_req, res) => {
    res.end('ok')
  })
  return app as unknown as (req: IncomingMessage, res: ServerResponse) => void
}

const listener = framework === 'express' ? await expressListener() : await nodeListener()
const server = createServer(listener)
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`)
})
