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
 *   release  the level rises at once but falls at most 1 per `releaseMs`
 *            (fast attack, slow release): shedding stops the overload at once,
 *            so the value drops at once too; following it straight down would
 *            readmit everything together and overload the process again. A
 *            falling level readmits the highest priorities first.
 *            `releaseMs = 0` follows the rules above exactly.
 *
 * So a value oscillating between `low` and `high` (or dipping below `low` for
 * less than `holdMs`) never flaps: the hysteresis band keeps the state, the
 * hold and the release keep the level. Pure: no clock, no I/O; the caller
 * passes `t`.
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
  private lastUpdateMs = Number.NaN

  constructor(
    readonly thresholds: SignalThresholds,
    readonly holdMs: number,
    /** Milliseconds for the level to fall from 1 to 0 at the fastest; 0 = at once. */
    readonly releaseMs = 0,
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
    let target = 0
    if (this.pressured) {
      target =
        nowMs - this.lastAboveHighMs < this.holdMs ? Math.max(graded, this.heldLevel) : graded
    }
    if (this.releaseMs > 0 && target < this.level) {
      // A clock that stands still or steps back releases nothing.
      const elapsedMs = Math.max(0, nowMs - this.lastUpdateMs)
      target = Math.max(target, this.level - elapsedMs / this.releaseMs)
    }
    this.lastUpdateMs = nowMs
    this.level = target
    return this.level
  }

  /**
   * Ends the pressure at once, hold and release notwithstanding: the caller
   * knows the value no longer means overload (an event loop that sat idle).
   */
  calm(nowMs: number): void {
    this.pressured = false
    this.lastAboveHighMs = Number.NEGATIVE_INFINITY
    this.heldLevel = 0
    this.lastUpdateMs = nowMs
    this.level = 0
  }
}
