/**
 * One pressure signal's state machine: hysteresis, hold time and grading.
 *
 * How it works, for each reading `v` taken at time `t`:
 *
 *   enter    `v > high` makes the signal pressured and stamps `t` as its last
 *            reading above `high`.
 *   leave    a pressured signal becomes calm only when `v < low` AND at least
 *            `holdMs` have passed since its last reading above `high`.
 *   grade    while pressured, level = clamp((v − low) / (saturation − low), 0, 1):
 *            0 at `low`, 1 at `saturation` (≥ `high`) and beyond.
 *   hold     for `holdMs` after a reading above `high`, the level is at least
 *            the grade of that reading, so one quiet sample between two spikes
 *            does not let the level drop and spring back.
 *   calm     level = 0.
 *
 * So a value oscillating between `low` and `high` (or dipping below `low` for
 * less than `holdMs`) never flaps: the hysteresis band keeps the state, the
 * hold keeps the level. Pure: no clock, no I/O; the caller passes `t`.
 */

/** Thresholds in the signal's own unit (milliseconds for delay, a ratio otherwise). */
export interface SignalThresholds {
  /** Enter pressure above this. */
  readonly high: number
  /** Leave pressure below this; `low < high`. */
  readonly low: number
  /** The value at which the level reaches 1; `saturation ≥ high`. */
  readonly saturation: number
}

export class Signal {
  /** Latest reading, `undefined` before the first. */
  value: number | undefined = undefined
  pressured = false
  /** This signal's pressure level in [0, 1]. */
  level = 0
  private lastAboveHighMs = Number.NEGATIVE_INFINITY
  private heldLevel = 0

  constructor(
    readonly thresholds: SignalThresholds,
    readonly holdMs: number,
  ) {}

  /** The graded level of `value`, ignoring state: 0 at `low`, 1 at `saturation`. */
  grade(value: number): number {
    const { low, saturation } = this.thresholds
    const graded = (value - low) / (saturation - low)
    return Math.min(1, Math.max(0, graded))
  }

  /** Feeds one finite reading taken at `nowMs`; returns the new level. */
  update(value: number, nowMs: number): number {
    const { high, low } = this.thresholds
    this.value = value
    const graded = this.grade(value)
    if (value > high) {
      this.pressured = true
      this.lastAboveHighMs = nowMs
      this.heldLevel = graded
    } else if (this.pressured && value < low && nowMs - this.lastAboveHighMs >= this.holdMs) {
      this.pressured = false
    }
    if (!this.pressured) {
      this.level = 0
    } else if (nowMs - this.lastAboveHighMs < this.holdMs) {
      this.level = Math.max(graded, this.heldLevel)
    } else {
      this.level = graded
    }
    return this.level
  }
}
