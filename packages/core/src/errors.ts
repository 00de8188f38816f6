import type { Rejection } from './types.js'

/** Code carried by every invalid-option error, for `err.code === …` checks. */
export const INVALID_OPTION = 'ERR_SPILLWAY_INVALID_OPTION'

/**
 * Thrown at construction for a bad option. It is a `TypeError` (wrong type,
 * unknown key) or a `RangeError` (right type, value out of range), so
 * `instanceof TypeError`/`RangeError` work; `code` and `option` identify it.
 */
export interface InvalidOptionError extends Error {
  readonly code: typeof INVALID_OPTION
  /** Dotted path of the offending option, e.g. `queue.timeoutMs`. */
  readonly option: string
}

/** Builds the error every option check throws: a `TypeError` or `RangeError` with `code` and `option`. */
export function invalidOption(
  kind: 'type' | 'range',
  option: string,
  message: string,
): InvalidOptionError {
  const error = kind === 'type' ? new TypeError(message) : new RangeError(message)
  Object.defineProperties(error, {
    code: { value: INVALID_OPTION, enumerable: true },
    option: { value: option, enumerable: true },
  })
  return error as InvalidOptionError
}

/**
 * What `controller.run()` rejects with when the request is not admitted.
 * `acquire()` returns rejections as values instead; `run()` must throw
 * because its promise resolves to the function's result.
 */
export class RejectedError extends Error {
  override readonly name = 'RejectedError'
  readonly rejection: Rejection

  constructor(rejection: Rejection) {
    super(`Request rejected: ${rejection.reason} (${rejection.status})`)
    this.rejection = rejection
  }
}
