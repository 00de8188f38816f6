/**
 * The command line: every scenario takes the flags it declares (each parsed
 * into what the scenario reads) and refuses every other one with a usage
 * error naming the flag and the scenario, before any load starts.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  CALIBRATE_URL_FLAGS,
  CLI_OPTIONS,
  type Command,
  type Flag,
  parseCommandLine,
  SCENARIO_FLAGS,
  type ScenarioName,
  UsageError,
} from '../src/command-line.js'
import { loadtestRoot, tsxLoaderUrl } from '../src/harness/paths.js'
import { retryAmplificationLevels } from '../src/scenarios/retry-amplification.js'

type Run = Extract<Command, { kind: 'run' }>

/** A value for each flag, and where the parsed command must show it. */
const SAMPLES: Record<Exclude<Flag, 'help'>, { argv: string[]; check: (c: Run) => unknown }> = {
  duration: { argv: ['--duration', '1.5'], check: (c) => c.options.durationSeconds === 1.5 },
  rate: { argv: ['--rate', '100'], check: (c) => c.options.rate === 100 },
  levels: { argv: ['--levels', '2,3'], check: (c) => c.options.levels.join() === '2,3' },
  framework: { argv: ['--framework', 'koa'], check: (c) => c.options.framework === 'koa' },
  slots: { argv: ['--slots', '6'], check: (c) => c.options.slots === 6 },
  'service-ms': { argv: ['--service-ms', '30'], check: (c) => c.options.serviceMs === 30 },
  'cpu-ms': { argv: ['--cpu-ms', '1'], check: (c) => c.options.cpuMs === 1 },
  'listen-backlog': {
    argv: ['--listen-backlog', '64'],
    check: (c) => c.options.listenBacklog === 64,
  },
  'timeout-ms': { argv: ['--timeout-ms', '1500'], check: (c) => c.options.timeoutMs === 1500 },
  'slo-ms': { argv: ['--slo-ms', '400'], check: (c) => c.options.sloMs === 400 },
  limit: {
    argv: ['--limit', '5'],
    check: (c) => c.options.limit === 5 && c.options.limitGiven === true,
  },
  'queue-size': {
    argv: ['--queue-size', '8'],
    check: (c) => c.options.queueSize === 8 && c.options.queueGiven === true,
  },
  'queue-timeout-ms': {
    argv: ['--queue-timeout-ms', '100'],
    check: (c) => c.options.queueTimeoutMs === 100 && c.options.queueGiven === true,
  },
  adaptive: { argv: ['--adaptive', 'vegas'], check: (c) => c.options.adaptive.join() === 'vegas' },
  json: { argv: ['--json', '/tmp/r.json'], check: (c) => c.files.json === '/tmp/r.json' },
  html: { argv: ['--html', '/tmp/r.html'], check: (c) => c.files.html === '/tmp/r.html' },
  svg: { argv: ['--svg', '/tmp/r.svg'], check: (c) => c.files.svg === '/tmp/r.svg' },
  from: { argv: ['--from', 'dist'], check: (c) => c.from === 'dist' },
  'new-connections': { argv: ['--new-connections'], check: (c) => c.options.newConnection },
  pressure: { argv: ['--pressure'], check: (c) => c.options.pressure },
  url: {
    argv: ['--url', 'http://127.0.0.1:9/x'],
    check: (c) => c.url?.url === 'http://127.0.0.1:9/x',
  },
  method: { argv: ['--method', 'POST'], check: (c) => c.url?.method === 'POST' },
  header: { argv: ['--header', 'a: b'], check: (c) => c.url?.headers?.join() === 'a: b' },
  body: { argv: ['--body', 'x'], check: (c) => c.url?.body === 'x' },
  'start-rate': { argv: ['--start-rate', '10'], check: (c) => c.url?.startRate === 10 },
  'allow-remote': { argv: ['--allow-remote'], check: (c) => c.url?.allowRemote === true },
  metrics: { argv: ['--metrics'], check: (c) => c.metrics },
  'light-tenants': { argv: ['--light-tenants', '2'], check: (c) => c.options.lightTenants === 2 },
  'stall-ms': { argv: ['--stall-ms', '1000'], check: (c) => c.options.stallMs === 1000 },
}

const ALL_FLAGS = (Object.keys(CLI_OPTIONS) as Flag[]).filter((f) => f !== 'help')
const scenarios = Object.keys(SCENARIO_FLAGS) as ScenarioName[]

function run(argv: string[]): Run {
  const command = parseCommandLine(argv)
  if (command.kind !== 'run') throw new Error(`expected a run, got ${JSON.stringify(command)}`)
  return command
}

