/**
 * A deterministic closed-loop simulation for limit algorithms: no timers, no
 * sleeps, a fake clock that jumps from one completion to the next.
 *
 * The service has a capacity `C` (requests it can work on at once). A request's
 * service time is fixed when it is admitted:
 *
 *     rttMs = baseRttMs × max(1, inFlight / C) × (1 ± jitter)
 *
 * so past `C` latency grows in proportion to the excess (C workers shared by
 * `inFlight` requests), and throughput stays at `C / baseRttMs`. A request
 * admitted while `inFlight > dropAbove × C` fails (`didDrop`), like a downstream
 * whose own bounded queue overflowed.
 *
 * More clients than `C` loop for ever: each waits in a FIFO until the limit lets
 * it in (queue wait is not service time, as in the controller), runs, reports
 * its sample, and asks again at once.
 */
import { seededRandom } from '../../src/seeded-random.js'
import type { LimitAlgorithm } from '../../src/types.js'

/** One stretch of the run with a given capacity. */
export interface Phase {
  /** Simulated length of the phase, in ms. */
  durationMs: number
  /** Requests the service can work on at once without slowing down. */
  capacity: number
  /** Service time when not over capacity in this phase, in ms (a slower or faster backend). @default `baseRttMs` */
  baseRttMs?: number
}

export interface SimulationOptions {
  /** The algorithm under test; it is fed every completion. */
  algorithm: LimitAlgorithm
  /** Consecutive phases; capacity changes at each boundary. */
  phases: readonly Phase[]
  /** Closed-loop clients; more than any capacity to keep the service saturated. @default 4 × the largest capacity */
  clients?: number
  /** Service time when not over capacity, in ms. @default 10 */
  baseRttMs?: number
  /** Requests admitted above `dropAbove × capacity` in flight fail. @default Infinity */
  dropAbove?: number
  /** Relative spread of service time, `0` for none. @default 0.1 */
  jitter?: number
  /** Seed of the service-time jitter. @default 1 */
  seed?: number
}

/** What the algorithm saw and decided at one completion. */
export interface TracePoint {
  /** Simulated time of the completion, in ms. */
  timeMs: number
  /** `algorithm.limit` after the sample. */
  limit: number
  rttMs: number
  inFlight: number
  didDrop: boolean
  /** Index into `phases` of the completion time. */
  phase: number
}

export interface Trace {
  points: TracePoint[]
  /** `[startMs, endMs)` of each phase, and its service. */
  phases: { startMs: number; endMs: number; capacity: number; baseRttMs: number }[]
  /** Completed requests per simulated second in each phase. */
  throughputPerSecond: number[]
}

export { seededRandom }

interface Running {
  endMs: number
  startMs: number
  rttMs: number
  inFlight: number
  didDrop: boolean
}

/** Binary min-heap on `endMs`; ties keep no particular order (jitter breaks them). */
class Heap {
  private readonly items: Running[] = []

  get size(): number {
    return this.items.length
  }

  push(item: Running): void {
    const a = this.items
    a.push(item)
    let i = a.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((a[parent] as Running).endMs <= item.endMs) break
      a[i] = a[parent] as Running
      i = parent
    }
    a[i] = item
  }

  pop(): Running | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (top === undefined || last === undefined || a.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let smallest = i
      let smallestEnd = last.endMs
      if (l < a.length && (a[l] as Running).endMs < smallestEnd) {
        smallest = l
        smallestEnd = (a[l] as Running).endMs
      }
      if (r < a.length && (a[r] as Running).endMs < smallestEnd) smallest = r
      if (smallest === i) break
      a[i] = a[smallest] as Running
      i = smallest
    }
    a[i] = last
    return top
  }
}

