/** The fleet scenario's pure parts: nginx's configuration and log, and the figures. */
import { createLog, TIMEOUT } from '../src/harness/records.js'
import { nginxConfig, parseNginxLog } from '../src/harness/services.js'
import { DEFAULT_OPTIONS } from '../src/scenarios/common.js'
import {
  FLEET_INSTANCES,
  fleetLimit,
  fleetRetryWindowMs,
  fleetSpecs,
  killVerdict,
} from '../src/scenarios/fleet.js'
import {
  type FleetResult,
  instanceFigures,
  type PhaseFigures,
  retryFigures,
  tenantFigures,
  windowFigures,
} from '../src/scenarios/fleet-run.js'

describe('the fleet scenario', () => {
  it('configures nginx on loopback, retrying errors, timeouts and 503s a bounded number of times', () => {
    const config = nginxConfig('/tmp/x', 8080, {
      upstreamPorts: [1001, 1002, 1003],
      tries: 2,
      retryWindowMs: 500,
    })
    expect(config).toContain('listen 127.0.0.1:8080;')
    expect(config).toContain('proxy_next_upstream error timeout http_503;')
    expect(config).toContain('proxy_next_upstream_tries 2;')
    expect(config).toContain('proxy_next_upstream_timeout 500ms;')
    // A 503 is an instance protecting itself: never a reason to take it out of rotation.
    for (const port of [1001, 1002, 1003]) {
      expect(config).toContain(`server 127.0.0.1:${port} max_fails=0;`)
    }
    // One process: its PID is all there is to stop.
    expect(config).toContain('master_process off;')
    expect(config).not.toMatch(/listen (?!127\.0\.0\.1)/)
  })

  it('reads each request’s attempts from the access log', () => {
    const text = [
      '1000.250 0.250 200 200',
      '1000.300 0.000 200 503, 200',
      '1001.000 0.500 503 503, 503',
      '1001.000 0.001 502 502',
      '1002.000 2.000 499 -',
      '',
      '',
    ].join('\n')
    expect(parseNginxLog(text)).toEqual([
      { startMs: 1_000_000, status: 200, attempts: [200] },
      { startMs: 1_000_300, status: 200, attempts: [503, 200] },
      { startMs: 1_000_500, status: 503, attempts: [503, 503] },
      { startMs: 1_000_999, status: 502, attempts: [502] },
      { startMs: 1_000_000, status: 499, attempts: [] },
    ])
  })

  it('tells 503s absorbed by a retry from 503s passed on, and counts dead-instance attempts', () => {
    const figures = retryFigures(
      parseNginxLog(
        ['200 200', '200 503, 200', '429 503, 429', '503 503, 503', '200 502, 200', '502 502, 502']
          .map((line) => `1.000 0.000 ${line}`)
          .join('\n'),
      ),
    )
    expect(figures).toEqual({
      requests: 6,
      attempts: 11,
      instance503: 4,
      absorbed503: 2,
      passed503: 1,
      connectionFailures: 3,
      gatewayErrors: 1,
    })
  })

  it('computes goodput and p99 over a window of send times, and per tenant', () => {
    const log = createLog()
    const add = (sentMs: number, status: number, latencyMs: number, route: number) => {
      log.sentMs.push(sentMs)
      log.status.push(status)
      log.latencyMs.push(latencyMs)
      log.route.push(route)
    }
    add(100, 200, 50, 0)
    add(200, 200, 600, 0) // served, but outside the 500 ms objective
    add(300, 429, 1, 0)
    add(1500, 200, 20, 1)
    add(1600, 503, 2, 1)
    add(1700, TIMEOUT, 2000, 1)
    const first = windowFigures(log, 0, 1000, 500)
    expect(first).toMatchObject({
      sent: 3,
      goodputPerSecond: 1,
      okPerSecond: 2,
      status429: 1,
      p99Ms: 600,
    })
    expect(windowFigures(log, 1000, 2000, 500)).toMatchObject({
      sent: 3,
      goodputPerSecond: 1,
      status503: 1,
      timeouts: 1,
    })
    const tenants = tenantFigures(log, [
      { path: '/normal?tenant=greedy', weight: 1 },
      { path: '/normal?tenant=polite-1', weight: 1 },
    ])
    expect(
      tenants.map((t) => [t.tenant, t.sent, t.ok, t.status429, t.status503, t.timeouts]),
    ).toEqual([
      ['greedy', 3, 2, 1, 0, 0],
      ['polite-1', 3, 1, 0, 1, 1],
    ])
  })

  it('gives each instance the downstream’s slots as its limit unless --limit was given', () => {
    const options = { ...DEFAULT_OPTIONS, slots: 4, serviceMs: 200 }
    expect(fleetLimit(options)).toBe(4)
    expect(fleetLimit({ ...options, limit: 12, limitGiven: true })).toBe(12)
    // CPU-bound targets (--slots 0) have no slots to match.
    expect(fleetLimit({ ...options, slots: 0 })).toBe(DEFAULT_OPTIONS.limit)
    const spec = fleetSpecs(
      options,
      { nginxBinary: '/x/nginx', redisBinary: '/x/redis-server' },
      8000,
      4000,
    ).find((s) => s.label.startsWith('spillway'))
    const protection = spec?.target.protection
    if (protection?.kind !== 'spillway') throw new Error('no spillway spec')
    expect(protection.limit).toBe(4)
    expect(protection.perKey?.limit).toBe(4)
    // Every instance at most once, and never a 503 that already waited out a queue.
    expect(spec?.tries).toBe(FLEET_INSTANCES)
    expect(spec?.retryWindowMs).toBe(125)
    expect(spec?.retryWindowMs).toBeLessThan(options.queueTimeoutMs)
    expect(fleetRetryWindowMs({ ...options, queueTimeoutMs: 0 })).toBe(1)
    // Targets that read no ?tenant= would never apply the greedy tenant's cap.
    expect(() =>
      fleetSpecs(
        { ...options, framework: 'fastify' },
        { nginxBinary: 'n', redisBinary: 'r' },
        1,
        1,
      ),
    ).toThrow(/runs on express or koa.*got --framework fastify/)
  })

  it('averages the live instances’ sampled stats over a phase, skipping unprotected nulls', () => {
    const sample = (tMs: number, inFlight: number | null, queued: number | null) => ({
      tMs,
      rssBytes: 0,
      cpuMicros: 0,
      eventLoopDelayP99Ms: 0,
      active: 0,
      wasted: 0,
      completed: 0,
      downstreamQueued: 2,
      limit: inFlight === null ? null : 4,
      inFlight,
      queued,
      pLimitPending: null,
    })
    const samples = [sample(500, 1, 0), sample(1500, 4, 3), sample(1600, 2, 1), sample(2500, 4, 9)]
    expect(instanceFigures(samples, 1000, 2000)).toEqual({
      samples: 2,
      limit: 4,
      inFlight: 3,
      queued: 2,
      downstreamQueued: 2,
    })
    expect(instanceFigures([sample(10, null, null)], 0, 100)).toMatchObject({
      samples: 1,
      limit: null,
      inFlight: null,
    })
  })

  it('judges the kill: the after-kill share of the capacity left within 10 points of the before-kill share', () => {
    const phase = (goodputPerSecond: number, capacityPerSecond: number) =>
      ({
        goodputPerSecond,
        capacityPerSecond,
        goodputOfCapacity: goodputPerSecond / capacityPerSecond,
      }) as PhaseFigures
    const result = (before: PhaseFigures, after: PhaseFigures | null) =>
      ({ run: { label: 'spillway fleet' }, before, after }) as FleetResult
    // 90% before, 85% of the remaining two thirds after: held.
    expect(killVerdict(result(phase(54, 60), phase(34, 40)))).toMatch(/: held/)
    // The quiet-machine run before the fix: 63% before, 3% after.
    expect(killVerdict(result(phase(38, 60), phase(1.1, 40)))).toMatch(/NOT held/)
    // Better after than before (idle capacity before the kill): held.
    expect(killVerdict(result(phase(45, 60), phase(38, 40)))).toMatch(/: held/)
    // Nothing before the kill (the unprotected fleet): not a success.
    expect(killVerdict(result(phase(0, 60), phase(0, 40)))).toMatch(/not judged, collapsed/)
    expect(killVerdict(result(phase(45, 60), null))).toBe('No instance was killed.')
  })
})
