/**
 * The real servers the fleet scenario runs beside its targets, from Debian's
 * packages: a `redis-server` (shared per-key leases) and an `nginx` load
 * balancer. Each is started on a free 127.0.0.1 port with a throw-away
 * configuration, tracked like the targets (killed by its PID on every exit
 * path), and stopped by its PID.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { trackChild } from './processes.js'

/** Path of a program from PATH (or one of `extra`), or `undefined`. */
export function findProgram(name: string, extra: readonly string[] = []): string | undefined {
  try {
    const found = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim()
    if (found !== '') return found
  } catch {
    // Not on PATH.
  }
  return extra.find((path) => existsSync(path))
}

/** `redis-server`, or `undefined` when Debian's `redis-server` package is not installed. */
export const findRedisServer = (): string | undefined =>
  findProgram('redis-server', ['/usr/bin/redis-server'])

/** `nginx`, or `undefined` when Debian's `nginx` package is not installed (it lives in /usr/sbin). */
export const findNginx = (): string | undefined => findProgram('nginx', ['/usr/sbin/nginx'])

/** A free TCP port on 127.0.0.1 (free when asked: the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      )
    })
  })
}

/** Resolves when something accepts TCP connections on 127.0.0.1:`port` (and `ready` says so). */
async function waitUntilListening(
  port: number,
  child: ChildProcess,
  name: string,
  timeoutMs: number,
  greeting?: { send: string; expect: string },
): Promise<void> {
  const start = performance.now()
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited before listening (code ${child.exitCode})`)
    }
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      const done = (value: boolean) => {
        socket.destroy()
        resolve(value)
      }
      socket.setTimeout(500, () => done(false))
      socket.once('error', () => done(false))
      socket.once('connect', () => {
        if (greeting === undefined) return done(true)
        socket.setEncoding('utf8')
        socket.once('data', (data: string) => done(data.startsWith(greeting.expect)))
        socket.write(greeting.send)
      })
    })
    if (ok) return
    if (performance.now() - start > timeoutMs) {
      throw new Error(`${name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A server process we started. */
export interface Service {
  readonly name: string
  readonly pid: number
  readonly port: number
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>
}

function stopper(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): (graceMs?: number) => Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return async (graceMs = 2000) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    process.kill(child.pid as number, signal)
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid as number, 'SIGKILL')
      }
    }, graceMs)
    await exited
    clearTimeout(timer)
  }
}

/** Starts `redis-server` on a free loopback port, without persistence. */
export async function startRedis(binary: string): Promise<Service> {
  const port = await freePort()
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: 'ignore' },
  )
  trackChild(child)
  const stop = stopper(child)
  try {
    await waitUntilListening(port, child, 'redis-server', 10_000, {
      send: 'PING\r\n',
      expect: '+PONG',
    })
  } catch (error) {
    await stop(0)
    throw error
  }
  return { name: 'redis-server', pid: child.pid as number, port, stop }
}

/** How nginx balances the fleet. */
export interface NginxOptions {
  /** The instances' ports on 127.0.0.1. */
  upstreamPorts: readonly number[]
  /** Attempts per request, the first included (`proxy_next_upstream_tries`). */
  tries: number
  /** Longest time nginx spends on one request's attempts, ms (`proxy_next_upstream_timeout`). */
  retryWindowMs: number
}

/** nginx with its access log: what each request's attempts answered. */
export interface Nginx extends Service {
  /** The generated configuration, for the record. */
  readonly config: string
  /** Stops nginx (which flushes its log) and returns each request's `status upstream_statuses`. */
  stopAndReadLog(): Promise<NginxLogEntry[]>
}

/** One line of the access log. */
export interface NginxLogEntry {
  /** When nginx received the request, ms since the epoch (`$msec` − `$request_time`). */
  startMs: number
  /** Status sent to the client. */
  status: number
  /** Each attempt's status, in order (`502` for a refused connection). */
  attempts: number[]
}

/**
 * The configuration: one process (`master_process off`, so its one PID is all
 * there is to stop), keep-alive to the instances, and `proxy_next_upstream
 * error timeout http_503` (nginx retries only idempotent methods unless told
 * otherwise) with a bounded number of tries. `max_fails=0`: a `503` is an
 * instance protecting itself, not a dead instance; counting it as a failure
 * would take the instance out of rotation and push its load onto the others.
 */
export function nginxConfig(dir: string, port: number, options: NginxOptions): string {
  const servers = options.upstreamPorts
    .map((p) => `    server 127.0.0.1:${p} max_fails=0;`)
    .join('\n')
  return `# Generated by the spillway fleet scenario; listens on 127.0.0.1 only.
daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} error;
events { worker_connections 16384; }
http {
  client_body_temp_path ${join(dir, 'tmp')};
  proxy_temp_path ${join(dir, 'tmp')};
  fastcgi_temp_path ${join(dir, 'tmp')};
  uwsgi_temp_path ${join(dir, 'tmp')};
  scgi_temp_path ${join(dir, 'tmp')};
  log_format fleet '$msec $request_time $status $upstream_status';
  access_log ${join(dir, 'access.log')} fleet buffer=64k flush=1s;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  upstream fleet {
${servers}
    keepalive 256;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://fleet;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
      proxy_read_timeout 10s;
      proxy_next_upstream error timeout http_503;
      proxy_next_upstream_tries ${options.tries};
      proxy_next_upstream_timeout ${Math.round(options.retryWindowMs)}ms;
    }
  }
}
`
}

/** Parses the access log lines (`1764626400.123 0.004 200 503, 200`). */
export function parseNginxLog(text: string): NginxLogEntry[] {
  const entries: NginxLogEntry[] = []
  for (const line of text.split('\n')) {
    const [msec, requestTime, statusText, ...rest] = line.split(' ')
    const status = Number(statusText)
    const endMs = Number(msec) * 1000
    const durationMs = Number(requestTime) * 1000
    if (!Number.isInteger(status) || !Number.isFinite(endMs) || !Number.isFinite(durationMs))
      continue
    // Attempts are separated by ", " (and " : " across upstream groups); "-" when none was made.
    const attempts = rest
      .join(' ')
      .split(/[,:]/)
      .map((s) => Number(s.trim()))
      .filter((n) => Number.isInteger(n) && n > 0)
    entries.push({ startMs: Math.round(endMs - durationMs), status, attempts })
  }
  return entries
}

/** Starts nginx in front of the given instances, on a free loopback port. */
export async function startNginx(binary: string, options: NginxOptions): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'spillway-nginx-'))
  mkdirSync(join(dir, 'tmp'))
  const port = await freePort()
  const config = nginxConfig(dir, port, options)
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, config)
  // -e: the error log from the first line on, before the configuration is read.
  const child = spawn(binary, ['-p', dir, '-c', file, '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  trackChild(child)
  // SIGQUIT: a graceful shutdown, which flushes the buffered access log.
  const stop = stopper(child, 'SIGQUIT')
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  try {
    await waitUntilListening(port, child, 'nginx', 10_000)
  } catch (error) {
    await stop(0)
    cleanup()
    throw error
  }
  let log: NginxLogEntry[] | undefined
  return {
    name: 'nginx',
    pid: child.pid as number,
    port,
    config,
    stop: async (graceMs) => {
      await stop(graceMs)
      cleanup()
    },
    stopAndReadLog: async () => {
      if (log !== undefined) return log
      await stop(5000)
      const path = join(dir, 'access.log')
      log = parseNginxLog(existsSync(path) ? readFileSync(path, 'utf8') : '')
      cleanup()
      return log
    },
  }
}
