import { Controller, Get, Inject, Module } from '@nestjs/common'
import type { AdmissionController } from '@spillway/core'
import { Shed, SkipShed, SPILLWAY_CONTROLLER, SpillwayModule } from '@spillway/nestjs'
import { createDownstream } from './downstream.js'

const downstream = createDownstream()

/**
 * Every route goes through the module's global guard: 8 requests in flight,
 * 16 more may wait up to a second, the rest get `503` with `Retry-After`.
 * `GET /stats` is `@SkipShed()` and shows the controller's live state.
 */
@Controller()
export class AppController {
  // An explicit token: tsx (esbuild) emits no decorator metadata to inject by type.
  @Inject(SPILLWAY_CONTROLLER)
  private readonly controller!: AdmissionController

  @Get()
  @Shed({ priority: 'normal' })
  async index(): Promise<{ ok: boolean }> {
    await downstream()
    return { ok: true }
  }

  @Get('stats')
  @SkipShed()
  stats() {
    return this.controller.stats()
  }
}

@Module({
  imports: [SpillwayModule.forRoot({ limit: 8, queue: { size: 16, timeoutMs: 1000 } })],
  controllers: [AppController],
})
export class AppModule {}
