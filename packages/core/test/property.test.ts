/**
 * Random interleavings of everything a server does to the controller, on
 * jest's fake clock, checked against a model after every step and drained at
 * the end.
 */
import {
  type AdmissionController,
  createAdmissionController,
  type Decision,
  type Outcome,
  type Permit,
  type QueueOrder,
  type Rejection,
  type RejectionReason,
} from '@spillway/core'
import fc from 'fast-check'
import { seededRandom } from '../src/seeded-random.js'
import { flush } from './harness.js'

const PRIORITIES = ['critical', 'normal', 'sheddable', 'unknown-name']
const KEYS = ['a', 'b', 'c', 'd', 'e']

interface Config {
  limit: number
  /** Adaptive runs: the limit moves with samples and a pressure source caps it. */
  adaptive: 'aimd' | 'gradient2' | 'vegas' | undefined
  size: number
  timeoutMs: number
  order: QueueOrder
  codelTargetMs: number
  codelIntervalMs: number
  /** `fairness.maxKeys`; with all five keys below it, no key ever overflows. */
  maxKeys: number
}

type Via = 'acquire' | 'admit' | 'tryAcquire' | 'dryRun'

type Op =
  | {
      kind: 'acquire'
      via: Via
      priority: number
      key: number | undefined
      deadlineInMs: number | undefined
      signal: boolean
      preAborted: boolean
    }
  | { kind: 'release'; index: number; outcome: Outcome; twice: boolean }
  | { kind: 'abort'; index: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'close' }
  | { kind: 'pressure'; level: number }

const configArb = (adaptive: boolean): fc.Arbitrary<Config> =>
  fc.record({
    limit: fc.integer({ min: 1, max: 4 }),
    adaptive: adaptive
      ? fc.constantFrom('aimd' as const, 'gradient2' as const, 'vegas' as const)
      : fc.constant(undefined),
    size: fc.integer({ min: 0, max: 5 }),
    timeoutMs: fc.integer({ min: 1, max: 300 }),
    order: fc.constantFrom<QueueOrder>('fifo', 'lifo', 'adaptive'),
    codelTargetMs: fc.integer({ min: 1, max: 20 }),
    codelIntervalMs: fc.integer({ min: 1, max: 100 }),
    maxKeys: fc.constantFrom(1, 2, 5),
  })

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('acquire' as const),
      via: fc.constantFrom<Via>('acquire', 'acquire', 'admit', 'tryAcquire', 'dryRun'),
      priority: fc.integer({ min: 0, max: 3 }),
      key: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
      deadlineInMs: fc.option(fc.integer({ min: -5, max: 400 }), { nil: undefined }),
      signal: fc.boolean(),
      preAborted: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      index: fc.nat(),
      outcome: fc.constantFrom<Outcome>('success', 'failure', 'ignore'),
      twice: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), index: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('pressure' as const),
      level: fc.constantFrom(0, 0, 0.2, 0.5, 0.8, 1, Number.NaN, -1),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 400 })),
    }),
  },
)

const opsArb = fc.array(opArb, { minLength: 10, maxLength: 60, size: 'medium' })

interface Request {
  readonly id: number
  readonly priorityIndex: number
  readonly key: string | undefined
  readonly deadline: number
  readonly arrivedAt: number
  readonly abort: AbortController | undefined
  readonly dryRun: boolean
  settleCount: number
  settledAt: number
  decision: Decision | undefined
}

interface Held {
  readonly permit: Permit
  readonly shadow: boolean
  readonly key: string | undefined
  released: boolean
}

class Harness {
  readonly c: AdmissionController
  readonly requests: Request[] = []
  readonly held: Held[] = []
  readonly rejected = new Map<RejectionReason, number>()
  readonly released: Record<Outcome, number> = { success: 0, failure: 0, ignore: 0 }
  closedAt = Number.POSITIVE_INFINITY
  shadows = 0
  violations: string[] = []
  lastRejection: Rejection | undefined
  /** How deep the re-entrant listener is nested in its own calls. */
  reentryDepth = 0
  /** A listener acts from inside events: the model is not up to date inside a call. */
  reentrant = false

  readonly pressure = { level: 0 }

