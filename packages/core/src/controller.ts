/**
 * The admission controller: one per protected resource, shared by every
 * route that draws on it.
 *
 * How it works, for one request:
 *  1. The door: closed, already aborted or past its deadline → rejected.
 *  2. Pressure (if a source is given) sheds by priority, lowest first: a
 *     sampled fraction (`sampled`), then all of it (`overloaded`), and caps
 *     the limit.
 *  2b. `perKey` (only for a request with a key): a lease from the key store,
 *     or `quota` (429) / `unavailable` (503) at once. A store that answers
 *     with a promise makes this request's decision a promise; the lease
 *     travels with the request and is released by whichever door it leaves.
 *  3. A slot is free and no request of the same or higher priority waits →
 *     admitted at once, synchronously.
 *  4. Saturated: the request waits in its priority's bucket if there is room
 *     (served round-robin across keys, see `FairQueue`). A full queue makes
 *     room by evicting (`evicted`) the newest waiter of the lowest priority
 *     below it, else of a key at least two heavier at its own priority
 *     (weight: in flight plus queued); failing both the request is refused,
 *     `quota` (429) if its key holds an equal share or more, else `queueFull`.
 *  5. A waiter leaves by exactly one door: admitted when a permit is
 *     released, `queueTimeout`, `deadline`, `aborted`, `evicted` or `closed`.
 *     One timer per controller, armed for the earliest expiry, serves them all
 *     (`QueueExpiry`, `ExpiryTimer`).
 *  6. A permit is released exactly once; its service time (admission to
 *     release, never the queue wait) feeds the limit algorithm.
 * A dry run goes through 1–2b as above, then the `ShadowLane` plays 3–5 on a
 * shadow queue and the request is let through whatever it says.
 */
