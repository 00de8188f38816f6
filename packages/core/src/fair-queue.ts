/**
 * The waiting room, fair across keys: strict priority across buckets, then
 * round-robin across the shares (keys) waiting in a bucket.
 *
 * How it works: every waiter sits in two intrusive lists, so each move is
 * O(1) and allocates nothing beyond the waiter:
 *  - its priority's arrival list (a `WaiterQueue`), oldest at the head: queue
 *    timeouts, the deadline heap and sizes come from there, unchanged;
 *  - its flow, the list of one share's waiters at one priority, in arrival
 *    order. The flows of a priority that have waiters form a ring with a
 *    cursor. FIFO serves the head of the flow at the cursor and moves the
 *    cursor on; LIFO serves the tail of the flow behind the cursor (the flow
 *    that joined last) and moves the cursor back: each share is served once
 *    per round either way, and a share that joins waits at most one round.
 * Each priority also keeps its flows in a max-heap on their share's weight
 * (requests in flight plus queued; on a tie, the flow whose newest waiter
 * came last), O(log n) per change, so a full queue
 * finds at once whom to evict: the newest waiter of the lowest priority below
 * the arrival, from the heaviest share there; failing that, at the arrival's
 * own priority, the heaviest share's newest waiter, if that share outweighs
 * the arrival's by two or more (by one, an exchange would only swap who is
 * ahead).
 */
import { type QueueNode, WaiterQueue } from './waiter-queue.js'

/**
 * What a flow competes as: one key, the keys past `fairness.maxKeys` (one
 * overflow share), or requests without a key.
 */
export class Share {
  /** Requests of this share in flight plus queued. */
  weight = 0
  /** Of which queued. */
  queued = 0
  /** Flow per priority, made when the share first waits at that priority. */
  flows: (Flow | undefined)[] | undefined = undefined
}

export interface FairNode<W> extends QueueNode<W> {
  readonly share: Share
  /** The flow this waiter is in; `undefined` when not queued. */
  flow: Flow | undefined
  flowPrev: W | undefined
  flowNext: W | undefined
  /** Arrival number, set by `push`: breaks weight ties toward the newest waiter. */
  seq: number
}

/** One share's waiters at one priority. Typed loosely: a flow never looks inside its waiters. */
export class Flow {
  head: unknown = undefined
  tail: unknown = undefined
  size = 0
  ringPrev: Flow | undefined = undefined
  ringNext: Flow | undefined = undefined
  heapIndex = -1
  /** `seq` of the tail. */
  newest = 0

  constructor(
    readonly share: Share,
    readonly priorityIndex: number,
  ) {}
}

interface Bucket {
  /** The flow served next in FIFO order; the one behind it is served next in LIFO order. */
  cursor: Flow | undefined
  /** Max-heap on `flow.share.weight`. */
  readonly heap: Flow[]
}

export class FairQueue<W extends FairNode<W>> {
  readonly #arrivals: WaiterQueue<W>
  readonly #buckets: Bucket[]
  #seq = 0

  constructor(priorityCount: number) {
    this.#arrivals = new WaiterQueue<W>(priorityCount)
    this.#buckets = Array.from({ length: priorityCount }, () => ({ cursor: undefined, heap: [] }))
  }

  get size(): number {
    return this.#arrivals.size
  }

  sizeOf(priorityIndex: number): number {
    return this.#arrivals.sizeOf(priorityIndex)
  }

  /** Index of the highest priority with a waiter, or -1 when empty. */
  highestWaiting(): number {
    return this.#arrivals.highestWaiting()
  }

  /** Oldest waiter of a priority: the first to reach its queue timeout. */
  oldest(priorityIndex: number): W | undefined {
    return this.#arrivals.oldest(priorityIndex)
  }

  earliestDeadline(): W | undefined {
    return this.#arrivals.earliestDeadline()
  }

