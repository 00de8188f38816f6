// Instructions and CPU per request, bare vs spillway, and per 503:
//   [ARMS=bare,spillway,reject] node loadtest/callgrind/measure.mjs [--valgrind] <framework,...> <n1> <n2>
// Each (framework, arm) server answers n1 then (in a second process) n2
// requests to a trivial route; the difference between the two runs' totals,
// divided by n2 - n1, is the per-request cost without startup. With
// --valgrind the totals are callgrind instruction counts (Ir); without, the
// server's CPU time (user + system, µs) from process.cpuUsage(). The load
// generator (this process, 4 keep-alive connections on 127.0.0.1) is not counted.
import { spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'

const args = process.argv.slice(2)
const valgrind = args[0] === '--valgrind'
if (valgrind) args.shift()
const frameworks = (args[0] ?? 'fastify').split(',')
const n1 = Number(args[1] ?? 500)
const n2 = Number(args[2] ?? 2500)
const here = path.dirname(new URL(import.meta.url).pathname)

function drive(port, count, arm) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  const get = (p) =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      req.on('error', () => resolve(0))
    })
  return (async () => {
    if (arm === 'reject') {
      // Takes the only slot for good; it is answered never, its socket closed at exit.
      http.get({ host: '127.0.0.1', port, path: '/hold', agent: false }).on('error', () => {})
      await new Promise((r) => setTimeout(r, valgrind ? 1500 : 200))
    }
    let sent = 0
    const statuses = {}
    const worker = async () => {
      while (sent < count) {
        sent++
        const s = await get('/trivial')
        statuses[s] = (statuses[s] ?? 0) + 1
      }
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    agent.destroy()
    return statuses
  })()
}

function once(framework, arm, count) {
  const out = path.join(os.tmpdir(), `spillway-cg-${process.pid}-${framework}-${arm}-${count}.out`)
  const node = [process.execPath, path.join(here, 'serve.mjs'), framework, arm, String(count)]
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
  })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  return new Promise((resolve, reject) => {
    let buffer = ''
    let statuses
    let last
    child.stdout.on('data', (d) => {
      buffer += d
      const lines = buffer.split('\n')
      buffer = lines.pop()
      for (const line of lines) {
        const msg = JSON.parse(line)
        if (msg.port) drive(msg.port, count, arm).then((s) => (statuses = s))
        if (msg.done) last = msg
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0 || last === undefined)
        return reject(new Error(`${cmd.join(' ')} exited ${code}\n${stderr.slice(-2000)}`))
      let ir = null
      if (valgrind) {
        const text = readFileSync(out, 'utf8')
        ir = Number(/^summary:\s*(\d+)/m.exec(text)?.[1] ?? /^totals:\s*(\d+)/m.exec(text)?.[1])
        rmSync(out, { force: true })
      }
      resolve({ cpuMicros: last.cpuMicros, ir, statuses })
    })
  })
}

const rows = []
for (const framework of frameworks) {
  const per = {}
  const arms = (process.env.ARMS ?? 'bare,spillway,reject').split(',')
  for (const arm of arms) {
    const a = await once(framework, arm, n1)
    const b = await once(framework, arm, n2)
    const unit = valgrind ? (b.ir - a.ir) / (n2 - n1) : (b.cpuMicros - a.cpuMicros) / (n2 - n1)
    per[arm] = unit
    process.stderr.write(
      `${framework} ${arm}: ${unit.toFixed(valgrind ? 0 : 1)} ${valgrind ? 'Ir' : 'µs'}/request ${JSON.stringify(b.statuses)}\n`,
    )
  }
  rows.push({
    framework,
    unit: valgrind ? 'instructions' : 'cpu µs',
    bare: Math.round(per.bare * 10) / 10,
    ...Object.fromEntries(Object.entries(per).map(([arm, v]) => [arm, Math.round(v * 10) / 10])),
    overheadPercent: Math.round(((per.spillway - per.bare) / per.bare) * 1000) / 10,
  })
}
console.log(JSON.stringify(rows, null, 2))
