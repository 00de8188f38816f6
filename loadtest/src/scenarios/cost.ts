/**
 * `cost`: what protection costs per request when nothing is wrong, counted two
 * ways on a trivial route, bare vs a pass-through layer vs spillway (a limit
 * that never binds; fixed, then gradient2), on node:http and on `--framework`:
 *
 * - **Instructions per request** under `valgrind --tool=callgrind` (when
 *   valgrind is installed): the server runs under callgrind, answers warm-up
 *   requests, then its counters are dumped and zeroed (`callgrind_control -d`),
 *   and the next batch is counted on its own: startup and most of V8's
 *   compilation stay out of it (the difference of two whole runs, as before,
 *   was mostly compilation). Instruction counts do not depend on what else
 *   the machine is doing. V8 runs `--single-threaded` (no concurrent compiler
 *   or GC threads) so that runs repeat.
 * - **Server CPU µs per request** without valgrind: every server started at
 *   once, warmed up, then rounds in alternating order, CPU time read from the
 *   server before and after each; the median round.
 *
 * Requests come from 8 keep-alive connections in this process, never from the
 * measured one. Figures in `loadtest/README.md` ("cost").
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadtestRoot } from '../harness/paths.js'
import { createReport, type Report } from '../report/model.js'
import type { ScenarioOptions } from './common.js'

/** The servers compared (`src/cost/cost-server.mjs`). */
type CostArm = 'bare' | 'passthrough' | 'spillway' | 'spillway-gradient2' | 'early-gate'

/** Admitted requests: CPU rounds for every arm; callgrind for four (it is slow). */
const ARMS: CostArm[] = ['bare', 'passthrough', 'spillway', 'spillway-gradient2', 'early-gate']
const CALLGRIND_ARMS: CostArm[] = ['bare', 'passthrough', 'spillway', 'early-gate']
/** Rejected requests (a pressure of 1 sheds everything): the framework's adapter vs the early gate. */
const REJECT_ARMS: CostArm[] = ['spillway', 'early-gate']
const CONNECTIONS = 8
/** Under callgrind: warm-up requests, then the batch that is counted. */
const CALLGRIND_WARMUP = 3000
const CALLGRIND_BATCH = 2000
const CPU_ROUNDS = 6
const CPU_REQUESTS = 10_000
const WARMUP_REQUESTS = 10_000

interface Server {
  child: ChildProcess
  port: number
  exited: Promise<void>
}

/** Servers started and not yet exited: killed, by PID, if this process exits first. */
const started = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL')
})

function startServer(
  arm: CostArm,
  framework: string,
  valgrindOut?: string,
  reject = false,
): Promise<Server> {
  const node = [
    ...(valgrindOut === undefined ? [] : ['--single-threaded']),
    join(loadtestRoot(), 'src', 'cost', 'cost-server.mjs'),
  ]
  const [command, args] =
    valgrindOut === undefined
      ? [process.execPath, node]
      : [
          'valgrind',
          ['--tool=callgrind', `--callgrind-out-file=${valgrindOut}`, process.execPath, ...node],
        ]
  const child = spawn(command as string, args as string[], {
    env: {
      ...process.env,
      COST_ARM: arm,
      COST_FRAMEWORK: framework,
      COST_REJECT: reject ? '1' : '0',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.add(child)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      started.delete(child)
      resolve()
    }),
  )
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`cost server (${arm}) did not start: ${err.slice(-500)}`))
    }, 900_000)
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const match = /port (\d+)/.exec(out)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ child, port: Number(match[1]), exited })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`cost server (${arm}) exited with ${code}: ${err.slice(-500)}`))
    })
  })
}

function get(agent: Agent, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve(body))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** `count` requests to `/` over `CONNECTIONS` keep-alive connections. */
async function drive(port: number, count: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++
      // A reused keep-alive socket can race its close: ask again (the server saw nothing).
      await get(agent, port, '/').catch(() => get(agent, port, '/'))
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker))
  agent.destroy()
}

async function cpuMicros(port: number): Promise<number> {
  const agent = new Agent({ keepAlive: false })
  const body = await get(agent, port, '/__cpu')
  return (JSON.parse(body) as { cpuMicros: number }).cpuMicros
}

