import { setTimeout as delay } from 'node:timers/promises'

/**
 * A stand-in for a slow dependency (a database, an upstream API): it serves
 * `slots` calls at a time, each taking `serviceMs`, and makes the rest wait,
 * as a connection pool does. Its capacity is `slots / serviceMs` calls per
 * millisecond: 8 slots × 50 ms = 160 requests per second by default.
 */
export function createDownstream(slots = 8, serviceMs = 50): () => Promise<void> {
  let busy = 0
  const waiting: Array<() => void> = []
  return async () => {
    if (busy < slots) busy++
    else await new Promise<void>((resolve) => waiting.push(resolve))
    try {
      await delay(serviceMs)
    } finally {
      // Hand the slot straight to the next caller, so `busy` never over-counts.
      const next = waiting.shift()
      if (next === undefined) busy--
      else next()
    }
  }
}
