/**
 * The waiting room: one bucket per priority, strict priority across buckets.
 *
 * How it works: each bucket is an intrusive doubly linked list in arrival
 * order, so the oldest waiter is always at its head and the newest at its
 * tail, whatever the serving order. Enqueue, dequeue from either end and
 * removal from the middle (an abort) are O(1) and allocate nothing beyond
 * the waiter itself. Finding the best bucket scans the priorities, a small
 * constant. Waiters with a deadline also sit in a min-heap on deadline
 * (O(log n)), the only order arrival cannot give: queue timeouts need no heap
 * because every waiter of a bucket shares one timeout, so the head expires
 * first.
 */
export interface QueueNode<N> {
  prev: N | undefined
  next: N | undefined
  readonly priorityIndex: number
  readonly enqueuedAt: number
  /** Same clock as `enqueuedAt`; `Infinity` when the request has none. */
  readonly deadline: number
  /** Position in the deadline heap, -1 when not in it. */
  heapIndex: number
}

interface Bucket<W> {
  head: W | undefined
  tail: W | undefined
  size: number
}

export class WaiterQueue<W extends QueueNode<W>> {
  readonly #buckets: Bucket<W>[]
  readonly #deadlines: W[] = []
  #size = 0

  constructor(priorityCount: number) {
    this.#buckets = Array.from({ length: priorityCount }, () => ({
      head: undefined,
      tail: undefined,
      size: 0,
    }))
  }

  get size(): number {
    return this.#size
  }

  sizeOf(priorityIndex: number): number {
    return this.#bucket(priorityIndex).size
  }

  push(waiter: W): void {
    const bucket = this.#bucket(waiter.priorityIndex)
    waiter.prev = bucket.tail
    waiter.next = undefined
    if (bucket.tail === undefined) bucket.head = waiter
    else bucket.tail.next = waiter
    bucket.tail = waiter
    bucket.size++
    this.#size++
    if (waiter.deadline !== Number.POSITIVE_INFINITY) this.#heapPush(waiter)
  }

  /** Unlinks a waiter that is in the queue; a no-op for one that already left. */
  remove(waiter: W): void {
    const bucket = this.#bucket(waiter.priorityIndex)
    if (waiter.prev === undefined && bucket.head !== waiter) return
    if (waiter.prev === undefined) bucket.head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) bucket.tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = undefined
    waiter.next = undefined
    bucket.size--
    this.#size--
    if (waiter.heapIndex !== -1) this.#heapRemove(waiter)
  }

  /** Index of the highest priority with a waiter, or -1 when empty. */
  highestWaiting(): number {
    if (this.#size === 0) return -1
    for (let i = 0; i < this.#buckets.length; i++) {
      if ((this.#buckets[i] as Bucket<W>).size > 0) return i
    }
    return -1
  }

  /** The next waiter to serve: the best priority, its oldest (FIFO) or newest (LIFO). */
  peekNext(lifo: boolean): W | undefined {
    const index = this.highestWaiting()
    if (index === -1) return undefined
    const bucket = this.#buckets[index] as Bucket<W>
    return lifo ? bucket.tail : bucket.head
  }

  /**
   * The waiter a full queue gives up for an arrival of `priorityIndex`: the
   * newest of the lowest priority strictly below it.
   */
  evictionCandidate(priorityIndex: number): W | undefined {
    for (let i = this.#buckets.length - 1; i > priorityIndex; i--) {
      const bucket = this.#buckets[i] as Bucket<W>
      if (bucket.tail !== undefined) return bucket.tail
    }
    return undefined
  }

  /** Oldest waiter of a bucket: the first to reach its queue timeout. */
  oldest(priorityIndex: number): W | undefined {
    return this.#bucket(priorityIndex).head
  }

  get priorityCount(): number {
    return this.#buckets.length
  }

  /** The waiter whose deadline comes first, if any has one. */
  earliestDeadline(): W | undefined {
    return this.#deadlines[0]
  }

  #bucket(priorityIndex: number): Bucket<W> {
    return this.#buckets[priorityIndex] as Bucket<W>
  }

  #heapPush(waiter: W): void {
    waiter.heapIndex = this.#deadlines.length
    this.#deadlines.push(waiter)
    this.#siftUp(waiter.heapIndex)
  }

  #heapRemove(waiter: W): void {
    const heap = this.#deadlines
    const index = waiter.heapIndex
    const last = heap.pop() as W
    waiter.heapIndex = -1
    if (last === waiter) return
    heap[index] = last
    last.heapIndex = index
    this.#siftDown(index)
    this.#siftUp(last.heapIndex)
  }

  #swap(a: number, b: number): void {
    const heap = this.#deadlines
    const x = heap[a] as W
    const y = heap[b] as W
    heap[a] = y
    heap[b] = x
    x.heapIndex = b
    y.heapIndex = a
  }

  #siftUp(index: number): void {
    const heap = this.#deadlines
    let i = index
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as W).deadline <= (heap[i] as W).deadline) return
      this.#swap(i, parent)
      i = parent
    }
  }

  #siftDown(index: number): void {
    const heap = this.#deadlines
    let i = index
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < heap.length && (heap[left] as W).deadline < (heap[smallest] as W).deadline) {
        smallest = left
      }
      if (right < heap.length && (heap[right] as W).deadline < (heap[smallest] as W).deadline) {
        smallest = right
      }
      if (smallest === i) return
      this.#swap(i, smallest)
      i = smallest
    }
  }
}
