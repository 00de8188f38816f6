/**
 * Target servers as child processes. The harness kills exactly the PIDs it
 * started, on every exit path: normal stop, error, SIGINT/SIGTERM and process
 * exit. A child also exits by itself when its IPC channel to us closes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import type { TargetConfig } from '../target/config.js'
import { type SpillwaySource, targetEntry, tsconfigPath, tsxLoaderUrl } from './paths.js'

/** A running target server. */
export interface Target {
  readonly pid: number
  readonly port: number
  /** The adapter it reports, e.g. `@spillway/express`. */
  readonly adapter: string | null
  /** It serves `GET /metrics` (see {@link useMetrics}). */
  readonly metrics: boolean
  /** Kills it (SIGTERM, then SIGKILL after `graceMs`) and resolves when it has exited. */
  stop(graceMs?: number): Promise<void>
}

const children = new Set<ChildProcess>()

let source: SpillwaySource = 'src'
let metricsOn = false

/** Makes the spillway targets started from now on serve `/metrics` through `@spillway/prometheus`. */
export function useMetrics(on: boolean): void {
  metricsOn = on
}

/** Makes the targets started from now on load spillway from `src` (default) or the built `dist`. */
export function useSpillwayFrom(from: SpillwaySource): void {
  source = from
}

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  children.clear()
}

/**
 * Puts another child process we started (redis-server, nginx) under the same
 * guarantee as the targets: killed by its PID on every exit path.
 */
export function trackChild(child: ChildProcess): void {
  children.add(child)
  child.once('exit', () => children.delete(child))
}

/** Target processes started and not yet exited (a leak check for the harness itself). */
export function runningTargetCount(): number {
  return children.size
}

let handlersInstalled = false

/** Makes Ctrl-C, SIGTERM and uncaught errors kill the targets we started before we exit. */
export function installExitHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${children.size} target(s)\n`)
      killAll()
      process.exit(signal === 'SIGINT' ? 130 : 143)
    })
  }
}

/** Starts one target server and waits (at most `startTimeoutMs`) until it listens. */
export function startTarget(config: TargetConfig, startTimeoutMs = 20_000): Promise<Target> {
  const child = spawn(process.execPath, ['--import', tsxLoaderUrl(), targetEntry()], {
    env: {
      ...process.env,
      SPILLWAY_TARGET: JSON.stringify(metricsOn ? { metrics: true, ...config } : config),
      TSX_TSCONFIG_PATH: tsconfigPath(source),
      SPILLWAY_FROM: source,
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.add(child)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      children.delete(child)
      resolve()
    })
  })
  const stop = async (graceMs = 2000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  return new Promise<Target>((resolve, reject) => {
    let settled = false
    // The first cause wins: killing the child after an error message also fires 'exit'.
    const fail = (error: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      void stop(0).then(() => reject(error))
    }
    const timer = setTimeout(
      () => fail(new Error(`target did not start within ${startTimeoutMs} ms`)),
      startTimeoutMs,
    )
    child.once('error', fail)
    child.once('exit', (code, signal) => {
      fail(new Error(`target exited before listening (code ${code}, signal ${signal})`))
    })
    child.on(
      'message',
      (message: {
        type?: string
        port?: number
        adapter?: string | null
        metrics?: boolean
        message?: string
      }) => {
        if (message.type === 'error') fail(new Error(`target failed: ${message.message}`))
        if (message.type !== 'ready' || typeof message.port !== 'number') return
        clearTimeout(timer)
        const pid = child.pid as number
        resolve({
          pid,
          port: message.port,
          adapter: message.adapter ?? null,
          metrics: message.metrics === true,
          stop,
        })
      },
    )
  })
}
