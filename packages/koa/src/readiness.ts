/**
 * Koa readiness probe: `200 { status: 'ok', ... }` while the controller is
 * open, `503 { status: 'draining', ... }` once `close()` was called. Draining,
 * not load, decides it (see `@spillway/node`'s `readiness`).
 */
import type { AdmissionController } from '@spillway/core'
import { checkReadinessController, readinessState } from '@spillway/node/adapter-kit'
import type { Context, Middleware } from 'koa'

/**
 * Middleware answering whatever reaches it with the readiness of `controller`;
 * it matches no path itself: `router.get('/ready', readiness(c))`, or
 * `app.use((ctx, next) => ctx.path === '/ready' ? ready(ctx, next) : next())`
 * before `shed()`.
 */
export function readiness(controller: AdmissionController): Middleware {
  checkReadinessController(controller)
  return (ctx: Context) => {
    const { statusCode, body } = readinessState(controller)
    ctx.status = statusCode
    ctx.set('Cache-Control', 'no-store')
    if (statusCode === 503) ctx.set('Connection', 'close')
    ctx.body = body
  }
}
