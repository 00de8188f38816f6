/**
 * The files of the consumer project the packaging test installs the packed
 * packages into: two load-and-smoke scripts (CommonJS and ESM) and a
 * TypeScript file type-checked under `node16` and `bundler` resolution.
 */

/** The published packages, by directory under `packages/`. */
export const PACKAGES = [
  'core',
  'node',
  'express',
  'koa',
  'client',
  'prometheus',
  'opentelemetry',
  'redis',
  'fastify',
  'hono',
  'nestjs',
] as const

/** Every entry point the packages export: the roots and the internal subpaths. */
export const ENTRY_POINTS = [
  'core',
  'core/internal',
  'node',
  'node/adapter-kit',
  'express',
  'koa',
  'client',
  'prometheus',
  'opentelemetry',
  'redis',
  'fastify',
  'hono',
  'nestjs',
] as const

/** Named exports each entry point must offer, whichever way it is loaded. */
export const EXPECTED_EXPORTS: Readonly<Record<(typeof ENTRY_POINTS)[number], readonly string[]>> =
  {
    core: ['createAdmissionController', 'RejectedError', 'INVALID_OPTION'],
    'core/internal': [
      'admitProbability',
      'checkNumber',
      'computeRetryAfterSeconds',
      'describeValue',
      'epochNow',
      'failOption',
      'invalidOption',
      'isPlainObject',
      'RateWindow',
      'resolveObject',
      'seededRandom',
    ],
    node: [
      'shed',
      'bindPermit',
      'writeRejection',
      'problemBody',
      'createPressureMonitor',
      'readiness',
    ],
    'node/adapter-kit': [
      'answerRejection',
      'createGate',
      'isThenable',
      'resolveAdapterOptions',
      'resolveRouteOptions',
    ],
    express: ['shed', 'readiness'],
    koa: ['shed', 'readiness'],
    client: ['createClient', 'withBackpressure', 'parseRetryAfter'],
    prometheus: ['collectMetrics', 'METRICS', 'DEFAULT_BUCKETS'],
    opentelemetry: ['collectMetrics', 'INSTRUMENTS', 'METER_NAME', 'VERSION'],
    redis: ['createRedisStore', 'REDIS_STORE_DEFAULTS'],
    fastify: ['spillway'],
    hono: ['shed', 'readiness'],
    nestjs: ['SpillwayModule', 'SpillwayGuard', 'Shed', 'SkipShed', 'SPILLWAY_CONTROLLER'],
  }

/** What users do not call: only in the internal subpaths, never in a root export. */
export const INTERNAL_ONLY: Readonly<Record<'core' | 'node', readonly string[]>> = {
  core: EXPECTED_EXPORTS['core/internal'],
  node: EXPECTED_EXPORTS['node/adapter-kit'],
}

/**
 * Shared body of both scripts: for each adapter, a server with one slot and
 * no queue; a first request is admitted and held until a second one has been
 * rejected, so both outcomes are forced without any timing.
 */
