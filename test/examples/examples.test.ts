/**
 * Runs each example's README quick start, so a README cannot rot: the start
 * command, the burst and the stats URL are read from the README's `sh` blocks,
 * the command is spawned as written (with `PORT=0`), the burst is replayed
 * with plain `http.request` on 127.0.0.1, and the example must serve some,
 * shed the rest with the documented response, and drain.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'

const ROOT = path.resolve(__dirname, '..', '..')
/** The origin the READMEs use; the test swaps in the port the example really bound. */
const README_ORIGIN = 'http://127.0.0.1:3000'
const REASONS = [
  'queueFull',
  'queueTimeout',
  'evicted',
  'overloaded',
  'sampled',
  'deadline',
  'aborted',
  'quota',
  'closed',
]
/** Bounds on everything the test waits for, so a broken example fails instead of hanging. */
const START_TIMEOUT_MS = 45_000
const REQUEST_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 5_000

interface QuickStart {
  readonly packageName: string
  readonly command: readonly string[]
  /** Request paths of the burst, in the order curl sends them. */
  readonly paths: readonly string[]
  readonly concurrency: number
  readonly statsPath: string
  /** The README's curl line, exactly as written. */
  readonly burstLine: string
}

interface Reply {
  readonly path: string
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

interface Stats {
  inFlight: number
  queued: number
  counters: {
    admitted: number
    released: { success: number; failure: number; ignore: number }
    rejected: Record<string, number>
  }
}

function shellLines(markdown: string): string[] {
  const lines: string[] = []
  for (const match of markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    lines.push(...(match[1] ?? '').split('\n').map((line) => line.trim()))
  }
  return lines.filter((line) => line.length > 0)
}

/** Expands curl's URL globbing (`{a,b}` and `[1-20]`), leftmost varying slowest as curl does. */
function expandCurlGlob(pattern: string): string[] {
  const glob = /\{([^}]*)\}|\[(\d+)-(\d+)\]/.exec(pattern)
  if (glob === null) return [pattern]
  const head = pattern.slice(0, glob.index)
  const tail = expandCurlGlob(pattern.slice(glob.index + glob[0].length))
  const options: string[] = []
  if (glob[1] !== undefined) {
    options.push(...glob[1].split(','))
  } else {
    for (let n = Number(glob[2]); n <= Number(glob[3]); n++) options.push(String(n))
  }
  return options.flatMap((option) => tail.map((rest) => head + option + rest))
}

function readQuickStart(example: string): QuickStart {
  const dir = path.join(ROOT, 'examples', example)
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    name: string
    scripts?: Record<string, string>
  }
  const lines = shellLines(readFileSync(path.join(dir, 'README.md'), 'utf8'))
  const fail = (what: string): never => {
    throw new Error(`examples/${example}/README.md: no ${what} in its \`sh\` blocks`)
  }
  const start =
    lines.find((line) => line.startsWith('npx pnpm@')) ?? fail('`npx pnpm@… start` line')
  const burst =
    lines.find((line) => line.startsWith('curl') && line.includes('--parallel')) ??
    fail('`curl --parallel` burst')
  const stats =
    lines.find((line) => /^curl -s http:\/\/127\.0\.0\.1:3000\/\S+$/.test(line)) ??
    fail('`curl -s http://127.0.0.1:3000/…` stats line')
  const url = /'(http:\/\/127\.0\.0\.1:3000\/[^']*)'/.exec(burst)?.[1] ?? fail('quoted burst URL')
  const concurrency = Number(/--parallel-max (\d+)/.exec(burst)?.[1] ?? fail('--parallel-max'))
  if (pkg.scripts?.start === undefined) throw new Error(`examples/${example} has no start script`)
  return {
    packageName: pkg.name,
    command: start.split(/\s+/),
    paths: expandCurlGlob(url.slice(README_ORIGIN.length)),
    concurrency,
    statsPath: stats.slice('curl -s '.length + README_ORIGIN.length),
    burstLine: burst,
  }
}