/** Runs the closed loop through every phase and returns what the algorithm did. */
export function simulate(options: SimulationOptions): Trace {
  const { algorithm, phases } = options
  const baseRttMs = options.baseRttMs ?? 10
  const dropAbove = options.dropAbove ?? Number.POSITIVE_INFINITY
  const jitter = options.jitter ?? 0.1
  const random = seededRandom(options.seed ?? 1)
  const clients = options.clients ?? 4 * Math.max(...phases.map((p) => p.capacity))

  const bounds: Trace['phases'] = []
  let t0 = 0
  for (const p of phases) {
    bounds.push({
      startMs: t0,
      endMs: t0 + p.durationMs,
      capacity: p.capacity,
      baseRttMs: p.baseRttMs ?? baseRttMs,
    })
    t0 += p.durationMs
  }
  const endMs = t0
  const phaseAt = (timeMs: number): number => {
    for (let i = 0; i < bounds.length; i++) if (timeMs < (bounds[i]?.endMs ?? 0)) return i
    return bounds.length - 1
  }

  const running = new Heap()
  const completed = bounds.map(() => 0)
  const points: TracePoint[] = []
  let waiting = clients
  let now = 0

  const admit = (): void => {
    while (waiting > 0 && running.size < algorithm.limit) {
      waiting--
      const inFlight = running.size + 1
      const phase = bounds[phaseAt(now)]
      const capacity = phase?.capacity ?? 1
      const spread = jitter === 0 ? 1 : 1 + jitter * (2 * random() - 1)
      const rttMs = (phase?.baseRttMs ?? baseRttMs) * Math.max(1, inFlight / capacity) * spread
      running.push({
        startMs: now,
        endMs: now + rttMs,
        rttMs,
        inFlight,
        didDrop: inFlight > dropAbove * capacity,
      })
    }
  }

  admit()
  for (;;) {
    const done = running.pop()
    if (done === undefined || done.endMs >= endMs) break
    now = done.endMs
    const phase = phaseAt(now)
    completed[phase] = (completed[phase] ?? 0) + 1
    algorithm.onSample({
      startMs: done.startMs,
      rttMs: done.rttMs,
      inFlight: done.inFlight,
      didDrop: done.didDrop,
    })
    points.push({
      timeMs: now,
      limit: algorithm.limit,
      rttMs: done.rttMs,
      inFlight: done.inFlight,
      didDrop: done.didDrop,
      phase,
    })
    waiting++
    admit()
  }
  return {
    points,
    phases: bounds,
    throughputPerSecond: bounds.map((b, i) => ((completed[i] ?? 0) * 1000) / (b.endMs - b.startMs)),
  }
}

/** How a phase settled, by `settle()`. */
export interface Settling {
  /** Simulated ms from the phase start until the limit entered the band for good. */
  settleMs: number
  /** Completions (samples) from the phase start until then. */
  samples: number
  /** Median limit over the second half of the phase. */
  settledLimit: number
  /** Smallest and largest limit after settling (probe dips included). */
  minAfter: number
  maxAfter: number
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/**
 * When the limit of one phase settled in `[low × C, high × C]`: where it
 * entered the band before the first `bucketMs` bucket from which every
 * bucket's median limit stays in the band until the phase ends (medians, so a probe
 * that dips the limit for a round trip does not count as unsettled).
 * `undefined` if it never settles.
 */
export function settle(
  trace: Trace,
  phase: number,
  band: readonly [number, number] = [0.7, 1.5],
  bucketMs = 100,
): Settling | undefined {
  const bound = trace.phases[phase]
  if (bound === undefined) throw new RangeError(`no phase ${phase}`)
  const low = band[0] * bound.capacity
  const high = band[1] * bound.capacity
  const points = trace.points.filter((p) => p.phase === phase)
  const buckets: TracePoint[][] = []
  for (const p of points) {
    const i = Math.floor((p.timeMs - bound.startMs) / bucketMs)
    while (buckets.length <= i) buckets.push([])
    buckets[i]?.push(p)
  }
  let first = buckets.length
  for (let i = buckets.length - 1; i >= 0; i--) {
    const b = buckets[i] ?? []
    if (b.length === 0) continue
    const m = median(b.map((p) => p.limit))
    if (m < low || m > high) break
    first = i
  }
  if (first >= buckets.length) return undefined
  // The limit entered the band for good at the start of the in-band run that reaches into the
  // first good bucket (back into the bucket before it, forward past a dip at its start).
  const inBand = (p: TracePoint | undefined) => p !== undefined && p.limit >= low && p.limit <= high
  const from = bound.startMs + first * bucketMs
  let index = points.findIndex((p) => p.timeMs >= from)
  while (index > 0 && inBand(points[index - 1])) index--
  while (index < points.length && !inBand(points[index])) index++
  const entered = points[index]
  if (entered === undefined) return undefined
  const settleMs = entered.timeMs - bound.startMs
  const samples = index
  const after = points.slice(index)
  const midMs = (bound.startMs + bound.endMs) / 2
  return {
    settleMs,
    samples,
    settledLimit: median(points.filter((p) => p.timeMs >= midMs).map((p) => p.limit)),
    minAfter: after.reduce((m, p) => Math.min(m, p.limit), Number.POSITIVE_INFINITY),
    maxAfter: after.reduce((m, p) => Math.max(m, p.limit), 0),
  }
}
