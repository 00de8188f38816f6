import {
  type AdmissionController,
  type ControllerListener,
  createAdmissionController,
  type Decision,
  type Permit,
} from '@spillway/core'
import { collectMetrics, METRICS } from '@spillway/prometheus'
import { Registry } from 'prom-client'
import { type Exposition, find, parseExposition, seriesValue } from './exposition.js'

let t = 0
const now = (): number => t

function controllerWith(limit: number, queueSize: number): AdmissionController {
  // A long queue timeout: no real timer fires while a test advances the fake clock.
  return createAdmissionController({ limit, queue: { size: queueSize, timeoutMs: 60_000 }, now })
}

function permitOf(decision: Decision | Promise<Decision>): Permit {
  if (decision instanceof Promise || !decision.admitted) throw new Error('expected an admission')
  return decision.permit
}

async function scrape(registry: Registry): Promise<Exposition> {
  return parseExposition(await registry.metrics())
}

beforeEach(() => {
  t = 1000
})

describe('collectMetrics', () => {
  it('exports every documented series with the values of the traffic it saw', async () => {
    const registry = new Registry()
    const controller = controllerWith(2, 1)
    const dispose = collectMetrics(controller, { registry, name: 'api' })

    const first = permitOf(controller.admit({ priority: 'critical' }))
    const second = permitOf(controller.admit({ priority: 'normal' }))
    const waiting = controller.acquire({ priority: 'normal', key: 'tenant-42' })
    expect(controller.admit({ priority: 'sheddable' })).toMatchObject({
      rejection: { reason: 'queueFull' },
    })
    expect(controller.admit({ priority: 'critical', deadline: t })).toMatchObject({
      rejection: { reason: 'deadline' },
    })

    let m = await scrape(registry)
    expect(seriesValue(m, 'spillway_requests_in_flight', { controller: 'api' })).toBe(2)
    expect(
      seriesValue(m, 'spillway_requests_queued', { controller: 'api', priority: 'normal' }),
    ).toBe(1)
    expect(
      seriesValue(m, 'spillway_requests_queued', { controller: 'api', priority: 'critical' }),
    ).toBe(0)
    expect(seriesValue(m, 'spillway_limit', { controller: 'api' })).toBe(2)
    expect(seriesValue(m, 'spillway_effective_limit', { controller: 'api' })).toBe(2)
    expect(seriesValue(m, 'spillway_pressure', { controller: 'api' })).toBe(0)
    expect(seriesValue(m, 'spillway_active_keys', { controller: 'api' })).toBe(1)
    expect(seriesValue(m, 'spillway_draining', { controller: 'api' })).toBe(0)

    t += 30
    first.release('success')
    const third = (await waiting) as { admitted: true; permit: Permit }
    second.release('failure')
    third.permit.release()
    controller.close()
    expect(controller.admit({ priority: 'normal' })).toMatchObject({
      rejection: { reason: 'closed' },
    })

    m = await scrape(registry)
    const admitted = (priority: string): number =>
      seriesValue(m, 'spillway_admitted_total', { controller: 'api', priority })
    expect([admitted('critical'), admitted('normal'), admitted('sheddable')]).toEqual([1, 2, 0])
    const rejected = (priority: string, reason: string): number =>
      seriesValue(m, 'spillway_rejected_total', { controller: 'api', priority, reason })
    expect(rejected('sheddable', 'queueFull')).toBe(1)
    expect(rejected('critical', 'deadline')).toBe(1)
    expect(rejected('normal', 'closed')).toBe(1)
    const totalRejected = find(m, 'spillway_rejected_total').reduce((sum, s) => sum + s.value, 0)
    expect(totalRejected).toBe(3)
    // Every priority × reason exists from the start, so rate() has a series to work on.
    expect(
      find(m, 'spillway_rejected_total', { priority: 'critical', reason: 'quota' }),
    ).toHaveLength(1)
    // Reasons come from the controller, not from a list here: a newer core's reasons show up too.
    const reasons = new Set(find(m, 'spillway_rejected_total').map((x) => x.labels.reason))
    expect(reasons).toEqual(new Set(Object.keys(controller.stats().counters.rejected)))
    expect(reasons.has('unavailable')).toBe(true)

    const wait = (suffix: string, labels: Record<string, string>): number =>
      seriesValue(m, `spillway_queue_wait_seconds_${suffix}`, { controller: 'api', ...labels })
    expect(wait('count', { priority: 'normal' })).toBe(2)
    expect(wait('count', { priority: 'critical' })).toBe(1)
    expect(wait('sum', { priority: 'normal' })).toBeCloseTo(0.03, 6)
    expect(wait('bucket', { priority: 'normal', le: '0.001' })).toBe(1)
    expect(wait('bucket', { priority: 'normal', le: '0.025' })).toBe(1)
    expect(wait('bucket', { priority: 'normal', le: '0.05' })).toBe(2)
    expect(wait('bucket', { priority: 'normal', le: '+Inf' })).toBe(2)

    const released = (outcome: string): number =>
      seriesValue(m, 'spillway_released_total', { controller: 'api', outcome })
    expect([released('success'), released('failure'), released('ignore')]).toEqual([2, 1, 0])
    expect(seriesValue(m, 'spillway_errors_total', { controller: 'api' })).toBe(0)
    expect(seriesValue(m, 'spillway_requests_in_flight', { controller: 'api' })).toBe(0)
    expect(seriesValue(m, 'spillway_draining', { controller: 'api' })).toBe(1)
    // Never a tenant key as a label value.
    expect(m.series.some((s) => Object.values(s.labels).includes('tenant-42'))).toBe(false)
    const typed = new Map(m.types)
    for (const spec of Object.values(METRICS)) expect(typed.get(spec.name)).toBe(spec.type)
    dispose()
  })

  it('shares one metric per name between controllers on one registry, told apart by label', async () => {
    const registry = new Registry()
    const api = controllerWith(4, 0)
    const admin = controllerWith(1, 0)
    const disposeApi = collectMetrics(api, { registry, name: 'api' })
    const disposeAdmin = collectMetrics(admin, { registry, name: 'admin' })
    permitOf(api.admit()).release()
    const held = permitOf(admin.admit())

    let m = await scrape(registry)
    const typeLines = m.types.filter(([name]) => name === 'spillway_requests_in_flight')
    expect(typeLines).toHaveLength(1)
    expect(seriesValue(m, 'spillway_requests_in_flight', { controller: 'api' })).toBe(0)
    expect(seriesValue(m, 'spillway_requests_in_flight', { controller: 'admin' })).toBe(1)
    expect(seriesValue(m, 'spillway_limit', { controller: 'admin' })).toBe(1)
    expect(
      seriesValue(m, 'spillway_admitted_total', { controller: 'api', priority: 'normal' }),
    ).toBe(1)

    disposeApi()
    disposeApi()
    m = await scrape(registry)
    expect(find(m, 'spillway_requests_in_flight', { controller: 'api' })).toHaveLength(0)
    expect(find(m, 'spillway_queue_wait_seconds_count', { controller: 'api' })).toHaveLength(0)
    expect(seriesValue(m, 'spillway_requests_in_flight', { controller: 'admin' })).toBe(1)

    disposeAdmin()
    expect(await registry.metrics()).toBe('\n')
    expect(registry.getSingleMetric('spillway_limit')).toBeUndefined()
    held.release()
  })

  it('counts from the call of collectMetrics, not from the start of the controller', async () => {
    const registry = new Registry()
    const controller = controllerWith(1, 0)
    permitOf(controller.admit()).release('failure')
    const held = permitOf(controller.admit())
    controller.admit()
    const dispose = collectMetrics(controller, { registry })
    held.release('success')
    controller.admit({ priority: 'sheddable' })

    const m = await scrape(registry)
    const labels = { controller: 'default' }
    expect(seriesValue(m, 'spillway_released_total', { ...labels, outcome: 'failure' })).toBe(0)
    expect(seriesValue(m, 'spillway_released_total', { ...labels, outcome: 'success' })).toBe(1)
    expect(seriesValue(m, 'spillway_admitted_total', { ...labels, priority: 'normal' })).toBe(0)
    expect(seriesValue(m, 'spillway_admitted_total', { ...labels, priority: 'sheddable' })).toBe(1)
    const rejected = find(m, 'spillway_rejected_total').reduce((sum, s) => sum + s.value, 0)
    expect(rejected).toBe(0)
    dispose()
  })

  it('counts dry-run decisions that let the request through', async () => {
    const registry = new Registry()
    const controller = controllerWith(1, 1)
    const dispose = collectMetrics(controller, { registry, name: 'dry' })
    const held = permitOf(controller.admit())
    // Saturated: the next would queue, and with the queue full the one after would be refused.
    expect(controller.admit({}, { dryRun: true })).toMatchObject({ dryRun: 'queue' })
    const waiting = controller.acquire()
    expect(controller.admit({}, { dryRun: true })).toMatchObject({
      dryRun: { reason: 'queueFull' },
    })
    const m = await scrape(registry)
    expect(seriesValue(m, 'spillway_dry_run_queued_total', { controller: 'dry' })).toBe(1)
    expect(
      seriesValue(m, 'spillway_dry_run_rejected_total', { controller: 'dry', reason: 'queueFull' }),
    ).toBe(1)
    // Let through, so neither admitted nor rejected.
    expect(
      seriesValue(m, 'spillway_admitted_total', { controller: 'dry', priority: 'normal' }),
    ).toBe(1)
    held.release()
    const decision = await waiting
    if (decision.admitted) decision.permit.release()
    dispose()
  })

  it('reads gauges at scrape time, one stats() snapshot per controller per scrape', async () => {
    const registry = new Registry()
    const controller = controllerWith(3, 0)
    const stats = jest.spyOn(controller, 'stats')
    const dispose = collectMetrics(controller, { registry })
    stats.mockClear()
    const permits = [permitOf(controller.admit()), permitOf(controller.admit())]
    expect(stats).not.toHaveBeenCalled()
    const m = await scrape(registry)
    expect(stats).toHaveBeenCalledTimes(1)
    expect(seriesValue(m, 'spillway_requests_in_flight', { controller: 'default' })).toBe(2)
    await scrape(registry)
    expect(stats).toHaveBeenCalledTimes(2)
    for (const p of permits) p.release()
    dispose()
  })

  it('reports rejection reasons it was not written for, by priority', async () => {
    // A controller from a newer core that rejects with a reason this package has never heard of.
    let listener: ControllerListener = () => {}
    const unsubscribe = jest.fn()
    const inner = controllerWith(1, 0)
    const controller: AdmissionController = Object.assign(Object.create(inner), {
      priorities: inner.priorities,
      stats: () => inner.stats(),
      on: (l: ControllerListener) => {
        listener = l
        return unsubscribe
      },
    })
    const registry = new Registry()
    const dispose = collectMetrics(controller, { registry, name: 'next' })
    listener({
      type: 'reject',
      priority: 'sheddable',
      key: undefined,
      method: 'GET',
      route: '/report',
      rejection: { reason: 'a-reason-from-the-future' as never, status: 503, retryAfterSeconds: 1 },
    })
    const m = await scrape(registry)
    expect(
      seriesValue(m, 'spillway_rejected_total', {
        controller: 'next',
        priority: 'sheddable',
        reason: 'a-reason-from-the-future',
      }),
    ).toBe(1)
    dispose()
    dispose()
    expect(unsubscribe).toHaveBeenCalledTimes(1)
  })

  it('collects again after the app cleared the registry', async () => {
    const registry = new Registry()
    const controller = controllerWith(2, 0)
    const stale = collectMetrics(controller, { registry, name: 'api' })
    registry.clear()
    const dispose = collectMetrics(controller, { registry, name: 'api' })
    permitOf(controller.admit()).release()
    const m = await scrape(registry)
    expect(
      seriesValue(m, 'spillway_admitted_total', { controller: 'api', priority: 'normal' }),
    ).toBe(1)
    stale()
    expect(registry.getSingleMetric('spillway_limit')).toBeDefined()
    dispose()
    expect(registry.getSingleMetric('spillway_limit')).toBeUndefined()
  })

  it('rejects bad arguments with the option named', () => {
    const registry = new Registry()
    const controller = controllerWith(1, 0)
    const code = 'ERR_SPILLWAY_INVALID_OPTION'
    expect(() => collectMetrics({} as AdmissionController)).toThrow(
      expect.objectContaining({ code, option: 'controller' }),
    )
    expect(() => collectMetrics(controller, { registry, nmae: 'x' } as never)).toThrow(
      /Unknown option `nmae`. Did you mean `name`\?/,
    )
    expect(() => collectMetrics(controller, { registry, name: '' })).toThrow(
      expect.objectContaining({ code, option: 'name' }),
    )
    expect(() => collectMetrics(controller, { registry: {} as Registry })).toThrow(
      expect.objectContaining({ code, option: 'registry' }),
    )
    for (const buckets of [[], [0.1, 0.05], [0, 1], [Number.NaN], 'fast'] as unknown[]) {
      expect(() => collectMetrics(controller, { registry, buckets: buckets as number[] })).toThrow(
        expect.objectContaining({ code, option: 'buckets' }),
      )
    }
    // Nothing was left registered by the failed calls.
    expect(registry.getMetricsAsArray()).toHaveLength(0)

    const dispose = collectMetrics(controller, { registry, name: 'api', buckets: [0.01, 0.1] })
    expect(() => collectMetrics(controllerWith(1, 0), { registry, name: 'api' })).toThrow(
      expect.objectContaining({ code, option: 'name' }),
    )
    expect(() =>
      collectMetrics(controllerWith(1, 0), { registry, name: 'other', buckets: [0.5] }),
    ).toThrow(expect.objectContaining({ code, option: 'buckets' }))
    dispose()
  })

  it('refuses a registry that already has a metric of the same name from elsewhere', () => {
    const registry = new Registry()
    registry.registerMetric({ name: 'spillway_limit', get: async () => ({}) } as never)
    expect(() => collectMetrics(controllerWith(1, 0), { registry })).toThrow(
      /spillway_limit is already registered/,
    )
    expect(registry.getMetricsAsArray()).toHaveLength(1)
  })

  it('uses the global prom-client registry by default', async () => {
    const { register } = await import('prom-client')
    const controller = controllerWith(1, 0)
    const dispose = collectMetrics(controller, { name: 'global' })
    const m = parseExposition(await register.metrics())
    expect(seriesValue(m, 'spillway_limit', { controller: 'global' })).toBe(1)
    dispose()
    expect(register.getSingleMetric('spillway_limit')).toBeUndefined()
  })
})
