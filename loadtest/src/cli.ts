/**
 * `pnpm loadtest <scenario> [options]` and `npm run demo`.
 * Every run targets 127.0.0.1, is bounded in time and request count, and
 * kills the servers it started on every exit path.
 */
import { parseArgs } from 'node:util'
import { installExitHandlers, useSpillwayFrom } from './harness/processes.js'
import type { Report } from './report/model.js'
import { renderTerminal, writeReport } from './report/write.js'
import { burst } from './scenarios/burst.js'
import { calibrate } from './scenarios/calibrate.js'
import { capacityStep } from './scenarios/capacity-step.js'
import { closedLoop } from './scenarios/closed-loop-report.js'
import { DEFAULT_OPTIONS, type ScenarioOptions } from './scenarios/common.js'
import { cost } from './scenarios/cost.js'
import { demo } from './scenarios/demo.js'
import { overhead } from './scenarios/overhead.js'
import { overload } from './scenarios/overload.js'
import { priorities } from './scenarios/priorities.js'

const SCENARIOS: Record<string, (options: ScenarioOptions) => Promise<Report>> = {
  demo,
  overhead,
  overload,
  burst,
  'capacity-step': capacityStep,
  priorities,
  calibrate,
  'closed-loop': closedLoop,
  cost,
}

const USAGE = `Usage: pnpm loadtest <scenario> [options]

Scenarios:
  demo            3× open-loop overload, unprotected vs spillway (npm run demo)
  overhead        trivial route, bare vs spillway, alternating closed-loop runs
  overload        2× and 4× capacity, open and closed loop, every protection
  burst           0.5× → 3× → 0.5×: time until latency is back to baseline
  capacity-step   the downstream slows to half capacity mid-run: adaptive limits
  priorities      20/50/30 critical/normal/sheddable mix at 3×
  calibrate       step the load up, find the knee, suggest a configuration
  closed-loop     naive retrying clients vs @spillway/client (retry amplification)
  cost            instructions (callgrind) and server CPU per request: bare, pass-through,
                  spillway; node:http and --framework (built packages: run the build first)

Options:
  --duration <s>          seconds of load per run (scenario default)
  --rate <req/s>          offered rate instead of the scenario's multiple of capacity
  --levels <2,4>          overload multiples of capacity
  --framework <express|koa>
  --slots <8> --service-ms <20>   the downstream: slots × ms per operation
  --cpu-ms <0>            busy-loop CPU work per request
  --new-connections       overload: open loop with a new connection per request (no keep-alive)
                          (--cpu-ms 2 --slots 0: CPU-bound, capacity 1000 / cpu-ms)
  --pressure              overload: also spillway + createPressureMonitor(), through the
                          adapter and through installEarlyGate
  --timeout-ms <2000>     client timeout
  --slo-ms <500>          goodput counts 2xx answered within this
  --limit <10> --queue-size <16> --queue-timeout-ms <250>   the fixed spillway configuration
                   (adaptive limits get the controller's default queue unless a --queue-* is given)
  --adaptive <gradient2,aimd,vegas|none>
  --json <file> --html <file>     where to write the report (default loadtest/results/)
  --from <src|dist>       load spillway from packages/*/src (default, no build needed)
                          or from the built packages/*/dist (run \`pnpm run build\` first)
  --svg <file>            also write the first group's latency and throughput charts as one SVG
`

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0)
    throw new RangeError(`--${name} must be a number ≥ 0, got ${value}`)
  return n
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      levels: { type: 'string' },
      framework: { type: 'string' },
      slots: { type: 'string' },
      'service-ms': { type: 'string' },
      'cpu-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'slo-ms': { type: 'string' },
      limit: { type: 'string' },
      'queue-size': { type: 'string' },
      'queue-timeout-ms': { type: 'string' },
      adaptive: { type: 'string' },
      json: { type: 'string' },
      html: { type: 'string' },
      svg: { type: 'string' },
      from: { type: 'string' },
      'new-connections': { type: 'boolean' },
      pressure: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const name = positionals[0]
  const scenario = name === undefined ? undefined : SCENARIOS[name]
  if (values.help === true || scenario === undefined) {
    process.stdout.write(USAGE)
    if (values.help !== true) process.exitCode = 2
    return
  }
  for (const flag of ['new-connections', 'pressure'] as const) {
    if (values[flag] === true && name !== 'overload')
      throw new RangeError(`--${flag} applies to the overload scenario only`)
  }
  const framework = values.framework ?? DEFAULT_OPTIONS.framework
  if (framework !== 'express' && framework !== 'koa')
    throw new RangeError('--framework must be express or koa')
  const adaptive =
    values.adaptive === undefined
      ? DEFAULT_OPTIONS.adaptive
      : values.adaptive === 'none'
        ? []
        : (values.adaptive.split(',') as ScenarioOptions['adaptive'])
  const options: ScenarioOptions = {
    durationSeconds: numberOption(values.duration, 'duration'),
    rate: numberOption(values.rate, 'rate'),
    framework,
    slots: numberOption(values.slots, 'slots') ?? DEFAULT_OPTIONS.slots,
    serviceMs: numberOption(values['service-ms'], 'service-ms') ?? DEFAULT_OPTIONS.serviceMs,
    cpuMs: numberOption(values['cpu-ms'], 'cpu-ms') ?? DEFAULT_OPTIONS.cpuMs,
    timeoutMs: numberOption(values['timeout-ms'], 'timeout-ms') ?? DEFAULT_OPTIONS.timeoutMs,
    sloMs: numberOption(values['slo-ms'], 'slo-ms') ?? DEFAULT_OPTIONS.sloMs,
    limit: numberOption(values.limit, 'limit') ?? DEFAULT_OPTIONS.limit,
    queueSize: numberOption(values['queue-size'], 'queue-size') ?? DEFAULT_OPTIONS.queueSize,
    queueTimeoutMs:
      numberOption(values['queue-timeout-ms'], 'queue-timeout-ms') ??
      DEFAULT_OPTIONS.queueTimeoutMs,
    newConnection: values['new-connections'] === true,
    pressure: values.pressure === true,
    queueGiven: values['queue-size'] !== undefined || values['queue-timeout-ms'] !== undefined,
    adaptive,
    levels:
      values.levels === undefined
        ? DEFAULT_OPTIONS.levels
        : values.levels.split(',').map((l) => numberOption(l, 'levels') as number),
  }
  const from = values.from ?? 'src'
  if (from !== 'src' && from !== 'dist') throw new RangeError('--from must be src or dist')
  useSpillwayFrom(from)
  installExitHandlers()
  const report = await scenario(options)
  process.stdout.write(`${renderTerminal(report)}\n`)
  const paths = writeReport(report, { json: values.json, html: values.html, svg: values.svg })
  process.stdout.write(`\nJSON:   ${paths.json}\nReport: ${paths.html}\n`)
  if (paths.svg !== undefined) process.stdout.write(`Charts: ${paths.svg}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