const SMOKE = `
function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve({
        status: res.statusCode,
        retryAfter: res.headers['retry-after'] ?? null,
        contentType: res.headers['content-type'] ?? null,
      }))
    })
    req.setTimeout(10000, () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
  })
}

const servers = {
  node: (c, hold) => http.createServer(node.shed(c, async (_req, res) => { await hold; res.end('ok') })),
  express: (c, hold) => {
    const app = express()
    app.use(spillwayExpress.shed(c))
    app.get('/', async (_req, res) => { await hold; res.send('ok') })
    return http.createServer(app)
  },
  koa: (c, hold) => {
    const app = new Koa()
    app.use(spillwayKoa.shed(c))
    app.use(async (ctx) => { await hold; ctx.body = 'ok' })
    return http.createServer(app.callback())
  },
  fastify: async (c, hold) => {
    const app = Fastify()
    await app.register(spillwayFastify.spillway, { controller: c })
    app.get('/', async () => { await hold; return 'ok' })
    await app.ready()
    return app.server
  },
  hono: (c, hold) => {
    const app = new Hono()
    app.use('*', spillwayHono.shed(c))
    app.get('/', async (ctx) => { await hold; return ctx.text('ok') })
    return http.createServer(getRequestListener(app.fetch))
  },
  nestjs: async (c, hold) => {
    // Decorators applied as calls: the scripts are plain JavaScript.
    class Routes { async index() { await hold; return 'ok' } }
    const descriptor = Object.getOwnPropertyDescriptor(Routes.prototype, 'index')
    nestCommon.Get('/')(Routes.prototype, 'index', descriptor)
    nestCommon.Controller()(Routes)
    class AppModule {}
    nestCommon.Module({ imports: [spillwayNest.SpillwayModule.forRoot({ controller: c })], controllers: [Routes] })(AppModule)
    const server = express()
    const app = await nestCore.NestFactory.create(AppModule, new nestExpress.ExpressAdapter(server), { logger: false })
    await app.init()
    return http.createServer(server)
  },
}

async function main() {
  const smoke = {}
  for (const [name, makeServer] of Object.entries(servers)) {
    const c = core.createAdmissionController({ limit: 1, queue: { size: 0 } })
    let open
    const hold = new Promise((resolve) => { open = resolve })
    let admitted
    const firstAdmitted = new Promise((resolve) => { admitted = resolve })
    c.on((event) => {
      if (event.type === 'admit') admitted()
      if (event.type === 'reject') open()
    })
    const server = await makeServer(c, hold)
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = 'http://127.0.0.1:' + server.address().port + '/'
    const first = get(url)
    await firstAdmitted
    const second = await get(url)
    smoke[name] = { first: await first, second, stats: c.stats() }
    c.close()
    await new Promise((resolve) => server.close(resolve))
  }
  // Metrics of a controller that saw one admission, through a registry of the app's prom-client.
  const registry = new promClient.Registry()
  const metered = core.createAdmissionController({ limit: 1 })
  const stopMetrics = prometheus.collectMetrics(metered, { registry, name: 'api' })
  const stopOtel = opentelemetry.collectMetrics(metered, { name: 'api' })
  metered.tryAcquire().release()
  const scrape = await registry.metrics()
  stopMetrics()
  stopOtel()
  const exportsOf = (m) => Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule').sort()
  console.log(JSON.stringify({
    exports: {
      core: exportsOf(core), 'core/internal': exportsOf(coreInternal),
      node: exportsOf(node), 'node/adapter-kit': exportsOf(adapterKit),
      express: exportsOf(spillwayExpress), koa: exportsOf(spillwayKoa), client: exportsOf(client),
      prometheus: exportsOf(prometheus), opentelemetry: exportsOf(opentelemetry),
      redis: exportsOf(redis),
      fastify: exportsOf(spillwayFastify), hono: exportsOf(spillwayHono), nestjs: exportsOf(spillwayNest),
    },
    scrape,
    rejectedErrorName: new core.RejectedError({ reason: 'closed', status: 503, retryAfterSeconds: 1 }).name,
    smoke,
  }))
}
`

export const REQUIRE_SCRIPT = `'use strict'
const http = require('node:http')
const express = require('express')
const Koa = require('koa')
const core = require('@spillway/core')
const coreInternal = require('@spillway/core/internal')
const node = require('@spillway/node')
const adapterKit = require('@spillway/node/adapter-kit')
const spillwayExpress = require('@spillway/express')
const spillwayKoa = require('@spillway/koa')
const client = require('@spillway/client')
const prometheus = require('@spillway/prometheus')
const opentelemetry = require('@spillway/opentelemetry')
const promClient = require('prom-client')
const redis = require('@spillway/redis')
require('reflect-metadata')
const Fastify = require('fastify')
const { Hono } = require('hono')
const { getRequestListener } = require('@hono/node-server')
const nestCommon = require('@nestjs/common')
const nestCore = require('@nestjs/core')
const nestExpress = require('@nestjs/platform-express')
const spillwayFastify = require('@spillway/fastify')
const spillwayHono = require('@spillway/hono')
const spillwayNest = require('@spillway/nestjs')
${SMOKE}
main().catch((error) => { console.error(error); process.exitCode = 1 })
`

