/**
 * A call someone awaits is work in progress: its timers keep the process alive.
 * Each case runs a 12-line script, as a user would write it, in a fresh Node
 * process (tsx, at the repository root, so `@spillway/client` resolves to the
 * sources); the server lives in this process, so nothing in the child but the
 * call can keep it alive.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const repoRoot = join(__dirname, '..', '..', '..')

const ESM = `import { createClient } from '@spillway/client'

const client = createClient()
try {
  const response = await client(process.argv[2])
  console.log('status', response.status, await response.text())
} catch (error) {
  console.log('error', error.message)
} finally {
  console.log('finally')
}
`

const CJS = `const { createClient } = require('@spillway/client')
const client = createClient()
;(async () => {
  try {
    const response = await client(process.argv[2])
    console.log('status', response.status, await response.text())
  } catch (error) {
    console.log('error', error.message)
  } finally {
    console.log('finally')
  }
})()
`

function run(
  file: string,
  url: string,
): Promise<{ code: number | null; stdout: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, ['--import', 'tsx', file, url], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    const guard = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(guard)
      resolve({ code, stdout, ms: performance.now() - start })
    })
  })
}

describe('process lifetime: a pending call keeps the process alive', () => {
  let server: Server
  let url: string
  let dir: string
  const seen = new Map<string, number>()

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spillway-client-'))
    writeFileSync(join(dir, 'call.mjs'), ESM)
    writeFileSync(join(dir, 'call.cjs'), CJS)
    // The first request for a path is refused with Retry-After: 1, the next ones served.
    server = createServer((req, res) => {
      const count = (seen.get(req.url ?? '') ?? 0) + 1
      seen.set(req.url ?? '', count)
      if (count === 1) {
        res.writeHead(503, { 'retry-after': '1' })
        res.end()
      } else {
        res.end('served')
      }
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  it.each([
    ['an ES module (top-level await)', 'call.mjs'],
    ['a CommonJS script', 'call.cjs'],
  ])('resolves the call in %s after waiting out Retry-After, then exits', async (_, file) => {
    const { code, stdout, ms } = await run(join(dir, file), `${url}/${file}`)
    expect(stdout).toBe('status 200 served\nfinally\n')
    expect(code).toBe(0)
    expect(seen.get(`/${file}`)).toBe(2)
    expect(ms).toBeGreaterThanOrEqual(1000)
  })
})
