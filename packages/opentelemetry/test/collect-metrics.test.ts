import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { metrics } from '@opentelemetry/api'
import {
  type AdmissionController,
  createAdmissionController,
  type Decision,
  type Permit,
} from '@spillway/core'
import { collectMetrics, INSTRUMENTS, METER_NAME, VERSION } from '@spillway/opentelemetry'
import { type Histogram, points, pointValue, startSdk, type TestSdk } from './otel-support.js'

let t = 0
const now = (): number => t
let sdk: TestSdk

function controllerWith(limit: number, queueSize: number): AdmissionController {
  return createAdmissionController({ limit, queue: { size: queueSize, timeoutMs: 60_000 }, now })
}

function permitOf(decision: Decision | Promise<Decision>): Permit {
  if (decision instanceof Promise || !decision.admitted) throw new Error('expected an admission')
  return decision.permit
}

beforeEach(() => {
  t = 1000
  sdk = startSdk()
})

afterEach(async () => {
  await sdk.shutdown()
})

describe('collectMetrics (OpenTelemetry)', () => {
  it('reports every instrument with the values of the traffic it saw', async () => {
    const controller = controllerWith(2, 1)
    const dispose = collectMetrics(controller, { name: 'api', meterProvider: sdk.provider })
    const first = permitOf(controller.admit({ priority: 'critical' }))
    const second = permitOf(controller.admit({ priority: 'normal' }))
    const waiting = controller.acquire({ priority: 'normal', key: 'tenant-42' })
    controller.admit({ priority: 'sheddable' })
    controller.admit({ priority: 'critical', deadline: t })

    let m = await sdk.collect()
    const api = { controller: 'api' }
    expect(pointValue(m, 'spillway.requests.in_flight', api)).toBe(2)
    expect(pointValue(m, 'spillway.requests.queued', { ...api, priority: 'normal' })).toBe(1)
    expect(pointValue(m, 'spillway.limit', api)).toBe(2)
    expect(pointValue(m, 'spillway.pressure', api)).toBe(0)
    expect(pointValue(m, 'spillway.draining', api)).toBe(0)

    t += 30
    first.release()
    const third = (await waiting) as { admitted: true; permit: Permit }
    second.release('failure')
    third.permit.release()
    controller.close()
    controller.admit()

    m = await sdk.collect()
    const admitted = (priority: string): number =>
      pointValue(m, 'spillway.admitted', { ...api, priority })
    expect([admitted('critical'), admitted('normal'), admitted('sheddable')]).toEqual([1, 2, 0])
    const rejected = (priority: string, reason: string): number =>
      pointValue(m, 'spillway.rejected', { ...api, priority, reason })
    expect(rejected('sheddable', 'queueFull')).toBe(1)
    expect(rejected('critical', 'deadline')).toBe(1)
    expect(rejected('normal', 'closed')).toBe(1)
    expect(points(m, 'spillway.rejected').reduce((sum, p) => sum + (p.value as number), 0)).toBe(3)
    const wait = pointValue<Histogram>(m, 'spillway.queue_wait', { ...api, priority: 'normal' })
    expect(wait.count).toBe(2)
    expect(wait.sum).toBeCloseTo(0.03, 6)
    // Bucket counts are per bucket here (not cumulative): 0 s in the first, 30 ms in (0.025, 0.05].
    const at = (bound: number): number =>
      wait.buckets.counts[wait.buckets.boundaries.indexOf(bound)] ?? -1
    expect(at(0.001)).toBe(1)
    expect(at(0.05)).toBe(1)
    expect(pointValue(m, 'spillway.released', { ...api, outcome: 'success' })).toBe(2)
    expect(pointValue(m, 'spillway.released', { ...api, outcome: 'failure' })).toBe(1)
    expect(pointValue(m, 'spillway.errors', api)).toBe(0)
    expect(pointValue(m, 'spillway.draining', api)).toBe(1)

    for (const spec of Object.values(INSTRUMENTS)) {
      const metric = m.find((x) => x.descriptor.name === spec.name)
      expect(metric?.descriptor.unit).toBe(spec.unit)
    }
    expect(JSON.stringify(m)).not.toContain('tenant-42')
    dispose()
  })

  it('names its meter after the package and its version', async () => {
    const controller = controllerWith(1, 0)
    const getMeter = jest.spyOn(sdk.provider, 'getMeter')
    const dispose = collectMetrics(controller, { meterProvider: sdk.provider })
    expect(getMeter).toHaveBeenCalledWith(METER_NAME, VERSION)
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      name: string
      version: string
    }
    expect([METER_NAME, VERSION]).toEqual([pkg.name, pkg.version])
    dispose()
  })

  it('stops reporting a disposed controller and keeps the others', async () => {
    const api = controllerWith(2, 0)
    const admin = controllerWith(1, 0)
    const disposeApi = collectMetrics(api, { name: 'api', meterProvider: sdk.provider })
    const disposeAdmin = collectMetrics(admin, { name: 'admin', meterProvider: sdk.provider })
    expect(() => collectMetrics(api, { name: 'api', meterProvider: sdk.provider })).toThrow(
      expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'name' }),
    )
    let m = await sdk.collect()
    expect(points(m, 'spillway.limit').map((p) => p.attributes.controller)).toEqual([
      'api',
      'admin',
    ])
    disposeApi()
    disposeApi()
    // The SDK keeps a cumulative series' last point, so what shows is that it no longer moves.
    const held = permitOf(api.admit())
    permitOf(admin.admit()).release()
    m = await sdk.collect()
    const inFlight = points(m, 'spillway.requests.in_flight', { controller: 'api' })
    expect(inFlight.map((p) => p.value)).not.toContain(1)
    expect(pointValue(m, 'spillway.admitted', { controller: 'api', priority: 'normal' })).toBe(0)
    expect(pointValue(m, 'spillway.admitted', { controller: 'admin', priority: 'normal' })).toBe(1)
    held.release()
    // The name is free again once disposed.
    const again = collectMetrics(api, { name: 'api', meterProvider: sdk.provider })
    again()
    disposeAdmin()
  })

  it('does nothing and costs no error when the app registered no SDK', () => {
    expect(metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider')
    const controller = controllerWith(1, 0)
    const dispose = collectMetrics(controller)
    permitOf(controller.admit()).release()
    const held = permitOf(controller.admit())
    expect(controller.admit()).toMatchObject({ admitted: false })
    held.release()
    dispose()
    expect(controller.stats().inFlight).toBe(0)
  })

  it('rejects bad arguments with the option named', () => {
    const code = 'ERR_SPILLWAY_INVALID_OPTION'
    const controller = controllerWith(1, 0)
    expect(() => collectMetrics(null as unknown as AdmissionController)).toThrow(
      expect.objectContaining({ code, option: 'controller' }),
    )
    expect(() => collectMetrics(controller, { meterProvider: {} as never })).toThrow(
      expect.objectContaining({ code, option: 'meterProvider' }),
    )
    expect(() => collectMetrics(controller, { buckets: [1, 1] })).toThrow(
      expect.objectContaining({ code, option: 'buckets' }),
    )
    expect(() => collectMetrics(controller, { registry: 1 } as never)).toThrow(
      expect.objectContaining({ code, option: 'registry' }),
    )
  })
})
