/**
 * The real controller, its queue and its limit, under an open-loop overload,
 * on a virtual clock: what a configuration does to 2xx latency and goodput in
 * front of a downstream pool, with the same figures on every machine.
 *
 *     npx tsx packages/core/bench/open-loop-queue.ts [seed=1]
 *
 * The model is the load test's (`loadtest/`, `overload`): Poisson arrivals at
 * a multiple of capacity; a downstream pool of `slots` connections, each
 * operation `serviceMs` (+0–5% seeded jitter, as timers run late), callers beyond `slots` waiting
 * in the pool's unbounded FIFO; goodput is 2xx answered within 500 ms, as a
 * share of `slots / serviceMs`. Optionally the whole server stalls (the event
 * loop blocked, as when other processes take the CPU): no event runs during a
 * stall, everything due runs in order at its end.
 *
 * `setTimeout`/`clearTimeout` are replaced by the virtual scheduler before the
 * controller is created (core reads the globals when it arms its one timer);
 * microtasks (a queued request's admission resolves a promise) are flushed
 * after every event, before the clock moves.
 */
import { createAdmissionController } from '../src/controller.js'
import type { AdmissionControllerOptions } from '../src/options.js'
import { seededRandom } from '../test/limit/simulation.js'

export interface OpenLoopOptions {
  controller: AdmissionControllerOptions
  /** Offered load as a multiple of capacity; a list of `[fromMs, multiple]` for phases. */
  phases: readonly (readonly [number, number])[]
  durationMs: number
  slots?: number
  serviceMs?: number
  /** `[atMs, serviceMs]`: the downstream's operation time changes (capacity-step). */
  serviceSteps?: readonly (readonly [number, number])[]
  /** `[atMs, lengthMs]` stalls of the whole process. */
  stalls?: readonly (readonly [number, number])[]
  seed?: number
  sloMs?: number
  /** Operation time spread: `serviceMs × (1 + jitter × U[0, 1))`. @default 0.05 */
  jitter?: number
}

export interface OpenLoopResult {
  sent: number
  ok: number
  okWithinSlo: number
  rejected: number
  /** Goodput as a share of nominal capacity (of the first service time). */
  goodput: number
  p50: number
  p99: number
  max: number
  /** `stats().limit` every 250 ms. */
  limits: number[]
  /** Queue length every 250 ms. */
  queued: number[]
  /** Mean time in spillway's queue and in the pool, of 2xx, ms. */
  meanQueueMs: number
  meanPoolMs: number
}

interface Event {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

class Scheduler {
  now = 0
  private seq = 0
  private heap: Event[] = []

  at(at: number, fn: () => void): Event {
    const e: Event = { at, seq: this.seq++, fn, cancelled: false }
    const a = this.heap
    a.push(e)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(a[p] as Event, e)) break
      a[i] = a[p] as Event
      i = p
    }
    a[i] = e
    return e
  }

  pop(): Event | undefined {
    const a = this.heap
    const top = a[0]
    const last = a.pop()
    if (top === undefined || last === undefined || a.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let s = i
      let sv = last
      if (l < a.length && less(a[l] as Event, sv)) {
        s = l
        sv = a[l] as Event
      }
      if (r < a.length && less(a[r] as Event, sv)) s = r
      if (s === i) break
      a[i] = a[s] as Event
      i = s
    }
    a[i] = last
    return top
  }
}

function less(x: Event, y: Event): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq)
}