  constructor(readonly config: Config) {
    this.c = createAdmissionController({
      limit:
        config.adaptive === undefined
          ? config.limit
          : { algorithm: config.adaptive, initial: config.limit, min: 1, max: 6 },
      ...(config.adaptive === undefined ? {} : { pressure: this.pressure }),
      queue: {
        size: config.size,
        timeoutMs: config.timeoutMs,
        order: config.order,
        codelTargetMs: config.codelTargetMs,
        codelIntervalMs: config.codelIntervalMs,
      },
      fairness: { maxKeys: config.maxKeys },
      now: () => Date.now(),
      random: () => 0.5,
    })
    // Strict priority: whoever is admitted, no higher priority may still be waiting.
    this.c.on((event) => {
      // A miss of tryAcquire() is the last rejection published outside any re-entrant call.
      if (event.type === 'reject' && this.reentryDepth === 0) this.lastRejection = event.rejection
      if (event.type !== 'admit') return
      // Never above the limit in force when admitted, whatever it is now.
      const { effectiveLimit } = this.c.stats()
      if (event.inFlight > effectiveLimit) {
        this.violations.push(`admitted as #${event.inFlight} under a limit of ${effectiveLimit}`)
      }
      const byPriority = this.c.stats().queuedByPriority
      const index = this.c.priorities.indexOf(event.priority)
      for (let i = 0; i < index; i++) {
        const name = this.c.priorities[i] as string
        if ((byPriority[name] ?? 0) > 0) {
          this.violations.push(`${event.priority} admitted while ${name} waited`)
        }
      }
    })
  }

  get pending(): Request[] {
    return this.requests.filter((r) => r.settleCount === 0)
  }

