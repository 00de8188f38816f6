/**
 * The drain recipe against a real child process under load: SIGTERM turns
 * readiness to 503 at once, queued and new requests get 503 `closed`, no
 * in-flight request is cut, the port closes, and the process exits 0 within
 * its grace period (or 1 when work outlasts it).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import http from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const EXAMPLE = path.resolve(__dirname, '..')
/** Bounds on every wait, so a broken recipe fails instead of hanging. */
const START_TIMEOUT_MS = 30_000

interface Reply {
  status: number
  body: string
  error?: string
}

function get(port: number, urlPath: string, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      // A response cut mid-body: the client sees an error, never a silent short body.
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body, error: 'aborted' }))
      res.on('error', (error) => resolve({ status: 0, body, error: error.message }))
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')))
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ status: 0, body: '', error: error.code ?? error.message }),
    )
  })
}

interface Child {
  process: ChildProcess
  port: number
  output: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>
}

async function startServer(env: Record<string, string>): Promise<Child> {
  const tsx = pathToFileURL(createRequire(path.join(EXAMPLE, 'package.json')).resolve('tsx')).href
  const child = spawn(process.execPath, ['--import', tsx, 'src/server.ts'], {
    cwd: EXAMPLE,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const output: string[] = []
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>(
    (resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal, atMs: performance.now() }))
    },
  )
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the example did not start')), START_TIMEOUT_MS)
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      output.push(...chunk.split('\n').filter((line) => line !== ''))
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(chunk)
      if (match !== null) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    child.once('exit', () => reject(new Error(`the example exited: ${output.join('\n')}`)))
  })
  return { process: child, port, output, exited }
}

/** Polls `/ready` (bounded) until `done` holds for its body. */
async function readyUntil(
  port: number,
  done: (body: { inFlight: number; queued: number }) => boolean,
): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const reply = await get(port, '/ready')
    if (reply.status === 200 && done(JSON.parse(reply.body))) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('the server never reached the expected state')
}

const children: ChildProcess[] = []
afterEach(() => {
  // Only our own child, by its PID, if a failed test left it running.
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
})

describe('the graceful-drain example', () => {
  it('finishes every in-flight request after SIGTERM, turns the rest away with 503 closed, and exits 0 within the grace period', async () => {
    const graceMs = 8000
    const server = await startServer({
      WORK_MS: '1500',
      UNREADY_MS: '600',
      GRACE_MS: String(graceMs),
    })
    children.push(server.process)
    const { port } = server

    // Under load: 8 in flight (the limit) and 3 queued.
    const inFlight = Array.from({ length: 8 }, () => get(port, '/work'))
    await readyUntil(port, (b) => b.inFlight === 8)
    const queued = Array.from({ length: 3 }, () => get(port, '/work'))
    await readyUntil(port, (b) => b.queued === 3)

    const signalledAt = performance.now()
    server.process.kill('SIGTERM')

    // Readiness turns 503 at once, while the granted permits finish.
    let ready: Reply = { status: 0, body: '' }
    for (let i = 0; i < 50 && ready.status !== 503; i++) {
      ready = await get(port, '/ready')
      if (ready.status !== 503) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(ready.status).toBe(503)
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'draining', inFlight: 8, queued: 0 })

    // Queued and new requests are turned away at once, with the documented response.
    for (const reply of await Promise.all(queued)) {
      expect(reply.status).toBe(503)
      expect(JSON.parse(reply.body)).toMatchObject({ reason: 'closed' })
    }
    const late = await get(port, '/work')
    expect(late.status).toBe(503)
    expect(JSON.parse(late.body)).toMatchObject({ reason: 'closed' })

    // Once the unready delay is over the port closes: a new connection is refused.
    let refused: Reply = late
    for (let i = 0; i < 100 && refused.error !== 'ECONNREFUSED'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      refused = await get(port, '/ready')
    }
    expect(refused.error).toBe('ECONNREFUSED')

    // No in-flight request was cut: each got its whole answer.
    for (const reply of await Promise.all(inFlight)) {
      expect(reply).toEqual({ status: 200, body: '{"ok":true}' })
    }
    const exit = await server.exited
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
    expect(exit.atMs - signalledAt).toBeLessThan(graceMs)
    expect(server.output).toContain('drained: exiting')
  }, 30_000)

  it('gives up and exits 1 when in-flight work outlasts the grace period', async () => {
    const server = await startServer({ WORK_MS: '20000', GRACE_MS: '500' })
    children.push(server.process)
    const stuck = get(server.port, '/work')
    await readyUntil(server.port, (b) => b.inFlight === 1)
    const signalledAt = performance.now()
    server.process.kill('SIGTERM')
    const exit = await server.exited
    expect(exit.code).toBe(1)
    expect(exit.atMs - signalledAt).toBeGreaterThanOrEqual(450)
    expect(exit.atMs - signalledAt).toBeLessThan(5000)
    expect((await stuck).status).not.toBe(200)
  }, 30_000)
})
