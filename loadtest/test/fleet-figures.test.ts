/** The fleet scenario's pure parts: nginx's configuration and log, and the figures. */
import { createLog, TIMEOUT } from '../src/harness/records.js'
import { nginxConfig, parseNginxLog } from '../src/harness/services.js'
import { retryFigures, tenantFigures, windowFigures } from '../src/scenarios/fleet-run.js'

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
    expect(parseNginxLog('200 200\n200 503, 200\n503 503, 503\n502 502\n499 -\n\n')).toEqual([
      { status: 200, attempts: [200] },
      { status: 200, attempts: [503, 200] },
      { status: 503, attempts: [503, 503] },
      { status: 502, attempts: [502] },
      { status: 499, attempts: [] },
    ])
  })

  it('tells 503s absorbed by a retry from 503s passed on, and counts dead-instance attempts', () => {
    const figures = retryFigures(
      parseNginxLog(
        '200 200\n200 503, 200\n429 503, 429\n503 503, 503\n200 502, 200\n502 502, 502\n',
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
})
