/**
 * Controllers sharing one pressure source. A controller closes its source
 * from its own `close()`; with several controllers on one source (one process
 * monitor for the whole app), the first to close would blind the others.
 *
 * How it works: a count per source, in a `WeakMap` (so a source no controller
 * holds any more is not kept alive). A controller is counted once it is built
 * (options that fail validation count no user) and uncounted by its first
 * `close()`; the source is closed when its count reaches 0.
 */
import type { PressureSource } from './types.js'

const users = new WeakMap<PressureSource, number>()

/** Counts one more controller using `source`. */
export function retainPressure(source: PressureSource): void {
  users.set(source, (users.get(source) ?? 0) + 1)
}

/** Counts one controller less; true when it was the last, so the caller closes the source. */
export function releasePressure(source: PressureSource): boolean {
  const count = (users.get(source) ?? 1) - 1
  if (count > 0) {
    users.set(source, count)
    return false
  }
  users.delete(source)
  return true
}