interface Started {
  readonly origin: string
  stop(): Promise<void>
}

/**
 * Spawns the README's command in its own process group (npx → pnpm → tsx →
 * node), so `stop()` can end exactly that tree by the group id of the child
 * it spawned.
 */
function startExample(command: readonly string[]): Promise<Started> {
  const [file, ...args] = command
  if (file === undefined) throw new Error('empty start command')
  const child: ChildProcess = spawn(file, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
    try {
      process.kill(-child.pid, signal)
    } catch {
      // The group is already gone.
    }
  }
  const stop = async (): Promise<void> => {
    signalGroup('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)
    })
    if ((await Promise.race([exited, late])) === 'late') signalGroup('SIGKILL')
    clearTimeout(timer)
    // tsx's own node child may outlive the npx leader by a moment.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // Nothing left in the group: the normal case.
      }
    }
  }

  let output = ''
  return new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`\`${command.join(' ')}\` did not log its URL in time:\n${output}`))
    }, START_TIMEOUT_MS)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
      if (url !== undefined) {
        clearTimeout(timer)
        resolve({ origin: url, stop })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`\`${command.join(' ')}\` exited (${code ?? signal}):\n${output}`))
    })
  })
}

function get(origin: string, requestPath: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${origin}${requestPath}`, { agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () =>
        resolve({ path: requestPath, status: res.statusCode ?? 0, headers: res.headers, body }),
      )
      res.on('error', reject)
    })
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${requestPath} timed out`)))
    req.on('error', reject)
  })
}

/** Sends every path once, at most `concurrency` at a time, as the README's curl does. */
async function burst(origin: string, paths: readonly string[], concurrency: number) {
  const replies: Reply[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const requestPath = paths[next++] as string
      replies.push(await get(origin, requestPath))
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker))
  return replies
}

/** True when a `curl` that knows `%header{}` (7.84 and later) is on the PATH. */
function hasModernCurl(): boolean {
  try {
    const version = /^curl (\d+)\.(\d+)/.exec(
      execFileSync('curl', ['--version'], { encoding: 'utf8' }),
    )
    const [major, minor] = [Number(version?.[1] ?? 0), Number(version?.[2] ?? 0)]
    return major > 7 || (major === 7 && minor >= 84)
  } catch {
    return false
  }
}
const CURL = hasModernCurl()

/** Runs a README shell line with the example's real origin in place of port 3000. */
function runShellLine(line: string, origin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'sh',
      ['-c', line.split(README_ORIGIN).join(origin)],
      { timeout: REQUEST_TIMEOUT_MS },
      (error, stdout, stderr) =>
        error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
    )
  })
}

function routeOf(reply: Reply): string {
  return reply.path.replace(/\?.*$/, '')
}

