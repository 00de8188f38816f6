/**
 * The per-process key store: what a controller with `perKey` and no `store`
 * uses.
 *
 * How it works: one count per key that holds a place, in a `Map`; a key is
 * deleted when its count returns to 0, so memory is bounded by the places
 * held, never by how many keys were ever seen. `acquire` answers
 * synchronously, so the controller's admission stays synchronous. The lease
 * is its own answer (`lease.lease === lease`): one allocation per place.
 */
import type { KeyLease, KeyLeaseResult, KeyStore } from './key-store.js'

class MemoryLease implements KeyLease {
  readonly acquired = true as const
  readonly lease: KeyLease = this
  #released = false

  constructor(
    readonly store: MemoryKeyStore,
    readonly key: string,
  ) {}

  release(): void {
    // Flipped first: a second call, even a re-entrant one, finds it set.
    if (this.#released) return
    this.#released = true
    this.store.give(this.key)
  }
}

class MemoryKeyStore implements KeyStore {
  readonly #held = new Map<string, number>()

  acquire(key: string, limit: number): KeyLeaseResult {
    const held = this.#held.get(key) ?? 0
    if (held >= limit) return { acquired: false, reason: 'quota', held }
    this.#held.set(key, held + 1)
    return new MemoryLease(this, key)
  }

  heldBy(key: string): number {
    return this.#held.get(key) ?? 0
  }

  /** Keys holding at least one place (for tests and stats). */
  get size(): number {
    return this.#held.size
  }

  /** Called by a lease, once. */
  give(key: string): void {
    const held = this.#held.get(key) ?? 0
    if (held <= 1) this.#held.delete(key)
    else this.#held.set(key, held - 1)
  }
}

/** A key store local to this process: synchronous, bounded by the places held. */
export interface MemoryKeyStoreHandle extends KeyStore {
  acquire(key: string, limit: number): KeyLeaseResult
  heldBy(key: string): number
  /** Keys holding at least one place. */
  readonly size: number
}

/**
 * Creates the in-memory key store. A controller with `perKey` and no `store`
 * creates its own; create one yourself only to share a cap between
 * controllers of one process.
 */
export function createMemoryKeyStore(): MemoryKeyStoreHandle {
  return new MemoryKeyStore()
}
