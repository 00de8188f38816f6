/**
 * One pressure signal as the monitor sees it: a reader of one quantity in its
 * own unit, the hysteresis state that grades it (`Signal`), and a count of
 * the reads that failed.
 *
 * How it works: `sample()` calls the reader. A reader that throws, or gives
 * anything but a finite number, fails open: the sample reads 0 (healthy),
 * the failure is counted and passed to `onError`. The value then goes through
 * the hysteresis, which returns the signal's level in [0, 1].
 */
import { describeValue } from '@spillway/core/internal'
import type { PressureSignalReading } from '../pressure-monitor.js'
import type { PressureSignalName } from '../pressure-options.js'
import { Signal, type SignalThresholds } from './signal.js'

/** The raw quantities behind the latest sample, written by the readers for `readings()`. */
export interface RawReadings {
  eventLoopDelayMs: number | undefined
  eventLoopUtilization: number | undefined
  heapUsedBytes: number | undefined
  heapLimitBytes: number | undefined
  rssBytes: number | undefined
}

/** Reads one quantity for a sample. */
export interface SignalReader {
  /** This sample's value in the signal's unit; may throw or return garbage (both fail open). */
  read(): unknown
  /** What a valid reading is, for the error a bad one is reported with. */
  readonly expected: string
  /** Releases what the reader holds (the delay histogram); called once, by the monitor's `close()`. */
  close?(): void
}

/** Told of a failed read; the monitor's `onError`, guarded. */
export type SignalFailure = (error: unknown, signal: PressureSignalName) => void

/** One enabled signal: its reader, its hysteresis state and its count of failed reads. */
export class PressureSignal {
  readonly name: PressureSignalName
  readonly #reader: SignalReader
  readonly #state: Signal
  #errors = 0

  constructor(
    name: PressureSignalName,
    reader: SignalReader,
    thresholds: SignalThresholds,
    holdMs: number,
    releaseMs: number,
  ) {
    this.name = name
    this.#reader = reader
    this.#state = new Signal(thresholds, holdMs, releaseMs)
  }

  /** Reads the value at `nowMs` and returns the signal's new level. */
  sample(nowMs: number, onFailure: SignalFailure): number {
    return this.#state.update(this.#read(onFailure), nowMs)
  }

  /** This signal's level in [0, 1] after the latest sample. */
  get level(): number {
    return this.#state.level
  }

  /** Drops this signal's pressure at once (see `Signal.calm`). */
  calm(nowMs: number): void {
    this.#state.calm(nowMs)
  }

  /** This signal's latest state, for `readings()`. */
  reading(): PressureSignalReading {
    const state = this.#state
    return {
      enabled: true,
      value: state.value,
      pressured: state.pressured,
      level: state.level,
      high: state.thresholds.high,
      low: state.thresholds.low,
      saturation: state.thresholds.saturation,
      errors: this.#errors,
    }
  }

  /** Releases what the reader holds (the histogram); the monitor calls it once, on `close()`. */
  close(): void {
    this.#reader.close?.()
  }

  /** The reader's value; 0 (healthy) when it fails. */
  #read(onFailure: SignalFailure): number {
    let value: unknown
    try {
      value = this.#reader.read()
    } catch (error) {
      return this.#failed(onFailure, error)
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const message = `The ${this.name} sensor gave ${describeValue(value)}; expected ${this.#reader.expected}.`
      return this.#failed(onFailure, new TypeError(message))
    }
    return value
  }

  #failed(onFailure: SignalFailure, error: unknown): number {
    this.#errors++
    onFailure(error, this.name)
    return 0
  }
}
