/**
 * How fast each limit algorithm finds a simulated service's capacity, and
 * finds it again after the capacity halves and then doubles. Deterministic (a
 * fake clock, seeded jitter), so the figures are the same on every machine.
 *
 *     npx tsx packages/core/bench/limit-convergence.ts [capacity=40] [seed=1]
 *     npx tsx packages/core/bench/limit-convergence.ts probe
 *
 * Prints a markdown table (pasted into docs/limits.md). `probe` prints instead
 * what the baseline probe costs: throughput at one steady capacity for several
 * `probeMultiplier` values (mean of seeds 1–3).
 */
import { createLimit } from '../src/limit/index.js'
import type { LimitAlgorithm } from '../src/types.js'
import { type Phase, seededRandom, settle, simulate } from '../test/limit/simulation.js'

if (process.argv[2] === 'probe') probeCost()
else convergence()

function convergence(): void {
  const capacity = Number(process.argv[2] ?? 40)
  const seed = Number(process.argv[3] ?? 1)
  const PHASE_MS = 20_000
  const BASE_RTT_MS = 10
  const DROP_ABOVE = 1.25
  const phases: Phase[] = [
    { durationMs: PHASE_MS, capacity },
    { durationMs: PHASE_MS, capacity: Math.max(1, Math.round(capacity / 2)) },
    { durationMs: PHASE_MS, capacity },
  ]
  const names = ['start', 'C halves', 'C doubles']

  const algorithms: [string, () => LimitAlgorithm][] = [
    ['aimd', () => createLimit({ algorithm: 'aimd' })],
    [
      'gradient2',
      () => createLimit({ algorithm: 'gradient2' }, 'limit', undefined, seededRandom(seed)),
    ],
    ['vegas', () => createLimit({ algorithm: 'vegas' }, 'limit', undefined, seededRandom(seed))],
  ]

  console.log(
    `Service: capacity C, ${BASE_RTT_MS} ms per request up to C in flight, proportionally slower past C,` +
      ` failing past ${DROP_ABOVE} × C; ±10% jitter; ${4 * capacity} closed-loop clients; seed ${seed};` +
      ` ${PHASE_MS / 1000} simulated s per phase; every algorithm with its defaults (initial limit 20).`,
  )
  console.log(
    'Settled: the limit enters [0.7 C, 1.5 C] and every later 100 ms bucket’s median limit stays there (medians, so a baseline probe that halves the limit for a round trip does not count).\n',
  )
  console.log(
    '| algorithm | phase | C | settled after (simulated s) | samples until settled | settled limit (median, 2nd half) | limit ÷ C | throughput (% of C ÷ rtt) | min–max limit after settling |',
  )
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|')
  for (const [name, make] of algorithms) {
    const trace = simulate({
      algorithm: make(),
      phases,
      baseRttMs: BASE_RTT_MS,
      dropAbove: DROP_ABOVE,
      jitter: 0.1,
      seed,
    })
    trace.phases.forEach((phase, i) => {
      const s = settle(trace, i)
      const ideal = (phase.capacity * 1000) / phase.baseRttMs
      const throughput = `${Math.round((100 * (trace.throughputPerSecond[i] ?? 0)) / ideal)}%`
      const cells =
        s === undefined
          ? ['never', '–', '–', '–']
          : [
              (s.settleMs / 1000).toFixed(2),
              String(s.samples),
              String(s.settledLimit),
              (s.settledLimit / phase.capacity).toFixed(2),
            ]
      const range = s === undefined ? '–' : `${s.minAfter}–${s.maxAfter}`
      console.log(
        `| ${name} | ${names[i]} | ${phase.capacity} | ${cells.join(' | ')} | ${throughput} | ${range} |`,
      )
    })
  }
}

/** Throughput over 20 simulated seconds at capacity C, mean of seeds 1–3, per `probeMultiplier`. */
function probeCost(): void {
  const multipliers = [30, 60, 120, 1_000_000]
  console.log(
    `| simulated throughput, % of C ÷ rtt | ${multipliers.map((m) => (m === 30 ? '`probeMultiplier` 30 (default)' : m === 1_000_000 ? 'no probe' : String(m))).join(' | ')} |`,
  )
  console.log(`|---|${multipliers.map(() => '--:').join('|')}|`)
  for (const algorithm of ['gradient2', 'vegas'] as const) {
    for (const c of [10, 40, 150]) {
      const cells = multipliers.map((probeMultiplier) => {
        let share = 0
        for (const seed of [1, 2, 3]) {
          const limit = createLimit(
            { algorithm, probeMultiplier },
            'limit',
            undefined,
            seededRandom(seed),
          )
          const trace = simulate({
            algorithm: limit,
            phases: [{ durationMs: 20_000, capacity: c }],
            baseRttMs: 10,
            dropAbove: 1.25,
            jitter: 0.1,
            seed,
          })
          share += (trace.throughputPerSecond[0] ?? 0) / ((c * 1000) / 10)
        }
        return ((100 * share) / 3).toFixed(1)
      })
      const name = algorithm === 'gradient2' ? 'Gradient2' : 'Vegas'
      console.log(`| ${name}, C = ${c} | ${cells.join(' | ')} |`)
    }
  }
}
