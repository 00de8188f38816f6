import { HttpException } from '@nestjs/common'
import type { Rejection } from '@spillway/core'

/**
 * Thrown by the guard once the rejection response has been written, so Nest
 * stops the request there (its default filter sees the response sent and
 * only ends it). A catch-all exception filter should leave it alone
 * (`response.headersSent`). `rejection` is undefined when the client had left.
 */
export class ShedRejectedException extends HttpException {
  readonly rejection: Rejection | undefined

  constructor(rejection: Rejection | undefined) {
    super('Request shed', rejection?.status ?? 503)
    this.rejection = rejection
  }
}