  push(waiter: W): void {
    const share = waiter.share
    const p = waiter.priorityIndex
    share.flows ??= new Array<Flow | undefined>(this.#buckets.length)
    let flow = share.flows[p]
    if (flow === undefined) {
      flow = new Flow(share, p)
      share.flows[p] = flow
    }
    waiter.seq = ++this.#seq
    flow.newest = waiter.seq
    if (flow.size === 0) this.#join(flow)
    else this.#resift(flow)
    waiter.flow = flow
    waiter.flowPrev = flow.tail as W | undefined
    waiter.flowNext = undefined
    if (flow.tail === undefined) flow.head = waiter
    else (flow.tail as W).flowNext = waiter
    flow.tail = waiter
    flow.size++
    share.queued++
    this.#arrivals.push(waiter)
  }

  /** Takes a waiter out (timeout, abort, eviction…); a no-op for one not queued. */
  remove(waiter: W): void {
    const flow = waiter.flow
    if (flow === undefined) return
    waiter.flow = undefined
    if (waiter.flowPrev === undefined) flow.head = waiter.flowNext
    else waiter.flowPrev.flowNext = waiter.flowNext
    const wasTail = waiter.flowNext === undefined
    if (waiter.flowNext === undefined) flow.tail = waiter.flowPrev
    else waiter.flowNext.flowPrev = waiter.flowPrev
    waiter.flowPrev = undefined
    waiter.flowNext = undefined
    flow.size--
    flow.share.queued--
    if (flow.size === 0) this.#leave(flow)
    else if (wasTail) {
      flow.newest = (flow.tail as W).seq
      this.#resift(flow)
    }
    this.#arrivals.remove(waiter)
  }

  /** The next waiter to serve: best priority, the share whose turn it is, its oldest (FIFO) or newest (LIFO). */
  peekNext(lifo: boolean): W | undefined {
    const p = this.#arrivals.highestWaiting()
    if (p === -1) return undefined
    const cursor = (this.#buckets[p] as Bucket).cursor as Flow
    return (lifo ? (cursor.ringPrev as Flow).tail : cursor.head) as W
  }

  /** Takes out a waiter that `peekNext` chose, and moves the turn to the next share. */
  take(waiter: W): void {
    const flow = waiter.flow
    if (flow === undefined) return
    const bucket = this.#buckets[flow.priorityIndex] as Bucket
    // FIFO took from the cursor's flow: the turn moves on. LIFO took from the
    // flow behind it: that flow becomes the cursor, so the next LIFO turn is the one behind.
    const lifoTurn = bucket.cursor !== flow && bucket.cursor?.ringPrev === flow
    this.remove(waiter)
    if (flow.size === 0) return // `remove` already moved the turn past it.
    bucket.cursor = lifoTurn ? flow : flow.ringNext
  }

  /**
   * The waiter a full queue gives up for an arrival of `priorityIndex` whose
   * share weighs `weight` (before the arrival), or `undefined`: priority
   * first, then the heaviest share.
   */
  evictionCandidate(priorityIndex: number, weight: number): W | undefined {
    for (let i = this.#buckets.length - 1; i > priorityIndex; i--) {
      const top = (this.#buckets[i] as Bucket).heap[0]
      if (top !== undefined) return top.tail as W
    }
    const top = (this.#buckets[priorityIndex] as Bucket | undefined)?.heap[0]
    if (top !== undefined && top.share.weight >= weight + 2) return top.tail as W
    return undefined
  }

  /** The newest waiter of `share` below `priorityIndex`, lowest priority first. */
  lowerWaiterOf(share: Share, priorityIndex: number): W | undefined {
    const flows = share.flows
    if (flows === undefined || share.queued === 0) return undefined
    for (let i = flows.length - 1; i > priorityIndex; i--) {
      const flow = flows[i]
      if (flow !== undefined && flow.size > 0) return flow.tail as W
    }
    return undefined
  }

  /** Call after `share.weight` changed: its flows move in their heaps. */
  reweigh(share: Share): void {
    const flows = share.flows
    if (flows === undefined || share.queued === 0) return
    for (const flow of flows) {
      if (flow !== undefined && flow.heapIndex !== -1) this.#resift(flow)
    }
  }

  #resift(flow: Flow): void {
    const heap = (this.#buckets[flow.priorityIndex] as Bucket).heap
    siftUp(heap, flow.heapIndex)
    siftDown(heap, flow.heapIndex)
  }

  /** A flow that starts waiting joins its priority's ring at the end of the round, and its heap. */
  #join(flow: Flow): void {
    const bucket = this.#buckets[flow.priorityIndex] as Bucket
    const cursor = bucket.cursor
    if (cursor === undefined) {
      flow.ringPrev = flow
      flow.ringNext = flow
      bucket.cursor = flow
    } else {
      const last = cursor.ringPrev as Flow
      flow.ringPrev = last
      flow.ringNext = cursor
      last.ringNext = flow
      cursor.ringPrev = flow
    }
    flow.heapIndex = bucket.heap.length
    bucket.heap.push(flow)
    siftUp(bucket.heap, flow.heapIndex)
  }

  /** A flow with no waiter left leaves the ring (the turn passes to the next) and the heap. */
  #leave(flow: Flow): void {
    const bucket = this.#buckets[flow.priorityIndex] as Bucket
    if (flow.ringNext === flow) bucket.cursor = undefined
    else {
      const prev = flow.ringPrev as Flow
      const next = flow.ringNext as Flow
      prev.ringNext = next
      next.ringPrev = prev
      if (bucket.cursor === flow) bucket.cursor = next
    }
    flow.ringPrev = undefined
    flow.ringNext = undefined
    const heap = bucket.heap
    const index = flow.heapIndex
    const last = heap.pop() as Flow
    flow.heapIndex = -1
    if (last !== flow) {
      heap[index] = last
      last.heapIndex = index
      siftUp(heap, index)
      siftDown(heap, last.heapIndex)
    }
  }
}

function swap(heap: Flow[], a: number, b: number): void {
  const x = heap[a] as Flow
  const y = heap[b] as Flow
  heap[a] = y
  heap[b] = x
  x.heapIndex = b
  y.heapIndex = a
}

function siftUp(heap: Flow[], index: number): void {
  let i = index
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (!heavier(heap[i] as Flow, heap[parent] as Flow)) return
    swap(heap, i, parent)
    i = parent
  }
}

function siftDown(heap: Flow[], index: number): void {
  let i = index
  for (;;) {
    const left = 2 * i + 1
    const right = left + 1
    let largest = i
    if (left < heap.length && heavier(heap[left] as Flow, heap[largest] as Flow)) largest = left
    if (right < heap.length && heavier(heap[right] as Flow, heap[largest] as Flow)) largest = right
    if (largest === i) return
    swap(heap, i, largest)
    i = largest
  }
}

/** Heavier share first; on a tie, the flow whose newest waiter came last. */
function heavier(a: Flow, b: Flow): boolean {
  const wa = a.share.weight
  const wb = b.share.weight
  return wa > wb || (wa === wb && a.newest > b.newest)
}
