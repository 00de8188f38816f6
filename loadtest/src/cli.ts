/**
 * `pnpm loadtest <scenario> [options]` and `npm run demo`.
 * Every run targets 127.0.0.1, is bounded in time and request count, and
 * kills the servers it started on every exit path.
 */
import { parseArgs } from 'node:util'
import { installExitHandlers, useMetrics, useSpillwayFrom } from './harness/processes.js'
import { metricsTables } from './report/metrics-table.js'
import type { Report } from './report/model.js'
import { renderTerminal, writeReport } from './report/write.js'
import { burst } from './scenarios/burst.js'
import { calibrate } from './scenarios/calibrate.js'
import { calibrateUrl, resolveUrlTarget } from './scenarios/calibrate-url.js'
import { capacityStep } from './scenarios/capacity-step.js'
import { closedLoop } from './scenarios/closed-loop-report.js'
import { DEFAULT_OPTIONS, type ScenarioOptions } from './scenarios/common.js'
import { cost } from './scenarios/cost.js'
import { demo } from './scenarios/demo.js'
import { FLEET_DEFAULTS, fleet } from './scenarios/fleet.js'
import { overhead } from './scenarios/overhead.js'
import { overload } from './scenarios/overload.js'
import { priorities } from './scenarios/priorities.js'
import { TENANTS_DEFAULTS, tenants } from './scenarios/tenants.js'
import { FRAMEWORKS, type Framework } from './target/config.js'

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
  fleet,
  tenants,
}