function usageError(argv: string[]): UsageError {
  try {
    parseCommandLine(argv)
  } catch (error) {
    if (error instanceof UsageError) return error
    throw error
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`)
}

describe('the flags each scenario declares', () => {
  it('has a sample value for every flag the command line knows', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...ALL_FLAGS].sort())
  })

  it('refuses at least one flag in every scenario (none takes everything)', () => {
    for (const scenario of scenarios) {
      expect(ALL_FLAGS.filter((f) => !SCENARIO_FLAGS[scenario].includes(f as never))).not.toEqual(
        [],
      )
    }
  })

  describe.each(scenarios)('%s', (scenario) => {
    const honoured: readonly Flag[] = SCENARIO_FLAGS[scenario]
    // calibrate's --method, --header... need --url, which switches to another list.
    const alone = honoured.filter((f) => f !== 'help')

    it.each(alone)('parses --%s into what the scenario reads', (flag) => {
      const command = run([scenario, ...SAMPLES[flag as Exclude<Flag, 'help'>].argv])
      expect(command.scenario).toBe(scenario)
      expect(SAMPLES[flag as Exclude<Flag, 'help'>].check(command)).toBeTruthy()
    })

    it('parses all its flags together', () => {
      const argv = alone
        .filter((f) => f !== 'url')
        .flatMap((f) => SAMPLES[f as Exclude<Flag, 'help'>].argv)
      const command = run([scenario, ...argv])
      for (const flag of alone.filter((f) => f !== 'url'))
        expect([flag, SAMPLES[flag as Exclude<Flag, 'help'>].check(command)]).toEqual([flag, true])
    })

    const refused = ALL_FLAGS.filter((f) => !honoured.includes(f))
    it.each(refused)('refuses --%s, naming the flag and the scenario', (flag) => {
      const error = usageError([scenario, ...SAMPLES[flag as Exclude<Flag, 'help'>].argv])
      expect(error.message).toContain(`--${flag} does not apply to the ${scenario} scenario`)
    })
  })

  it('gives calibrate --url its own list: the synthetic target flags are refused with it', () => {
    const url = SAMPLES.url.argv
    for (const flag of CALIBRATE_URL_FLAGS) {
      const command = run(['calibrate', ...url, ...SAMPLES[flag as Exclude<Flag, 'help'>].argv])
      expect(SAMPLES[flag as Exclude<Flag, 'help'>].check(command)).toBeTruthy()
    }
    for (const flag of ['slots', 'framework', 'from', 'metrics', 'svg'] as const) {
      expect(usageError(['calibrate', ...url, ...SAMPLES[flag].argv]).message).toContain(
        `--${flag} does not apply to the calibrate --url scenario`,
      )
    }
    // Without --url, the flags that describe a request to your server are refused.
    expect(usageError(['calibrate', '--method', 'POST']).message).toContain(
      '--method does not apply to the calibrate scenario',
    )
  })
})

describe('the flags table in loadtest/README.md', () => {
  it('shows each scenario\u2019s declared flags, no more, no fewer', () => {
    const readme = readFileSync(join(loadtestRoot(), 'README.md'), 'utf8')
    const table = readme.split('<!-- flags-matrix')[1]?.split('<!-- /flags-matrix -->')[0] ?? ''
    const rows = table
      .split('\n')
      .filter((line) => line.startsWith('| `--'))
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim()),
      )
    const header = table
      .split('\n')
      .find((line) => line.startsWith('| flag'))
      ?.split('|')
      .slice(2, -1)
      .map((cell) => cell.trim().replace(/`/g, ''))
    const declared: Record<string, readonly Flag[]> = {
      ...SCENARIO_FLAGS,
      'calibrate --url': CALIBRATE_URL_FLAGS,
    }
    expect(header).toEqual(Object.keys(declared))
    expect(rows.map((r) => r[0])).toEqual(ALL_FLAGS.map((f) => `\`--${f}\``))
    for (const [index, name] of (header ?? []).entries()) {
      const shown = rows.filter((r) => r[index + 1] === '✓').map((r) => r[0]?.slice(3, -1))
      expect([name, shown]).toEqual([name, ALL_FLAGS.filter((f) => declared[name]?.includes(f))])
    }
  })
})