describe.each([
  'express-basic',
  'express-pino',
  'express-priorities',
  'koa-basic',
  'node-http',
  'fastify-basic',
  'hono-basic',
  'nestjs-basic',
])('the examples/%s README quick start', (example) => {
  const quickStart = readQuickStart(example)
  let server: Started | undefined

  beforeAll(async () => {
    server = await startExample(quickStart.command)
  }, START_TIMEOUT_MS + 5_000)

  afterAll(async () => {
    await server?.stop()
  })

  it('starts the example by its package name with the pinned pnpm', () => {
    const { packageManager } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    const pnpm = String(packageManager).replace(/^pnpm@/, '')
    expect(quickStart.command).toEqual([
      'npx',
      `pnpm@${pnpm}`,
      '--filter',
      quickStart.packageName,
      'start',
    ])
  })

  it('serves part of a burst and sheds the rest with 503, Retry-After and problem+json, then drains', async () => {
    const { origin } = server as Started
    const replies = await burst(origin, quickStart.paths, quickStart.concurrency)

    expect(replies).toHaveLength(quickStart.paths.length)
    const served = replies.filter((reply) => reply.status === 200)
    const shed = replies.filter((reply) => reply.status === 503)
    expect(served.length + shed.length).toBe(replies.length)
    expect(served.length).toBeGreaterThan(0)
    expect(shed.length).toBeGreaterThan(0)
    for (const reply of served) expect(reply.headers['retry-after']).toBeUndefined()
    for (const reply of shed) {
      expect(reply.headers['retry-after']).toMatch(/^[1-9]\d*$/)
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json\b/)
      const problem = JSON.parse(reply.body)
      expect(problem).toMatchObject({ status: 503, title: expect.any(String) })
      expect(REASONS).toContain(problem.reason)
    }

    // Every request the burst made is accounted for once, and nothing is left holding a slot.
    const stats = JSON.parse((await get(origin, quickStart.statsPath)).body) as Stats
    expect(stats.inFlight).toBe(0)
    expect(stats.queued).toBe(0)
    expect(stats.counters.admitted).toBe(served.length)
    expect(stats.counters.released).toEqual({ success: served.length, failure: 0, ignore: 0 })
    const rejected = Object.values(stats.counters.rejected).reduce((sum, n) => sum + n, 0)
    expect(rejected).toBe(shed.length)
  }, 60_000)

  // Without a curl that knows %header{} this one cannot run; the burst above still does.
  ;(CURL ? it : it.skip)(
    'prints served and shed counts when the README curl line is run as written',
    async () => {
      const { origin } = server as Started
      const output = await runShellLine(quickStart.burstLine, origin)
      const rows = output
        .trim()
        .split('\n')
        .map((line) => /^\s*(\d+) (\d{3}) (.*)$/.exec(line))
      for (const row of rows) expect(row).not.toBeNull()
      const counted = rows.map((row) => ({
        count: Number(row?.[1]),
        status: row?.[2],
        rest: row?.[3] ?? '',
      }))
      expect(counted.reduce((sum, row) => sum + row.count, 0)).toBe(quickStart.paths.length)
      expect(new Set(counted.map((row) => row.status))).toEqual(new Set(['200', '503']))
      for (const row of counted) {
        if (!row.rest.startsWith('retry-after=')) continue
        expect(row.rest).toMatch(row.status === '503' ? /^retry-after=[1-9]\d*$/ : /^retry-after=$/)
      }
      const stats = JSON.parse((await get(origin, quickStart.statsPath)).body) as Stats
      expect(stats.inFlight).toBe(0)
      expect(stats.queued).toBe(0)
    },
    60_000,
  )

  if (example === 'express-priorities') {
    it('serves checkouts at least as often as the reports that arrived before them, and never evicts one', async () => {
      const { origin } = server as Started
      const routes = new Set(quickStart.paths.map((p) => p.replace(/\?.*$/, '')))
      expect(routes).toEqual(new Set(['/report', '/search', '/checkout']))
      // The README sends reports first: a FIFO controller would serve them all and shed checkouts.
      expect(quickStart.paths.findIndex((p) => p.startsWith('/report'))).toBe(0)

      const replies = await burst(origin, quickStart.paths, quickStart.concurrency)
      const servedOn = (route: string): number =>
        replies.filter((reply) => routeOf(reply) === route && reply.status === 200).length
      expect(servedOn('/checkout')).toBeGreaterThanOrEqual(servedOn('/report'))
      expect(servedOn('/checkout')).toBeGreaterThan(0)
      for (const reply of replies) {
        if (routeOf(reply) === '/checkout' && reply.status === 503) {
          expect(JSON.parse(reply.body).reason).not.toBe('evicted')
        }
      }
      const stats = JSON.parse((await get(origin, quickStart.statsPath)).body) as Stats
      expect(stats.inFlight).toBe(0)
      expect(stats.queued).toBe(0)
    }, 60_000)
  }
})
