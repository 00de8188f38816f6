/**
 * NestJS 11 for the contract, on both platforms. Controllers are built from
 * the neutral route list by applying Nest's decorators as calls, so this
 * file needs no decorator support from tsc or SWC.
 */
import type { AddressInfo } from 'node:net'
import 'reflect-metadata'
import {
  type CanActivate,
  Controller,
  Get,
  HttpException,
  Module,
  StreamableFile,
  UseGuards,
} from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import type { AdmissionController } from '@spillway/core'
import { Shed, SPILLWAY_CONTROLLER, SpillwayModule } from '@spillway/nestjs'
import express5 from 'express5'
import type { Route, Running, Target } from './targets.js'

type Platform = 'express' | 'fastify'
type Raw = { end(body: string): void; statusCode: number }

const failure = (): Error => new Error('handler failed')
const rawOf = (response: { raw?: Raw } & Raw): Raw => response.raw ?? response

/** A guard after the module's: ends the response itself, so the handler never runs. */
class EndGuard implements CanActivate {
  canActivate(context: import('@nestjs/common').ExecutionContext): boolean {
    const res = rawOf(context.switchToHttp().getResponse())
    res.statusCode = 200
    res.end('ended')
    // The default filter sees the response sent and only ends it.
    throw new HttpException('ended', 200)
  }
}

function routesController(routes: Route[], withOptions: boolean): new () => object {
  class RoutesController {}
  const proto = RoutesController.prototype as unknown as Record<string, unknown>
  routes.forEach((route, i) => {
    const name = `route${i}`
    const { handler } = route
    const descriptor: PropertyDescriptor = {
      async value() {
        handler.onEnter?.()
        if (handler.wait) await handler.wait()
        if (handler.reply === 'throw') throw failure()
        if (handler.reply === 'stream' && handler.stream)
          return new StreamableFile(handler.stream())
        return route.path
      },
      writable: true,
      configurable: true,
    }
    Object.defineProperty(proto, name, descriptor)
    Get(route.path)(proto, name, descriptor)
    if (withOptions) Shed(route.options ?? {})(proto, name, descriptor)
    if (route.endedAfter) UseGuards(EndGuard)(proto, name, descriptor)
  })
  Controller()(RoutesController)
  return RoutesController
}

async function build(
  platform: Platform,
  moduleOptions: Record<string, unknown>,
  routes: Route[],
  withOptions: boolean,
): Promise<Running & { controller: AdmissionController }> {
  class AppModule {}
  Module({
    imports: [SpillwayModule.forRoot(moduleOptions)],
    controllers: [routesController(routes, withOptions)],
  })(AppModule)
  const endedBefore = new Set(routes.filter((r) => r.endedBefore).map((r) => r.path))
  let app: import('@nestjs/common').INestApplication
  if (platform === 'express') {
    const server = express5()
    // Before Nest's router: a middleware that answers first.
    server.use((req, res, next) => {
      if (endedBefore.has(req.path)) res.end('early')
      else next()
    })
    app = await NestFactory.create(AppModule, new ExpressAdapter(server), { logger: false })
  } else {
    const adapter = new FastifyAdapter()
    adapter.getInstance().addHook('onRequest', (request, reply, done) => {
      if (endedBefore.has(request.url)) reply.code(200).send('early')
      else done()
    })
    app = await NestFactory.create(AppModule, adapter, { logger: false })
  }
  await app.listen(0, '127.0.0.1')
  const server = app.getHttpServer() as import('node:http').Server
  return {
    port: (server.address() as AddressInfo).port,
    controller: app.get<AdmissionController>(SPILLWAY_CONTROLLER),
    close: async () => {
      server.closeAllConnections()
      await app.close()
    },
  }
}

function nestTarget(platform: Platform): Target {
  return {
    name: `NestJS (${platform})`,
    hasNextError: false,
    header: (input, name) => {
      const value = (input as { headers: Record<string, unknown> }).headers[name]
      return typeof value === 'string' ? value : undefined
    },
    customRejection: () =>
      platform === 'express'
        ? (_req: unknown, res: import('express').Response, r: { status: number }) => {
            res.status(r.status).type('text/plain').send('busy')
          }
        : (_req: unknown, reply: import('fastify').FastifyReply, r: { status: number }) => {
            reply.code(r.status).type('text/plain').send('busy')
          },
    start: (controller, routes) => build(platform, { controller }, routes, true),
    startOwn: (options, route) => build(platform, options, [route], false),
  }
}

export const nestTargets: Target[] = [nestTarget('express'), nestTarget('fastify')]
