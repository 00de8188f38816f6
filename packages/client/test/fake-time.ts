/**
 * A hand-driven clock and timer queue for deterministic tests: nothing here
 * waits for real time. `settle()` alternates between draining promise jobs and
 * firing the next due timer until the given promise settles.
 */
import type { Timers } from '../src/timers.js'

interface Scheduled {
  readonly id: number
  readonly at: number
  readonly callback: () => void
}

export class FakeTime implements Timers {
  nowMs: number
  readonly #timers = new Map<number, Scheduled>()
  #nextId = 1
  /** Every delay ever passed to `setTimeout`, in call order. */
  readonly delays: number[] = []

  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs
  }

  readonly now = (): number => this.nowMs

  readonly setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.#nextId++
    this.delays.push(ms)
    // As Node's timers do: a delay past 2^31 - 1 ms overflows and fires after 1 ms.
    const delay = ms > 2_147_483_647 ? 1 : Math.max(0, ms)
    this.#timers.set(id, { id, at: this.nowMs + delay, callback })
    return id
  }

  readonly clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number)
  }

  /** Timers scheduled and neither fired nor cleared. */
  get pending(): number {
    return this.#timers.size
  }

  /** Moves the clock forward, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const target = this.nowMs + ms
    for (;;) {
      const next = this.#next()
      if (next === undefined || next.at > target) break
      this.#fire(next)
    }
    this.nowMs = target
  }

  /** Jumps to the next timer and fires it; false when none is pending. */
  fireNext(): boolean {
    const next = this.#next()
    if (next === undefined) return false
    this.#fire(next)
    return true
  }

  /** Drives `promise` to completion, firing timers only when nothing else can progress. */
  async settle<T>(promise: Promise<T>, maxTimers = 10_000): Promise<T> {
    let done = false
    const tracked = promise.finally(() => {
      done = true
    })
    tracked.catch(() => {})
    for (let fired = 0; ; fired++) {
      await flush()
      if (done) return tracked
      if (fired >= maxTimers || !this.fireNext()) {
        throw new Error('FakeTime.settle: the promise is stuck with no timer left to fire')
      }
    }
  }

  #next(): Scheduled | undefined {
    let best: Scheduled | undefined
    for (const t of this.#timers.values()) if (best === undefined || t.at < best.at) best = t
    return best
  }

  #fire(timer: Scheduled): void {
    this.#timers.delete(timer.id)
    this.nowMs = Math.max(this.nowMs, timer.at)
    timer.callback()
  }
}

/** Lets every queued promise job and I/O callback run (a macrotask turn, twice). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** A scripted `fetch`: each call takes the next reply; records what it was given. */
export interface Call {
  readonly url: string
  readonly method: string
  readonly headers: Headers
  readonly signal: AbortSignal | undefined
  readonly body: unknown
}

export type Reply = Response | Error | ((call: Call) => Response | Promise<Response>)

export function scriptedFetch(...replies: Reply[]) {
  const calls: Call[] = []
  let last: Reply | undefined
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const call: Call = {
      url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      method: init?.method ?? (input instanceof Request ? input.method : 'GET'),
      headers: new Headers(init?.headers),
      signal: init?.signal ?? undefined,
      body: init?.body,
    }
    calls.push(call)
    const reply = replies.length > 0 ? replies.shift() : last
    last = reply
    if (reply === undefined) throw new Error('scriptedFetch: no reply scripted')
    if (reply instanceof Error) throw reply
    if (typeof reply === 'function') return reply(call)
    // A Response can be read once: hand out a copy so a repeated last reply works.
    return reply.clone()
  }
  return { fetch, calls }
}

/** A 503 (or any status) with an optional `Retry-After`. */
export function refuse(status: 429 | 503 = 503, retryAfter?: string): Response {
  const headers = new Headers({ 'content-type': 'application/problem+json' })
  if (retryAfter !== undefined) headers.set('retry-after', retryAfter)
  return new Response('{"reason":"queueFull"}', { status, headers })
}

export function ok(body = 'ok'): Response {
  return new Response(body, { status: 200 })
}
