/**
 * `pnpm loadtest <scenario> [options]` and `npm run demo`.
 * Every run targets 127.0.0.1, is bounded in time and request count, and
 * kills the servers it started on every exit path.
 */
import {
  CALIBRATE_URL_FLAGS,
  type Command,
  parseCommandLine,
  SCENARIO_FLAGS,
  type ScenarioName,
  UsageError,
} from './command-line.js'
import { installExitHandlers, useMetrics, useSpillwayFrom } from './harness/processes.js'
import { metricsTables } from './report/metrics-table.js'
import type { Report } from './report/model.js'
import { renderTerminal, writeReport } from './report/write.js'
import { burst } from './scenarios/burst.js'
import { calibrate } from './scenarios/calibrate.js'
import { calibrateUrl, resolveUrlTarget } from './scenarios/calibrate-url.js'
import { capacityStep } from './scenarios/capacity-step.js'
import type { ScenarioOptions } from './scenarios/common.js'
import { cost } from './scenarios/cost.js'
import { demo } from './scenarios/demo.js'
import { fleet } from './scenarios/fleet.js'
import { overhead } from './scenarios/overhead.js'
import { overload } from './scenarios/overload.js'
import { priorities } from './scenarios/priorities.js'
import { retryAmplification } from './scenarios/retry-amplification.js'
import { soak, stall } from './scenarios/soak.js'
import { tenants } from './scenarios/tenants.js'

/** The scenarios; the flags each honours and its defaults are in `command-line.ts`. */
const SCENARIOS: Record<ScenarioName, (options: ScenarioOptions) => Promise<Report>> = {
  demo,
  overhead,
  overload,
  burst,
  'capacity-step': capacityStep,
  priorities,
  calibrate,
  'retry-amplification': retryAmplification,
  cost,
  fleet,
  tenants,
  soak,
  stall,
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
  retry-amplification   users retrying 503s at once vs @spillway/client callers, at 3×:
                  requests at the server per logical request, goodput, what users saw
  cost            instructions (callgrind) and server CPU per request: bare, pass-through,
                  spillway; node:http and --framework (built packages: run the build first)
  fleet           3 instances behind nginx, per-tenant caps on Redis, one instance killed
  tenants         1 heavy + N light tenants (x-tenant header) at 3×: no key vs fair queuing by key
  soak            10 min at 3×: priorities, tenants, aborting and slow clients; RSS plateau, drain,
                  active resources, handler runs for clients already gone (--stall-ms: stalls too)
  stall           20 s at 3×, 25% aborting clients, the target SIGSTOPped 3 times for --stall-ms
                  (1500): gone clients' handlers must not run, critical success back within 1 s

Options (a scenario refuses, with exit code 2, a flag it would ignore; see the list below):
  --duration <s>          seconds of load per run (scenario default)
  --rate <req/s>          offered rate instead of the scenario's multiple of capacity
  --levels <2,4>          multiples of capacity (overload; retry-amplification: 3)
  --framework <express|koa|fastify|hono|nest>   the target's framework (nest: NestJS on Express)
  --slots <8> --service-ms <20>   the downstream: slots × ms per operation (fleet: 8 × 100 per instance; tenants: 8 × 100)
  --cpu-ms <0>            busy-loop CPU work per request
  --listen-backlog <n>    the target's server.listen backlog (default Node's 511): how many
                          connections wait in the kernel before the server accepts them
  --new-connections       overload: open loop with a new connection per request (no keep-alive)
                          (--cpu-ms 2 --slots 0: CPU-bound, capacity 1000 / cpu-ms)
  --pressure              overload: also spillway + createPressureMonitor(), through the
                          adapter, through installEarlyGate, each also with
                          holdEarlyRetries; retry-amplification: also
                          naive users against the unprotected target, and both clients
                          against spillway + createPressureMonitor() (CPU-bound: --slots 0 --cpu-ms 2)
  --timeout-ms <2000>     client timeout
  --slo-ms <500>          goodput counts 2xx answered within this
  --limit <10> --queue-size <16> --queue-timeout-ms <250>   the fixed spillway configuration
                   (adaptive limits get the controller's default queue unless a --queue-* is given;
                   fleet: the limit is the downstream's slots unless --limit is given)
  --adaptive <gradient2,aimd,vegas|none>
  --light-tenants <4>     tenants: light tenants beside the heavy one (express or koa targets)
  --stall-ms <1500>       soak, stall: stop the target (SIGSTOP) 3 times this long, then SIGCONT
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

Flags each scenario takes (and --help):
${Object.entries(SCENARIO_FLAGS)
  .map(([name, flags]) => `  ${name.padEnd(20)}${flags.map((f) => `--${f}`).join(' ')}`)
  .join('\n')}
  ${'calibrate --url'.padEnd(20)}${CALIBRATE_URL_FLAGS.map((f) => `--${f}`).join(' ')}
`

async function run(command: Extract<Command, { kind: 'run' }>): Promise<void> {
  useSpillwayFrom(command.from)
  useMetrics(command.metrics)
  installExitHandlers()
  const { options, url } = command
  const report =
    url === undefined
      ? await SCENARIOS[command.scenario](options)
      : await calibrateUrl(
          options,
          resolveUrlTarget({
            url: url.url,
            method: url.method,
            headers: url.headers,
            body: url.body,
            allowRemote: url.allowRemote,
          }),
          url.startRate,
        )
  report.tables.push(...metricsTables(report))
  process.stdout.write(`${renderTerminal(report)}\n`)
  const paths = writeReport(report, command.files)
  process.stdout.write(`\nJSON:   ${paths.json}\nReport: ${paths.html}\n`)
  if (paths.svg !== undefined) process.stdout.write(`Charts: ${paths.svg}\n`)
}

async function main(): Promise<void> {
  const command = parseCommandLine(process.argv.slice(2))
  if (command.kind === 'help') {
    if (command.message !== undefined) process.stderr.write(`${command.message}\n\n`)
    process.stdout.write(USAGE)
    process.exitCode = command.exitCode
    return
  }
  await run(command)
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    // A mistake on the command line: nothing was started.
    process.stderr.write(`${error.message}\n(pnpm loadtest --help lists the scenarios and flags)\n`)
    process.exit(2)
  }
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  process.exit(1)
})
