import { mixSequence } from '../src/harness/closed-loop.js'
import { bucketize, percentile, summarize, summarizeLatency } from '../src/harness/metrics.js'
import { arrivalsDue } from '../src/harness/open-loop.js'
import {
  createLog,
  ERROR,
  PRIORITY_MIX,
  routePicker,
  seededRandom,
  TIMEOUT,
} from '../src/harness/records.js'
import { measureRecovery } from '../src/scenarios/burst.js'
import { findKnee, type Step } from '../src/scenarios/calibrate.js'
import { createDownstream } from '../src/target/downstream.js'

describe('percentiles', () => {
  it('uses the nearest rank, so p99 of 1..100 is 99 and the max is the last value', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(values, 50)).toBe(50)
    expect(percentile(values, 99)).toBe(99)
    expect(percentile(values, 100)).toBe(100)
    expect(percentile([], 50)).toBeNull()
  })

  it('ignores latencies that were never measured (NaN) and sorts before ranking', () => {
    const summary = summarizeLatency([30, Number.NaN, 10, 20])
    expect(summary).toEqual({ count: 3, p50: 20, p90: 30, p99: 30, max: 30 })
  })
})

describe('summarising a run', () => {
  const log = createLog()
  const push = (status: number, latencyMs: number, sentMs = 0): void => {
    log.sentMs.push(sentMs)
    log.latencyMs.push(latencyMs)
    log.status.push(status)
    log.route.push(0)
  }
  push(200, 10)
  push(200, 600) // served, but after the objective: not goodput
  push(503, 1)
  push(429, 2)
  push(TIMEOUT, 2000)
  push(ERROR, Number.NaN)
  push(500, 5)

  it('counts goodput only for 2xx within the objective and separates every failure kind', () => {
    const s = summarize(log, 2000, 500, 400)
    expect(s.sent).toBe(7)
    expect(s.ok).toBe(2)
    expect(s.okWithinSlo).toBe(1)
    expect(s.goodputPerSecond).toBe(0.5)
    expect(s.goodputOfCapacity).toBe(0.5 / 400)
    expect(s.rejectedByStatus).toEqual({ '503': 1, '429': 1 })
    expect(s.timeouts).toBe(1)
    expect(s.errors).toBe(1)
    expect(s.otherStatus).toBe(1)
    expect(s.latencyRejected.max).toBe(2)
  })

  it('splits rejection latency into decided on arrival and after a wait in the queue', () => {
    const l = createLog()
    l.reason = []
    const add = (reason: string, latencyMs: number): void => {
      l.sentMs.push(0)
      l.latencyMs.push(latencyMs)
      l.status.push(503)
      l.route.push(0)
      l.reason?.push(reason)
    }
    add('queueFull', 1)
    add('queueFull', 2)
    add('queueTimeout', 250)
    add('evicted', 40)
    const s = summarize(l, 1000, 500, 400)
    expect(s.latencyRejectedImmediate?.max).toBe(2)
    expect(s.latencyRejectedAfterWait?.count).toBe(2)
    expect(s.latencyRejectedAfterWait?.max).toBe(250)
    expect(s.rejectedByReason).toEqual({ queueFull: 2, queueTimeout: 1, evicted: 1 })
    // Without reasons (closed loop) the split is unknown, not empty.
    delete l.reason
    expect(summarize(l, 1000, 500, 400).latencyRejectedImmediate).toBeNull()
  })

  it('spreads goodput over the time the last answers took, not just the arrival window', () => {
    const l = createLog()
    l.sentMs.push(0, 1900)
    l.latencyMs.push(10, 100)
    l.status.push(200, 200)
    l.route.push(0, 0)
    // Two answers delivered by 2000 ms: 1/s, not 2 / 1 s.
    expect(summarize(l, 1000, 500, 400).goodputPerSecond).toBe(1)
  })

  it('buckets answers by completion time and offered load by send time', () => {
    const l = createLog()
    l.sentMs.push(100, 100)
    l.latencyMs.push(50, 1200)
    l.status.push(200, 200)
    l.route.push(0, 0)
    const series = bucketize(l, 2000, 500, 1000)
    expect(series.offered).toEqual([2, 0])
    // The slow answer completed at 1300 ms, in the second bucket, and missed the objective.
    expect(series.goodput).toEqual([1, 0])
    expect(series.p99).toEqual([50, 1200])
  })
})

