/**
 * Dry run's model of the slots and the queue: what the dry-run requests
 * would have met had they been decided for real, so that its counters
 * predict the real ones.
 *
 * How it works: a dry-run request runs at once, but in this lane it holds a
 * shadow slot, waits in a shadow queue (a `FairQueue`, with the same
 * fairness, eviction, timeouts and deadlines as the real one) or is refused,
 * as the real controller would have done. The slots and the queue count real
 * work too: a dry-run request sees the real requests ahead of it, never the
 * other way round.
 *
 * Time is simulated lazily, with no timer: before each arrival, release or
 * read, the lane replays the events due since its last call in time order —
 * a shadow slot freeing, a shadow waiter timing out or passing its deadline.
 * A shadow waiter admitted at `t1` after arriving at `t0` holds its shadow
 * slot for its real service time from `t1`: until `t1 + service`, which is
 * the real release plus its wait if the real request ends first. Memory is
 * bounded like the real queue's: shadow slots plus shadow queue places.
 */

import type { FairNode, Flow, Share } from './fair-queue.js'
import { FairQueue } from './fair-queue.js'
import { KeyShares, type Member, type Tenant } from './key-shares.js'
import { type ExpiryRules, QueueExpiry } from './queue-expiry.js'
import type { RejectionReason } from './types.js'

/** What the lane needs to know of the real controller's load. */
export interface RealLoad {
  readonly inFlight: number
  readonly queued: number
}

export interface ShadowConfig extends ExpiryRules {
  readonly lifo: boolean
  readonly maxKeys: number
}

/** The lane's verdict on an arrival. */
export type ShadowVerdict = 'admit' | 'queue' | 'queueFull' | 'quota'

/** One dry-run request as the lane sees it. */
export class ShadowEntry implements Member, FairNode<ShadowEntry> {
  prev: ShadowEntry | undefined = undefined
  next: ShadowEntry | undefined = undefined
  heapIndex = -1
  flow: Flow | undefined = undefined
  flowPrev: ShadowEntry | undefined = undefined
  flowNext: ShadowEntry | undefined = undefined
  seq = 0
  share: Share = NONE
  tenant: Tenant | undefined = undefined
  state: 'new' | 'waiting' | 'running' | 'done' = 'new'
  admittedAt = Number.NaN
  /** Requests in flight, real and shadow, when admitted (including itself). */
  inFlightAtStart = 0
  /** Known once the real request ended. */
  serviceMs = Number.NaN
  /** When its shadow slot frees, once known; position in the release heap. */
  releaseAt = Number.POSITIVE_INFINITY
  releaseIndex = -1

  constructor(
    readonly priorityIndex: number,
    readonly key: string | undefined,
    readonly enqueuedAt: number,
    readonly deadline: number,
  ) {}
}

const NONE: Share = { weight: 0, queued: 0, flows: undefined }

export class ShadowLane {
  readonly #config: ShadowConfig
  readonly #queue: FairQueue<ShadowEntry>
  readonly #shares: KeyShares<ShadowEntry>
  readonly #releases: ShadowEntry[] = []
  readonly #rejected: Record<RejectionReason, number>
  #inFlight = 0
  readonly #expiry: QueueExpiry<ShadowEntry>
  /** Simulated time: the last moment replayed. */
  #clock: number
  /** Would have been admitted, at once or after waiting. */
  admitted = 0
  /** Would have waited. */
  queued = 0

  constructor(config: ShadowConfig, rejected: Record<RejectionReason, number>, now: number) {
    this.#config = config
    this.#queue = new FairQueue<ShadowEntry>(config.priorityCount)
    this.#shares = new KeyShares<ShadowEntry>(this.#queue, config.maxKeys)
    this.#rejected = rejected
    this.#expiry = new QueueExpiry<ShadowEntry>(config, this.#queue, now)
    this.#clock = now
  }

  get inFlight(): number {
    return this.#inFlight
  }

  get waiting(): number {
    return this.#queue.size
  }

