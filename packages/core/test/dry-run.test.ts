/**
 * Dry run predicts (issue 9, part 2): a shadow lane models slots and queue, so
 * that the dry-run counters match what the real decisions would have been.
 */
import {
  type AdmissionController,
  type AdmissionControllerOptions,
  createAdmissionController,
  type Decision,
  type RejectionReason,
} from '@spillway/core'
import { seededRandom } from '../src/seeded-random.js'
import { fakeClockController, permitOf } from './harness.js'

beforeEach(() => {
  jest.useFakeTimers({ now: 0 })
})

afterEach(() => {
  jest.useRealTimers()
})

function dryOf(decision: Decision | Promise<Decision>): unknown {
  if (decision instanceof Promise || !decision.admitted) throw new Error('expected a dry permit')
  return decision.dryRun
}

describe('dry run', () => {
  it('counts queueFull once the shadow queue is full (the reproduction: limit 1, queue 1, five arrivals)', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 1 } })
    const verdicts = Array.from({ length: 5 }, () => c.admit({}, { dryRun: true }))
    expect(verdicts.map((d) => dryOf(d))).toEqual([
      undefined,
      'queue',
      expect.objectContaining({ reason: 'queueFull' }),
      expect.objectContaining({ reason: 'queueFull' }),
      expect.objectContaining({ reason: 'queueFull' }),
    ])
    expect(c.stats().counters.dryRun).toMatchObject({
      wouldAdmit: 1,
      wouldQueue: 1,
      wouldReject: { queueFull: 3 },
    })
    // Everything went through, with no timer; the shadow lane holds one slot and one place.
    expect(jest.getTimerCount()).toBe(0)
    expect(c.stats()).toMatchObject({ inFlight: 0, queued: 0, dryRun: { inFlight: 1, queued: 1 } })
    for (const d of verdicts) permitOf(d).release()
  })

  it('times a shadow waiter out when it would have been, even after its real request ended', () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 100 }, dryRun: true })
    const holder = permitOf(c.admit())
    const waiter = permitOf(c.admit())
    jest.advanceTimersByTime(10)
    waiter.release() // it ran for real and ended; in the shadow it still waits
    expect(c.stats().dryRun).toEqual({ inFlight: 1, queued: 1 })
    jest.advanceTimersByTime(89)
    expect(c.stats().counters.dryRun.wouldReject.queueTimeout).toBe(0)
    jest.advanceTimersByTime(1)
    expect(c.stats().counters.dryRun.wouldReject.queueTimeout).toBe(1)
    expect(c.stats().dryRun).toEqual({ inFlight: 1, queued: 0 })
    holder.release()
    expect(c.stats().dryRun).toEqual({ inFlight: 0, queued: 0 })
  })

  it('admits a shadow waiter when a shadow slot frees, and holds that slot for its own service time', () => {
    const c = fakeClockController({ limit: 1, queue: { timeoutMs: 1000 }, dryRun: true })
    const a = permitOf(c.admit())
    const b = permitOf(c.admit()) // would wait for a
    jest.advanceTimersByTime(30)
    b.release() // b's service: 30 ms
    jest.advanceTimersByTime(20)
    a.release() // t = 50: b would start now and end at 80
    expect(c.stats()).toMatchObject({ dryRun: { inFlight: 1, queued: 0 } })
    expect(c.stats().counters.dryRun.wouldAdmit).toBe(2)
    jest.advanceTimersByTime(10)
    const late = permitOf(c.admit()) // t = 60: would wait for b
    expect(c.stats().dryRun).toEqual({ inFlight: 1, queued: 1 })
    jest.advanceTimersByTime(19)
    expect(c.stats().dryRun).toEqual({ inFlight: 1, queued: 1 })
    jest.advanceTimersByTime(1) // t = 80: b's shadow slot frees, late takes it
    expect(c.stats().dryRun).toEqual({ inFlight: 1, queued: 0 })
    late.release() // late ran 60 → 80 for real: in the shadow, 80 → 100
    expect(c.stats().dryRun).toEqual({ inFlight: 1, queued: 0 })
    jest.advanceTimersByTime(20)
    expect(c.stats().dryRun).toEqual({ inFlight: 0, queued: 0 })
    expect(c.stats().counters.dryRun).toMatchObject({ wouldAdmit: 3, wouldQueue: 2 })
  })

  it('evicts in the shadow queue as the real one would', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 1 }, dryRun: true })
    const permits = [
      c.admit(),
      c.admit({ priority: 'sheddable' }),
      c.admit({ priority: 'critical' }),
      c.admit({ key: 'b' }),
    ]
    expect(c.stats().counters.dryRun).toMatchObject({
      wouldQueue: 2,
      wouldReject: { evicted: 1, queueFull: 1 },
    })
    for (const d of permits) permitOf(d).release()
  })

  it('sees real requests ahead of a dry one, and never the other way round', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 } })
    const real = permitOf(c.admit())
    expect(dryOf(c.admit({}, { dryRun: true }))).toMatchObject({ reason: 'queueFull' })
    real.release()
    const dry = permitOf(c.admit({}, { dryRun: true }))
    permitOf(c.admit()).release()
    dry.release()
    expect(c.stats().counters).toMatchObject({ admitted: 2, rejected: { queueFull: 0 } })
  })

  it('answers shadow waiters with closed on close()', () => {
    const c = fakeClockController({ limit: 1, dryRun: true })
    const held = [c.admit(), c.admit(), c.admit()]
    c.close()
    expect(c.stats().counters.dryRun.wouldReject.closed).toBe(2)
    expect(c.stats().dryRun.queued).toBe(0)
    for (const d of held) permitOf(d).release()
    expect(c.stats().dryRun).toEqual({ inFlight: 0, queued: 0 })
  })

  it('lets admit(request, { dryRun: false }) decide for real on a dry-run controller', () => {
    const c = fakeClockController({ limit: 1, queue: { size: 0 }, dryRun: true })
    permitOf(c.admit({}, { dryRun: false }))
    expect(c.stats().inFlight).toBe(1)
    expect(c.tryAcquire()).toBeDefined() // dry: let through
    expect(c.stats().counters.dryRun.wouldReject.queueFull).toBe(1)
  })

  it('rejects a dryRun option that is not a boolean', () => {
    expect(() => createAdmissionController({ dryRun: 'yes' as unknown as boolean })).toThrow(
      expect.objectContaining({
        code: 'ERR_SPILLWAY_INVALID_OPTION',
        option: 'dryRun',
        message: 'Expected `dryRun` to be a boolean, got `"yes"` (string).',
      }),
    )
  })
})

