/**
 * The `closed-loop` scenario in the CLI's shape: `(ScenarioOptions) => Report`,
 * so wiring it is one line in `cli.ts` (`'closed-loop': closedLoop`). It keeps
 * its own downstream (4 slots × 25 ms = 160 req/s) rather than the demo's
 * 400 req/s: naive clients multiply the load several times over, and that
 * load must fit on the same 2 cores as the server. `--duration`, `--timeout-ms`
 * and `--cpu-ms` apply.
 */
import { createReport, type Report } from '../report/model.js'
import {
  type ClosedLoopRunResult,
  type ClosedLoopScenarioOptions,
  formatClosedLoop,
  runClosedLoopScenario,
} from './closed-loop.js'
import type { ScenarioOptions } from './common.js'

function latency(l: ClosedLoopRunResult['successLatencyMs']): string {
  return `${l.p50 ?? '-'} / ${l.p99 ?? '-'}`
}

/** Naive retrying clients vs `@spillway/client`, against the same protected server. */
export async function closedLoop(options: ScenarioOptions): Promise<Report> {
  const scenario: ClosedLoopScenarioOptions = {
    durationMs: (options.durationSeconds ?? 10) * 1000,
    timeoutMs: options.timeoutMs,
    perRequestCpuMs: options.cpuMs,
  }
  const result = await runClosedLoopScenario(scenario, (line) =>
    process.stderr.write(`\r${line}   `),
  )
  process.stderr.write('\n')
  const report = createReport(
    'closed-loop',
    'closed-loop: do clients slow down when told to? naive retries vs @spillway/client',
  )
  const runs = result.runs
  const row = (label: string, cell: (r: ClosedLoopRunResult) => string): string[] => [
    label,
    ...runs.map(cell),
  ]
  report.tables.push({
    title: formatClosedLoop(result).split('\n')[0] as string,
    headers: [
      '',
      ...runs.map((r) => (r.variant === 'naive' ? 'naive retries' : '@spillway/client')),
    ],
    rows: [
      row('logical requests /s', (r) => (r.logical / r.durationS).toFixed(0)),
      row('requests at server /s', (r) => r.offeredPerSecond.toFixed(0)),
      row('retry amplification', (r) => `${r.amplification.toFixed(2)}×`),
      row('goodput (200) /s', (r) => r.goodputPerSecond.toFixed(0)),
      row('client success', (r) => `${(r.successRate * 100).toFixed(1)}%`),
      row('failed locally (ThrottledError)', (r) => `${r.outcomes.throttled}`),
      row('client timeouts', (r) => `${r.outcomes.timeout}`),
      row('client retries sent', (r) => (r.variant === 'naive' ? '-' : `${r.clientRetries.sent}`)),
      row('refusals not retried, why', (r) =>
        r.variant === 'naive'
          ? '-'
          : Object.entries(r.clientRetries.notRetried)
              .filter(([, n]) => n > 0)
              .map(([reason, n]) => `${reason} ${n}`)
              .join(', ') || '-',
      ),
      row('ok latency p50 / p99 ms', (r) => latency(r.successLatencyMs)),
      row('all latency p50 / p99 ms', (r) => latency(r.allLatencyMs)),
      row('server drained', (r) => `${r.drained.inFlight === 0 && r.drained.queued === 0}`),
    ],
  })
  const [naive, client] = runs
  if (naive !== undefined && client !== undefined) {
    report.findings.push(
      `Retry amplification ${client.amplification.toFixed(2)}× with @spillway/client ` +
        `(target ≤ 1.1×) vs ${naive.amplification.toFixed(2)}× with naive immediate retries; ` +
        `the server received ${(naive.offeredPerSecond / Math.max(1, client.offeredPerSecond)).toFixed(1)}× ` +
        'fewer requests per second for the same users.',
    )
  }
  return report
}
