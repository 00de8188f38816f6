/**
 * Holds every permit bound to the response until the handler's observable
 * finalizes (completed, errored or unsubscribed); the response's end still
 * counts too: whichever comes last releases. No longer installed: the
 * module's route functions hold the permit until Nest is done with the
 * request (`route-work.ts`), without the RxJS pipeline Nest runs for any
 * interceptor. Kept so that apps which add it keep working.
 */
import type { ServerResponse } from 'node:http'
import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common'
import { holdPermits } from '@spillway/node/adapter-kit'
import { finalize, type Observable } from 'rxjs'

/**
 * Holds the request's slot until its handler is done.
 * @deprecated Not needed: `SpillwayModule` holds the slot itself, for every
 * route, at a fraction of an interceptor's cost per request.
 */
export class SpillwayInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle()
    const response = context.switchToHttp().getResponse<{ raw?: ServerResponse }>()
    const res = response.raw ?? (response as unknown as ServerResponse)
    let done!: () => void
    holdPermits(
      res,
      new Promise<void>((resolve) => {
        done = resolve
      }),
    )
    return next.handle().pipe(finalize(done))
  }
}

Injectable()(SpillwayInterceptor)
