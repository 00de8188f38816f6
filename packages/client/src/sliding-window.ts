/**
 * How it works: a ring of `buckets` counters, each covering `windowMs / buckets`
 * of time. Adding rotates the ring forward to the current bucket (zeroing the
 * buckets that time skipped); a sum reads every bucket. Memory is fixed by
 * `buckets × fields`, whatever the traffic, and the window is exact to one
 * bucket's width. A clock that steps backwards keeps writing to the newest bucket.
 */
/** Counters over a sliding window of `windowMs`, in `buckets` steps, for `fields` quantities. */
export class SlidingWindow {
  /** Window length, in ms. */
  readonly windowMs: number
  readonly #bucketMs: number
  readonly #fields: number
  readonly #counts: Float64Array
  readonly #now: () => number
  /** Index (`floor(now / bucketMs)`) of the newest bucket. */
  #head: number

  constructor(windowMs: number, buckets: number, fields: number, now: () => number) {
    this.windowMs = windowMs
    this.#bucketMs = windowMs / buckets
    this.#fields = fields
    this.#counts = new Float64Array(buckets * fields)
    this.#now = now
    this.#head = Math.floor(now() / this.#bucketMs)
  }

  /** Adds `amount` to `field` in the current bucket. */
  add(field: number, amount = 1): void {
    const slot = this.#rotate()
    this.#counts[slot * this.#fields + field] =
      (this.#counts[slot * this.#fields + field] ?? 0) + amount
  }

  /** Sum of `field` over the window. */
  sum(field: number): number {
    this.#rotate()
    let total = 0
    for (let i = field; i < this.#counts.length; i += this.#fields) total += this.#counts[i] ?? 0
    return total
  }

  /** Moves the head to the current bucket, zeroing skipped ones; returns its slot. */
  #rotate(): number {
    const buckets = this.#counts.length / this.#fields
    const index = Math.floor(this.#now() / this.#bucketMs)
    if (index > this.#head) {
      const skipped = Math.min(index - this.#head, buckets)
      for (let step = 1; step <= skipped; step++) {
        const slot = (((this.#head + step) % buckets) + buckets) % buckets
        this.#counts.fill(0, slot * this.#fields, (slot + 1) * this.#fields)
      }
      this.#head = index
    }
    return ((this.#head % buckets) + buckets) % buckets
  }
}