  onDecision(request: Request, decision: Decision): void {
    request.settleCount++
    request.settledAt = Date.now()
    request.decision = decision
    if (decision.admitted) {
      // A dry run never holds a real slot, whatever it would have met.
      const shadow = request.dryRun
      if (shadow) this.shadows++
      this.held.push({ permit: decision.permit, shadow, key: request.key, released: false })
    } else {
      const reason = decision.rejection.reason
      this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1)
    }
  }

  apply(op: Op): void {
    const now = Date.now()
    switch (op.kind) {
      case 'acquire': {
        const abort = op.signal ? new AbortController() : undefined
        if (op.preAborted) abort?.abort()
        const request: Request = {
          id: this.requests.length,
          // The unknown name falls back to the default, `normal`.
          priorityIndex: op.priority === 3 ? 1 : op.priority,
          key: op.key === undefined ? undefined : KEYS[op.key],
          deadline:
            op.deadlineInMs === undefined ? Number.POSITIVE_INFINITY : now + op.deadlineInMs,
          arrivedAt: now,
          abort,
          dryRun: op.via === 'dryRun',
          settleCount: 0,
          settledAt: Number.NaN,
          decision: undefined,
        }
        this.requests.push(request)
        const admission = {
          priority: PRIORITIES[op.priority],
          key: request.key,
          deadline: op.deadlineInMs === undefined ? undefined : request.deadline,
          signal: abort?.signal,
        }
        if (op.via === 'tryAcquire') {
          this.lastRejection = undefined
          const permit = this.c.tryAcquire(admission)
          if (permit !== undefined) {
            this.onDecision(request, { admitted: true, permit })
          } else if (this.lastRejection === undefined) {
            this.violations.push('tryAcquire missed without a reject event')
          } else {
            // A miss is a counted rejection; its reason comes only through the event.
            this.onDecision(request, { admitted: false, rejection: this.lastRejection })
          }
          return
        }
        const fair = this.#fairnessSnapshot(op.via, request)
        if (fair !== undefined) this.lastRejection = undefined
        const result =
          op.via === 'acquire'
            ? this.c.acquire(admission)
            : this.c.admit(admission, { dryRun: op.via === 'dryRun' })
        fair?.(this.lastRejection)
        if (result instanceof Promise) {
          if (op.via === 'dryRun') this.violations.push('a dry run returned a promise')
          void result.then((d) => this.onDecision(request, d))
        } else {
          this.onDecision(request, result)
        }
        return
      }
      case 'release': {
        const held = this.held[op.index % Math.max(1, this.held.length)]
        if (held === undefined) return
        if (!held.released && !held.shadow) this.released[op.outcome]++
        held.released = true
        held.permit.release(op.outcome)
        if (op.twice) held.permit.release('failure')
        return
      }
      case 'abort': {
        const withSignal = this.requests.filter((r) => r.abort !== undefined)
        withSignal[op.index % Math.max(1, withSignal.length)]?.abort?.abort()
        return
      }
      case 'close':
        if (this.closedAt === Number.POSITIVE_INFINITY) this.closedAt = now
        this.c.close()
        return
      case 'advance':
        return
      case 'pressure':
        // Fixed runs have no source: the level is only read in adaptive runs.
        this.pressure.level = op.level
        return
    }
  }

  /**
   * Fairness at refusal (fixed runs, no listener acting, no overflow): a
   * newcomer refused for a full queue means no lower-priority waiter was
   * there to evict, and no key at its priority outweighed its own by two.
   */
  #fairnessSnapshot(
    via: Via,
    request: Request,
  ): ((rejection: Rejection | undefined) => void) | undefined {
    const { config } = this
    if (config.adaptive !== undefined || this.reentrant || via === 'dryRun' || via === 'tryAcquire')
      return undefined
    if (config.size === 0 || config.maxKeys < KEYS.length || this.closedAt !== Infinity)
      return undefined
    const pending = this.pending
    const weights = new Map<string | undefined, number>()
    for (const h of this.held) {
      if (!h.shadow && !h.released) weights.set(h.key, (weights.get(h.key) ?? 0) + 1)
    }
    for (const r of pending) weights.set(r.key, (weights.get(r.key) ?? 0) + 1)
    const own = weights.get(request.key) ?? 0
    return (rejection) => {
      const reason = rejection?.reason
      if (reason !== 'queueFull' && reason !== 'quota') return
      // The door (deadline, abort) comes before the queue: only a full queue counts here.
      if (request.deadline <= request.arrivedAt || request.abort?.signal.aborted) return
      const p = request.priorityIndex
      const lower = pending.find((r) => r.priorityIndex > p)
      if (lower !== undefined) {
        this.violations.push(
          `request ${request.id} refused (${reason}) while ${lower.id} of lower priority waited`,
        )
      }
      const heavier = pending.find(
        (r) => r.priorityIndex === p && (weights.get(r.key) ?? 0) >= own + 2,
      )
      if (heavier !== undefined) {
        this.violations.push(
          `request ${request.id} (key ${request.key}, weight ${own}) refused (${reason}) while key ${heavier.key} weighed ${weights.get(heavier.key)}`,
        )
      }
    }
  }

  check(step: string): void {
    const { config, c } = this
    const stats = c.stats()
    const now = Date.now()
    const fail = (what: string) => this.violations.push(`${step}: ${what}`)
    const realHeld = this.held.filter((h) => !h.shadow && !h.released)
    const pending = this.pending
    if (stats.inFlight !== realHeld.length) {
      fail(`inFlight ${stats.inFlight}, model ${realHeld.length}`)
    }
    // Fixed runs: the limit never moves, so it bounds every step. Adaptive runs
    // check each admission against the limit in force instead (listener above).
    const fixed = config.adaptive === undefined
    if (fixed && stats.inFlight > config.limit) {
      fail(`inFlight ${stats.inFlight} > limit ${config.limit}`)
    }
    if (stats.queued > config.size) fail(`queued ${stats.queued} > size ${config.size}`)
    if (stats.queued !== pending.length) fail(`queued ${stats.queued}, pending ${pending.length}`)
    // Work-conserving: nobody waits while a slot is free.
    // (Adaptive runs skip this: eased pressure frees slots at the next decision, not at once.)
    if (fixed && stats.queued > 0 && stats.inFlight < config.limit) {
      fail(`${stats.queued} waiting with ${stats.inFlight}/${config.limit} in flight`)
    }
    // The one timer exists exactly while someone waits.
    const timers = jest.getTimerCount()
    if (timers !== (stats.queued > 0 ? 1 : 0)) fail(`${timers} timers for ${stats.queued} waiters`)
    for (const r of pending) {
      if (now - r.arrivedAt >= config.timeoutMs) fail(`request ${r.id} outstayed its timeout`)
      if (r.deadline <= now) fail(`request ${r.id} outstayed its deadline`)
      if (r.abort?.signal.aborted) fail(`request ${r.id} still waits after its abort`)
      if (now >= this.closedAt) fail(`request ${r.id} still waits after close()`)
    }
    for (const r of this.requests) {
      if (r.settleCount > 1) fail(`request ${r.id} settled ${r.settleCount} times`)
      const d = r.decision
      if (d === undefined || d.admitted) continue
      const waited = r.settledAt - r.arrivedAt
      const minWait =
        config.order === 'adaptive'
          ? Math.min(config.timeoutMs, config.codelTargetMs)
          : config.timeoutMs
      const reason = d.rejection.reason
      if (reason === 'queueTimeout' && waited < minWait) fail(`request ${r.id} timed out early`)
      if (reason === 'deadline' && r.settledAt < r.deadline) fail(`request ${r.id} early deadline`)
      if (reason === 'aborted' && !r.abort?.signal.aborted) fail(`request ${r.id} never aborted`)
      if (reason === 'quota' && r.key === undefined) fail(`request ${r.id}: quota without a key`)
      if (d.rejection.status !== (reason === 'quota' ? 429 : 503)) fail(`status of ${reason}`)
      const seconds = d.rejection.retryAfterSeconds
      // Defaults: whole seconds in [1, 30].
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 30) {
        fail(`request ${r.id}: Retry-After ${seconds}`)
      }
    }
    // Every decision counted exactly once, by reason.
    for (const [reason, counted] of Object.entries(stats.counters.rejected)) {
      const seen = this.rejected.get(reason as RejectionReason) ?? 0
      if (counted !== seen) fail(`rejected.${reason} counted ${counted}, seen ${seen}`)
    }
    const admittedReal = this.held.filter((h) => !h.shadow).length
    if (stats.counters.admitted !== admittedReal) {
      fail(`admitted counted ${stats.counters.admitted}, seen ${admittedReal}`)
    }
    // Every dry run is, in the shadow lane, admitted, rejected or still waiting: exactly one.
    const { wouldAdmit, wouldReject } = stats.counters.dryRun
    const wouldTotal =
      wouldAdmit + Object.values(wouldReject).reduce((a, b) => a + b, 0) + stats.dryRun.queued
    if (wouldTotal !== this.shadows) fail(`dry-run counters ${wouldTotal}, shadows ${this.shadows}`)
    if (stats.dryRun.queued > config.size) fail(`shadow queue ${stats.dryRun.queued} > size`)
    // Real requests never see shadow ones, so only the shadow count alone is bounded.
    if (fixed && stats.dryRun.inFlight > config.limit) {
      fail(`shadow in flight ${stats.dryRun.inFlight} > ${config.limit}`)
    }
    for (const outcome of ['success', 'failure', 'ignore'] as const) {
      if (stats.counters.released[outcome] !== this.released[outcome]) {
        fail(`released.${outcome} ${stats.counters.released[outcome]} vs ${this.released[outcome]}`)
      }
    }
    const keys = new Set<string>()
    for (const h of realHeld) if (h.key !== undefined) keys.add(h.key)
    for (const r of pending) if (r.key !== undefined) keys.add(r.key)
    if (stats.activeKeys !== keys.size) fail(`activeKeys ${stats.activeKeys}, model ${keys.size}`)
    // Per-key state is bounded by the work held, never by the keys ever seen.
    if (stats.activeKeys > stats.inFlight + stats.queued) fail(`activeKeys ${stats.activeKeys}`)
  }
}

