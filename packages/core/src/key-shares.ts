/**
 * Who holds what: the share each request competes as, and each key's weight
 * (requests in flight plus queued) and pace.
 *
 * How it works: a key that becomes active gets its own share while fewer than
 * `maxKeys` keys have one; past that it joins the one overflow share, so a
 * client that rotates keys competes as one flow, not as thousands. Requests
 * without a key share one more. A key's entry lives exactly while it holds
 * work and is deleted at zero, so memory is bounded by in flight plus queued,
 * never by how many keys were ever seen; a key's share is fixed for as long
 * as its entry lives (a key does not flip between flows mid-burst).
 */
import { Share } from './fair-queue.js'

/** A key holding work: its own share (or a member of the overflow share) and its pace. */
export class Tenant extends Share {
  /** This key's requests in flight plus queued (`weight` counts its share's). */
  held = 0
  /** Releases since the key became active, and their summed service time. */
  releases = 0
  serviceMs = 0
  /** `this`, or the overflow share. */
  share: Share = this

  constructor(readonly key: string) {
    super()
  }
}

/** The fields of a request that key shares read and write. */
export interface Member {
  readonly key: string | undefined
  share: Share
  tenant: Tenant | undefined
}

/** What key shares tell the queue: a share's weight changed (`FairQueue.reweigh`). */
export interface Reweigh {
  reweigh(share: Share): void
}

export class KeyShares<W extends Member> {
  readonly #queue: Reweigh
  readonly #maxKeys: number
  readonly #tenants = new Map<string, Tenant>()
  /** Requests without a key. */
  readonly anonymous = new Share()
  readonly overflow = new Share()
  /** Keys with a share of their own. */
  #own = 0

  constructor(queue: Reweigh, maxKeys: number) {
    this.#queue = queue
    this.#maxKeys = maxKeys
  }

  /** Keys holding work (in flight or queued). */
  get activeKeys(): number {
    return this.#tenants.size
  }

  /** Shares holding work: the `n` of an equal share `(limit + queue) / n`. */
  get activeShares(): number {
    return this.#own + (this.overflow.weight > 0 ? 1 : 0) + (this.anonymous.weight > 0 ? 1 : 0)
  }

  tenantOf(key: string): Tenant | undefined {
    return this.#tenants.get(key)
  }

  /** The share a request of `key` would compete as, without joining it. */
  shareFor(key: string | undefined): Share {
    if (key === undefined) return this.anonymous
    const tenant = this.#tenants.get(key)
    if (tenant !== undefined) return tenant.share
    return this.#own < this.#maxKeys ? EMPTY : this.overflow
  }

  /** Counts a request as held by its key (admitted or queued). */
  join(member: W): void {
    const key = member.key
    let share: Share
    if (key === undefined) share = this.anonymous
    else {
      let tenant = this.#tenants.get(key)
      if (tenant === undefined) {
        tenant = new Tenant(key)
        if (this.#own < this.#maxKeys) this.#own++
        else tenant.share = this.overflow
        this.#tenants.set(key, tenant)
      }
      tenant.held++
      member.tenant = tenant
      share = tenant.share
    }
    member.share = share
    share.weight++
    this.#queue.reweigh(share)
  }

  /**
   * Stops counting a request (released, or left the queue). Call after it
   * left the queue. `serviceMs` for a release, feeding its key's pace.
   */
  leave(member: W, serviceMs?: number): void {
    const share = member.share
    share.weight--
    this.#queue.reweigh(share)
    const tenant = member.tenant
    if (tenant === undefined) return
    member.tenant = undefined
    if (--tenant.held <= 0) {
      this.#tenants.delete(tenant.key)
      if (tenant.share === tenant) this.#own--
      return
    }
    if (serviceMs !== undefined) {
      tenant.releases++
      tenant.serviceMs += serviceMs
    }
  }
}

/** What a key that is not active yet and will get its own share weighs: nothing. */
const EMPTY = new Share()
