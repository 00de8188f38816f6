/**
 * Fairness simulation: one heavy tenant and N light ones offer 3× the
 * capacity together; what share of the service does each get? Runs the real
 * controller on a simulated clock (discrete events, no sleeps, seeded), and,
 * given BEFORE, the same traffic on another copy of the core beside it.
 *
 *   npx tsx packages/core/bench/fairness.ts
 *   BEFORE=/tmp/spillway-before/packages/core/src/index.ts npx tsx packages/core/bench/fairness.ts
 *
 * The service: `limit` slots, every request holds one for `serviceMs`
 * (capacity = limit / serviceMs). Arrivals are Poisson per tenant: the heavy
 * tenant offers 2.5× the capacity, the light tenants 0.5× between them.
 * Queue timeouts are long, so only admission, queueing and eviction decide.
 */
import type { AdmissionControllerOptions, Decision } from '../src/index.js'
import * as after from '../src/index.js'
import { seededRandom } from '../src/seeded-random.js'

type Core = Pick<typeof after, 'createAdmissionController'>

const LIMIT = 8
const SERVICE_MS = 20
const QUEUE = 16
const DURATION_MS = 20_000
const CAPACITY_PER_S = (LIMIT * 1000) / SERVICE_MS

interface Tally {
  sent: number
  served: number
  waits: number[]
}

/** A min-heap of timed events. */
class Events {
  readonly #heap: { at: number; seq: number; run: () => void }[] = []
  #seq = 0
  push(at: number, run: () => void): void {
    const heap = this.#heap
    heap.push({ at, seq: this.#seq++, run })
    let i = heap.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(heap[p] as Ev, heap[i] as Ev)) break
      ;[heap[p], heap[i]] = [heap[i] as Ev, heap[p] as Ev]
      i = p
    }
  }
  pop(): Ev | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || last === top) return top
    heap[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && less(heap[l] as Ev, heap[m] as Ev)) m = l
      if (r < heap.length && less(heap[r] as Ev, heap[m] as Ev)) m = r
      if (m === i) return top
      ;[heap[m], heap[i]] = [heap[i] as Ev, heap[m] as Ev]
      i = m
    }
  }
}
type Ev = { at: number; seq: number; run: () => void }
const less = (a: Ev, b: Ev) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

async function simulate(
  core: Core,
  lightTenants: number,
  extra: AdmissionControllerOptions,
  seed: number,
): Promise<Map<string, Tally>> {
  let clock = 0
  const random = seededRandom(seed)
  const c = core.createAdmissionController({
    limit: LIMIT,
    queue: { size: QUEUE, timeoutMs: 600_000 },
    now: () => clock,
    random,
    ...extra,
  })
  const events = new Events()
  const tallies = new Map<string, Tally>()
  const tenants: [string, number][] = [['heavy', 2.5 * CAPACITY_PER_S]]
  for (let i = 0; i < lightTenants; i++) {
    tenants.push([`light-${i}`, (0.5 * CAPACITY_PER_S) / lightTenants])
  }
  for (const [key, ratePerS] of tenants) {
    tallies.set(key, { sent: 0, served: 0, waits: [] })
    const next = (from: number) => from - (Math.log(1 - random()) * 1000) / ratePerS
    const arrive = () => {
      const tally = tallies.get(key) as Tally
      tally.sent++
      const arrivedAt = clock
      const onDecision = (d: Decision) => {
        if (!d.admitted) return
        tally.served++
        tally.waits.push(clock - arrivedAt)
        events.push(clock + SERVICE_MS, () => d.permit.release())
      }
      const d = c.admit({ key })
      if (d instanceof Promise) void d.then(onDecision)
      else onDecision(d)
      const at = next(clock)
      if (at < DURATION_MS) events.push(at, arrive)
    }
    events.push(next(0), arrive)
  }
  for (let e = events.pop(); e !== undefined; e = events.pop()) {
    clock = e.at
    e.run()
    // Queued admissions resolve in microtasks: let them settle before time moves.
    for (let i = 0; i < 8; i++) await Promise.resolve()
  }
  c.close()
  return tallies
}

function p99(xs: number[]): number {
  if (xs.length === 0) return 0
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number
}

function row(label: string, n: number, tallies: Map<string, Tally>): string {
  const heavy = tallies.get('heavy') as Tally
  const light = [...tallies.entries()].filter(([k]) => k !== 'heavy').map(([, t]) => t)
  const lightSent = light.reduce((a, t) => a + t.sent, 0)
  const lightServed = light.reduce((a, t) => a + t.served, 0)
  const worst = Math.min(...light.map((t) => t.served / Math.max(1, t.sent)))
  const served = heavy.served + lightServed
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`
  const lightWaits = light.flatMap((t) => t.waits)
  return `| ${label} | ${n} | ${pct(lightServed / lightSent)} | ${pct(worst)} | ${p99(lightWaits).toFixed(0)} | ${pct(heavy.served / heavy.sent)} | ${p99(heavy.waits).toFixed(0)} | ${pct(lightServed / served)} | ${((served * 1000) / DURATION_MS / CAPACITY_PER_S).toFixed(2)} |`
}

async function main(): Promise<void> {
  const beforePath = process.env.BEFORE
  const before = beforePath === undefined ? undefined : ((await import(beforePath)) as Core)
  console.log(
    `limit ${LIMIT} × ${SERVICE_MS} ms (${CAPACITY_PER_S}/s), queue ${QUEUE}; heavy offers 2.5×, the light tenants 0.5× together; ${DURATION_MS / 1000} s simulated, seed 1`,
  )
  console.log(
    '| core | light tenants | light served | worst light tenant served | light p99 wait (ms) | heavy served | heavy p99 wait (ms) | light share of service | goodput / capacity |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const n of [1, 4, 16]) {
    if (before !== undefined) console.log(row('before', n, await simulate(before, n, {}, 1)))
    console.log(row('after', n, await simulate(after, n, {}, 1)))
    if (n > 8) {
      const wide = { fairness: { maxKeys: 32 } }
      console.log(row('after, maxKeys 32', n, await simulate(after, n, wide, 1)))
    }
  }
}

void main()