/** Defaults that differ from {@link DEFAULT_OPTIONS} for one scenario. */
const SCENARIO_DEFAULTS: Record<string, Partial<ScenarioOptions>> = {
  fleet: FLEET_DEFAULTS,
  tenants: TENANTS_DEFAULTS,
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
  fleet           3 instances behind nginx, per-tenant caps on Redis, one instance killed
  tenants         1 heavy + N light tenants (x-tenant header) at 3×: no key vs fair queuing by key

Options:
  --duration <s>          seconds of load per run (scenario default)
  --rate <req/s>          offered rate instead of the scenario's multiple of capacity
  --levels <2,4>          overload multiples of capacity
  --framework <express|koa|fastify|hono|nest>   the target's framework (nest: NestJS on Express)
  --slots <8> --service-ms <20>   the downstream: slots × ms per operation (fleet: 8 × 100 per instance; tenants: 8 × 100)
  --cpu-ms <0>            busy-loop CPU work per request
  --new-connections       overload: open loop with a new connection per request (no keep-alive)
                          (--cpu-ms 2 --slots 0: CPU-bound, capacity 1000 / cpu-ms)
  --pressure              overload: also spillway + createPressureMonitor(), through the
                          adapter and through installEarlyGate
  --timeout-ms <2000>     client timeout
  --slo-ms <500>          goodput counts 2xx answered within this
  --limit <10> --queue-size <16> --queue-timeout-ms <250>   the fixed spillway configuration
                   (adaptive limits get the controller's default queue unless a --queue-* is given;
                   fleet: the limit is the downstream's slots unless --limit is given)
  --adaptive <gradient2,aimd,vegas|none>
  --light-tenants <4>     tenants: light tenants beside the heavy one (express or koa targets)
  --json <file> --html <file>     where to write the report (default loadtest/results/)
  --from <src|dist>       load spillway from packages/*/src (default, no build needed)
                          or from the built packages/*/dist (run \`pnpm run build\` first)
  --svg <file>            also write the first group's latency and throughput charts as one SVG
  --metrics               spillway targets serve /metrics (@spillway/prometheus); the report shows
                          the server's series over each run beside the load generator's figures

calibrate against your own server (instead of the synthetic app):
  --url <http://127.0.0.1:3000/path>   loopback addresses only, unless --allow-remote
  --method <GET> --header 'Name: value' (repeatable) --body <text>
  --start-rate <50>       first step's rate; steps grow ×1.25 up to --rate (default 1000)
  --allow-remote          allow a non-loopback URL (only a server of yours, on a network you may load)
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
      url: { type: 'string' },
      method: { type: 'string' },
      header: { type: 'string', multiple: true },
      body: { type: 'string' },
      'start-rate': { type: 'string' },
      'allow-remote': { type: 'boolean' },
      metrics: { type: 'boolean' },
      'light-tenants': { type: 'string' },
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
  const framework = (values.framework ?? DEFAULT_OPTIONS.framework) as Framework
  if (!FRAMEWORKS.includes(framework))
    throw new RangeError(`--framework must be one of ${FRAMEWORKS.join(', ')}, got ${framework}`)
  const adaptive =
    values.adaptive === undefined
      ? DEFAULT_OPTIONS.adaptive
      : values.adaptive === 'none'
        ? []
        : (values.adaptive.split(',') as ScenarioOptions['adaptive'])
  // A scenario may change a default (the fleet runs five processes on the same cores).
  const defaults: ScenarioOptions = { ...DEFAULT_OPTIONS, ...SCENARIO_DEFAULTS[name as string] }
  const options: ScenarioOptions = {
    durationSeconds: numberOption(values.duration, 'duration'),
    rate: numberOption(values.rate, 'rate'),
    framework,
    slots: numberOption(values.slots, 'slots') ?? defaults.slots,
    serviceMs: numberOption(values['service-ms'], 'service-ms') ?? defaults.serviceMs,
    cpuMs: numberOption(values['cpu-ms'], 'cpu-ms') ?? defaults.cpuMs,
    timeoutMs: numberOption(values['timeout-ms'], 'timeout-ms') ?? defaults.timeoutMs,
    sloMs: numberOption(values['slo-ms'], 'slo-ms') ?? defaults.sloMs,
    limit: numberOption(values.limit, 'limit') ?? defaults.limit,
    queueSize: numberOption(values['queue-size'], 'queue-size') ?? defaults.queueSize,
    queueTimeoutMs:
      numberOption(values['queue-timeout-ms'], 'queue-timeout-ms') ?? defaults.queueTimeoutMs,
    newConnection: values['new-connections'] === true,
    pressure: values.pressure === true,
    queueGiven: values['queue-size'] !== undefined || values['queue-timeout-ms'] !== undefined,
    limitGiven: values.limit !== undefined,
    adaptive,
    levels:
      values.levels === undefined
        ? defaults.levels
        : values.levels.split(',').map((l) => numberOption(l, 'levels') as number),
    lightTenants: numberOption(values['light-tenants'], 'light-tenants'),
  }
  const from = values.from ?? 'src'
  if (from !== 'src' && from !== 'dist') throw new RangeError('--from must be src or dist')
  useSpillwayFrom(from)
  useMetrics(values.metrics === true)
  installExitHandlers()
  if (values.url !== undefined && name !== 'calibrate') {
    throw new RangeError('--url goes with the calibrate scenario only')
  }
  if (values['light-tenants'] !== undefined && name !== 'tenants') {
    throw new RangeError('--light-tenants goes with the tenants scenario only')
  }
  if (name === 'tenants' && (values.levels !== undefined || values.adaptive !== undefined)) {
    // One fixed spillway configuration at 3×, with and without a key: nothing to step or compare.
    throw new RangeError(
      'the tenants scenario takes no --levels or --adaptive (use --rate, --limit)',
    )
  }
  const report =
    values.url === undefined
      ? await scenario(options)
      : await calibrateUrl(
          options,
          resolveUrlTarget({
            url: values.url,
            method: values.method,
            headers: values.header,
            body: values.body,
            allowRemote: values['allow-remote'],
          }),
          numberOption(values['start-rate'], 'start-rate') ?? 50,
        )
  report.tables.push(...metricsTables(report))
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