/** Closing ends a scenario's interest early, so only some scenarios close, at a random step. */
const closeAtArb = fc.option(fc.nat({ max: 60 }), { nil: undefined, freq: 2 })

/**
 * A listener that acts from inside events, as user code may: acquires on a
 * release (a worker pool), retries on a rejection, releases on an admission,
 * aborts a waiter as it queues, closes the controller.
 * Bounded in depth and in count, so every scenario ends.
 */
function reenter(h: Harness, seed: number): void {
  const draw = seededRandom(seed)
  h.reentrant = true
  let budget = 40
  h.c.on((event) => {
    if (h.reentryDepth >= 3 || budget <= 0) return
    h.reentryDepth++
    budget--
    try {
      const r = draw()
      if ((event.type === 'release' && r < 0.4) || (event.type === 'reject' && r < 0.2)) {
        h.apply({
          kind: 'acquire',
          via: r < 0.1 ? 'admit' : 'acquire',
          priority: Math.floor(draw() * 4),
          key: draw() < 0.5 ? Math.floor(draw() * 3) : undefined,
          deadlineInMs: undefined,
          signal: false,
          preAborted: false,
        })
      } else if (event.type === 'queue' && r < 0.1) {
        h.apply({ kind: 'abort', index: Math.floor(draw() * 1000) })
      } else if (r > 0.995) {
        // A shutdown hook closing from inside an event.
        h.apply({ kind: 'close' })
      } else if (event.type === 'reject' && r > 0.9) {
        h.apply({
          kind: 'release',
          index: Math.floor(draw() * 1000),
          outcome: 'failure',
          twice: true,
        })
      } else if (event.type === 'admit' && r < 0.3) {
        h.apply({
          kind: 'release',
          index: Math.floor(draw() * 1000),
          outcome: 'success',
          twice: false,
        })
      }
    } finally {
      h.reentryDepth--
    }
  })
}

