/**
 * The command line of `pnpm loadtest <scenario> [options]`, parsed into what a
 * scenario runs with. Every scenario declares the flags it honours
 * ({@link SCENARIO_FLAGS}); a flag given to a scenario that does not honour it
 * is a {@link UsageError} (exit code 2) before any load starts, never silently
 * ignored.
 *
 * Adding a flag: declare it in {@link CLI_OPTIONS}, then add it to the list of
 * every scenario that reads it. Adding a scenario: give it a line in
 * {@link SCENARIO_FLAGS} (`cli.ts` does not compile without one).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { DEFAULT_OPTIONS, type ScenarioOptions } from './scenarios/common.js'
import { FLEET_DEFAULTS } from './scenarios/fleet.js'
import { RETRY_AMPLIFICATION_DEFAULTS } from './scenarios/retry-amplification.js'
import { SOAK_DEFAULTS } from './scenarios/soak.js'
import { TENANTS_DEFAULTS } from './scenarios/tenants.js'
import { FRAMEWORKS, type Framework } from './target/config.js'

/** Every flag the CLI knows, in `util.parseArgs`' shape. */
export const CLI_OPTIONS = {
  duration: { type: 'string' },
  rate: { type: 'string' },
  levels: { type: 'string' },
  framework: { type: 'string' },
  slots: { type: 'string' },
  'service-ms': { type: 'string' },
  'cpu-ms': { type: 'string' },
  'listen-backlog': { type: 'string' },
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
  'stall-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

/** A flag's name, without the dashes. */
export type Flag = keyof typeof CLI_OPTIONS

/** Where the report goes: every scenario writes JSON and HTML. */
const REPORT: readonly Flag[] = ['json', 'html']
/** The target app and its downstream, and where it loads spillway from (`targetWith`, `capacityOf`). */
const TARGET: readonly Flag[] = [
  'framework',
  'slots',
  'service-ms',
  'cpu-ms',
  'listen-backlog',
  'from',
]
/** An open-loop run's length, rate, client timeout and goodput objective. */
const LOAD: readonly Flag[] = ['duration', 'rate', 'timeout-ms', 'slo-ms']
/** The fixed spillway configuration (`fixedSpillway`). */
const FIXED: readonly Flag[] = ['limit', 'queue-size', 'queue-timeout-ms']
/** Scenarios that run through `runOne`: `/metrics` scraped, the first group charted. */
const RUNS: readonly Flag[] = ['svg', 'metrics']

/**
 * The flags each scenario honours (`--help` goes with any). A scenario's runner
 * reads exactly these; the test `loadtest/test/command-line.test.ts` checks
 * each list both ways.
 */
export const SCENARIO_FLAGS = {
  demo: [...REPORT, ...RUNS, ...TARGET, ...LOAD, ...FIXED],
  // A trivial route (no downstream, no CPU), a limit that never binds, autocannon without a timeout.
  overhead: [...REPORT, 'duration', 'framework', 'from'],
  overload: [
    ...REPORT,
    ...RUNS,
    ...TARGET,
    ...LOAD,
    ...FIXED,
    'levels',
    'adaptive',
    'new-connections',
    'pressure',
  ],
  burst: [...REPORT, ...RUNS, ...TARGET, ...LOAD, ...FIXED],
  'capacity-step': [...REPORT, ...RUNS, ...TARGET, ...LOAD, ...FIXED, 'adaptive'],
  priorities: [...REPORT, ...RUNS, ...TARGET, ...LOAD, ...FIXED],
  // The unprotected app only; `--url` switches to {@link CALIBRATE_URL_FLAGS}.
  calibrate: [...REPORT, ...RUNS, ...TARGET, ...LOAD, 'url'],
  'retry-amplification': [...REPORT, ...RUNS, ...TARGET, ...LOAD, ...FIXED, 'levels', 'pressure'],
  // Its own servers (`src/cost/cost-server.mjs`) from the built packages, fixed request counts.
  cost: [...REPORT, 'framework'],
  // Scrapes no `/metrics` (the servers are behind nginx).
  fleet: [...REPORT, 'svg', ...TARGET, ...LOAD, ...FIXED],
  tenants: [...REPORT, ...RUNS, ...TARGET, ...LOAD, ...FIXED, 'light-tenants'],
  soak: [...REPORT, ...RUNS, ...TARGET, ...LOAD, ...FIXED, 'stall-ms'],
  stall: [...REPORT, ...RUNS, ...TARGET, ...LOAD, ...FIXED, 'stall-ms'],
} as const satisfies Record<string, readonly Flag[]>

/** A scenario's name. */
export type ScenarioName = keyof typeof SCENARIO_FLAGS

/** `calibrate --url`: your own server, so nothing about the synthetic target applies. */
export const CALIBRATE_URL_FLAGS: readonly Flag[] = [
  ...REPORT,
  ...LOAD,
  'url',
  'method',
  'header',
  'body',
  'start-rate',
  'allow-remote',
]

/** Names a scenario no longer goes by, and the name to use instead. */
export const RENAMED_SCENARIOS: Readonly<Record<string, ScenarioName>> = {
  'closed-loop': 'retry-amplification',
}

/** Defaults that differ from {@link DEFAULT_OPTIONS} for one scenario. */
export const SCENARIO_DEFAULTS: Partial<Record<ScenarioName, Partial<ScenarioOptions>>> = {
  fleet: FLEET_DEFAULTS,
  tenants: TENANTS_DEFAULTS,
  'retry-amplification': RETRY_AMPLIFICATION_DEFAULTS,
  soak: SOAK_DEFAULTS,
  stall: SOAK_DEFAULTS,
}

/** A mistake on the command line: reported without a stack, exit code 2, nothing started. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** `calibrate --url`'s target, as given. */
export interface UrlCommand {
  url: string
  method: string | undefined
  headers: string[] | undefined
  body: string | undefined
  allowRemote: boolean | undefined
  startRate: number
}

/** What a command line asks for. */
export type Command =
  | { kind: 'help'; exitCode: 0 | 2; message?: string }
  | {
      kind: 'run'
      scenario: ScenarioName
      options: ScenarioOptions
      from: 'src' | 'dist'
      metrics: boolean
      files: { json: string | undefined; html: string | undefined; svg: string | undefined }
      /** `calibrate --url` only. */
      url: UrlCommand | undefined
    }

/** The flags the scenario honours, as invoked (`calibrate` with `--url` is another list). */
export function honouredFlags(scenario: ScenarioName, withUrl: boolean): readonly Flag[] {
  return scenario === 'calibrate' && withUrl ? CALIBRATE_URL_FLAGS : SCENARIO_FLAGS[scenario]
}

/** Throws a {@link UsageError} naming the first flag given that the scenario does not honour. */
export function rejectUnhonouredFlags(
  scenario: ScenarioName,
  given: Readonly<Partial<Record<Flag, unknown>>>,
): void {
  const withUrl = given.url !== undefined
  const honoured = new Set<Flag>(honouredFlags(scenario, withUrl))
  for (const [flag, value] of Object.entries(given) as Array<[Flag, unknown]>) {
    if (value === undefined || flag === 'help' || honoured.has(flag)) continue
    const mode = scenario === 'calibrate' && withUrl ? 'calibrate --url' : scenario
    throw new UsageError(
      `--${flag} does not apply to the ${mode} scenario, which would ignore it; ` +
        `it takes ${[...honoured].map((f) => `--${f}`).join(', ')}`,
    )
  }
}

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} must be a number ≥ 0, got ${value}`)
  return n
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, options: CLI_OPTIONS })
  } catch (error) {
    // util.parseArgs' own errors (unknown flag, missing value) are usage errors too.
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))
      throw new UsageError((error as Error).message)
    throw error
  }
}

/** Parses `argv` (without `node` and the script); throws a {@link UsageError} on any mistake. */
export function parseCommandLine(argv: readonly string[]): Command {
  const { values, positionals } = parse(argv)
  const name = positionals[0]
  if (values.help === true) return { kind: 'help', exitCode: 0 }
  if (name === undefined) return { kind: 'help', exitCode: 2 }
  const renamed = RENAMED_SCENARIOS[name]
  if (renamed !== undefined)
    throw new UsageError(`the ${name} scenario is now called ${renamed}: pnpm loadtest ${renamed}`)
  if (!Object.hasOwn(SCENARIO_FLAGS, name))
    return { kind: 'help', exitCode: 2, message: `unknown scenario: ${name}` }
  if (positionals.length > 1)
    throw new UsageError(`one scenario at a time, got ${positionals.join(' ')}`)
  const scenario = name as ScenarioName
  rejectUnhonouredFlags(scenario, values)

  const framework = (values.framework ?? DEFAULT_OPTIONS.framework) as Framework
  if (!FRAMEWORKS.includes(framework))
    throw new UsageError(`--framework must be one of ${FRAMEWORKS.join(', ')}, got ${framework}`)
  const adaptive =
    values.adaptive === undefined
      ? DEFAULT_OPTIONS.adaptive
      : values.adaptive === 'none'
        ? []
        : (values.adaptive.split(',') as ScenarioOptions['adaptive'])
  const from = values.from ?? 'src'
  if (from !== 'src' && from !== 'dist') throw new UsageError('--from must be src or dist')
  // A scenario may change a default (the fleet runs five processes on the same cores).
  const defaults: ScenarioOptions = { ...DEFAULT_OPTIONS, ...SCENARIO_DEFAULTS[scenario] }
  const options: ScenarioOptions = {
    durationSeconds: numberOption(values.duration, 'duration'),
    rate: numberOption(values.rate, 'rate'),
    framework,
    slots: numberOption(values.slots, 'slots') ?? defaults.slots,
    serviceMs: numberOption(values['service-ms'], 'service-ms') ?? defaults.serviceMs,
    cpuMs: numberOption(values['cpu-ms'], 'cpu-ms') ?? defaults.cpuMs,
    listenBacklog: numberOption(values['listen-backlog'], 'listen-backlog'),
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
    stallMs: numberOption(values['stall-ms'], 'stall-ms'),
  }
  return {
    kind: 'run',
    scenario,
    options,
    from,
    metrics: values.metrics === true,
    files: { json: values.json, html: values.html, svg: values.svg },
    url:
      values.url === undefined
        ? undefined
        : {
            url: values.url,
            method: values.method,
            headers: values.header,
            body: values.body,
            allowRemote: values['allow-remote'],
            startRate: numberOption(values['start-rate'], 'start-rate') ?? 50,
          },
  }
}