describe('the open-loop schedule', () => {
  it('owes arrivals at each phase rate and never more than the schedule in total', () => {
    const phases = [
      { durationMs: 1000, rate: 100 },
      { durationMs: 1000, rate: 300 },
    ]
    expect(arrivalsDue(phases, 500)).toBe(50)
    expect(arrivalsDue(phases, 1500)).toBe(250)
    expect(arrivalsDue(phases, 10_000)).toBe(400)
  })

  it('picks routes in the mix proportions, the same way for the same seed', () => {
    const pick = routePicker(PRIORITY_MIX, seededRandom(7))
    const counts = [0, 0, 0]
    const first: number[] = []
    for (let i = 0; i < 10_000; i++) {
      const r = pick()
      counts[r] = (counts[r] as number) + 1
      if (i < 20) first.push(r)
    }
    expect(counts[0] as number).toBeGreaterThan(1800)
    expect(counts[0] as number).toBeLessThan(2200)
    expect(counts[1] as number).toBeGreaterThan(4800)
    expect(counts[1] as number).toBeLessThan(5200)
    const again = routePicker(PRIORITY_MIX, seededRandom(7))
    expect(Array.from({ length: 20 }, () => again())).toEqual(first)
  })

  it('gives the closed loop a request sequence with the mix proportions', () => {
    const sequence = mixSequence(PRIORITY_MIX)
    expect(sequence).toHaveLength(100)
    expect(sequence.filter((p) => p === '/critical')).toHaveLength(20)
    expect(sequence.filter((p) => p === '/sheddable')).toHaveLength(30)
  })
})

describe('burst recovery', () => {
  function log(latencyAfterSurge: (sinceEndMs: number) => number) {
    const l = createLog()
    for (let t = 0; t < 6000; t += 10) {
      l.sentMs.push(t)
      l.route.push(0)
      if (t < 2000) {
        l.status.push(200)
        l.latencyMs.push(20)
      } else if (t < 3000) {
        l.status.push(503)
        l.latencyMs.push(1)
      } else {
        const latency = latencyAfterSurge(t - 3000)
        l.status.push(latency >= 2000 ? TIMEOUT : 200)
        l.latencyMs.push(latency)
      }
    }
    return l
  }

  it('reports when latency is back to baseline for good', () => {
    const r = measureRecovery(
      log((since) => (since < 500 ? 300 : 22)),
      0,
      2000,
      3000,
      6000,
    )
    expect(r.baselineP99Ms).toBe(20)
    expect(r.recoveredAfterSeconds).toBe(0.5)
  })

  it('reports no recovery when clients keep timing out but for short blips', () => {
    // Good for 1 s in every 1.5 s: never the 2 s in a row that recovery needs.
    const latency = (since: number): number => (since % 1500 < 500 ? 2000 : 20)
    const r = measureRecovery(log(latency), 0, 2000, 3000, 6000)
    expect(r.recoveredAfterSeconds).toBeNull()
  })

  it('does not let a one-off hiccup after a sustained recovery undo it', () => {
    const latency = (since: number): number =>
      since < 250 ? 400 : since > 2600 && since < 2700 ? 900 : 20
    const r = measureRecovery(log(latency), 0, 2000, 3000, 6000)
    expect(r.recoveredAfterSeconds).toBe(0.25)
  })
})

describe('calibration', () => {
  const step = (offered: number, goodput: number, p99: number): Step => ({
    offered,
    goodput,
    p50: p99 / 2,
    p99,
    meanActive: null,
  })

  it('puts the knee at the last step where goodput follows the load and latency holds', () => {
    const steps = [step(100, 100, 25), step(200, 199, 28), step(400, 390, 40), step(500, 300, 1900)]
    expect(findKnee(steps)).toBe(2)
  })

  it('does not mistake one noisy p99 for the knee, but stops when the median climbs', () => {
    const noisy = { ...step(200, 200, 30), p99: 110 }
    const climbing = { ...step(400, 395, 60), p50: 200 }
    expect(findKnee([step(100, 100, 30), noisy, step(300, 300, 30), climbing])).toBe(2)
  })

  it('finds no knee when the first step is already overloaded', () => {
    expect(findKnee([step(100, 10, 2000)])).toBe(-1)
  })
})

describe('the downstream pool', () => {
  it('runs at most `slots` operations at once and serves waiters in arrival order', async () => {
    const pool = createDownstream(2, 1)
    let running = 0
    let peak = 0
    const order: number[] = []
    const originalCall = pool.call.bind(pool)
    const calls = Array.from({ length: 7 }, (_, i) =>
      (async () => {
        const p = originalCall()
        running++
        peak = Math.max(peak, running)
        await p
        running--
        order.push(i)
      })(),
    )
    expect(pool.queued).toBe(5)
    await Promise.all(calls)
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(pool.queued).toBe(0)
    // A slot handed over must not leak: the next burst is admitted the same way.
    const again = [originalCall(), originalCall(), originalCall()]
    expect(pool.queued).toBe(1)
    await Promise.all(again)
    expect(pool.queued).toBe(0)
  })
})