async function stop(server: Server): Promise<void> {
  await get(new Agent({ keepAlive: false }), server.port, '/__exit').catch(() => undefined)
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 60_000)
  await server.exited
  clearTimeout(timer)
}

/**
 * V8 compiling and parsing: one-time work that, with `--single-threaded`,
 * runs on the counted thread and goes on for thousands of requests (TurboFan
 * and Maglev re-compile as feedback changes). Counted apart: between requests
 * 3,000 and 6,000 it still came to 10,000–16,000 instructions per request.
 */
const COMPILATION =
  /v8::internal::(compiler|maglev|turboshaft|baseline|interpreter::Bytecode|Parser|PreParser|Scanner|AstValueFactory)/i

/** Total instructions (`Ir`) of one callgrind run, and the same without V8's compilation. */
function countInstructions(file: string): { all: number; steady: number } {
  const text = readFileSync(file, 'utf8')
  const match = /^(?:summary|totals):\s*(\d+)/m.exec(text)
  if (match === null) throw new Error(`no instruction total in ${file}`)
  const all = Number(match[1])
  const annotated = spawnSync('callgrind_annotate', ['--threshold=100', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
  let compilation = 0
  for (const line of annotated.stdout.split('\n')) {
    const row = /^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$/.exec(line)
    if (row !== null && COMPILATION.test(row[2] as string)) {
      compilation += Number((row[1] as string).replaceAll(',', ''))
    }
  }
  return { all, steady: all - compilation }
}

interface PerRequest {
  all: number
  /** Without V8's compilation and parsing. */
  steady: number
}

async function instructionsPerRequest(
  arm: CostArm,
  framework: string,
  dir: string,
): Promise<PerRequest> {
  const file = join(dir, `${framework}-${arm}.out`)
  const server = await startServer(arm, framework, file)
  const dump = (): void => {
    // Writes `${file}.<n>` and zeroes the counters.
    const done = spawnSync('callgrind_control', ['-d', String(server.child.pid)], {
      encoding: 'utf8',
    })
    if (done.status !== 0) throw new Error(`callgrind_control failed: ${done.stderr}`)
  }
  try {
    await drive(server.port, CALLGRIND_WARMUP)
    dump()
    await drive(server.port, CALLGRIND_BATCH)
    dump()
  } finally {
    await stop(server)
  }
  const counted = countInstructions(`${file}.2`)
  process.stderr.write(
    `callgrind ${framework} ${arm}: ${counted.all} Ir for ${CALLGRIND_BATCH} requests after ${CALLGRIND_WARMUP} (${counted.steady} without compilation)\n`,
  )
  return { all: counted.all / CALLGRIND_BATCH, steady: counted.steady / CALLGRIND_BATCH }
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1] ?? Number.NaN

async function cpuPerRequest(
  framework: string,
  arms: CostArm[],
  reject = false,
): Promise<number[][]> {
  const servers: Server[] = []
  const rounds: number[][] = arms.map(() => [])
  try {
    for (const arm of arms) servers.push(await startServer(arm, framework, undefined, reject))
    for (const server of servers) await drive(server.port, WARMUP_REQUESTS)
    for (let round = 0; round < CPU_ROUNDS; round++) {
      const order = arms.map((_, i) => i)
      if (round % 2 === 1) order.reverse()
      for (const i of order) {
        const server = servers[i] as Server
        const before = await cpuMicros(server.port)
        await drive(server.port, CPU_REQUESTS)
        const after = await cpuMicros(server.port)
        ;(rounds[i] as number[]).push((after - before) / CPU_REQUESTS)
        process.stderr.write(
          `cpu ${framework}${reject ? ' (rejecting)' : ''} round ${round + 1} ${arms[i]}: ${((after - before) / CPU_REQUESTS).toFixed(1)} µs\n`,
        )
      }
    }
  } finally {
    await Promise.all(servers.map(stop))
  }
  return rounds
}

function hasValgrind(): boolean {
  return spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status === 0
}

export async function cost(options: ScenarioOptions): Promise<Report> {
  const report = createReport(
    'cost',
    'spillway cost per request when nothing is wrong: instructions and server CPU',
  )
  // The cost server (src/cost/cost-server.mjs) builds node:http and Express only;
  // loadtest/callgrind/measure.mjs measures the other frameworks' adapters.
  if (options.framework !== 'express') {
    throw new RangeError(
      `the cost scenario measures node:http and express only, got --framework ${options.framework} (see loadtest/callgrind/measure.mjs)`,
    )
  }
  const frameworks = ['node', options.framework]
  const fmt = (n: number, digits = 0): string => n.toFixed(digits)
  for (const framework of frameworks) {
    const cpu = await cpuPerRequest(framework, ARMS)
    const cpuMedian = cpu.map(median)
    const bareCpu = cpuMedian[0] as number
    const instructions = new Map<CostArm, PerRequest>()
    if (hasValgrind()) {
      const dir = mkdtempSync(join(tmpdir(), 'spillway-cost-'))
      try {
        // In parallel: the counts do not depend on it, and the runs are ~50× slower than native.
        const counted = await Promise.all(
          CALLGRIND_ARMS.map((arm) => instructionsPerRequest(arm, framework, dir)),
        )
        for (const [i, arm] of CALLGRIND_ARMS.entries()) {
          instructions.set(arm, counted[i] as PerRequest)
        }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    } else {
      report.notes.push('valgrind is not installed: instruction counts skipped.')
    }
    const bareIr = instructions.get('bare')
    const name = framework === 'node' ? 'node:http' : framework
    report.tables.push({
      title: `${name}: per admitted request, ${CONNECTIONS} keep-alive connections`,
      headers: [
        'server',
        'instructions (callgrind)',
        'without V8 compilation',
        '÷ bare',
        'CPU µs (median of rounds)',
        '÷ bare',
        'CPU µs per round',
      ],
      rows: ARMS.map((arm, i) => {
        const ir = instructions.get(arm)
        const us = cpuMedian[i] as number
        return [
          arm,
          ir === undefined ? '–' : fmt(ir.all),
          ir === undefined ? '–' : fmt(ir.steady),
          ir === undefined || bareIr === undefined ? '–' : fmt(ir.steady / bareIr.steady, 3),
          fmt(us, 1),
          fmt(us / bareCpu, 3),
          (cpu[i] as number[]).map((v) => fmt(v, 1)).join(' '),
        ]
      }),
    })
    const spillwayIr = instructions.get('spillway')
    const passthroughIr = instructions.get('passthrough')
    if (bareIr !== undefined && spillwayIr !== undefined && passthroughIr !== undefined) {
      // Instructions to µs through the bare server's own ratio in the CPU rounds.
      const usPerIr = bareCpu / bareIr.all
      const added = spillwayIr.steady - passthroughIr.steady
      report.findings.push(
        `${name}: spillway adds ${fmt(added)} instructions per admitted request over a pass-through layer, V8's compilation aside ` +
          `(≈ ${fmt(added * usPerIr, 2)} µs at the bare server's ${fmt(bareIr.all / bareCpu)} instructions per µs; ` +
          `${fmt(spillwayIr.all - passthroughIr.all)} with compilation, which a longer run amortises); ` +
          `${fmt(spillwayIr.steady / bareIr.steady, 3)}× bare in instructions, ${fmt((cpuMedian[2] as number) / bareCpu, 3)}× in CPU time.`,
      )
    }
    const rejecting = (await cpuPerRequest(framework, REJECT_ARMS, true)).map(median)
    report.tables.push({
      title: `${name}: server CPU per 503 (everything shed by a pressure of 1)`,
      headers: ['server', 'CPU µs per 503 (median of rounds)', '÷ admitted bare request'],
      rows: REJECT_ARMS.map((arm, i) => [
        arm === 'spillway' ? `spillway (${framework === 'node' ? 'shed()' : 'adapter'})` : arm,
        fmt(rejecting[i] as number, 1),
        fmt((rejecting[i] as number) / bareCpu, 3),
      ]),
    })
  }
  report.notes.push(
    'The load generator shares the cores with the server; CPU time is the server’s own, instructions are counted by callgrind.',
  )
  return report
}