interface Arrival {
  atMs: number
  serviceMs: number
  key: string | undefined
  priority: string
  deadlineInMs: number | undefined
}

/** A recorded sequence: about twice the capacity, a heavy tenant, mixed priorities and deadlines. */
function record(seed: number, count: number): Arrival[] {
  const random = seededRandom(seed)
  const arrivals: Arrival[] = []
  let at = 0
  for (let i = 0; i < count; i++) {
    at += Math.round(-Math.log(1 - random()) * 4) // mean 4 ms: 250/s against ~130/s
    const k = random()
    const p = random()
    arrivals.push({
      atMs: at,
      serviceMs: 10 + Math.floor(random() * 40),
      key: k < 0.5 ? 'heavy' : k < 0.9 ? `light-${Math.floor(k * 10)}` : undefined,
      priority: p < 0.2 ? 'critical' : p < 0.7 ? 'normal' : 'sheddable',
      deadlineInMs: random() < 0.2 ? 20 + Math.floor(random() * 80) : undefined,
    })
  }
  return arrivals
}

/** Replays arrivals on the fake clock; each admitted request holds its permit for its service time. */
async function replay(
  arrivals: readonly Arrival[],
  options: AdmissionControllerOptions,
): Promise<AdmissionController> {
  jest.setSystemTime(0)
  const c = fakeClockController(options)
  const hold = (d: Decision, serviceMs: number) => {
    if (d.admitted) setTimeout(() => d.permit.release(), serviceMs)
  }
  for (const a of arrivals) {
    await jest.advanceTimersByTimeAsync(a.atMs - Date.now())
    const decision = c.admit({
      key: a.key,
      priority: a.priority,
      deadline: a.deadlineInMs === undefined ? undefined : a.atMs + a.deadlineInMs,
    })
    if (decision instanceof Promise) void decision.then((d) => hold(d, a.serviceMs))
    else hold(decision, a.serviceMs)
  }
  await jest.advanceTimersByTimeAsync(5000)
  return c
}

describe('dry run on a recorded arrival sequence', () => {
  const REASONS: RejectionReason[] = ['queueFull', 'queueTimeout', 'evicted', 'deadline', 'quota']

  it.each([
    ['fifo', 1],
    ['fifo', 2],
    ['lifo', 3],
    ['adaptive', 4],
  ] as const)(
    'predicts the real counters within 2%% of arrivals (%s order, seed %d)',
    async (order, seed) => {
      const arrivals = record(seed, 2000)
      const options: AdmissionControllerOptions = {
        limit: 4,
        queue: { size: 8, timeoutMs: 60, order, codelIntervalMs: 50, codelTargetMs: 10 },
      }
      const real = (await replay(arrivals, options)).stats()
      const dry = (await replay(arrivals, { ...options, dryRun: true })).stats()
      expect(real).toMatchObject({ inFlight: 0, queued: 0 })
      expect(dry).toMatchObject({ inFlight: 0, queued: 0, dryRun: { inFlight: 0, queued: 0 } })
      const predicted: Record<string, number> = {
        admitted: dry.counters.dryRun.wouldAdmit,
        queued: dry.counters.dryRun.wouldQueue,
      }
      const actual: Record<string, number> = {
        admitted: real.counters.admitted,
        queued: real.counters.queued,
      }
      for (const reason of REASONS) {
        predicted[reason] = dry.counters.dryRun.wouldReject[reason]
        actual[reason] = real.counters.rejected[reason]
      }
      // The run really sheds: every way out is exercised.
      const n = (name: string): number => actual[name] ?? 0
      expect(n('queueFull') + n('quota')).toBeGreaterThan(30)
      expect(n('queueTimeout') + n('deadline')).toBeGreaterThan(20)
      expect(n('evicted')).toBeGreaterThan(20)
      for (const name of Object.keys(actual)) {
        const error = Math.abs((predicted[name] as number) - (actual[name] as number))
        expect({
          name,
          error: error <= 0.02 * arrivals.length,
          predicted: predicted[name],
          actual: actual[name],
        }).toEqual({ name, error: true, predicted: predicted[name], actual: actual[name] })
      }
      // Nothing real was admitted or refused during the dry run.
      expect(dry.counters.admitted).toBe(0)
      expect(Object.values(dry.counters.rejected).every((n) => n === 0)).toBe(true)
    },
  )
})
