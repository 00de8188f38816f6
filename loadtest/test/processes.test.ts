import { request } from 'node:http'
import { runningTargetCount, startTarget } from '../src/harness/processes.js'
import { fetchStats } from '../src/harness/sampler.js'
import type { TargetConfig } from '../src/target/config.js'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
    })
    req.once('error', reject)
    req.end()
  })
}

const base: Omit<TargetConfig, 'protection'> = {
  framework: 'express',
  downstream: { slots: 2, serviceMs: 5 },
  cpuMs: 0,
}

describe('target processes', () => {
  it.each(['express', 'koa'] as const)(
    'starts the %s target behind spillway on 127.0.0.1, serves and sheds, and stop() kills exactly its PID',
    async (framework) => {
      const target = await startTarget({
        ...base,
        framework,
        protection: { kind: 'spillway', limit: 1, queue: { size: 0, timeoutMs: 100 } },
      })
      try {
        expect(target.adapter).toBe(`@spillway/${framework} (src)`)
        expect(alive(target.pid)).toBe(true)
        const statuses = await Promise.all(
          Array.from({ length: 6 }, () => get(target.port, '/normal')),
        )
        expect(statuses).toContain(200)
        expect(statuses).toContain(503)
        const stats = await fetchStats(target.port)
        expect(stats.controller?.inFlight).toBe(0)
        expect(stats.controller?.queued).toBe(0)
      } finally {
        await target.stop()
      }
      expect(alive(target.pid)).toBe(false)
      expect(runningTargetCount()).toBe(0)
    },
    30_000,
  )

  it('rejects with the reason when a target cannot start, leaving no process behind', async () => {
    await expect(
      startTarget({
        ...base,
        protection: { kind: 'spillway', limit: -1, queue: { size: 0, timeoutMs: 100 } },
      }),
    ).rejects.toThrow(/target failed: .*limit/)
    expect(runningTargetCount()).toBe(0)
  }, 30_000)

  it('counts a handler run whose client left as wasted work', async () => {
    const target = await startTarget({
      ...base,
      downstream: { slots: 1, serviceMs: 200 },
      protection: { kind: 'none' },
    })
    try {
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port: target.port, path: '/normal', agent: false })
        req.once('error', () => resolve())
        req.end()
        setTimeout(() => {
          req.destroy()
          resolve()
        }, 50)
      })
      let stats = await fetchStats(target.port)
      for (let i = 0; i < 50 && stats.completed === 0; i++) {
        await new Promise((r) => setTimeout(r, 20))
        stats = await fetchStats(target.port)
      }
      expect(stats.completed).toBe(1)
      expect(stats.wasted).toBe(1)
    } finally {
      await target.stop()
    }
  }, 30_000)
})
