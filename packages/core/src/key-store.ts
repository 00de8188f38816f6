/**
 * Per-key leases: a hard cap on what one `key` holds in flight, kept by a store.
 * The in-memory store (core) answers synchronously, so the admission fast path
 * stays synchronous; a shared store (e.g. `@spillway/redis`) may answer with a
 * promise. Runtime-neutral: no `node:` import.
 */

/** One place held by a key. */
export interface KeyLease {
  /** Gives the place back. Idempotent: a second call does nothing. */
  release(): void
}

/** What a store answers to one `acquire`. */
export type KeyLeaseResult =
  | { readonly acquired: true; readonly lease: KeyLease }
  | {
      readonly acquired: false
      /**
       * `quota`: the key holds `limit` places already (429).
       * `unavailable`: the store cannot decide and its failure mode refuses (503).
       */
      readonly reason: 'quota' | 'unavailable'
      /** Places the key holds, when the store knows. */
      readonly held?: number | undefined
    }

/** Where a controller keeps per-key leases. */
export interface KeyStore {
  /** Takes one of `limit` places for `key`: synchronous for a local store, a promise for a shared one. */
  acquire(key: string, limit: number): KeyLeaseResult | Promise<KeyLeaseResult>
  /**
   * Called once by the controller that uses the store, with where to report
   * failures (they become the controller's `error` events). Optional.
   */
  attach?(reportError: (source: string, error: unknown) => void): void
  /** Places held now for `key` by this process (for stats and Retry-After); optional. */
  heldBy?(key: string): number
  /** Stops the store's timers (renewals); called by the controller's `close()`. Optional. */
  close?(): void
}
