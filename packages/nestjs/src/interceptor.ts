/**
 * The guard's after-step: a guard cannot see the handler finish, so this
 * interceptor holds every permit bound to the response until the handler's
 * work has settled (`finalize`: completed, errored or unsubscribed). The
 * response's end still counts too: whichever comes last releases.
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

/** Holds the request's slot until its handler is done. */
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