const realSetImmediate = globalThis.setImmediate
const flush = () => new Promise<void>((resolve) => realSetImmediate(resolve))

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const slots = o.slots ?? 8
  let serviceMs = o.serviceMs ?? 20
  const capacityPerMs = slots / serviceMs
  const sloMs = o.sloMs ?? 500
  const jitter = o.jitter ?? 0.05
  const random = seededRandom(o.seed ?? 1)
  const sched = new Scheduler()
  const stalls = o.stalls ?? []
  // Events due during a stall run at its end.
  const runAt = (t: number): number => {
    for (const [s, len] of stalls) if (t >= s && t < s + len) return s + len
    return t
  }

  const saved = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout }
  ;(globalThis as { setTimeout: unknown }).setTimeout = (fn: () => void, ms: number) =>
    sched.at(runAt(sched.now + Math.max(1, ms)), fn)
  ;(globalThis as { clearTimeout: unknown }).clearTimeout = (e: Event | undefined) => {
    if (e !== undefined) e.cancelled = true
  }
  try {
    const controller = createAdmissionController({
      ...o.controller,
      now: () => sched.now,
      random: o.controller.random ?? seededRandom((o.seed ?? 1) + 100),
    })
    let busy = 0
    const pool: (() => void)[] = []
    const latencies: number[] = []
    let okWithinSlo = 0
    let rejected = 0
    let sent = 0
    let queueSum = 0
    let poolSum = 0
    const limits: number[] = []
    const queued: number[] = []

    const startOp = (done: () => void) => {
      busy++
      const d = serviceMs * (1 + jitter * random())
      sched.at(runAt(sched.now + d), () => {
        busy--
        done()
        pool.shift()?.()
      })
    }
    const request = (arrival: number) => {
      sent++
      const onDecision = (decision: Awaited<ReturnType<typeof controller.acquire>>) => {
        if (!decision.admitted) {
          rejected++
          return
        }
        const admittedAt = sched.now
        const permit = decision.permit
        const run = () => {
          const poolStart = sched.now
          startOp(() => {
            permit.release('success')
            const latency = sched.now - arrival
            latencies.push(latency)
            if (latency <= sloMs) okWithinSlo++
            queueSum += admittedAt - arrival
            poolSum += poolStart - admittedAt
          })
        }
        if (busy < slots) run()
        else pool.push(() => run())
      }
      const decision = controller.admit({ priority: 'normal' })
      if (decision instanceof Promise) void decision.then(onDecision)
      else onDecision(decision)
    }

    // Poisson arrivals, phase by phase.
    const multipleAt = (t: number): number => {
      let m = 0
      for (const [from, multiple] of o.phases) if (t >= from) m = multiple
      return m
    }
    let t = 0
    for (;;) {
      const rate = multipleAt(t) * capacityPerMs
      t += rate > 0 ? -Math.log(1 - random()) / rate : 1
      if (t >= o.durationMs) break
      if (rate > 0) {
        const arrival = t
        sched.at(runAt(arrival), () => request(arrival))
      }
    }
    for (const [at, ms] of o.serviceSteps ?? []) {
      sched.at(at, () => {
        serviceMs = ms
      })
    }
    for (let s = 250; s <= o.durationMs; s += 250) {
      sched.at(runAt(s), () => {
        const stats = controller.stats()
        limits.push(stats.limit)
        queued.push(stats.queued)
      })
    }

    for (let e = sched.pop(); e !== undefined; e = sched.pop()) {
      if (e.cancelled) continue
      sched.now = Math.max(sched.now, e.at)
      e.fn()
      await flush()
    }
    controller.close()
    const sorted = [...latencies].sort((a, b) => a - b)
    return {
      sent,
      ok: latencies.length,
      okWithinSlo,
      rejected,
      goodput: okWithinSlo / (capacityPerMs * o.durationMs),
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1) ?? Number.NaN,
      limits,
      queued,
      meanQueueMs: queueSum / Math.max(1, latencies.length),
      meanPoolMs: poolSum / Math.max(1, latencies.length),
    }
  } finally {
    globalThis.setTimeout = saved.setTimeout
    globalThis.clearTimeout = saved.clearTimeout
  }
}

async function main(): Promise<void> {
  const seed = Number(process.argv[2] ?? 1)
  const oldQueue = { size: 100, timeoutMs: 1000 }
  const configs: [string, AdmissionControllerOptions][] = [
    ['fixed 10, queue 16 / 250 ms', { limit: 10, queue: { size: 16, timeoutMs: 250 } }],
    [
      'gradient2, queue 100 / 1000 ms (old default)',
      { limit: { algorithm: 'gradient2' }, queue: oldQueue },
    ],
    ['gradient2 (default queue: auto)', { limit: { algorithm: 'gradient2' } }],
    [
      'vegas, queue 100 / 1000 ms (old default)',
      { limit: { algorithm: 'vegas' }, queue: oldQueue },
    ],
    ['vegas (default queue: auto)', { limit: { algorithm: 'vegas' } }],
    ['aimd (default queue: auto)', { limit: { algorithm: 'aimd' } }],
  ]
  const row = (name: string, load: string, r: OpenLoopResult): string => {
    const l = [...r.limits].sort((a, b) => a - b)
    return `| ${name} | ${load} | ${(100 * r.goodput).toFixed(1)}% | ${r.p50.toFixed(0)} / ${r.p99.toFixed(0)} / ${r.max.toFixed(0)} | ${r.meanQueueMs.toFixed(0)} / ${r.meanPoolMs.toFixed(0)} | ${l[0]}–${l[l.length >> 1]}–${l.at(-1)} |`
  }
  console.log(
    '| configuration | load | goodput (% of capacity) | 2xx p50 / p99 / max, ms | mean wait: queue / pool, ms | limit min–median–max |',
  )
  console.log('| --- | --- | --: | --: | --: | --: |')
  for (const [name, controller] of configs) {
    for (const multiple of [2, 3, 4]) {
      const r = await runOpenLoop({ controller, phases: [[0, multiple]], durationMs: 8000, seed })
      console.log(row(name, `${multiple}×`, r))
    }
    const stalled = await runOpenLoop({
      controller,
      phases: [[0, 3]],
      durationMs: 8000,
      seed,
      stalls: [
        [2000, 100],
        [4000, 200],
        [6000, 50],
      ],
    })
    console.log(row(name, '3×, stalls of 100, 200, 50 ms', stalled))
    // capacity-step: 320 req/s, the operation goes from 20 to 40 ms at half time; goodput of the 2nd half.
    const step = await runOpenLoop({
      controller,
      phases: [[0, 0.8]],
      durationMs: 20_000,
      serviceSteps: [[10_000, 40]],
      seed,
    })
    console.log(row(name, 'capacity-step (0.8× → 1.6×), whole run', step))
  }
}

if (process.argv[1]?.endsWith('open-loop-queue.ts')) await main()
