/**
 * The vocabulary shared by the controller, its pieces and every adapter.
 * Runtime-neutral on purpose: no `node:` import, no DOM lib, so Bun, Deno and
 * Workers can load `@spillway/core` as it is.
 */

/** Why a request was not admitted. */
export type RejectionReason =
  | 'queueFull'
  | 'queueTimeout'
  | 'evicted'
  | 'overloaded'
  | 'sampled'
  | 'deadline'
  | 'aborted'
  | 'quota'
  | 'closed'
  | 'unavailable'

/** What a rejected caller is told: a value, never a thrown error (rejections must be cheap). */
export interface Rejection {
  readonly reason: RejectionReason
  /** `429` for `quota` (this caller is over its cap or its share), `503` for everything else. */
  readonly status: 503 | 429
  /** Whole seconds ≥ 1 (RFC 9110 §10.2.3), from live backlog and completion rate. */
  readonly retryAfterSeconds: number
}

/** How a permit ends: `failure` is a drop signal for adaptive limits; `ignore` feeds no sample. */
export type Outcome = 'success' | 'failure' | 'ignore'

/** The right to run one request. Release it exactly once; later calls do nothing. */
export interface Permit {
  /** Frees the slot and feeds the limit algorithm. Idempotent. */
  release(outcome?: Outcome): void
  /** True once `release` has been called. */
  readonly released: boolean
  /** Priority the request was admitted with (after falling back to `defaultPriority`). */
  readonly priority: string
}

/**
 * The subset of `AbortSignal` the controller uses; a real `AbortSignal`
 * satisfies it in every runtime.
 */
export interface AbortSignalLike {
  readonly aborted: boolean
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

/** What an adapter knows about one request. Every field is optional. */
export interface AdmissionRequest {
  /** One of `priorities`; unknown names fall back to `defaultPriority`. */
  priority?: string | undefined
  /**
   * Tenant or client: waiters are served round-robin across keys, and
   * `perKey` caps what one key holds. It must come from an authenticated
   * identity: a client that picks its own key can pose as many tenants.
   */
  key?: string | undefined
  /** The client went away: a queued request leaves at once with `aborted`. */
  signal?: AbortSignalLike | undefined
  /** Epoch-style time (same clock as `now()`) after which the answer is worthless. */
  deadline?: number | undefined
  /** HTTP method, for events and logs; never used to decide. */
  method?: string | undefined
  /** Route template (or the path without its query), for events and logs; never used to decide. */
  route?: string | undefined
}

export type Decision =
  | {
      readonly admitted: true
      readonly permit: Permit
      /** Dry runs only: what would have happened instead of letting the request through. */
      readonly dryRun?: Rejection | 'queue'
    }
  | { readonly admitted: false; readonly rejection: Rejection }

/**
 * A limit algorithm: a small object fed one sample per released permit; the
 * controller reads `limit` and enforces it (Netflix concurrency-limits' `Limit`).
 */
export interface LimitAlgorithm {
  /** Current concurrency limit, an integer ≥ 1. */
  readonly limit: number
  /** Feeds one completed request. Rejected, aborted and ignored requests are never sampled. */
  onSample(sample: LimitSample): void
}

export interface LimitSample {
  /** `now()` when the request was admitted. */
  readonly startMs: number
  /** Service time: admission to release, excluding any queue wait. */
  readonly rttMs: number
  /** Requests in flight when this one was admitted (including itself). */
  readonly inFlight: number
  /** True for `failure` releases and timeouts: the server dropped work. */
  readonly didDrop: boolean
}

/**
 * A source of process pressure in `[0, 1]`: 0 is idle, 1 is fully overloaded.
 * `@spillway/node` provides one built from event-loop and memory sensors.
 */
export interface PressureSource {
  /** Read on every admission decision, so it must be a cheap field read. */
  readonly level: number
  /**
   * Stops the source's sampling. A controller calls it from its own `close()`;
   * a source shared by several controllers is closed by the last of them.
   */
  close?(): void
}