  /**
   * Decides an arrival as the real controller would have. `queues: false` for
   * tryAcquire, which never waits. Refusals are counted by the caller.
   */
  arrive(
    entry: ShadowEntry,
    now: number,
    limit: number,
    real: RealLoad,
    queues: boolean,
  ): ShadowVerdict {
    this.advance(now, limit, real)
    const p = entry.priorityIndex
    const waiting = this.#queue.highestWaiting()
    if (
      real.inFlight + this.#inFlight < limit &&
      real.queued === 0 &&
      (waiting === -1 || waiting > p)
    ) {
      this.#admit(entry, now, real)
      return 'admit'
    }
    const queueSize = this.#config.bounds.size(limit)
    const full = real.queued + this.#queue.size >= queueSize
    const share = this.#shares.shareFor(entry.key)
    const victim = full && queues ? this.#queue.evictionCandidate(p, share.weight) : undefined
    if (!queues || queueSize === 0 || (full && victim === undefined)) {
      const shares = Math.max(1, this.#shares.activeShares)
      const equal = Math.max(1, Math.floor((limit + queueSize) / shares))
      return entry.key !== undefined && share.weight >= equal ? 'quota' : 'queueFull'
    }
    if (victim !== undefined) this.#leave(victim, 'evicted', now)
    if (this.#queue.size === 0) this.#expiry.markEmpty(now)
    this.#shares.join(entry)
    this.#queue.push(entry)
    entry.state = 'waiting'
    this.queued++
    return 'queue'
  }

  /** The real request ended: its shadow slot frees now, or later by the time it would have waited. */
  release(entry: ShadowEntry, now: number, limit: number, real: RealLoad): void {
    this.advance(now, limit, real)
    const serviceMs = Math.max(0, now - entry.enqueuedAt)
    if (entry.state === 'waiting') entry.serviceMs = serviceMs
    else if (entry.state === 'running') {
      const waitedMs = entry.admittedAt - entry.enqueuedAt
      if (waitedMs <= 0) this.#finish(entry)
      else this.#scheduleRelease(entry, now + waitedMs)
    }
    this.#drain(now, limit, real)
  }

  /** Replays the shadow events due by `now`, in time order. */
  advance(now: number, limit: number, real: RealLoad): void {
    for (;;) {
      const release = this.#releases[0]
      const releaseAt = release === undefined ? Number.POSITIVE_INFINITY : release.releaseAt
      const expiryAt = this.#expiry.nextAt(this.#clock)
      // Never back in time: an expiry that a standing queue brought forward is due now.
      const at = Math.max(this.#clock, Math.min(releaseAt, expiryAt))
      if (at > now) break
      this.#clock = at
      if (releaseAt <= expiryAt) {
        this.#popRelease()
        this.#finish(release as ShadowEntry)
      } else this.#expiry.expire(at, (entry, reason) => this.#leave(entry, reason, at))
      this.#drain(at, limit, real)
    }
    this.#clock = Math.max(this.#clock, now)
  }

  /** The controller closed: shadow waiters leave with `closed`. */
  close(now: number): void {
    for (let e = this.#queue.peekNext(false); e !== undefined; e = this.#queue.peekNext(false)) {
      this.#leave(e, 'closed', now)
    }
  }

  #admit(entry: ShadowEntry, now: number, real: RealLoad): void {
    this.#inFlight++
    entry.inFlightAtStart = real.inFlight + this.#inFlight
    if (entry.state === 'new') this.#shares.join(entry)
    entry.state = 'running'
    entry.admittedAt = now
    this.admitted++
    // The real request already ended while this one waited in the shadow queue.
    if (!Number.isNaN(entry.serviceMs)) this.#scheduleRelease(entry, now + entry.serviceMs)
  }

  #finish(entry: ShadowEntry): void {
    this.#inFlight--
    entry.state = 'done'
    this.#shares.leave(entry)
  }

  #leave(entry: ShadowEntry, reason: RejectionReason, now: number): void {
    this.#queue.remove(entry)
    if (this.#queue.size === 0) this.#expiry.markEmpty(now)
    this.#shares.leave(entry)
    entry.state = 'done'
    this.#rejected[reason]++
  }

  #drain(now: number, limit: number, real: RealLoad): void {
    const congested = this.#expiry.congested(now)
    const lifo = this.#config.lifo || congested
    const timeoutMs = this.#expiry.timeoutMs(congested)
    while (real.inFlight + this.#inFlight < limit && this.#queue.size > 0) {
      const entry = this.#queue.peekNext(lifo) as ShadowEntry
      if (entry.deadline <= now) this.#leave(entry, 'deadline', now)
      else if (now - entry.enqueuedAt >= timeoutMs) this.#leave(entry, 'queueTimeout', now)
      else {
        this.#queue.take(entry)
        if (this.#queue.size === 0) this.#expiry.markEmpty(now)
        this.#admit(entry, now, real)
      }
    }
  }

  #scheduleRelease(entry: ShadowEntry, at: number): void {
    entry.releaseAt = at
    const heap = this.#releases
    entry.releaseIndex = heap.length
    heap.push(entry)
    let i = entry.releaseIndex
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as ShadowEntry).releaseAt <= (heap[i] as ShadowEntry).releaseAt) break
      this.#swap(i, parent)
      i = parent
    }
  }

  #popRelease(): void {
    const heap = this.#releases
    const top = heap[0] as ShadowEntry
    const last = heap.pop() as ShadowEntry
    top.releaseIndex = -1
    if (last === top) return
    heap[0] = last
    last.releaseIndex = 0
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (
        left < heap.length &&
        (heap[left] as ShadowEntry).releaseAt < (heap[smallest] as ShadowEntry).releaseAt
      )
        smallest = left
      if (
        right < heap.length &&
        (heap[right] as ShadowEntry).releaseAt < (heap[smallest] as ShadowEntry).releaseAt
      )
        smallest = right
      if (smallest === i) return
      this.#swap(i, smallest)
      i = smallest
    }
  }

  #swap(a: number, b: number): void {
    const heap = this.#releases
    const x = heap[a] as ShadowEntry
    const y = heap[b] as ShadowEntry
    heap[a] = y
    heap[b] = x
    x.releaseIndex = b
    y.releaseIndex = a
  }
}
