/**
 * A real `redis-server` (Debian's package) for the tests: started on a free
 * loopback port with persistence off, stopped or killed by its PID. Commands
 * for the fault tests (`CLIENT PAUSE`, `SCRIPT FLUSH`) go over a raw socket,
 * so no client library is involved in setting a test up.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { connect, createServer } from 'node:net'

/** Path of `redis-server`, or `undefined` when it is not installed. */
export function findRedisServer(): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() ||
      undefined
    )
  } catch {
    return undefined
  }
}

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

/** Sends one command (RESP) and resolves with the first reply line. */
export function command(port: number, args: readonly string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let reply = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`redis ${args[0]}: no reply within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      reply += chunk
      if (!reply.includes('\r\n')) return
      clearTimeout(timer)
      socket.destroy()
      resolve(reply.slice(0, reply.indexOf('\r\n')))
    })
    socket.write(
      `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
    )
  })
}

/** A running server. */
export interface RedisServer {
  readonly port: number
  readonly pid: number
  /** SIGKILL, as a crash: resolves when the process has exited. */
  kill(): Promise<void>
  /** Starts a fresh server on the same port (after `kill`): "Redis is back". */
  restart(): Promise<void>
}

async function waitForPong(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const start = Date.now()
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`)
    try {
      if ((await command(port, ['PING'], 500)) === '+PONG') return
    } catch {
      // Not listening yet.
    }
    if (Date.now() - start > timeoutMs)
      throw new Error(`redis-server did not answer within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

function spawnServer(binary: string, port: number): ChildProcess {
  return spawn(
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
}

function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  process.kill(child.pid as number, 'SIGKILL')
  return exited
}

/** Starts `redis-server` on a free loopback port and waits until it answers PING. */
export async function startRedisServer(binary: string): Promise<RedisServer> {
  const port = await freePort()
  let child = spawnServer(binary, port)
  await waitForPong(port, child, 10_000)
  return {
    port,
    get pid() {
      return child.pid as number
    },
    kill: () => killChild(child),
    restart: async () => {
      await killChild(child)
      child = spawnServer(binary, port)
      await waitForPong(port, child, 10_000)
    },
  }
}

/**
 * Waits until the sorted set `key` holds `count` leases: a release is sent
 * without waiting for its reply, so a test that checks its effect from
 * another connection waits for it to land rather than for a fixed time.
 */
export async function untilLeases(
  port: number,
  key: string,
  count: number,
  timeoutMs = 5000,
): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const reply = await command(port, ['ZCARD', key])
    if (reply === `:${count}`) return
    if (Date.now() >= until) throw new Error(`${key} holds ${reply.slice(1)} leases, not ${count}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