async function runScenario(
  config: Config,
  steps: Op[],
  closeAt: number | undefined,
  reentrantSeed?: number,
): Promise<Harness> {
  jest.clearAllTimers()
  jest.setSystemTime(0)
  const h = new Harness(config)
  if (reentrantSeed !== undefined) reenter(h, reentrantSeed)
  const ops: Op[] = [...steps]
  if (closeAt !== undefined) ops.splice(closeAt, 0, { kind: 'close' })
  for (const [i, op] of ops.entries()) {
    if (op.kind === 'advance') await jest.advanceTimersByTimeAsync(op.ms)
    h.apply(op)
    await flush()
    h.check(`step ${i} (${op.kind})`)
    if (h.violations.length > 0) return h
  }
  // Drain: release everything, including what waiters receive as they are admitted.
  for (let round = 0; round < 100; round++) {
    const open = h.held.filter((x) => !x.released)
    if (open.length === 0) break
    for (const x of open) {
      // A re-entrant listener may have released it meanwhile.
      if (x.released) continue
      if (!x.shadow) h.released.success++
      x.released = true
      x.permit.release()
    }
    await flush()
  }
  await jest.advanceTimersByTimeAsync(config.timeoutMs + 500)
  await flush()
  h.check('drained')
  const stats = h.c.stats()
  const leftovers = {
    inFlight: stats.inFlight,
    queued: stats.queued,
    shadowInFlight: stats.dryRun.inFlight,
    shadowQueued: stats.dryRun.queued,
    activeKeys: stats.activeKeys,
    timers: jest.getTimerCount(),
    unsettled: h.pending.length,
  }
  if (Object.values(leftovers).some((n) => n !== 0)) {
    h.violations.push(`not drained: ${JSON.stringify(leftovers)}`)
  }
  return h
}

beforeEach(() => {
  jest.useFakeTimers({ now: 0 })
})

afterEach(() => {
  jest.useRealTimers()
})

/** Seconds alone; a shared machine under load can make it several times slower. */
const PROPERTY_TIMEOUT_MS = 90_000

describe('random interleavings', () => {
  it.each([
    ['a fixed limit', false],
    ['an adaptive limit and process pressure', true],
  ])(
    'with %s keep every invariant at every step and drain completely',
    async (_name, adaptive) => {
      await fc.assert(
        fc.asyncProperty(configArb(adaptive), opsArb, closeAtArb, async (config, ops, closeAt) => {
          const h = await runScenario(config, ops, closeAt)
          expect(h.violations).toEqual([])
        }),
        { numRuns: 200 },
      )
    },
    PROPERTY_TIMEOUT_MS,
  )

  it.each([
    ['a fixed limit', false],
    ['an adaptive limit and process pressure', true],
  ])(
    'with %s and listeners that act from inside events keep every invariant',
    async (_name, adaptive) => {
      await fc.assert(
        fc.asyncProperty(
          configArb(adaptive),
          opsArb,
          closeAtArb,
          fc.integer(),
          async (config, ops, closeAt, seed) => {
            const h = await runScenario(config, ops, closeAt, seed)
            expect(h.violations).toEqual([])
          },
        ),
        { numRuns: 400 },
      )
    },
    PROPERTY_TIMEOUT_MS,
  )
})
