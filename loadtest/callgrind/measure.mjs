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
// µs, from process.cpuUsage(); CPU_USER=1: user time only) is read before and after. The per-request figure
// is the last batch ÷ n; the earlier ones show whether warm-up was still going
// on (they should agree). V8 runs --single-threaded under valgrind, so its
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
    ...(symbols ? ['--perf-basic-prof'] : []),
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
    env: { ...process.env, NODE_ENV: 'production' },
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

/** Dumps and zeroes callgrind's counters; returns the dump's instruction total. */
function dump(server, out, k) {
  const result = spawnSync('callgrind_control', ['-d', String(server.child.pid)], {
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`callgrind_control failed: ${result.stderr}`)
  const file = `${out}.${k}`
  if (!existsSync(file)) throw new Error(`no callgrind dump ${file}`)
  const text = readFileSync(file, 'utf8')
  return Number(/^summary:\s*(\d+)/m.exec(text)?.[1] ?? /^totals:\s*(\d+)/m.exec(text)?.[1])
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
    const perRequest = []
    for (let k = 0; k < intervals; k++) {
      Object.assign(statuses, await drive(server.port, n, agent))
      if (valgrind) perRequest.push(dump(server, out, k + 2) / n)
      else {
        const after = await cpu()
        perRequest.push((after - before) / n)
        before = after
      }
    }
    return { perRequest, statuses }
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
const rows = []
for (const framework of frameworks) {
  const row = { framework, unit: valgrind ? 'instructions' : 'cpu µs' }
  for (const arm of arms) {
    const { perRequest, statuses } = await measure(framework, arm)
    row[arm] = Math.round(perRequest.at(-1) * 10) / 10
    process.stderr.write(
      `${framework} ${arm}: ${perRequest.map((v) => v.toFixed(valgrind ? 0 : 1)).join(' → ')} ${unit}/request ${JSON.stringify(statuses)}\n`,
    )
  }
  if (row.bare !== undefined) {
    for (const arm of arms) {
      if (arm !== 'bare') row[`${arm}÷bare`] = Math.round((row[arm] / row.bare) * 1000) / 1000
    }
  }
  rows.push(row)
}
if (keep === undefined) rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify(rows, null, 2))