import { RejectedError } from './errors.js'
import { type FairNode, FairQueue, type Flow, Share } from './fair-queue.js'
import { KeyShares, type Member, type Tenant } from './key-shares.js'
import type { KeyLease, KeyLeaseResult } from './key-store.js'
import { type AdmissionControllerOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { releasePressure, retainPressure } from './pressure-users.js'
import { QueueBounds } from './queue-bounds.js'
import { ExpiryTimer, QueueExpiry } from './queue-expiry.js'
import { RateWindow } from './rate-window.js'
import { computeRetryAfterSeconds } from './retry-after.js'
import { type RealLoad, ShadowEntry, ShadowLane } from './shadow-lane.js'
import { admitProbability, pressureCappedLimit } from './shedding.js'
import type {
  AbortSignalLike,
  AdmissionRequest,
  Decision,
  LimitAlgorithm,
  Outcome,
  Permit,
  Rejection,
  RejectionReason,
} from './types.js'
import { describeValue } from './validate.js'

/** What the controller publishes to `on()` listeners. */
export type ControllerEvent =
  | {
      readonly type: 'admit'
      readonly priority: string
      readonly key: string | undefined
      readonly method: string | undefined
      readonly route: string | undefined
      /** Milliseconds spent queued; 0 when admitted at once. */
      readonly waitedMs: number
      readonly inFlight: number
      readonly limit: number
    }
  | {
      readonly type: 'queue'
      readonly priority: string
      readonly key: string | undefined
      readonly method: string | undefined
      readonly route: string | undefined
      readonly queued: number
    }
  | {
      readonly type: 'reject'
      readonly priority: string
      readonly key: string | undefined
      readonly method: string | undefined
      readonly route: string | undefined
      readonly rejection: Rejection
    }
  | {
      readonly type: 'release'
      readonly priority: string
      readonly key: string | undefined
      readonly method: string | undefined
      readonly route: string | undefined
      readonly outcome: Outcome
      /** Admission to release, in milliseconds. */
      readonly serviceMs: number
      readonly inFlight: number
    }
  | {
      /** A user hook failed (reported by an adapter), or a pressure source or key store failed. */
      readonly type: 'error'
      readonly source: string
      readonly error: unknown
    }

export type ControllerListener = (event: ControllerEvent) => void

/** A snapshot; every field is a copy. */
export interface ControllerStats {
  /** The limit algorithm's current limit. */
  readonly limit: number
  /** The limit in force: `limit` capped by process pressure. */
  readonly effectiveLimit: number
  readonly inFlight: number
  readonly queued: number
  readonly queuedByPriority: Readonly<Record<string, number>>
  /** Releases per second over the last two seconds. */
  readonly completionRatePerSecond: number
  /** The pressure source's level in [0, 1]; 0 without one. */
  readonly pressure: number
  /** Keys holding in-flight or queued work. */
  readonly activeKeys: number
  /** Dry runs: requests that would be in flight and waiting now, in the shadow lane. */
  readonly dryRun: { readonly inFlight: number; readonly queued: number }
  readonly closed: boolean
  readonly counters: {
    readonly admitted: number
    /** Requests that had to wait (and then left by any door). */
    readonly queued: number
    readonly released: Readonly<Record<Outcome, number>>
    readonly rejected: Readonly<Record<RejectionReason, number>>
    /**
     * Dry runs: what the shadow lane says would have happened. `wouldAdmit`,
     * `wouldQueue` and `wouldReject` predict `admitted`, `queued` and `rejected`.
     */
    readonly dryRun: {
      /** Would have been admitted, at once or after waiting. */
      readonly wouldAdmit: number
      /** Would have waited in the queue (and then left by any door). */
      readonly wouldQueue: number
      readonly wouldReject: Readonly<Record<RejectionReason, number>>
    }
    /** Errors reported through `reportError`. */
    readonly errors: number
  }
}

export interface AdmitOptions {
  /**
   * Decide and count, but let the request through at once: a real permit if a
   * slot is free, otherwise a shadow permit whose release does nothing, with
   * `decision.dryRun` saying what would have happened.
   */
  readonly dryRun?: boolean
}

export interface AdmissionController {
  /** Admits, queues or rejects. Rejections are values, never thrown. */
  acquire(request?: AdmissionRequest): Promise<Decision>
  /**
   * Like `acquire`, but synchronous when the decision is immediate (admitted
   * or rejected at the door), a promise only when the request waits: saves
   * adapters a microtask per request.
   */
  admit(request?: AdmissionRequest, options?: AdmitOptions): Decision | Promise<Decision>
  /** A permit if one is free right now; never queues. A miss counts as a rejection. */
  tryAcquire(request?: AdmissionRequest): Permit | undefined
  /**
   * Acquires, runs `fn`, releases (`success`, or `failure` if it throws).
   * Rejects with `RejectedError` when not admitted.
   */
  run<T>(fn: () => T | PromiseLike<T>, request?: AdmissionRequest): Promise<T>
  stats(): ControllerStats
  /**
   * Rejects every waiter with `closed`; later requests are rejected with
   * `closed`. Permits already granted stay valid. Idempotent.
   */
  close(): void
  /** Subscribes to events; returns the unsubscribe function. Free when no one listens. */
  on(listener: ControllerListener): () => void
  /** Publishes an `error` event, e.g. a user hook that threw in an adapter. */
  reportError(source: string, error: unknown): void
  /** The controller's clock (the `now` option): deadlines are on this clock. */
  now(): number
  /** Priority names, highest first. */
  readonly priorities: readonly string[]
  readonly closed: boolean
}

const REASONS: readonly RejectionReason[] = [
  'queueFull',
  'queueTimeout',
  'evicted',
  'overloaded',
  'sampled',
  'deadline',
  'aborted',
  'quota',
  'closed',
  'unavailable',
]

function reasonCounts(): Record<RejectionReason, number> {
  const counts = {} as Record<RejectionReason, number>
  for (const reason of REASONS) counts[reason] = 0
  return counts
}

const OUTCOMES: ReadonlySet<string> = new Set<Outcome>(['success', 'failure', 'ignore'])

/** How a request is decided: whether it may wait (not for `tryAcquire`), and whether it is a dry run. */
interface How {
  readonly queues: boolean
  readonly dryRun: boolean
}

const ACQUIRE: How = Object.freeze({ queues: true, dryRun: false })
const TRY: How = Object.freeze({ queues: false, dryRun: false })
const DRY_ACQUIRE: How = Object.freeze({ queues: true, dryRun: true })
const DRY_TRY: How = Object.freeze({ queues: false, dryRun: true })

/**
 * With nothing in flight for this long, pressure refuses nothing, ms: longer than the gap
 * between requests a busy server decides back to back (a poll phase reading its sockets),
 * short next to a client's patience.
 */
const IDLE_FLOOR_MS = 10

/**
 * One request, from the door to its release: the decision's context, then its
 * permit (the permit doubles as its own decision), so admitting at once
 * allocates this one object. A request that waits gets a `Waiter` too.
 */
class Ticket implements Permit, Member {
  readonly admitted = true as const
  released = false
  /** Its place in the queue while it waits. */
  waiter: Waiter | undefined = undefined
  /** What it competes as, once counted (admitted or queued). */
  share: Share = UNCOUNTED
  tenant: Tenant | undefined = undefined
  /** When it queued (or arrived); then, once admitted, when its service began. */
  enqueuedAt: number
  startMs = 0
  inFlightAtStart = 0
  lease: KeyLease | undefined = undefined
  resolve: ((decision: Decision | Promise<Decision>) => void) | undefined = undefined
  onAbort: (() => void) | undefined = undefined

  constructor(
    readonly controller: Controller,
    readonly how: How,
    readonly priorityIndex: number,
    readonly priority: string,
    readonly key: string | undefined,
    readonly method: string | undefined,
    readonly route: string | undefined,
    readonly signal: AbortSignalLike | undefined,
    /** Same clock as `now()`; `Infinity` when the request has none. */
    readonly deadline: number,
    arrivedAt: number,
  ) {
    this.enqueuedAt = arrivedAt
  }

  /** An own property, so a spread copy of the decision keeps it. */
  readonly permit: Permit = this

  release(outcome: Outcome = 'success'): void {
    // The flag flips before any side effect: a re-entrant release (a listener
    // that releases again) finds it already set.
    if (this.released) return
    this.released = true
    this.controller.onRelease(this, OUTCOMES.has(outcome) ? outcome : 'ignore')
  }
}

/** A queued request's place: the links of the fair queue, kept off the fast path's permit. */
class Waiter implements FairNode<Waiter> {
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  heapIndex = -1
  flow: Flow | undefined = undefined
  flowPrev: Waiter | undefined = undefined
  flowNext: Waiter | undefined = undefined
  seq = 0
  readonly share: Share
  readonly priorityIndex: number
  readonly deadline: number

  constructor(
    readonly ticket: Ticket,
    readonly enqueuedAt: number,
  ) {
    this.share = ticket.share
    this.priorityIndex = ticket.priorityIndex
    this.deadline = ticket.deadline
  }
}

/**
 * A dry run's permit: holds no real slot. Its release gives back its key
 * lease, if any, and its shadow slot (`entry`), if the shadow lane placed it.
 */
class ShadowPermit implements Permit {
  released = false

  constructor(
    readonly ticket: Ticket,
    readonly entry: ShadowEntry | undefined,
  ) {}

  get priority(): string {
    return this.ticket.priority
  }

  release(outcome: Outcome = 'success'): void {
    if (this.released) return
    this.released = true
    this.ticket.controller.onShadowRelease(this, OUTCOMES.has(outcome) ? outcome : 'ignore')
  }
}

/** The share of a request not counted yet. */
const UNCOUNTED = new Share()

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

class Controller implements AdmissionController {
  readonly priorities: readonly string[]
  readonly #options: ResolvedOptions
  readonly #limit: LimitAlgorithm
  readonly #priorityIndex: Map<string, number>
  readonly #defaultIndex: number
  readonly #queue: FairQueue<Waiter>
  readonly #queueBounds: QueueBounds
  readonly #shares: KeyShares<Ticket>
  readonly #completions: RateWindow
  /** Requests waiting for the key store's answer. */
  readonly #leasing = new Set<Ticket>()
  #listeners: ControllerListener[] = []
  #inFlight = 0
  #closed = false
  readonly #expiry: QueueExpiry<Waiter>
  readonly #timer: ExpiryTimer
  /** Start of the current busy spell (in-flight rose from 0 after an idle window). */
  #busySince: number
  /** Last completion, or the start of the busy spell: no progress since means stalled. */
  #progressAt: number
  // When the last request in flight was released; never, before the first.
  #idleSince = Number.NEGATIVE_INFINITY

  #admitted = 0
  #queuedTotal = 0
  #errors = 0
  readonly #released: Record<Outcome, number> = { success: 0, failure: 0, ignore: 0 }
  readonly #rejected = reasonCounts()
  readonly #dryRunRejected = reasonCounts()
  readonly #shadow: ShadowLane
  /** The real load, as the shadow lane reads it. */
  readonly #realLoad: RealLoad

  constructor(options: unknown) {
    this.#options = resolveOptions(options)
    const { priorities, defaultPriority, now } = this.#options
    this.#limit = this.#options.limit
    this.priorities = priorities
    this.#priorityIndex = new Map(priorities.map((name, i) => [name, i]))
    this.#defaultIndex = priorities.indexOf(defaultPriority)
    this.#queue = new FairQueue<Waiter>(priorities.length)
    this.#queueBounds = new QueueBounds(this.#options.queueSize, this.#options.queueTimeoutMs)
    this.#shares = new KeyShares<Ticket>(this.#queue, this.#options.maxKeys)
    const start = now()
    this.#completions = new RateWindow(start)
    this.#busySince = start
    this.#progressAt = start
    const o = this.#options
    this.#expiry = new QueueExpiry<Waiter>(
      {
        priorityCount: priorities.length,
        bounds: this.#queueBounds,
        adaptive: o.order === 'adaptive',
        codelTargetMs: o.codelTargetMs,
        codelIntervalMs: o.codelIntervalMs,
      },
      this.#queue,
      start,
    )
    this.#timer = new ExpiryTimer(() => this.#onTimer())
    this.#shadow = new ShadowLane(
      {
        priorityCount: priorities.length,
        bounds: this.#queueBounds,
        adaptive: o.order === 'adaptive',
        lifo: o.order === 'lifo',
        codelTargetMs: o.codelTargetMs,
        codelIntervalMs: o.codelIntervalMs,
        maxKeys: o.maxKeys,
      },
      this.#dryRunRejected,
      start,
    )
    const queue = this.#queue
    const inFlight = () => this.#inFlight
    this.#realLoad = {
      get inFlight() {
        return inFlight()
      },
      get queued() {
        return queue.size
      },
    }
    this.#options.perKey?.store.attach?.((source, error) => this.reportError(source, error))
    if (this.#options.pressure !== undefined) retainPressure(this.#options.pressure)
  }

  get closed(): boolean {
    return this.#closed
  }

  now(): number {
    return this.#options.now()
  }

  acquire(request?: AdmissionRequest): Promise<Decision> {
    const decision = this.#decide(request, this.#options.dryRun ? DRY_ACQUIRE : ACQUIRE)
    return decision instanceof Promise ? decision : Promise.resolve(decision)
  }

  admit(request?: AdmissionRequest, options?: AdmitOptions): Decision | Promise<Decision> {
    const dryRun = options?.dryRun ?? this.#options.dryRun
    return this.#decide(request, dryRun === true ? DRY_ACQUIRE : ACQUIRE)
  }

  tryAcquire(request?: AdmissionRequest): Permit | undefined {
    const decision = this.#decide(request, this.#options.dryRun ? DRY_TRY : TRY) as Decision
    return decision.admitted ? decision.permit : undefined
  }

  async run<T>(fn: () => T | PromiseLike<T>, request?: AdmissionRequest): Promise<T> {
    const decision = await this.acquire(request)
    if (!decision.admitted) throw new RejectedError(decision.rejection)
    try {
      const result = await fn()
      decision.permit.release('success')
      return result
    } catch (error) {
      decision.permit.release('failure')
      throw error
    }
  }

  on(listener: ControllerListener): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(`Expected \`listener\` to be a function, got ${typeof listener}.`)
    }
    // Copy on write: emitting iterates a snapshot even if a listener unsubscribes.
    this.#listeners = [...this.#listeners, listener]
    let subscribed = true
    return () => {
      // Only this subscription: the same function may be subscribed more than once.
      if (!subscribed) return
      subscribed = false
      const index = this.#listeners.indexOf(listener)
      this.#listeners = this.#listeners.filter((_, i) => i !== index)
    }
  }

  reportError(source: string, error: unknown): void {
    this.#errors++
    if (this.#listeners.length > 0) this.#emit({ type: 'error', source, error })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#timer.disarm()
    const now = this.#options.now()
    for (let waiter = this.#queue.peekNext(false); waiter; waiter = this.#queue.peekNext(false)) {
      this.#leave(waiter, 'closed', now)
    }
    // Requests still waiting for the store leave now; a lease that arrives later is given back.
    for (const ticket of this.#leasing) this.#leaveLeasing(ticket, 'closed', now)
    this.#shadow.close(now)
    const { pressure } = this.#options
    try {
      // Shared by another controller still open: that one closes it.
      if (pressure !== undefined && releasePressure(pressure)) pressure.close?.()
    } catch (error) {
      this.reportError('pressure.close', error)
    }
    try {
      this.#options.perKey?.store.close?.()
    } catch (error) {
      this.reportError('perKey.store.close', error)
    }
  }

  stats(): ControllerStats {
    const now = this.#options.now()
    const pressure = this.#pressure()
    const limit = pressureCappedLimit(this.#limit.limit, pressure)
    this.#shadow.advance(now, limit, this.#realLoad)
    // fromEntries defines own properties: a priority named `__proto__` survives.
    const queuedByPriority: Record<string, number> = Object.fromEntries(
      this.priorities.map((name, i) => [name, this.#queue.sizeOf(i)]),
    )
    return {
      limit: this.#limit.limit,
      effectiveLimit: limit,
      inFlight: this.#inFlight,
      queued: this.#queue.size,
      queuedByPriority,
      completionRatePerSecond: this.#completions.perSecond(now, this.#busySince),
      pressure,
      activeKeys: this.#shares.activeKeys,
      dryRun: { inFlight: this.#shadow.inFlight, queued: this.#shadow.waiting },
      closed: this.#closed,
      counters: {
        admitted: this.#admitted,
        queued: this.#queuedTotal,
        released: { ...this.#released },
        rejected: { ...this.#rejected },
        dryRun: {
          wouldAdmit: this.#shadow.admitted,
          wouldQueue: this.#shadow.queued,
          wouldReject: { ...this.#dryRunRejected },
        },
        errors: this.#errors,
      },
    }
  }

  /** Called once per permit, by `Ticket.release`. */
  onRelease(permit: Ticket, outcome: Outcome): void {
    const now = this.#options.now()
    if (--this.#inFlight === 0) this.#idleSince = now
    const serviceMs = Math.max(0, now - permit.startMs)
    this.#shares.leave(permit, serviceMs)
    this.dropLease(permit)
    this.#completions.record(now)
    this.#progressAt = now
    this.#released[outcome]++
    if (outcome !== 'ignore') {
      this.#queueBounds.onServiceTime(serviceMs)
      this.#limit.onSample({
        startMs: permit.startMs,
        rttMs: serviceMs,
        inFlight: permit.inFlightAtStart,
        didDrop: outcome === 'failure',
      })
    }
    if (this.#listeners.length > 0) {
      this.#emit({
        type: 'release',
        priority: permit.priority,
        key: permit.key,
        method: permit.method,
        route: permit.route,
        outcome,
        serviceMs,
        inFlight: this.#inFlight,
      })
    }
    if (this.#queue.size > 0) this.#drain(now)
  }

  /** Gives a request's key lease back, once; a store that throws is reported, never thrown. */
  dropLease(ticket: Ticket): void {
    const lease = ticket.lease
    if (lease === undefined) return
    ticket.lease = undefined
    try {
      lease.release()
    } catch (error) {
      this.reportError('perKey.store', error)
    }
  }

  #decide(request: AdmissionRequest | undefined, how: How): Decision | Promise<Decision> {
    const { now: clock, random } = this.#options
    const now = clock()
    const priorityIndex = this.#indexOf(request?.priority)
    const deadline = request?.deadline
    const ticket = new Ticket(
      this,
      how,
      priorityIndex,
      this.#nameOf(priorityIndex),
      typeof request?.key === 'string' ? request.key : undefined,
      typeof request?.method === 'string' ? request.method : undefined,
      typeof request?.route === 'string' ? request.route : undefined,
      request?.signal,
      typeof deadline === 'number' && !Number.isNaN(deadline) ? deadline : Number.POSITIVE_INFINITY,
      now,
    )
    if (this.#closed) return this.#reject(ticket, 'closed', now)
    if (ticket.signal?.aborted) return this.#reject(ticket, 'aborted', now)
    if (ticket.deadline <= now) return this.#reject(ticket, 'deadline', now)

    const pressure = this.#pressure()
    // Work-conserving: with none of its requests in flight for a while, refusing cannot
    // relieve the process (the pressure is not theirs, or a level still releasing outlived
    // the overload); it would only leave the CPU idle while clients retry. "A while", not
    // "now": a server that decides one request at a time, each synchronous handler
    // releasing before the next decision, is idle for microseconds between them.
    if (pressure > 0 && (this.#inFlight > 0 || now - this.#idleSince < IDLE_FLOOR_MS)) {
      const p = admitProbability(priorityIndex, this.priorities.length, pressure)
      if (p <= 0) return this.#reject(ticket, 'overloaded', now)
      if (p < 1 && random() >= p) return this.#reject(ticket, 'sampled', now)
    }

    // Only a keyed request under `perKey` pays for the store.
    if (this.#options.perKey !== undefined && ticket.key !== undefined)
      return this.#lease(ticket, now)
    return this.#place(ticket, now, pressureCappedLimit(this.#limit.limit, pressure))
  }

  /** Asks the key store for a place, then decides (at once, or when it answers). */
  #lease(ticket: Ticket, now: number): Decision | Promise<Decision> {
    const answer = this.#askStore(ticket)
    if (!isThenable<KeyLeaseResult>(answer)) return this.#onAnswer(ticket, answer, now)
    if (!ticket.how.queues) {
      // tryAcquire cannot wait for a shared store: the lease, if any, goes back when it comes.
      this.#discardLease(answer)
      return this.#reject(ticket, 'unavailable', now)
    }
    return this.#awaitLease(ticket, answer)
  }

  /** `answer` undefined: not capped (no cap for this key, or the store failed open). */
  #onAnswer(
    ticket: Ticket,
    answer: KeyLeaseResult | undefined,
    now: number,
  ): Decision | Promise<Decision> {
    if (answer !== undefined && !answer.acquired) {
      if (answer.reason === 'unavailable') return this.#reject(ticket, 'unavailable', now)
      // Priority first: the key's own lower-priority waiter gives way before its cap refuses.
      if (this.#yieldLowerWaiter(ticket, now)) return this.#lease(ticket, now)
      return this.#reject(ticket, 'quota', now, answer.held)
    }
    ticket.lease = answer?.lease
    // An asynchronous answer took time.
    if (ticket.deadline <= now) return this.#reject(ticket, 'deadline', now)
    return this.#place(ticket, now, pressureCappedLimit(this.#limit.limit, this.#pressure()))
  }

  /** Evicts the newest lowest-priority waiter of the ticket's own key below its priority, if any. */
  #yieldLowerWaiter(ticket: Ticket, now: number): boolean {
    // A dry run never touches real waiters; an overflow share mixes keys.
    if (ticket.how.dryRun || ticket.key === undefined) return false
    const tenant = this.#shares.tenantOf(ticket.key)
    if (tenant === undefined || tenant.share !== tenant) return false
    const victim = this.#queue.lowerWaiterOf(tenant, ticket.priorityIndex)
    if (victim === undefined) return false
    this.#leave(victim, 'evicted', now)
    return true
  }

  /**
   * The store's answer for a keyed request; `undefined` when the request is not
   * capped (the limit function said so, or failed, or the store threw: fail open).
   */
  #askStore(ticket: Ticket): KeyLeaseResult | PromiseLike<KeyLeaseResult> | undefined {
    const perKey = this.#options.perKey as NonNullable<ResolvedOptions['perKey']>
    const key = ticket.key as string
    let limit: number
    if (typeof perKey.limit === 'number') limit = perKey.limit
    else {
      try {
        limit = perKey.limit(key)
      } catch (error) {
        this.reportError('perKey.limit', error)
        return undefined
      }
      if (limit === Number.POSITIVE_INFINITY) return undefined
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) {
        this.reportError(
          'perKey.limit',
          new RangeError(
            `Expected \`perKey.limit\` to answer an integer ≥ 0 or Infinity, got ${describeValue(limit)}.`,
          ),
        )
        return undefined
      }
    }
    try {
      const answer = perKey.store.acquire(key, limit)
      return isThenable<KeyLeaseResult>(answer) ? answer : this.#checkAnswer(answer)
    } catch (error) {
      this.reportError('perKey.store', error)
      return undefined
    }
  }

  /** A malformed answer is a store bug: reported, and the request is not capped. */
  #checkAnswer(answer: unknown): KeyLeaseResult | undefined {
    const a = answer as KeyLeaseResult | undefined
    if (a?.acquired === true && typeof a.lease?.release === 'function') return a
    if (a?.acquired === false) return a
    this.reportError(
      'perKey.store',
      new TypeError(`Expected the key store to answer a KeyLeaseResult, got ${describeValue(a)}.`),
    )
    return undefined
  }

  #awaitLease(ticket: Ticket, answer: PromiseLike<KeyLeaseResult>): Promise<Decision> {
    return new Promise<Decision>((resolve) => {
      ticket.resolve = resolve
      this.#leasing.add(ticket)
      const signal = ticket.signal
      if (signal !== undefined) {
        ticket.onAbort = () => this.#leaveLeasing(ticket, 'aborted', this.#options.now())
        signal.addEventListener('abort', ticket.onAbort, { once: true })
      }
      answer.then(
        (result) => this.#onLease(ticket, this.#checkAnswer(result)),
        (error: unknown) => {
          this.reportError('perKey.store', error)
          this.#onLease(ticket, undefined)
        },
      )
    })
  }

  #onLease(ticket: Ticket, answer: KeyLeaseResult | undefined): void {
    if (!this.#leasing.delete(ticket)) {
      // It already left (aborted, or the controller closed): the lease goes straight back.
      if (answer?.acquired) {
        ticket.lease = answer.lease
        this.dropLease(ticket)
      }
      return
    }
    this.#stopListening(ticket)
    const resolve = ticket.resolve as (decision: Decision | Promise<Decision>) => void
    ticket.resolve = undefined
    resolve(this.#onAnswer(ticket, answer, this.#options.now()))
  }

  /** A request leaves while the store has not answered yet (abort, close). */
  #leaveLeasing(ticket: Ticket, reason: RejectionReason, now: number): void {
    if (!this.#leasing.delete(ticket)) return
    this.#stopListening(ticket)
    const resolve = ticket.resolve as (decision: Decision) => void
    ticket.resolve = undefined
    resolve(this.#reject(ticket, reason, now))
  }

  #discardLease(answer: PromiseLike<KeyLeaseResult>): void {
    answer.then(
      (result) => {
        if ((result as KeyLeaseResult | undefined)?.acquired === true) {
          try {
            ;(result as { lease: KeyLease }).lease.release()
          } catch (error) {
            this.reportError('perKey.store', error)
          }
        }
      },
      (error: unknown) => this.reportError('perKey.store', error),
    )
  }

  /** Admits, queues or refuses a request that passed the door, pressure and its key cap. */
  #place(ticket: Ticket, now: number, limit: number): Decision | Promise<Decision> {
    if (ticket.how.dryRun) return this.#placeShadow(ticket, now, limit)
    // A limit that grew, or pressure that eased, may have freed slots for waiters.
    if (this.#inFlight < limit && this.#queue.size > 0) {
      this.#drain(now)
      // The drain ran listeners; one may have closed the controller: queueing
      // now would leave a waiter that nothing times out.
      if (this.#closed) return this.#reject(ticket, 'closed', now)
    }
    const waiting = this.#queue.highestWaiting()
    if (this.#inFlight < limit && (waiting === -1 || waiting > ticket.priorityIndex)) {
      return this.#grant(ticket, now)
    }

    // Saturated from here on.
    const queueSize = this.#queueBounds.size(limit)
    const full = this.#queue.size >= queueSize
    const share = this.#shares.shareFor(ticket.key)
    const victim =
      full && ticket.how.queues
        ? this.#queue.evictionCandidate(ticket.priorityIndex, share.weight)
        : undefined
    if (!ticket.how.queues || queueSize === 0 || (full && victim === undefined)) {
      // Refused: 429 to a key over an equal share (it is the one to slow down), 503 otherwise.
      const overShare = ticket.key !== undefined && this.#overShare(share, limit)
      return this.#reject(ticket, overShare ? 'quota' : 'queueFull', now)
    }
    if (victim === undefined) return this.#enqueue(ticket, now)
    // Take the place before telling the victim: its rejection runs listeners,
    // and one that acquires again must find the queue full, not a free place.
    const evicted = this.#takeOut(victim, now)
    const queued = this.#enqueue(ticket, now)
    this.#resolveWaiter(evicted, this.#reject(evicted, 'evicted', now))
    return queued
  }

  /** A dry run: the shadow lane decides, and the request goes through whatever it says. */
  #placeShadow(ticket: Ticket, now: number, limit: number): Decision {
    const entry = new ShadowEntry(ticket.priorityIndex, ticket.key, now, ticket.deadline)
    const verdict = this.#shadow.arrive(entry, now, limit, this.#realLoad, ticket.how.queues)
    if (verdict === 'admit') return { admitted: true, permit: new ShadowPermit(ticket, entry) }
    if (verdict === 'queue') {
      return { admitted: true, permit: new ShadowPermit(ticket, entry), dryRun: 'queue' }
    }
    return this.#reject(ticket, verdict, now)
  }

  /** Called once per dry-run permit. */
  onShadowRelease(permit: ShadowPermit, outcome: Outcome): void {
    this.dropLease(permit.ticket)
    const entry = permit.entry
    if (entry === undefined) return
    const now = this.#options.now()
    // Admitted at once in the shadow: its service time is a true sample of this server.
    const sample = entry.state === 'running' && entry.admittedAt === entry.enqueuedAt
    this.#shadow.release(entry, now, this.#effectiveLimit(), this.#realLoad)
    this.#completions.record(now)
    if (sample && outcome !== 'ignore') {
      this.#limit.onSample({
        startMs: entry.enqueuedAt,
        rttMs: Math.max(0, now - entry.enqueuedAt),
        inFlight: entry.inFlightAtStart,
        didDrop: outcome === 'failure',
      })
    }
  }

  #effectiveLimit(): number {
    return pressureCappedLimit(this.#limit.limit, this.#pressure())
  }

  #enqueue(ticket: Ticket, now: number): Promise<Decision> {
    return new Promise<Decision>((resolve) => {
      ticket.resolve = resolve
      ticket.enqueuedAt = now
      const signal = ticket.signal
      if (this.#queue.size === 0) this.#expiry.markEmpty(now)
      this.#shares.join(ticket)
      const waiter = new Waiter(ticket, now)
      ticket.waiter = waiter
      this.#queue.push(waiter)
      if (signal !== undefined) {
        ticket.onAbort = () => this.#leave(waiter, 'aborted', this.#options.now())
        signal.addEventListener('abort', ticket.onAbort, { once: true })
      }
      this.#queuedTotal++
      if (this.#listeners.length > 0) {
        this.#emit({
          type: 'queue',
          priority: ticket.priority,
          key: ticket.key,
          method: ticket.method,
          route: ticket.route,
          queued: this.#queue.size,
        })
      }
      this.#schedule(now)
    })
  }

  /** Admits a request; a waiter's key was counted when it queued. */
  #grant(ticket: Ticket, now: number): Ticket {
    if (this.#inFlight === 0) {
      // Idle for a whole window: the completion rate starts over with this spell.
      if (now - this.#progressAt >= this.#completions.windowMs) this.#busySince = now
      this.#progressAt = now
    }
    const fromQueue = ticket.waiter !== undefined
    ticket.waiter = undefined
    this.#inFlight++
    if (!fromQueue) this.#shares.join(ticket)
    this.#admitted++
    ticket.startMs = now
    ticket.inFlightAtStart = this.#inFlight
    if (this.#listeners.length > 0) {
      this.#emit({
        type: 'admit',
        priority: ticket.priority,
        key: ticket.key,
        method: ticket.method,
        route: ticket.route,
        waitedMs: now - ticket.enqueuedAt,
        inFlight: this.#inFlight,
        limit: this.#limit.limit,
      })
    }
    return ticket
  }

  /** `held`: places the key holds by the store's count, for a `quota` Retry-After. */
  #reject(ticket: Ticket, reason: RejectionReason, now: number, held?: number): Decision {
    const rejection = this.#rejection(reason, now, ticket.key, held)
    if (ticket.how.dryRun) {
      this.#dryRunRejected[reason]++
      // The request goes through anyway: it keeps its lease until its permit is released.
      return { admitted: true, permit: new ShadowPermit(ticket, undefined), dryRun: rejection }
    }
    this.dropLease(ticket)
    this.#rejected[reason]++
    if (this.#listeners.length > 0) {
      this.#emit({
        type: 'reject',
        priority: ticket.priority,
        key: ticket.key,
        method: ticket.method,
        route: ticket.route,
        rejection,
      })
    }
    return { admitted: false, rejection }
  }

  #rejection(
    reason: RejectionReason,
    now: number,
    key: string | undefined,
    held: number | undefined,
  ): Rejection {
    const o = this.#options
    // The client that aborted is gone: no advice to compute for it.
    if (reason === 'aborted') {
      return { reason, status: 503, retryAfterSeconds: o.minRetryAfterSeconds }
    }
    if (reason === 'quota' && key !== undefined) {
      const seconds = this.#keyRetryAfterSeconds(key, held)
      if (seconds !== undefined) return { reason, status: 429, retryAfterSeconds: seconds }
    }
    const completionsPerSecond = this.#completions.perSecond(now, this.#busySince)
    const retryAfterSeconds = computeRetryAfterSeconds({
      queued: this.#queue.size,
      completionsPerSecond,
      // Work in flight and nothing completed for a whole window.
      stalled: this.#inFlight > 0 && now - this.#progressAt >= this.#completions.windowMs,
      minSeconds: o.minRetryAfterSeconds,
      maxSeconds: o.maxRetryAfterSeconds,
      jitter: o.retryAfterJitter,
      random: o.random(),
    })
    return { reason, status: reason === 'quota' ? 429 : 503, retryAfterSeconds }
  }

  /**
   * A key over its cap should come back when one of its own places frees: with
   * `held` places each lasting its mean service time, about one completes every
   * `mean / held`. Unknown until the key has completed something here.
   */
  #keyRetryAfterSeconds(key: string, held: number | undefined): number | undefined {
    const tenant = this.#shares.tenantOf(key)
    if (tenant === undefined || tenant.releases === 0) return undefined
    const meanMs = Math.max(1, tenant.serviceMs / tenant.releases)
    const places = Math.max(1, held ?? tenant.held)
    const o = this.#options
    return computeRetryAfterSeconds({
      queued: 0,
      completionsPerSecond: (places * 1000) / meanMs,
      stalled: false,
      minSeconds: o.minRetryAfterSeconds,
      maxSeconds: o.maxRetryAfterSeconds,
      jitter: o.retryAfterJitter,
      random: o.random(),
    })
  }

  /** Takes a waiter out by any door but admission. */
  #leave(waiter: Waiter, reason: RejectionReason, now: number): void {
    const ticket = this.#takeOut(waiter, now)
    this.#resolveWaiter(ticket, this.#reject(ticket, reason, now))
  }

  /** Takes a waiter out of the queue and stops counting it; the caller answers it. */
  #takeOut(waiter: Waiter, now: number): Ticket {
    const ticket = waiter.ticket
    this.#queue.remove(waiter)
    ticket.waiter = undefined
    this.#unlink(ticket, now)
    this.#shares.leave(ticket)
    return ticket
  }

  #resolveWaiter(waiter: Ticket, decision: Decision): void {
    const resolve = waiter.resolve as (decision: Decision) => void
    waiter.resolve = undefined
    resolve(decision)
  }

  /** After a waiter left the queue by any door: it no longer listens, and the timer may rest. */
  #unlink(ticket: Ticket, now: number): void {
    this.#stopListening(ticket)
    if (this.#queue.size === 0) {
      this.#expiry.markEmpty(now)
      this.#timer.disarm()
    }
  }

  #stopListening(ticket: Ticket): void {
    if (ticket.onAbort === undefined) return
    ticket.signal?.removeEventListener('abort', ticket.onAbort)
    ticket.onAbort = undefined
  }

  /** Admits waiters while slots are free, best priority first. */
  #drain(now: number): void {
    const limit = pressureCappedLimit(this.#limit.limit, this.#pressure())
    const congested = this.#expiry.congested(now)
    const lifo = this.#options.order === 'lifo' || congested
    const timeoutMs = this.#expiry.timeoutMs(congested)
    while (this.#inFlight < limit && this.#queue.size > 0) {
      const waiter = this.#queue.peekNext(lifo) as Waiter
      if (waiter.deadline <= now) this.#leave(waiter, 'deadline', now)
      else if (now - waiter.enqueuedAt >= timeoutMs) this.#leave(waiter, 'queueTimeout', now)
      // A signal may read aborted before its event is dispatched (a socket destroyed, its `close` not yet emitted).
      else if (waiter.ticket.signal?.aborted === true) this.#leave(waiter, 'aborted', now)
      else {
        const ticket = waiter.ticket
        this.#queue.take(waiter)
        this.#unlink(ticket, now)
        const permit = this.#grant(ticket, now)
        this.#resolveWaiter(ticket, permit)
      }
    }
  }

  #onTimer(): void {
    const now = this.#options.now()
    this.#expiry.expire(now, (waiter, reason) => this.#leave(waiter, reason, now))
    if (this.#queue.size > 0) {
      this.#drain(now)
      this.#schedule(now)
    }
  }

  /** Arms the one timer for the earliest moment a waiter may have to leave. */
  #schedule(now: number): void {
    if (this.#queue.size === 0 || this.#closed) return
    this.#timer.arm(this.#expiry.nextAt(now), now)
  }

  /** Fair share: while saturated, each active share may hold (limit + queue) / shares. */
  #overShare(share: Share, limit: number): boolean {
    const shares = Math.max(1, this.#shares.activeShares)
    return share.weight >= Math.max(1, Math.floor((limit + this.#queueBounds.size(limit)) / shares))
  }

  #pressure(): number {
    const source = this.#options.pressure
    if (source === undefined) return 0
    let level: number
    try {
      level = source.level
    } catch (error) {
      this.reportError('pressure', error)
      return 0
    }
    // A broken source fails open rather than shedding everything.
    if (!(level > 0)) return 0
    return Math.min(level, 1)
  }

  #indexOf(priority: string | undefined): number {
    if (typeof priority !== 'string') return this.#defaultIndex
    return this.#priorityIndex.get(priority) ?? this.#defaultIndex
  }

  #nameOf(priorityIndex: number): string {
    return this.priorities[priorityIndex] as string
  }

  #emit(event: ControllerEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch {
        // A failing listener must never break admission; there is no one to tell.
      }
    }
  }
}

/**
 * Creates the admission controller that every adapter and route shares.
 * Options are checked here: a bad one throws a `TypeError` or `RangeError`
 * naming it (`code: 'ERR_SPILLWAY_INVALID_OPTION'`).
 */
export function createAdmissionController(
  options?: AdmissionControllerOptions,
): AdmissionController {
  return new Controller(options)
}
