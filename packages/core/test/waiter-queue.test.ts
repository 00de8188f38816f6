import fc from 'fast-check'
import { type QueueNode, WaiterQueue } from '../src/waiter-queue.js'

class Node implements QueueNode<Node> {
  prev: Node | undefined = undefined
  next: Node | undefined = undefined
  heapIndex = -1

  constructor(
    readonly name: string,
    readonly priorityIndex: number,
    readonly enqueuedAt = 0,
    readonly deadline = Number.POSITIVE_INFINITY,
  ) {}
}

function drainOrder(queue: WaiterQueue<Node>, lifo: boolean): string[] {
  const order: string[] = []
  for (let n = queue.peekNext(lifo); n !== undefined; n = queue.peekNext(lifo)) {
    queue.remove(n)
    order.push(n.name)
  }
  return order
}

describe('WaiterQueue', () => {
  it('serves the best priority first, oldest first or newest first', () => {
    const build = () => {
      const q = new WaiterQueue<Node>(3)
      for (const [name, p] of [
        ['s1', 2],
        ['n1', 1],
        ['c1', 0],
        ['n2', 1],
        ['s2', 2],
        ['c2', 0],
      ] as const) {
        q.push(new Node(name, p))
      }
      return q
    }
    expect(drainOrder(build(), false)).toEqual(['c1', 'c2', 'n1', 'n2', 's1', 's2'])
    expect(drainOrder(build(), true)).toEqual(['c2', 'c1', 'n2', 'n1', 's2', 's1'])
  })

  it('counts waiters in total and per priority, and finds the highest priority waiting', () => {
    const q = new WaiterQueue<Node>(3)
    expect(q.highestWaiting()).toBe(-1)
    expect(q.peekNext(false)).toBeUndefined()
    const a = new Node('a', 2)
    const b = new Node('b', 1)
    q.push(a)
    q.push(b)
    expect([q.size, q.sizeOf(0), q.sizeOf(1), q.sizeOf(2)]).toEqual([2, 0, 1, 1])
    expect(q.highestWaiting()).toBe(1)
    q.remove(b)
    expect(q.highestWaiting()).toBe(2)
    expect(q.oldest(2)).toBe(a)
    expect(q.priorityCount).toBe(3)
  })

  it('unlinks a waiter from the head, the middle and the tail of its bucket', () => {
    const q = new WaiterQueue<Node>(1)
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((name) => new Node(name, 0))
    for (const n of nodes) q.push(n)
    q.remove(nodes[2] as Node)
    q.remove(nodes[0] as Node)
    q.remove(nodes[4] as Node)
    expect(q.size).toBe(2)
    expect(q.oldest(0)?.name).toBe('b')
    expect(q.peekNext(true)?.name).toBe('d')
    expect(drainOrder(q, false)).toEqual(['b', 'd'])
    expect(q.size).toBe(0)
  })

  it('does nothing when removing a waiter that is not in the queue', () => {
    const q = new WaiterQueue<Node>(2)
    const a = new Node('a', 0, 0, 10)
    const b = new Node('b', 0, 0, 20)
    const c = new Node('c', 1, 0, 5)
    q.push(a)
    q.push(b)
    q.push(c)
    const stranger = new Node('x', 0, 0, 1)
    q.remove(stranger)
    q.remove(b)
    q.remove(b)
    // A waiter of another bucket whose head it is not.
    q.remove(new Node('y', 1))
    expect(q.size).toBe(2)
    expect([q.sizeOf(0), q.sizeOf(1)]).toEqual([1, 1])
    expect(q.earliestDeadline()).toBe(c)
    q.remove(c)
    expect(q.earliestDeadline()).toBe(a)
    expect(drainOrder(q, false)).toEqual(['a'])
    expect(q.earliestDeadline()).toBeUndefined()
  })

  it('offers the newest waiter of the lowest priority strictly below an arrival for eviction', () => {
    const q = new WaiterQueue<Node>(4)
    expect(q.evictionCandidate(0)).toBeUndefined()
    q.push(new Node('p1-old', 1))
    q.push(new Node('p2-old', 2))
    q.push(new Node('p2-new', 2))
    q.push(new Node('p1-new', 1))
    expect(q.evictionCandidate(0)?.name).toBe('p2-new')
    expect(q.evictionCandidate(1)?.name).toBe('p2-new')
    expect(q.evictionCandidate(2)).toBeUndefined()
    expect(q.evictionCandidate(3)).toBeUndefined()
  })

  it('keeps only waiters with a finite deadline in the deadline heap', () => {
    const q = new WaiterQueue<Node>(1)
    const none = new Node('none', 0)
    q.push(none)
    expect(q.earliestDeadline()).toBeUndefined()
    expect(none.heapIndex).toBe(-1)
    const due = new Node('due', 0, 0, 100)
    q.push(due)
    expect(q.earliestDeadline()).toBe(due)
    q.remove(due)
    expect(due.heapIndex).toBe(-1)
    expect(q.earliestDeadline()).toBeUndefined()
  })

  it('keeps the earliest deadline on top under random pushes and removals', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            priority: fc.integer({ min: 0, max: 2 }),
            deadline: fc.oneof(
              fc.integer({ min: 0, max: 50 }),
              fc.constant(Number.POSITIVE_INFINITY),
            ),
            removeAt: fc.option(fc.nat(), { nil: undefined }),
          }),
          { minLength: 10, maxLength: 60, size: 'max' },
        ),
        fc.boolean(),
        (ops, lifo) => {
          const q = new WaiterQueue<Node>(3)
          const live: Node[] = []
          // Plain comparisons inside the loop (expect() per step is slow); a message on failure.
          const problems: string[] = []
          ops.forEach((op, i) => {
            const node = new Node(`w${i}`, op.priority, i, op.deadline)
            q.push(node)
            live.push(node)
            if (op.removeAt !== undefined) {
              const [victim] = live.splice(op.removeAt % live.length, 1)
              q.remove(victim as Node)
              q.remove(victim as Node) // twice: still a no-op
            }
            let earliest = Number.POSITIVE_INFINITY
            for (const n of live) earliest = Math.min(earliest, n.deadline)
            const top = q.earliestDeadline()
            if ((top?.deadline ?? Number.POSITIVE_INFINITY) !== earliest) {
              problems.push(`step ${i}: top ${top?.deadline}, earliest ${earliest}`)
            }
            if (q.size !== live.length) problems.push(`step ${i}: size ${q.size} vs ${live.length}`)
            for (let p = 0; p < 3; p++) {
              const first = live.find((n) => n.priorityIndex === p)
              if (q.oldest(p) !== first) problems.push(`step ${i}: oldest of ${p}`)
            }
          })
          expect(problems).toEqual([])
          // Drain by deadline: sorted, and each removal keeps the rest reachable.
          const deadlines: number[] = []
          for (let n = q.earliestDeadline(); n !== undefined; n = q.earliestDeadline()) {
            deadlines.push(n.deadline)
            q.remove(n)
          }
          expect(deadlines).toEqual([...deadlines].sort((a, b) => a - b))
          const rest = live.filter((n) => n.deadline === Number.POSITIVE_INFINITY)
          const expected = [0, 1, 2].flatMap((p) => {
            const bucket = rest.filter((n) => n.priorityIndex === p).map((n) => n.name)
            return lifo ? bucket.reverse() : bucket
          })
          expect(drainOrder(q, lifo)).toEqual(expected)
        },
      ),
      { numRuns: 200 },
    )
  })
})
