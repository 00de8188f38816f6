// Instructions (or CPU) per request on a trivial route, per framework and arm, once warm:
//   [ARMS=bare,pass,spillway] node loadtest/callgrind/measure.mjs [--valgrind] [--keep DIR] \
//     <framework,...> [warm=3000] [n=1000] [intervals=3]
// frameworks: node, express, koa, fastify, hono, nest, nest-fastify (see serve.mjs for the arms:
// bare, pass, spillway, reject, gate-reject).
//
// One server per (framework, arm) answers `warm` requests first (startup, parsing,
// most of V8's compilation), then `intervals` batches of `n`; each batch is
// counted on its own: with --valgrind, callgrind's counters are dumped and zeroed
// (`callgrind_control -d`) at each boundary, so a batch's instruction count (Ir)
// covers exactly those requests; without, the server's CPU time (user + system,
// µs, from process.cpuUsage(); CPU_USER=1: user time only) is read before and after.
// The figure is the mean of the batches after the first, ÷ n; under callgrind
// also without V8's compilation (one-time work that goes on for thousands of
// requests) and without compilation and garbage collection, by function name
// (callgrind_annotate); ratios ÷ bare are taken without compilation. V8 runs --single-threaded under valgrind, so its
// compilation and GC run on the counted thread, and runs repeat. The load
// generator (this process, 4 keep-alive connections on 127.0.0.1) is not counted.
// --keep DIR keeps each batch's callgrind file (DIR/<framework>-<arm>.out.<k>)
// for callgrind_annotate; --symbols adds node's --perf-basic-prof and keeps its
// map of JIT code (DIR/<framework>-<arm>.out.map), which names the JavaScript
// functions callgrind can only show as addresses.
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'

const args = process.argv.slice(2)
let valgrind = false
let keep
let symbols = false
while (args[0]?.startsWith('--')) {
  const flag = args.shift()
  if (flag === '--valgrind') valgrind = true
  else if (flag === '--keep') keep = args.shift()
  else if (flag === '--symbols') symbols = true
  else throw new Error(`unknown flag ${flag}`)
}
const frameworks = (args[0] ?? 'fastify').split(',')
const warm = Number(args[1] ?? 3000)
const n = Number(args[2] ?? 1000)
const intervals = Number(args[3] ?? 3)
const arms = (process.env.ARMS ?? 'bare,pass,spillway').split(',')
const here = path.dirname(new URL(import.meta.url).pathname)
const dir = keep ?? mkdtempSync(path.join(os.tmpdir(), 'spillway-cg-'))
mkdirSync(dir, { recursive: true })

function get(port, p, agent) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => {
        body += d
      })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('error', () => resolve({ status: 0, body: '' }))
  })
}

