/**
 * A stand-in for a database connection pool: `slots` operations at a time,
 * the rest wait in an unbounded FIFO, as real pools do (which is why the
 * server needs shedding in front of it).
 */
export interface Pool {
  run<T>(operation: () => Promise<T>): Promise<T>
}

export function createPool(slots: number): Pool {
  let busy = 0
  const waiting: Array<() => void> = []
  return {
    async run(operation) {
      // A freed slot is handed to the next waiter directly, so no newcomer can take it between.
      if (busy >= slots) await new Promise<void>((resolve) => waiting.push(resolve))
      else busy++
      try {
        return await operation()
      } finally {
        const next = waiting.shift()
        if (next === undefined) busy--
        else next()
      }
    },
  }
}