export const IMPORT_SCRIPT = `import http from 'node:http'
import express from 'express'
import Koa from 'koa'
import * as core from '@spillway/core'
import * as coreInternal from '@spillway/core/internal'
import * as node from '@spillway/node'
import * as adapterKit from '@spillway/node/adapter-kit'
import * as spillwayExpress from '@spillway/express'
import * as spillwayKoa from '@spillway/koa'
import * as client from '@spillway/client'
import * as prometheus from '@spillway/prometheus'
import * as opentelemetry from '@spillway/opentelemetry'
import * as promClient from 'prom-client'
import * as redis from '@spillway/redis'
import 'reflect-metadata'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { getRequestListener } from '@hono/node-server'
import * as nestCommon from '@nestjs/common'
import * as nestCore from '@nestjs/core'
import * as nestExpress from '@nestjs/platform-express'
import * as spillwayFastify from '@spillway/fastify'
import * as spillwayHono from '@spillway/hono'
import * as spillwayNest from '@spillway/nestjs'
${SMOKE}
await main()
`

/**
 * Uses each package's public types the way an application would. The
 * `@ts-expect-error` lines fail the check if a type silently became `any`.
 */
export const TYPES_SOURCE = `import http from 'node:http'
import {
  type AdmissionController,
  createAdmissionController,
  type Decision,
  RejectedError,
  type Rejection,
} from '@spillway/core'
import { readiness as readinessNode, shed as shedNode, writeRejection } from '@spillway/node'
import { checkNumber, RateWindow } from '@spillway/core/internal'
import { createGate, resolveRouteOptions, type RouteOptions } from '@spillway/node/adapter-kit'
import { readiness as readinessExpress, shed as shedExpress, type ShedMiddleware } from '@spillway/express'
import { readiness as readinessKoa, shed as shedKoa } from '@spillway/koa'
import { createClient } from '@spillway/client'
import { createRedisStore, type RedisStore } from '@spillway/redis'
import { collectMetrics } from '@spillway/prometheus'
import { collectMetrics as collectOtel } from '@spillway/opentelemetry'
import { Registry } from 'prom-client'
import express from 'express'
import Koa from 'koa'
import spillway from '@spillway/fastify'
import { readiness, shed as shedHono } from '@spillway/hono'
import { Shed, SpillwayModule } from '@spillway/nestjs'
import Fastify from 'fastify'
import { Hono } from 'hono'

const controller: AdmissionController = createAdmissionController({
  limit: 4,
  queue: { size: 8, timeoutMs: 100, order: 'fifo' },
  priorities: ['critical', 'normal', 'sheddable'],
})

const app = express()
const own: ShedMiddleware = shedExpress({ limit: 4, skip: (req) => req.path === '/health' })
app.use(own)
app.get('/report', shedExpress(controller, { priority: 'sheddable' }), (_req, res) => {
  res.json(own.controller.stats())
})

const koa = new Koa()
koa.use(shedKoa(controller, { skip: (ctx) => ctx.path === '/health' }))

http.createServer(
  shedNode(controller, (_req, res) => {
    res.end()
  }),
)

export async function work(): Promise<number> {
  const decision: Decision = await controller.acquire({ priority: 'normal' })
  if (decision.admitted) {
    decision.permit.release('success')
    return 0
  }
  const rejection: Rejection = decision.rejection
  return rejection.retryAfterSeconds
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof RejectedError ? error.rejection.status : undefined
}

export const write: (res: http.ServerResponse, rejection: Rejection) => boolean = writeRejection
export const fetchWithBackpressure = createClient()

// The internal subpaths, as an adapter package uses them.
export const port: number = checkNumber(3000, 'port', { integer: true, min: 1 })
export const completions: number = new RateWindow(0).perSecond(1000)
const route: RouteOptions<http.IncomingMessage> = { priority: 'sheddable' }
export const gate = createGate(
  controller,
  resolveRouteOptions<http.IncomingMessage, never>(route, controller),
)
// A node-redis-shaped client: the store needs only evalSha and eval.
const store: RedisStore = createRedisStore({
  client: { evalSha: async () => [1, 1], eval: async () => [1, 1] },
  onError: 'local',
  expectedInstances: 3,
})
export const perKeyController: AdmissionController = createAdmissionController({
  limit: 4,
  perKey: { limit: 2, store },
})
// @ts-expect-error a failure mode that does not exist
createRedisStore({ client: { evalSha: async () => 1, eval: async () => 1 }, onError: 'maybe' })
export const stopMetrics: () => void = collectMetrics(controller, { registry: new Registry(), name: 'api' })
export const stopOtel: () => void = collectOtel(controller, { name: 'api', buckets: [0.01, 0.1] })
app.get('/ready', readinessExpress(controller))
koa.use(readinessKoa(controller))
http.createServer(readinessNode(controller))
// @ts-expect-error buckets are numbers
collectMetrics(controller, { buckets: ['0.1'] })

// @ts-expect-error an outcome that does not exist
controller.tryAcquire({})?.release('maybe')
// @ts-expect-error a route option that does not exist
export const badRoute: RouteOptions<http.IncomingMessage> = { priorty: 'sheddable' }
// @ts-expect-error a queue order that does not exist
shedExpress({ queue: { order: 'random' } })

const fastify = Fastify()
void fastify.register(spillway, { controller, readinessRoute: '/ready' })
fastify.get('/report', { config: { spillway: { priority: 'sheddable' } } }, async () =>
  fastify.spillway.stats(),
)
// Fastify infers a route's config type, so a misspelt key is caught when the route is declared, not here.
fastify.get('/healthz', { config: { spillway: false } }, async () => 'ok')

const hono = new Hono()
hono.use('*', shedHono(controller, { key: (c) => c.req.header('x-tenant') }))
hono.get('/ready', readiness(controller))
export const honoController: AdmissionController = shedHono({ limit: 2 }).controller

export const nestModule = SpillwayModule.forRoot({ limit: 8, priority: 'normal' })
export const nestRoute = Shed({ priority: 'critical', key: (req: { ip?: string }) => req.ip })
`

/**
 * The controller's own options are typed: a misspelt key is a compile-time
 * error, as it is for the adapters' options.
 */
export const OPTIONS_TYPES_SOURCE = `import { createAdmissionController } from '@spillway/core'

createAdmissionController({ limit: 4, queue: { size: 0 } })
// @ts-expect-error an option that does not exist
createAdmissionController({ limt: 4 })
// @ts-expect-error a queue order that does not exist
createAdmissionController({ queue: { order: 'random' } })
`

const STRICT = {
  strict: true,
  noEmit: true,
  skipLibCheck: false,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  esModuleInterop: true,
  target: 'ES2022',
  lib: ['ES2022'],
  types: ['node'],
}

/** `node16`: the `.mts` file resolves the `import` condition, the `.cts` file `require`. */
export const TSCONFIG_NODE16 = {
  compilerOptions: { ...STRICT, module: 'node16', moduleResolution: 'node16' },
  files: ['types-esm.mts', 'types-cjs.cts'],
}

export const TSCONFIG_BUNDLER = {
  compilerOptions: { ...STRICT, module: 'esnext', moduleResolution: 'bundler' },
  // One program for both files: a tsc run costs seconds on a busy machine.
  files: ['types-bundler.ts', 'types-options.ts'],
}
