/**
 * `calibrate --url`: the loopback guard, the request it sends, the suggestion's
 * arithmetic, and one short real search against a server of known capacity.
 */
import { execFile } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import {
  calibrateUrl,
  isLoopback,
  resolveUrlTarget,
  suggestConfiguration,
  type UrlStep,
} from '../src/scenarios/calibrate-url.js'
import { DEFAULT_OPTIONS } from '../src/scenarios/common.js'

describe('calibrate --url: the target', () => {
  it('tells loopback addresses from the rest', () => {
    for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', 'api.localhost', '[::1]', '::1']) {
      expect([host, isLoopback(host)]).toEqual([host, true])
    }
    for (const host of [
      '10.0.0.1',
      '192.168.1.2',
      '192.0.2.1',
      'example.com',
      '[::2]',
      '128.0.0.1',
    ]) {
      expect([host, isLoopback(host)]).toEqual([host, false])
    }
  })

  it('refuses a non-loopback URL unless --allow-remote, saying why', () => {
    expect(() => resolveUrlTarget({ url: 'http://192.0.2.1:8080/' })).toThrow(
      /refusing to load 192\.0\.2\.1: .*loopback.*--allow-remote/,
    )
    expect(resolveUrlTarget({ url: 'http://192.0.2.1:8080/x', allowRemote: true })).toMatchObject({
      host: '192.0.2.1',
      port: 8080,
      path: '/x',
    })
    expect(() => resolveUrlTarget({ url: 'https://127.0.0.1/' })).toThrow(/http: URL/)
    expect(() => resolveUrlTarget({ url: '127.0.0.1:3000' })).toThrow(/absolute URL/)
    expect(() => resolveUrlTarget({ url: 'http://127.0.0.1/', headers: ['nocolon'] })).toThrow(
      /Name: value/,
    )
  })

  it('refuses a remote URL from the command line before sending anything', async () => {
    const loadtest = path.resolve(__dirname, '..')
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'calibrate', '--url', 'http://192.0.2.1:9/'],
        { cwd: loadtest, timeout: 30_000 },
        (error, _stdout, stderr) =>
          resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? 1), stderr }),
      )
    })
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/refusing to load 192\.0\.2\.1/)
  }, 40_000)

  it('sends the method, headers and body given, POST by default with a body', () => {
    const target = resolveUrlTarget({
      url: 'http://localhost:3000/orders?x=1',
      headers: ['Authorization: Bearer t', 'Content-Type: application/json'],
      body: '{"a":1}',
    })
    expect(target).toMatchObject({
      host: 'localhost',
      path: '/orders?x=1',
      request: {
        method: 'POST',
        body: '{"a":1}',
        headers: {
          Authorization: 'Bearer t',
          'Content-Type': 'application/json',
          'Content-Length': '7',
        },
      },
    })
  })
})

function step(offered: number, goodput: number, p50: number, p99: number, meanMs: number): UrlStep {
  return { offered, goodput, p50, p99, meanMs, meanActive: null, shed: 0, failed: 0 }
}

describe('calibrate --url: the suggestion', () => {
  it('derives limit from Little’s law, the timeout from the SLO, and a queue that drains within it', () => {
    const steps = [
      step(50, 50, 20, 30, 21),
      step(100, 100, 21, 35, 22),
      step(200, 196, 24, 60, 26),
      step(400, 300, 300, 900, 320),
    ]
    const s = suggestConfiguration(steps, 2, 500)
    // 196/s × 26 ms = 5.1 in flight; × 1.25 → 6.4 → 7.
    expect(s?.limit).toBe(7)
    // 500 ms SLO − 60 ms p99.
    expect(s?.queueTimeoutMs).toBe(440)
    // min(2 × 7, 300/s × 0.44 s = 132).
    expect(s?.queueSize).toBe(14)
    expect(s?.capacity).toBe(300)
    expect(s?.reasoning.join('\n')).toMatch(/Little's law/)
    expect(s?.reasoning.join('\n')).toMatch(/gradient2/)
  })

  it('keeps the queue small when capacity cannot drain it within the timeout', () => {
    const steps = [step(10, 10, 100, 150, 100), step(12, 12, 110, 480, 110)]
    const s = suggestConfiguration(steps, 1, 500)
    // Timeout clamps to 50 ms (SLO − p99 = 20); 12/s × 0.05 s drains 0 → at least 1.
    expect(s).toMatchObject({ queueTimeoutMs: 50, queueSize: 1, limit: 2 })
  })

  it('says so when the server already sheds by itself', () => {
    const steps = [step(50, 40, 20, 30, 21)]
    steps[0] = { ...(steps[0] as UrlStep), shed: 10 }
    expect(suggestConfiguration(steps, 0, 500)?.reasoning.join('\n')).toMatch(/already sheds/)
  })
})

describe('calibrate --url against a server of known capacity', () => {
  it('finds the knee near 40 req/s (2 slots × 50 ms) and sends what it was told', async () => {
    let running = 0
    const waiting: Array<() => void> = []
    const seen = { requests: 0, wrong: 0 }
    const server = http.createServer((req, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString()
      })
      req.on('end', () => {
        seen.requests++
        if (req.method !== 'PUT' || req.headers['x-test'] !== 'yes' || body !== 'hello') {
          seen.wrong++
        }
        const work = (): void => {
          running++
          setTimeout(() => {
            running--
            res.end('ok')
            waiting.shift()?.()
          }, 50)
        }
        if (running < 2) work()
        else waiting.push(work)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      const report = await calibrateUrl(
        // 50 ms per request keeps a busy machine's scheduling noise small beside the latency.
        { ...DEFAULT_OPTIONS, durationSeconds: 1, rate: 200, timeoutMs: 1000 },
        resolveUrlTarget({
          url: `http://127.0.0.1:${port}/work`,
          method: 'PUT',
          headers: ['X-Test: yes'],
          body: 'hello',
        }),
        10,
      )
      expect(seen.requests).toBeGreaterThan(20)
      expect(seen.wrong).toBe(0)
      const rows = report.tables[0]?.rows ?? []
      // The search stops two steps past the knee (10, 13, 16, 20, 24, 31, 38, 48, 60, ...), never up to 200.
      expect(rows.length).toBeLessThan(14)
      const kneeRow = rows.find((r) => r[8] === '← knee')
      expect(kneeRow).toBeDefined()
      const kneeOffered = Number.parseFloat(kneeRow?.[1] ?? '')
      expect(kneeOffered).toBeGreaterThanOrEqual(10)
      expect(kneeOffered).toBeLessThanOrEqual(50)
      const suggested = report.findings.find((f) => f.startsWith('Suggested:'))
      const limit = Number(/limit: (\d+)/.exec(suggested ?? '')?.[1])
      // 2 slots busy at the knee (Little's law) with 25% headroom: a small limit, never dozens.
      expect(limit).toBeGreaterThanOrEqual(1)
      expect(limit).toBeLessThanOrEqual(6)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }, 60_000)
})