async function drive(port, count, agent) {
  let sent = 0
  const statuses = {}
  const worker = async () => {
    while (sent < count) {
      sent++
      const { status } = await get(port, '/trivial', agent)
      statuses[status] = (statuses[status] ?? 0) + 1
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  return statuses
}

function start(framework, arm, out) {
  const node = [
    process.execPath,
    ...(valgrind ? ['--single-threaded'] : []),
    // V8's log (a side effect of the perf map) goes next to the dumps.
    ...(symbols ? ['--perf-basic-prof', `--logfile=${path.join(dir, 'v8.log')}`] : []),
    path.join(here, 'serve.mjs'),
    framework,
    arm,
    '0',
  ]
  const cmd = valgrind
    ? [
        'valgrind',
        '--tool=callgrind',
        '--smc-check=all-non-file',
        `--callgrind-out-file=${out}`,
        ...node,
      ]
    : node
  const child = spawn(cmd[0], cmd.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: path.join(here, '..'),
    // Under valgrind the clock the server reads runs as slowly as it does (see serve.mjs).
    env: {
      ...process.env,
      NODE_ENV: 'production',
      ...(valgrind ? { CLOCK_SLOWDOWN: process.env.CLOCK_SLOWDOWN ?? '50' } : {}),
    },
  })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return new Promise((resolve, reject) => {
    let buffer = ''
    child.stdout.on('data', (d) => {
      buffer += d
      const lines = buffer.split('\n')
      buffer = lines.pop()
      for (const line of lines) {
        const msg = JSON.parse(line)
        if (msg.port) resolve({ child, port: msg.port, exited })
      }
    })
    child.once('exit', (code) =>
      reject(new Error(`${cmd.join(' ')} exited ${code}\n${stderr.slice(-2000)}`)),
    )
  })
}

// V8 compiling (one-time work, still going on thousands of requests in) and
// collecting garbage, told apart by function name in callgrind_annotate's output.
const COMPILATION =
  /v8::internal::(compiler|maglev|turboshaft|baseline|interpreter::|Parser|PreParser|Scanner|AstValueFactory|AstNode|Compiler|OptimizingCompile|Zone|CodeGenerator|Assembler|RegExpCompiler|BytecodeArrayBuilder)/i
const GC =
  /Heap|Scaveng|MarkCompact|Sweeper|IterateObjectCache|RootVisitor|RootScavenge|GlobalHandles|Evacuat|Marking|MemoryAllocator|PagedSpace|NewSpace|SemiSpace|LargeObjectSpace|MemoryChunk|ObjectVisitor|BodyDescriptor/i

/** A dump's instructions: in all, in V8's compiler, in its garbage collector. */
function split(file) {
  const text = readFileSync(file, 'utf8')
  const total = Number(/^summary:\s*(\d+)/m.exec(text)?.[1] ?? /^totals:\s*(\d+)/m.exec(text)?.[1])
  const annotated = spawnSync('callgrind_annotate', ['--threshold=100', '--inclusive=no', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
  let compilation = 0
  let gc = 0
  for (const line of annotated.stdout.split('\n')) {
    const row = /^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$/.exec(line)
    if (row === null) continue
    const ir = Number(row[1].replaceAll(',', ''))
    // A dump taken mid-run lists the frames still on the stack with the whole total.
    if (ir > total / 2) continue
    if (COMPILATION.test(row[2])) compilation += ir
    else if (GC.test(row[2])) gc += ir
  }
  return { total, compilation, gc }
}

/** Dumps and zeroes callgrind's counters; returns the dump's split (see `split`). */
function dump(server, out, k) {
  const result = spawnSync('callgrind_control', ['-d', String(server.child.pid)], {
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`callgrind_control failed: ${result.stderr}`)
  const file = `${out}.${k}`
  if (!existsSync(file)) throw new Error(`no callgrind dump ${file}`)
  return split(file)
}

async function measure(framework, arm) {
  const out = path.join(dir, `${framework}-${arm}.out`)
  const server = await start(framework, arm, out)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  // CPU_USER=1: user time only (what instructions in JavaScript cost; no kernel time).
  const field = process.env.CPU_USER === '1' ? 'userMicros' : 'cpuMicros'
  const cpu = async () => JSON.parse((await get(server.port, '/__cpu')).body)[field]
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 3_600_000)
  try {
    if (arm === 'reject' || arm === 'gate-reject') {
      // Takes the only slot for good (never answered; its socket closes at exit).
      http
        .get({ host: '127.0.0.1', port: server.port, path: '/hold', agent: false })
        .on('error', () => {})
      await new Promise((r) => setTimeout(r, valgrind ? 3000 : 300))
    }
    const statuses = await drive(server.port, warm, agent)
    let before = valgrind ? dump(server, out, 1) : await cpu()
    const batches = []
    for (let k = 0; k < intervals; k++) {
      Object.assign(statuses, await drive(server.port, n, agent))
      if (valgrind) {
        const { total, compilation, gc } = dump(server, out, k + 2)
        batches.push({
          all: total / n,
          withoutCompilation: (total - compilation) / n,
          withoutCompilationAndGc: (total - compilation - gc) / n,
        })
      } else {
        const after = await cpu()
        batches.push({ all: (after - before) / n })
        before = after
      }
    }
    return { batches, statuses }
  } finally {
    agent.destroy()
    await get(server.port, '/__exit')
    await server.exited
    clearTimeout(timer)
    const map = `/tmp/perf-${server.child.pid}.map`
    if (symbols && existsSync(map)) {
      if (keep !== undefined) copyFileSync(map, `${out}.map`)
      rmSync(map, { force: true })
    }
  }
}

const unit = valgrind ? 'Ir' : 'µs'
const round = (v) => Math.round(v)
const rows = []
for (const framework of frameworks) {
  const row = { framework, unit: valgrind ? 'instructions' : 'cpu µs' }
  const figures = {}
  for (const arm of arms) {
    const { batches, statuses } = await measure(framework, arm)
    // The first batch still carries warm-up: the figure is the mean of the others.
    const counted = batches.length > 1 ? batches.slice(1) : batches
    const mean = (field) => counted.reduce((sum, b) => sum + b[field], 0) / counted.length
    const figure = { all: mean('all') }
    if (valgrind) {
      figure.withoutCompilation = mean('withoutCompilation')
      figure.withoutCompilationAndGc = mean('withoutCompilationAndGc')
    }
    figures[arm] = figure
    row[arm] = valgrind ? round(figure.all) : Math.round(figure.all * 10) / 10
    if (valgrind) {
      row[`${arm} without compilation`] = round(figure.withoutCompilation)
      row[`${arm} without compilation and GC`] = round(figure.withoutCompilationAndGc)
    }
    const shown = batches.map((b) =>
      valgrind ? `${round(b.all)} (${round(b.withoutCompilation)})` : b.all.toFixed(1),
    )
    process.stderr.write(
      `${framework} ${arm}: ${shown.join(' → ')} ${unit}/request${valgrind ? ' (without compilation)' : ''} ${JSON.stringify(statuses)}\n`,
    )
  }
  if (figures.bare !== undefined) {
    const base = valgrind ? 'withoutCompilation' : 'all'
    for (const arm of arms) {
      if (arm !== 'bare') {
        row[`${arm}÷bare`] = Math.round((figures[arm][base] / figures.bare[base]) * 1000) / 1000
      }
    }
  }
  rows.push(row)
}
if (keep === undefined) rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify(rows, null, 2))
