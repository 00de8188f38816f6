/**
 * `SpillwayModule.forRoot(options)` / `forRootAsync({ useFactory, inject, imports })`:
 * a global module providing the controller (`SPILLWAY_CONTROLLER`) and, by
 * default, `SpillwayGuard` as an `APP_GUARD` for every route. Before Nest
 * registers its routes (`configure`, which Nest calls during `app.init()`
 * before its router), it wraps the HTTP adapter's route registration so that
 * each route holds its permit until Nest is done with the request
 * (`route-work.ts`).
 */
import {
  type DynamicModule,
  type FactoryProvider,
  Inject,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common'
import { APP_GUARD, HttpAdapterHost } from '@nestjs/core'
import { SpillwayGuard } from './guard.js'
import { SpillwayInterceptor } from './interceptor.js'
import { type ResolvedModule, resolveModuleOptions, type SpillwayModuleOptions } from './options.js'
import { holdRouteWork } from './route-work.js'
import { SPILLWAY_CONTROLLER, SPILLWAY_OPTIONS, SPILLWAY_RESOLVED } from './tokens.js'

/** Options of `SpillwayModule.forRootAsync`. */
export interface SpillwayModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Makes the module options, e.g. from a `ConfigService`. */
  // biome-ignore lint/suspicious/noExplicitAny: injected providers are of any type, as in Nest's own FactoryProvider
  useFactory: (...args: any[]) => SpillwayModuleOptions | Promise<SpillwayModuleOptions>
  /** Providers handed to `useFactory`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>
  /**
   * Install the guard for every route; decided here because providers are
   * fixed before the factory runs.
   * @default true
   */
  globalGuard?: boolean
}

/** Closes a controller the module made when the application shuts down. */
class ControllerLifecycle {
  constructor(readonly resolved: ResolvedModule) {}
  beforeApplicationShutdown(): void {
    if (this.resolved.owned) this.resolved.controller.close()
  }
}

function providers(optionsProvider: Provider, globalGuard: boolean): Provider[] {
  const list: Provider[] = [
    optionsProvider,
    {
      provide: SPILLWAY_RESOLVED,
      useFactory: (options: unknown) => resolveModuleOptions(options),
      inject: [SPILLWAY_OPTIONS],
    },
    {
      provide: SPILLWAY_CONTROLLER,
      useFactory: (resolved: ResolvedModule) => resolved.controller,
      inject: [SPILLWAY_RESOLVED],
    },
    {
      provide: ControllerLifecycle,
      useFactory: (resolved: ResolvedModule) => new ControllerLifecycle(resolved),
      inject: [SPILLWAY_RESOLVED],
    },
    SpillwayGuard,
    SpillwayInterceptor,
  ]
  if (globalGuard) list.push({ provide: APP_GUARD, useExisting: SpillwayGuard })
  return list
}

/**
 * What other modules see. `@UseGuards(SpillwayGuard)` makes a guard in the
 * module that uses it, which needs the resolved options too.
 */
const EXPORTS = [SPILLWAY_CONTROLLER, SPILLWAY_RESOLVED, SpillwayGuard, SpillwayInterceptor]

/** The module; import it once, in the root module. */
export class SpillwayModule {
  readonly #host: HttpAdapterHost

  constructor(host: HttpAdapterHost) {
    this.#host = host
  }

  /**
   * Nest calls this during `app.init()`, before it registers its routes. Not
   * at construction: `@nestjs/testing` sets the adapter only when it creates
   * the application, after the providers.
   */
  configure(): void {
    holdRouteWork(this.#host.httpAdapter)
  }

  /** With options known now: checked at startup, with the house messages. */
  static forRoot(options: SpillwayModuleOptions = {}): DynamicModule {
    return {
      module: SpillwayModule,
      global: true,
      providers: providers(
        { provide: SPILLWAY_OPTIONS, useValue: options },
        options.globalGuard !== false,
      ),
      exports: EXPORTS,
    }
  }

  /** With options made by a factory (injected config, secrets). */
  static forRootAsync(options: SpillwayModuleAsyncOptions): DynamicModule {
    const factory: FactoryProvider = {
      provide: SPILLWAY_OPTIONS,
      useFactory: options.useFactory,
      inject: options.inject ?? [],
    }
    return {
      module: SpillwayModule,
      global: true,
      imports: options.imports ?? [],
      providers: providers(factory, options.globalGuard !== false),
      exports: EXPORTS,
    }
  }
}

Module({})(SpillwayModule)
Inject(HttpAdapterHost)(SpillwayModule, undefined, 0)
