/**
 * Both metric paths after real traffic through Express over a real socket:
 * Prometheus scraped from the app's own `/metrics`, OpenTelemetry read through
 * the SDK with an in-memory exporter. Every documented series is present with
 * the values the traffic implies, and the two paths agree.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { readiness, shed } from '@spillway/express'
import { collectMetrics as collectOtel } from '@spillway/opentelemetry'
import { collectMetrics, METRICS } from '@spillway/prometheus'
import express from 'express5'
import { Registry } from 'prom-client'
import { expectDrained, get, latch, nextEvent } from '../../../test/contract/support.js'
import {
  type Histogram,
  points,
  pointValue,
  startSdk,
} from '../../opentelemetry/test/otel-support.js'
import { find, parseExposition, seriesValue } from './exposition.js'

const PRIORITIES = ['critical', 'normal', 'sheddable'] as const

function startApp(
  controller: AdmissionController,
  registry: Registry,
  hold: () => Promise<void>,
): Promise<http.Server> {
  const app = express()
  // Probes and scrapes come before shed(): never shed, never counted.
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics())
  })
  app.get('/ready', readiness(controller))
  app.use(shed(controller, { priority: (req) => req.path.slice(1) }))
  app.get('/:priority', async (_req, res) => {
    await hold()
    res.send('done')
  })
  const server = http.createServer(app)
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe('metrics after real traffic through Express', () => {
  it('scrapes every documented series with the traffic’s values, in Prometheus and OpenTelemetry alike', async () => {
    const controller = createAdmissionController({
      limit: 2,
      queue: { size: 2, timeoutMs: 10_000 },
      priorities: [...PRIORITIES],
    })
    const registry = new Registry()
    const disposeProm = collectMetrics(controller, { registry, name: 'api' })
    const sdk = startSdk()
    const disposeOtel = collectOtel(controller, { name: 'api', meterProvider: sdk.provider })
    const gate = latch()
    const server = await startApp(controller, registry, () => gate.promise)
    const { port } = server.address() as AddressInfo

    try {
      const answers: Array<Promise<{ status: number; body: string }>> = []
      const send = async (path: string, event: 'admit' | 'queue' | 'reject'): Promise<void> => {
        const seen = nextEvent(controller, event)
        answers.push(get(port, path))
        await seen
      }
      await send('/critical', 'admit')
      await send('/normal', 'admit')
      await send('/normal', 'queue')
      await send('/sheddable', 'queue')
      await send('/sheddable', 'reject') // queue full, nothing lower to evict: queueFull
      const evicted = nextEvent(controller, 'reject')
      await send('/critical', 'queue') // evicts the queued sheddable request
      expect((await evicted).rejection.reason).toBe('evicted')

      // While saturated: the gauges, scraped over HTTP.
      let m = parseExposition((await get(port, '/metrics')).body)
      const api = { controller: 'api' }
      expect(seriesValue(m, 'spillway_requests_in_flight', api)).toBe(2)
      expect(seriesValue(m, 'spillway_limit', api)).toBe(2)
      expect(seriesValue(m, 'spillway_pressure', api)).toBe(0)
      const queued = PRIORITIES.map((priority) =>
        seriesValue(m, 'spillway_requests_queued', { ...api, priority }),
      )
      expect(queued).toEqual([1, 1, 0])
      let o = await sdk.collect()
      expect(pointValue(o, 'spillway.requests.in_flight', api)).toBe(2)
      expect(
        PRIORITIES.map((priority) =>
          pointValue(o, 'spillway.requests.queued', { ...api, priority }),
        ),
      ).toEqual([1, 1, 0])
      expect((await get(port, '/ready')).status).toBe(200)

      gate.open()
      const statuses = (await Promise.all(answers)).map((a) => a.status)
      expect(statuses).toEqual([200, 200, 200, 503, 503, 200])
      await expectDrained(controller)

      m = parseExposition((await get(port, '/metrics')).body)
      o = await sdk.collect()
      const admitted = { critical: 2, normal: 2, sheddable: 0 }
      for (const priority of PRIORITIES) {
        const labels = { ...api, priority }
        expect(seriesValue(m, 'spillway_admitted_total', labels)).toBe(admitted[priority])
        expect(pointValue(o, 'spillway.admitted', labels)).toBe(admitted[priority])
        // Every admission is one queue-wait observation; the queued ones waited for the gate.
        expect(seriesValue(m, 'spillway_queue_wait_seconds_count', labels)).toBe(admitted[priority])
        // OpenTelemetry has no point for a histogram never recorded into.
        const waits = points<Histogram>(o, 'spillway.queue_wait', labels)
        expect(waits.map((p) => p.value.count)).toEqual(
          admitted[priority] === 0 ? [] : [admitted[priority]],
        )
      }
      for (const priority of ['critical', 'normal'] as const) {
        const labels = { ...api, priority }
        // One admitted at once (in the first bucket), one after waiting for the gate (beyond it).
        expect(
          seriesValue(m, 'spillway_queue_wait_seconds_bucket', { ...labels, le: '0.001' }),
        ).toBe(1)
        const sum = seriesValue(m, 'spillway_queue_wait_seconds_sum', labels)
        expect(sum).toBeGreaterThan(0.001)
        expect(pointValue<Histogram>(o, 'spillway.queue_wait', labels).sum).toBeCloseTo(sum, 6)
      }
      const rejections = find(m, 'spillway_rejected_total').filter((s) => s.value > 0)
      expect(
        rejections
          .map((s) => s.labels)
          .sort((a, b) => (a.reason ?? '').localeCompare(b.reason ?? '')),
      ).toEqual([
        { controller: 'api', priority: 'sheddable', reason: 'evicted' },
        { controller: 'api', priority: 'sheddable', reason: 'queueFull' },
      ])
      expect(rejections.map((s) => s.value)).toEqual([1, 1])
      for (const reason of ['evicted', 'queueFull']) {
        expect(pointValue(o, 'spillway.rejected', { ...api, priority: 'sheddable', reason })).toBe(
          1,
        )
      }
      expect(seriesValue(m, 'spillway_released_total', { ...api, outcome: 'success' })).toBe(4)
      expect(pointValue(o, 'spillway.released', { ...api, outcome: 'success' })).toBe(4)
      expect(seriesValue(m, 'spillway_requests_in_flight', api)).toBe(0)
      // Every documented metric is on the scrape, with its type.
      const types = new Map(m.types)
      for (const spec of Object.values(METRICS)) expect(types.get(spec.name)).toBe(spec.type)
      // The controller agrees with what the dashboard shows: scrapes and probes were not counted.
      expect(controller.stats().counters.admitted).toBe(4)
    } finally {
      disposeProm()
      disposeOtel()
      await sdk.shutdown()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
    await expectDrained(controller)
  })
})
