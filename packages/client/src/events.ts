/**
 * What the client publishes to `client.on()` listeners: each retry it takes
 * and each retry it does not take, with the reason. A listener that throws
 * never breaks a call (as in `@spillway/core`'s controller).
 */

/**
 * Why a refused or failed attempt was not retried:
 * - `notIdempotent`: POST, PATCH… without `retryNonIdempotent`;
 * - `bodyNotReplayable`: the body is a stream, it cannot be sent twice;
 * - `attemptsExhausted`: `maxAttempts` attempts were made;
 * - `retryAfterTooLong`: the server's `Retry-After` is longer than `maxRetryAfterMs`;
 * - `deadline`: the wait would end at or past the call's deadline;
 * - `throttle`: adaptive throttling is rejecting this origin's calls, and this retry too;
 * - `budget`: the origin's retry budget is spent.
 */
export type NoRetryReason =
  | 'notIdempotent'
  | 'bodyNotReplayable'
  | 'attemptsExhausted'
  | 'retryAfterTooLong'
  | 'deadline'
  | 'throttle'
  | 'budget'

/** Every {@link NoRetryReason}, in the order they are checked. */
export const NO_RETRY_REASONS: readonly NoRetryReason[] = [
  'notIdempotent',
  'bodyNotReplayable',
  'attemptsExhausted',
  'retryAfterTooLong',
  'deadline',
  'throttle',
  'budget',
]

/** What ended the attempt a retry decision is about. */
export type AttemptFailure =
  | { readonly status: number; readonly error?: undefined }
  | { readonly status?: undefined; readonly error: unknown }

/** Published to {@link ClientListener}s. */
export type ClientEvent =
  | ({
      /** A retry will be sent after `delayMs`. */
      readonly type: 'retry'
      readonly origin: string
      /** The attempt that failed (1 for the first). */
      readonly attempt: number
      readonly delayMs: number
    } & AttemptFailure)
  | ({
      /** A refused or failed attempt was not retried; the call ends with it. */
      readonly type: 'retrySkipped'
      readonly origin: string
      readonly attempt: number
      readonly reason: NoRetryReason
    } & AttemptFailure)

export type ClientListener = (event: ClientEvent) => void

/** A copy-on-write list of listeners. */
export class Emitter {
  #listeners: ClientListener[] = []

  get active(): boolean {
    return this.#listeners.length > 0
  }

  on(listener: ClientListener): () => void {
    if (typeof listener !== 'function') {
      throw new TypeError(`Expected \`listener\` to be a function, got ${typeof listener}.`)
    }
    this.#listeners = [...this.#listeners, listener]
    let subscribed = true
    return () => {
      if (!subscribed) return
      subscribed = false
      const index = this.#listeners.indexOf(listener)
      this.#listeners = this.#listeners.filter((_, i) => i !== index)
    }
  }

  emit(event: ClientEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch {
        // A failing listener must never break a call; there is no one to tell.
      }
    }
  }
}
