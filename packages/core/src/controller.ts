/**
 * The admission controller: one per protected resource, shared by every
 * route that draws on it.
 *
 * How it works, for one request:
 *  1. The door: closed, already aborted or past its deadline → rejected.
 *  2. Pressure (if a source is given) sheds by priority, lowest first: a
 *     sampled fraction (`sampled`), then all of it (`overloaded`), and caps
 *     the limit.
 *  3. A slot is free and no request of the same or higher priority waits →
 *     admitted at once, synchronously.
 *  4. Saturated: a key over its fair share is refused (`quota`, 429);
 *     otherwise the request waits in its priority's bucket if there is room,
 *     evicting the newest waiter of the lowest lower priority if there is not
 *     (`evicted`), or is refused (`queueFull`).
 *  5. A waiter leaves by exactly one door: admitted when a permit is
 *     released, `queueTimeout`, `deadline`, `aborted`, `evicted` or `closed`.
 *     One timer per controller, armed for the earliest expiry, serves them all.
 *  6. A permit is released exactly once; its service time (admission to
 *     release, never the queue wait) feeds the limit algorithm.
 */
import { RejectedError } from './errors.js'
import { type AdmissionControllerOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { QueueBounds } from './queue-bounds.js'
import { RateWindow } from './rate-window.js'
import { computeRetryAfterSeconds } from './retry-after.js'
import { admitProbability, pressureCappedLimit } from './shedding.js'
import { startTimer, stopTimer } from './timers.js'
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
import { type QueueNode, WaiterQueue } from './waiter-queue.js'

/** What the controller publishes to `on()` listeners. */
export type ControllerEvent =
  | {
      readonly type: 'admit'
      readonly priority: string
      readonly key: string | undefined
      /** Milliseconds spent queued; 0 when admitted at once. */
      readonly waitedMs: number
      readonly inFlight: number
      readonly limit: number
    }
  | {
      readonly type: 'queue'
      readonly priority: string
      readonly key: string | undefined
      readonly queued: number
    }
  | {
      readonly type: 'reject'
      readonly priority: string
      readonly key: string | undefined
      readonly rejection: Rejection
    }
  | {
      readonly type: 'release'
      readonly priority: string
      readonly outcome: Outcome
      /** Admission to release, in milliseconds. */
      readonly serviceMs: number
      readonly inFlight: number
    }
  | {
      /** A user hook failed (reported by an adapter) or a pressure source failed. */
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
  readonly closed: boolean
  readonly counters: {
    readonly admitted: number
    /** Requests that had to wait (and then left by any door). */
    readonly queued: number
    readonly released: Readonly<Record<Outcome, number>>
    readonly rejected: Readonly<Record<RejectionReason, number>>
    readonly dryRun: {
      /** Would have waited in the queue. */
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
]

function reasonCounts(): Record<RejectionReason, number> {
  const counts = {} as Record<RejectionReason, number>
  for (const reason of REASONS) counts[reason] = 0
  return counts
}

const OUTCOMES: ReadonlySet<string> = new Set<Outcome>(['success', 'failure', 'ignore'])

class Waiter implements QueueNode<Waiter> {
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  heapIndex = -1
  onAbort: (() => void) | undefined = undefined

  constructor(
    readonly priorityIndex: number,
    readonly enqueuedAt: number,
    readonly deadline: number,
    readonly key: string | undefined,
    readonly signal: AbortSignalLike | undefined,
    readonly resolve: (decision: Decision) => void,
  ) {}
}

/** The permit doubles as its own decision, so admitting allocates one object. */
class GrantedPermit implements Permit {
  readonly admitted = true as const
  released = false

  constructor(
    readonly controller: Controller,
    readonly priorityIndex: number,
    readonly priority: string,
    readonly key: string | undefined,
    readonly startMs: number,
    readonly inFlightAtStart: number,
  ) {}

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

/** A dry run's stand-in: holds no slot, so releasing it changes nothing. */
class ShadowPermit implements Permit {
  released = false

  constructor(readonly priority: string) {}

  release(): void {
    this.released = true
  }
}

class Controller implements AdmissionController {
  readonly priorities: readonly string[]
  readonly #options: ResolvedOptions
  readonly #limit: LimitAlgorithm
  readonly #priorityIndex: Map<string, number>
  readonly #defaultIndex: number
  readonly #queue: WaiterQueue<Waiter>
  readonly #queueBounds: QueueBounds
  readonly #completions: RateWindow
  readonly #keys = new Map<string, number>()
  #listeners: ControllerListener[] = []
  #inFlight = 0
  #closed = false
  #timer: unknown = undefined
  /** When the armed timer fires; `Infinity` when none is armed. */
  #timerAt = Number.POSITIVE_INFINITY
  /** Start of the current busy spell (in-flight rose from 0 after an idle window). */
  #busySince: number
  /** Last completion, or the start of the busy spell: no progress since means stalled. */
  #progressAt: number
  /** Last time the queue was seen empty: the CoDel clock of `adaptive` order. */
  #lastEmptyAt: number

  #admitted = 0
  #queuedTotal = 0
  #errors = 0
  readonly #released: Record<Outcome, number> = { success: 0, failure: 0, ignore: 0 }
  readonly #rejected = reasonCounts()
  readonly #dryRunRejected = reasonCounts()
  #dryRunQueued = 0

  constructor(options: unknown) {
    this.#options = resolveOptions(options)
    const { priorities, defaultPriority, now } = this.#options
    this.#limit = this.#options.limit
    this.priorities = priorities
    this.#priorityIndex = new Map(priorities.map((name, i) => [name, i]))
    this.#defaultIndex = priorities.indexOf(defaultPriority)
    this.#queue = new WaiterQueue<Waiter>(priorities.length)
    this.#queueBounds = new QueueBounds(this.#options.queueSize, this.#options.queueTimeoutMs)
    const start = now()
    this.#completions = new RateWindow(start)
    this.#busySince = start
    this.#progressAt = start
    this.#lastEmptyAt = start
  }

  get closed(): boolean {
    return this.#closed
  }

  now(): number {
    return this.#options.now()
  }

  acquire(request?: AdmissionRequest): Promise<Decision> {
    const decision = this.#decide(request, false)
    return decision instanceof Promise ? decision : Promise.resolve(decision)
  }

  admit(request?: AdmissionRequest, options?: AdmitOptions): Decision | Promise<Decision> {
    return this.#decide(request, options?.dryRun === true)
  }

  tryAcquire(request?: AdmissionRequest): Permit | undefined {
    const decision = this.#decide(request, false, true)
    return (decision as Decision).admitted ? (decision as GrantedPermit) : undefined
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
    this.#disarm()
    const now = this.#options.now()
    for (let waiter = this.#queue.peekNext(false); waiter; waiter = this.#queue.peekNext(false)) {
      this.#leave(waiter, 'closed', now)
    }
    try {
      this.#options.pressure?.close?.()
    } catch (error) {
      this.reportError('pressure.close', error)
    }
  }

  stats(): ControllerStats {
    const now = this.#options.now()
    const pressure = this.#pressure()
    // fromEntries defines own properties: a priority named `__proto__` survives.
    const queuedByPriority: Record<string, number> = Object.fromEntries(
      this.priorities.map((name, i) => [name, this.#queue.sizeOf(i)]),
    )
    return {
      limit: this.#limit.limit,
      effectiveLimit: pressureCappedLimit(this.#limit.limit, pressure),
      inFlight: this.#inFlight,
      queued: this.#queue.size,
      queuedByPriority,
      completionRatePerSecond: this.#completions.perSecond(now, this.#busySince),
      pressure,
      activeKeys: this.#keys.size,
      closed: this.#closed,
      counters: {
        admitted: this.#admitted,
        queued: this.#queuedTotal,
        released: { ...this.#released },
        rejected: { ...this.#rejected },
        dryRun: { wouldQueue: this.#dryRunQueued, wouldReject: { ...this.#dryRunRejected } },
        errors: this.#errors,
      },
    }
  }

  /** Called once per permit, by `GrantedPermit.release`. */
  onRelease(permit: GrantedPermit, outcome: Outcome): void {
    const now = this.#options.now()
    this.#inFlight--
    this.#untrackKey(permit.key)
    this.#completions.record(now)
    this.#progressAt = now
    this.#released[outcome]++
    const serviceMs = Math.max(0, now - permit.startMs)
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
        outcome,
        serviceMs,
        inFlight: this.#inFlight,
      })
    }
    if (this.#queue.size > 0) this.#drain(now)
  }

  #decide(
    request: AdmissionRequest | undefined,
    dryRun: boolean,
    noQueue = false,
  ): Decision | Promise<Decision> {
    const { now: clock, random } = this.#options
    const now = clock()
    const priorityIndex = this.#indexOf(request?.priority)
    const key = typeof request?.key === 'string' ? request.key : undefined
    if (this.#closed) return this.#reject('closed', priorityIndex, key, now, dryRun)
    const signal = request?.signal
    if (signal?.aborted) return this.#reject('aborted', priorityIndex, key, now, dryRun)
    const deadline = request?.deadline
    const deadlineMs =
      typeof deadline === 'number' && !Number.isNaN(deadline) ? deadline : Number.POSITIVE_INFINITY
    if (deadlineMs <= now) return this.#reject('deadline', priorityIndex, key, now, dryRun)

    const pressure = this.#pressure()
    if (pressure > 0) {
      const p = admitProbability(priorityIndex, this.priorities.length, pressure)
      if (p <= 0) return this.#reject('overloaded', priorityIndex, key, now, dryRun)
      if (p < 1 && random() >= p) return this.#reject('sampled', priorityIndex, key, now, dryRun)
    }

    const limit = pressureCappedLimit(this.#limit.limit, pressure)
    // A limit that grew, or pressure that eased, may have freed slots for waiters.
    if (this.#inFlight < limit && this.#queue.size > 0) {
      this.#drain(now)
      // The drain ran listeners; one may have closed the controller: queueing
      // now would leave a waiter that nothing times out.
      if (this.#closed) return this.#reject('closed', priorityIndex, key, now, dryRun)
    }
    const waiting = this.#queue.highestWaiting()
    if (this.#inFlight < limit && (waiting === -1 || waiting > priorityIndex)) {
      return this.#grant(priorityIndex, key, now, now, false)
    }

    // Saturated from here on.
    if (key !== undefined && this.#overShare(key, limit)) {
      return this.#reject('quota', priorityIndex, key, now, dryRun)
    }
    const queueSize = this.#queueBounds.size(limit)
    const full = this.#queue.size >= queueSize
    const victim = full ? this.#queue.evictionCandidate(priorityIndex) : undefined
    if (noQueue || queueSize === 0 || (full && victim === undefined)) {
      return this.#reject('queueFull', priorityIndex, key, now, dryRun)
    }
    if (dryRun) {
      this.#dryRunQueued++
      return {
        admitted: true,
        permit: new ShadowPermit(this.#nameOf(priorityIndex)),
        dryRun: 'queue',
      }
    }
    if (victim === undefined) return this.#enqueue(priorityIndex, key, signal, deadlineMs, now)
    // Take the place before telling the victim: its rejection runs listeners,
    // and one that acquires again must find the queue full, not a free place.
    this.#detach(victim, now)
    this.#untrackKey(victim.key)
    const queued = this.#enqueue(priorityIndex, key, signal, deadlineMs, now)
    victim.resolve(this.#reject('evicted', victim.priorityIndex, victim.key, now, false))
    return queued
  }

  #enqueue(
    priorityIndex: number,
    key: string | undefined,
    signal: AbortSignalLike | undefined,
    deadlineMs: number,
    now: number,
  ): Promise<Decision> {
    return new Promise<Decision>((resolve) => {
      const waiter = new Waiter(priorityIndex, now, deadlineMs, key, signal, resolve)
      if (signal !== undefined) {
        waiter.onAbort = () => this.#leave(waiter, 'aborted', this.#options.now())
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      if (this.#queue.size === 0) this.#lastEmptyAt = now
      this.#queue.push(waiter)
      this.#trackKey(key)
      this.#queuedTotal++
      if (this.#listeners.length > 0) {
        this.#emit({
          type: 'queue',
          priority: this.#nameOf(priorityIndex),
          key,
          queued: this.#queue.size,
        })
      }
      this.#schedule(now)
    })
  }

  /** `since` is when the request arrived; a waiter's key was counted when it queued. */
  #grant(
    priorityIndex: number,
    key: string | undefined,
    now: number,
    since: number,
    fromQueue: boolean,
  ): GrantedPermit {
    if (this.#inFlight === 0) {
      // Idle for a whole window: the completion rate starts over with this spell.
      if (now - this.#progressAt >= this.#completions.windowMs) this.#busySince = now
      this.#progressAt = now
    }
    this.#inFlight++
    if (!fromQueue) this.#trackKey(key)
    this.#admitted++
    const priority = this.#nameOf(priorityIndex)
    const permit = new GrantedPermit(this, priorityIndex, priority, key, now, this.#inFlight)
    if (this.#listeners.length > 0) {
      this.#emit({
        type: 'admit',
        priority,
        key,
        waitedMs: now - since,
        inFlight: this.#inFlight,
        limit: this.#limit.limit,
      })
    }
    return permit
  }

  #reject(
    reason: RejectionReason,
    priorityIndex: number,
    key: string | undefined,
    now: number,
    dryRun: boolean,
  ): Decision {
    const rejection = this.#rejection(reason, now)
    if (dryRun) {
      this.#dryRunRejected[reason]++
      return {
        admitted: true,
        permit: new ShadowPermit(this.#nameOf(priorityIndex)),
        dryRun: rejection,
      }
    }
    this.#rejected[reason]++
    if (this.#listeners.length > 0) {
      this.#emit({ type: 'reject', priority: this.#nameOf(priorityIndex), key, rejection })
    }
    return { admitted: false, rejection }
  }

  #rejection(reason: RejectionReason, now: number): Rejection {
    const o = this.#options
    // The client that aborted is gone: no advice to compute for it.
    if (reason === 'aborted') {
      return { reason, status: 503, retryAfterSeconds: o.minRetryAfterSeconds }
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

  /** Takes a waiter out by any door but admission. */
  #leave(waiter: Waiter, reason: RejectionReason, now: number): void {
    this.#detach(waiter, now)
    this.#untrackKey(waiter.key)
    waiter.resolve(this.#reject(reason, waiter.priorityIndex, waiter.key, now, false))
  }

  #detach(waiter: Waiter, now: number): void {
    this.#queue.remove(waiter)
    if (waiter.onAbort !== undefined) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort)
      waiter.onAbort = undefined
    }
    if (this.#queue.size === 0) {
      this.#lastEmptyAt = now
      this.#disarm()
    }
  }

  /** Admits waiters while slots are free, best priority first. */
  #drain(now: number): void {
    const limit = pressureCappedLimit(this.#limit.limit, this.#pressure())
    const congested = this.#congested(now)
    const lifo = this.#options.order === 'lifo' || congested
    const timeoutMs = this.#timeoutMs(congested)
    while (this.#inFlight < limit && this.#queue.size > 0) {
      const waiter = this.#queue.peekNext(lifo) as Waiter
      if (waiter.deadline <= now) this.#leave(waiter, 'deadline', now)
      else if (now - waiter.enqueuedAt >= timeoutMs) this.#leave(waiter, 'queueTimeout', now)
      else {
        this.#detach(waiter, now)
        waiter.resolve(this.#grant(waiter.priorityIndex, waiter.key, now, waiter.enqueuedAt, true))
      }
    }
  }

  /** Adaptive order: a standing queue is one not empty for a whole interval (CoDel). */
  #congested(now: number): boolean {
    return (
      this.#options.order === 'adaptive' &&
      this.#queue.size > 0 &&
      now - this.#lastEmptyAt >= this.#options.codelIntervalMs
    )
  }

  #timeoutMs(congested: boolean): number {
    const { codelTargetMs } = this.#options
    const queueTimeoutMs = this.#queueBounds.timeoutMs
    return congested ? Math.min(queueTimeoutMs, codelTargetMs) : queueTimeoutMs
  }

  #onTimer(): void {
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    const now = this.#options.now()
    const timeoutMs = this.#timeoutMs(this.#congested(now))
    for (let i = 0; i < this.priorities.length; i++) {
      for (let w = this.#queue.oldest(i); w !== undefined; w = this.#queue.oldest(i)) {
        if (now - w.enqueuedAt < timeoutMs) break
        this.#leave(w, w.deadline <= now ? 'deadline' : 'queueTimeout', now)
      }
    }
    for (
      let w = this.#queue.earliestDeadline();
      w !== undefined;
      w = this.#queue.earliestDeadline()
    ) {
      if (w.deadline > now) break
      this.#leave(w, 'deadline', now)
    }
    if (this.#queue.size > 0) {
      this.#drain(now)
      this.#schedule(now)
    }
  }

  /** Arms the one timer for the earliest moment a waiter may have to leave. */
  #schedule(now: number): void {
    if (this.#queue.size === 0 || this.#closed) return
    const congested = this.#congested(now)
    const timeoutMs = this.#timeoutMs(congested)
    let next = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.priorities.length; i++) {
      const oldest = this.#queue.oldest(i)
      if (oldest !== undefined) next = Math.min(next, oldest.enqueuedAt + timeoutMs)
    }
    const earliest = this.#queue.earliestDeadline()
    if (earliest !== undefined) next = Math.min(next, earliest.deadline)
    // The moment the queue turns standing, timeouts shrink to the CoDel target.
    if (this.#options.order === 'adaptive' && !congested) {
      next = Math.min(next, this.#lastEmptyAt + this.#options.codelIntervalMs)
    }
    if (next >= this.#timerAt) return
    this.#disarm()
    this.#timerAt = next
    this.#timer = startTimer(() => this.#onTimer(), Math.max(0, Math.ceil(next - now)))
  }

  #disarm(): void {
    if (this.#timer === undefined) return
    stopTimer(this.#timer)
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
  }

  /** Fair share: while saturated, each active key may hold (limit + queue) / keys. */
  #overShare(key: string, limit: number): boolean {
    const held = this.#keys.get(key)
    if (held === undefined) return false
    const share = Math.max(1, Math.floor((limit + this.#queueBounds.size(limit)) / this.#keys.size))
    return held >= share
  }

  #trackKey(key: string | undefined): void {
    if (key !== undefined) this.#keys.set(key, (this.#keys.get(key) ?? 0) + 1)
  }

  #untrackKey(key: string | undefined): void {
    if (key === undefined) return
    const held = this.#keys.get(key) ?? 0
    // Deleting at zero keeps the map bounded by work in flight and queued.
    if (held <= 1) this.#keys.delete(key)
    else this.#keys.set(key, held - 1)
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