describe('the command line', () => {
  it('tells the new name of the closed-loop scenario', () => {
    expect(usageError(['closed-loop']).message).toBe(
      'the closed-loop scenario is now called retry-amplification: pnpm loadtest retry-amplification',
    )
  })

  it('answers help, a missing scenario and an unknown one with the usage (exit codes 0, 2, 2)', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help', exitCode: 0 })
    expect(parseCommandLine([])).toEqual({ kind: 'help', exitCode: 2 })
    expect(parseCommandLine(['nope'])).toEqual({
      kind: 'help',
      exitCode: 2,
      message: 'unknown scenario: nope',
    })
  })

  it('refuses unknown flags, bad numbers, frameworks and sources as usage errors', () => {
    expect(usageError(['demo', '--nope']).message).toContain("Unknown option '--nope'")
    expect(usageError(['demo', '--slots', 'x']).message).toBe('--slots must be a number ≥ 0, got x')
    expect(usageError(['demo', '--rate', '']).message).toBe('--rate must be a number ≥ 0, got ')
    expect(usageError(['demo', '--framework', 'hapi']).message).toContain(
      '--framework must be one of',
    )
    expect(usageError(['demo', '--from', 'lib']).message).toBe('--from must be src or dist')
    expect(usageError(['demo', 'overload']).message).toBe(
      'one scenario at a time, got demo overload',
    )
  })

  it('applies a scenario\u2019s own defaults (retry-amplification: 4 slots × 25 ms, limit 4, 3×)', () => {
    const { options } = run(['retry-amplification'])
    expect([options.slots, options.serviceMs, options.limit, options.levels]).toEqual([
      4,
      25,
      4,
      [3],
    ])
    expect(run(['demo']).options.slots).toBe(8)
  })

  it('exits with code 2 and the message on a refused flag, before starting anything', () => {
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        tsxLoaderUrl(),
        join(loadtestRoot(), 'src', 'cli.ts'),
        'overhead',
        '--slots',
        '4',
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, TSX_TSCONFIG_PATH: join(loadtestRoot(), '..', 'tsconfig.json') },
      },
    )
    expect(child.status).toBe(2)
    expect(child.stderr).toContain('--slots does not apply to the overhead scenario')
    // Nothing ran: no progress line, no report.
    expect(child.stderr).not.toContain('bare express')
    expect(child.stdout).toBe('')
  }, 40_000)
})

describe('retry-amplification', () => {
  it('passes --from, --framework, --slots, --service-ms and --limit to its targets', () => {
    const command = run([
      'retry-amplification',
      '--from',
      'dist',
      '--framework',
      'koa',
      '--slots',
      '6',
      '--service-ms',
      '30',
      '--limit',
      '5',
    ])
    expect(command.from).toBe('dist')
    const levels = retryAmplificationLevels(command.options)
    expect(levels).toHaveLength(1)
    const [level] = levels
    // 6 slots × 30 ms = 200/s; 3× = 600 logical requests/s at zero latency, 200 ms of think time.
    expect(level?.demandPerSecond).toBe(600)
    expect(level?.users).toBe(120)
    expect(level?.specs.map((s) => (s.load.model === 'users' ? s.load.client : null))).toEqual([
      'naive',
      'spillway-client',
    ])
    for (const spec of level?.specs ?? []) {
      expect(spec.target.framework).toBe('koa')
      expect(spec.target.downstream).toEqual({ slots: 6, serviceMs: 30 })
      expect(spec.target.protection).toEqual({
        kind: 'spillway',
        limit: 5,
        queue: { size: 16, timeoutMs: 250 },
        deadlineHeader: 'x-request-timeout-ms',
      })
    }
  })

  it('runs one pair of runs per level, or one at --rate logical requests/s', () => {
    const base = run(['retry-amplification', '--levels', '2,4']).options
    expect(retryAmplificationLevels(base).map((l) => [l.level, l.users])).toEqual([
      [2, 64],
      [4, 128],
    ])
    const atRate = run(['retry-amplification', '--rate', '100']).options
    const [level] = retryAmplificationLevels(atRate)
    expect([level?.demandPerSecond, level?.users]).toEqual([100, 20])
  })

  it('adds not shedding at all and pressure shedding with --pressure, on a CPU-bound target', () => {
    const options = run([
      'retry-amplification',
      '--slots',
      '0',
      '--cpu-ms',
      '2',
      '--pressure',
    ]).options
    const [level] = retryAmplificationLevels(options)
    // 1000 / 2 ms = 500/s; 3× = 1500/s.
    expect([level?.demandPerSecond, level?.users]).toEqual([1500, 300])
    const arms = level?.specs.map((s) => [
      s.label,
      s.load.model === 'users' ? s.load.client : null,
      s.target.protection.kind,
      s.target.protection.kind === 'spillway' && s.target.protection.pressure === true,
    ])
    expect(arms).toEqual([
      ['unprotected, naive retries', 'naive', 'none', false],
      ['naive retries', 'naive', 'spillway', false],
      ['@spillway/client', 'spillway-client', 'spillway', false],
      ['naive retries, pressure', 'naive', 'spillway', true],
      ['@spillway/client, pressure', 'spillway-client', 'spillway', true],
    ])
    for (const spec of level?.specs ?? []) {
      expect(spec.target.cpuMs).toBe(2)
      expect(spec.target.downstream.slots).toBe(0)
    }
  })

  it('refuses a target without a capacity unless given a rate', () => {
    const options = run(['retry-amplification', '--slots', '0']).options
    expect(() => retryAmplificationLevels(options)).toThrow('needs a capacity')
  })
})
