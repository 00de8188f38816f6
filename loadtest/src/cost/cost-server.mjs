/**
 * The server of the `cost` scenario: one trivial route, bare or behind one
 * layer, so that per-request cost can be counted (instructions under
 * callgrind, CPU time without it). Plain JavaScript, loading the built
 * packages, so that no transpiler runs in the process being counted.
 * Configured by `COST_ARM` (`bare` | `passthrough` | `spillway` |
 * `spillway-gradient2` | `early-gate`), `COST_FRAMEWORK` (`node` | `express`)
 * and `COST_REJECT=1` (spillway rejects every request: the cost of a 503);
 * prints `port <n>` once listening.
 *
 *   GET /         "ok" (the route measured)
 *   GET /__cpu    this process's CPU time so far, µs (JSON)
 *   GET /__exit   answers, then exits (callgrind writes its counts at exit)
 */
import { createServer } from 'node:http'

const arm = process.env.COST_ARM ?? 'bare'
const framework = process.env.COST_FRAMEWORK ?? 'node'
const reject = process.env.COST_REJECT === '1'

/** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
function side(req, res) {
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

/** @param {unknown} _req @param {import('node:http').ServerResponse} res */
const ok = (_req, res) => {
  res.end('ok')
}

/** A limit that never binds (the cost of admission itself), or a pressure of 1 that sheds everything. */
function controllerOptions() {
  const limit =
    arm === 'spillway-gradient2' ? { algorithm: 'gradient2', initial: 1000, max: 1000 } : 1000
  return reject ? { limit, pressure: { level: 1 } } : { limit }
}

async function nodeListener() {
  if (arm === 'bare' || arm === 'early-gate') return (req, res) => side(req, res) || ok(req, res)
  if (arm === 'passthrough') {
    // What any wrapping listener costs: one more call.
    const wrap = (handler) => (req, res) => handler(req, res)
    const inner = wrap(ok)
    return (req, res) => side(req, res) || inner(req, res)
  }
  const { shed } = await import('@spillway/node')
  const guarded = shed(controllerOptions(), ok)
  return (req, res) => side(req, res) || guarded(req, res)
}

async function expressListener() {
  const { default: express } = await import('express')
  const app = express()
  app.get('/__cpu', (req, res) => side(req, res))
  app.get('/__exit', (req, res) => side(req, res))
  if (arm === 'passthrough') app.use((_req, _res, next) => next())
  else if (arm === 'spillway' || arm === 'spillway-gradient2') {
    const { shed } = await import('@spillway/express')
    app.use(shed(controllerOptions()))
  }
  app.get('/', (_req, res) => {
    res.end('ok')
  })
  return app
}

const server = createServer(
  framework === 'express' ? await expressListener() : await nodeListener(),
)
if (arm === 'early-gate') {
  const { installEarlyGate } = await import('@spillway/node')
  // The side routes stay reachable: the gate skips them.
  installEarlyGate(server, { ...controllerOptions(), skip: (req) => req.url.startsWith('/__') })
}
// Under callgrind the server runs ~50× slower: keep idle keep-alive sockets open
// rather than racing the client's reuse of them.
server.keepAliveTimeout = 120_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`)
})
