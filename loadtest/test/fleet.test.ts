/**
 * CI smoke of `pnpm loadtest fleet`, with the same components: three target
 * processes behind a real nginx, per-tenant caps on a real redis-server, open
 * loop at 3× the fleet's capacity, one instance SIGKILLed half-way. Asserts
 * only what holds on a busy shared machine: who gets refused with what, no
 * collapse after the kill, nothing left running or in flight.
 */
import { cpus, loadavg } from 'node:os'
import { runningTargetCount } from '../src/harness/processes.js'
import { findNginx, findRedisServer } from '../src/harness/services.js'
import { DEFAULT_OPTIONS } from '../src/scenarios/common.js'
import { fleetSpecs } from '../src/scenarios/fleet.js'
import { type FleetResult, runFleet } from '../src/scenarios/fleet-run.js'

const nginxBinary = findNginx()
const redisBinary = findRedisServer()
const missing = [nginxBinary ?? 'nginx', redisBinary ?? 'redis-server'].filter(
  (p) => !p.startsWith('/'),
)
if (missing.length > 0) {
  console.warn(
    `loadtest/test/fleet.test.ts: skipping the fleet smoke test: ${missing.join(' and ')} not installed ` +
      `(Debian's ${missing.join(' and ')} packages, which .ci/run installs).`,
  )
}
// Five processes and the generator on a machine already running several times its cores'
// worth of work measure the scheduler, not the fleet: every hop waits for a core, requests
// outlive the client's patience, and no ratio below holds. Say so and skip rather than fail.
const load = loadavg()[0] ?? 0
const busy = load > 2 * cpus().length
if (missing.length === 0 && busy) {
  console.warn(
    `loadtest/test/fleet.test.ts: skipping the fleet smoke test: the machine is too busy ` +
      `(load average ${load.toFixed(1)} on ${cpus().length} CPUs) for a timing-based run.`,
  )
}
const withFleet = missing.length > 0 || busy ? describe.skip : describe

const SECONDS = 8
// Lighter than the CLI's default (8 × 100 ms per instance, 720 req/s at 3×): 4 × 200 ms per
// instance, 60 req/s for the fleet, 180 req/s at 3×, as the quiet-machine runs in
// loadtest/README.md; five processes and the generator share CI's cores with the rest of the suite.
const OPTIONS = { ...DEFAULT_OPTIONS, slots: 4, serviceMs: 200 }

withFleet(
  'a fleet of three behind nginx, tenants capped on Redis, one instance killed (smoke)',
  () => {
    let result: FleetResult

    beforeAll(async () => {
      const binaries = { nginxBinary: nginxBinary as string, redisBinary: redisBinary as string }
      const spec = fleetSpecs(OPTIONS, binaries, SECONDS * 1000, (SECONDS * 1000) / 2).find((s) =>
        s.label.startsWith('spillway'),
      )
      if (spec === undefined) throw new Error('no spillway fleet spec')
      result = await runFleet(spec)
    }, 150_000)

    it('holds the greedy tenant to its fleet-wide cap with 429s, and serves the polite ones', () => {
      const greedy = result.tenants.find((t) => t.tenant === 'greedy')
      if (greedy === undefined) throw new Error('no greedy tenant')
      expect(greedy.status429 / greedy.sent).toBeGreaterThan(0.3)
      for (const polite of result.tenants.filter((t) => t.tenant.startsWith('polite'))) {
        // A few, not none: a saturated instance answers 429 to any key holding its equal
        // local share (fair queuing), polite ones included, more so after the kill.
        // What matters is that the greedy tenant takes the 429s: several times the rate.
        expect(polite.status429 / polite.sent).toBeLessThan(greedy.status429 / greedy.sent / 3)
        expect(polite.successRate as number).toBeGreaterThan(2 * (greedy.successRate as number))
      }
    })

    it('keeps serving after one of three instances is killed: nginx retries the dead one, no collapse', () => {
      expect(result.retries.connectionFailures).toBeGreaterThan(0)
      expect(result.after).not.toBeNull()
      // Served at all (2xx, however late): a starved machine misses the latency objective.
      expect(result.after?.okPerSecond as number).toBeGreaterThan(0.4 * result.before.okPerSecond)
      // And within it, as a share of the capacity left: not far below the share before the kill
      // (the CLI's target is 10 points; 25 here for CI's noise). Survivors whose admitted requests
      // wait behind a limit above their slots fail this: 63% before, 3–22% after.
      const after = result.after?.goodputOfCapacity as number
      expect(after).toBeGreaterThan(result.before.goodputOfCapacity - 0.25)
    })

    it('drains the survivors and stops every process it started', () => {
      const leak = result.run.summary.leak
      expect(leak?.inFlight).toBe(0)
      expect(leak?.queued).toBe(0)
      expect(leak?.drained).toBe(true)
      expect(result.instances.filter((i) => i.killed)).toHaveLength(1)
      expect(runningTargetCount()).toBe(0)
    })
  },
)
