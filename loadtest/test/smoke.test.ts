/**
 * CI smoke: a short open-loop overload at 3× capacity against the same Express
 * app, unprotected then behind the real `@spillway/express` adapter. Asserts only
 * ratios that hold on a busy shared machine, never absolute timings.
 */
import { PRIORITY_MIX } from '../src/harness/records.js'
import { type RunResult, runOne } from '../src/harness/run.js'
import { capacityOf, DEFAULT_OPTIONS, fixedSpillway, targetWith } from '../src/scenarios/common.js'
import type { Protection } from '../src/target/config.js'

const SECONDS = 8
// 8 slots × 100 ms = 80 req/s, so 3× is 240 req/s: a fifth of the demo's CPU cost for
// the generator and the server, which share 2 cores with whatever else CI runs; and a
// late timer on that busy machine costs a 100 ms operation proportionally less capacity.
const OPTIONS = { ...DEFAULT_OPTIONS, serviceMs: 100 }
const capacity = capacityOf(OPTIONS)

function overload(protection: Protection, drainWaitMs: number): Promise<RunResult> {
  return runOne({
    target: targetWith(OPTIONS, protection),
    load: {
      model: 'open',
      phases: [{ durationMs: SECONDS * 1000, rate: 3 * capacity }],
      mix: [...PRIORITY_MIX],
      timeoutMs: OPTIONS.timeoutMs,
    },
    sloMs: OPTIONS.sloMs,
    drainWaitMs,
  }).then(({ result }) => result)
}

describe('under 3× open-loop overload (smoke)', () => {
  let unprotected: RunResult
  let protectedRun: RunResult

  beforeAll(async () => {
    // The unprotected server never drains its backlog quickly: do not wait for it.
    unprotected = await overload({ kind: 'none' }, 200)
    protectedRun = await overload(fixedSpillway(OPTIONS), 5000)
  }, 60_000)

  it('runs the protected server behind the real Express adapter', () => {
    expect(protectedRun.adapter).toBe('@spillway/express (src)')
    expect(protectedRun.summary.rejectedByStatus['503'] ?? 0).toBeGreaterThan(0)
  })

  it('keeps the protected p99 at most a third of the unprotected p99', () => {
    const p = protectedRun.summary.latencyOk.p99
    const u = unprotected.summary.latencyOk.p99
    expect(p).not.toBeNull()
    expect(u).not.toBeNull()
    expect(p as number).toBeLessThanOrEqual((u as number) / 3)
  })

  it('keeps the protected goodput at 90% of capacity or more', () => {
    expect(protectedRun.summary.goodputPerSecond).toBeGreaterThanOrEqual(0.9 * capacity)
  })

  it('drains the protected server: nothing in flight or queued after the run', () => {
    const leak = protectedRun.summary.leak
    expect(leak).not.toBeNull()
    expect(leak?.inFlight).toBe(0)
    expect(leak?.queued).toBe(0)
    expect(leak?.active).toBe(0)
    expect(leak?.drained).toBe(true)
  })
})
