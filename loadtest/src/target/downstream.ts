/**
 * A limited downstream, like a database connection pool: at most `slots`
 * operations at once, each taking `serviceMs`; callers beyond that wait in an
 * unbounded FIFO, as most pools' acquire queues do. This is where an
 * unprotected server's backlog builds up.
 */
export interface Downstream {
  /** Runs one operation; resolves when it is done. */
  call(): Promise<void>
  /** Operations waiting for a slot. */
  readonly queued: number
  /** Operation time, ms; can change mid-run (`capacity-step`). */
  serviceMs: number
}

/** Creates a pool of `slots` slots of `serviceMs` each; `slots: 0` means no downstream at all. */
export function createDownstream(slots: number, serviceMs: number): Downstream {
  let busy = 0
  const waiting: Array<() => void> = []
  const pool = {
    serviceMs,
    get queued() {
      return waiting.length
    },
    async call(): Promise<void> {
      if (slots === 0) return
      if (busy >= slots) await new Promise<void>((resolve) => waiting.push(resolve))
      else busy++
      try {
        await new Promise((resolve) => setTimeout(resolve, pool.serviceMs))
      } finally {
        // Hand the slot straight to the next waiter so `busy` never dips and lets a newcomer jump the queue.
        const next = waiting.shift()
        if (next === undefined) busy--
        else next()
      }
    },
  }
  return pool
}

/** Spins the event loop for `ms` milliseconds: CPU work that nothing else can interleave with. */
export function burnCpu(ms: number): void {
  if (ms <= 0) return
  const end = performance.now() + ms
  while (performance.now() < end) {
    // busy on purpose
  }
}
