import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdmissionController } from '@spillway/core'
import { installEarlyGate } from '@spillway/node'

function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      .on('error', reject)
  })
}

/** A server whose own listener (standing for a framework) counts the requests it sees. */
async function frameworkServer(respond: (res: http.ServerResponse) => void) {
  const seen: string[] = []
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '')
    respond(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    server,
    seen,
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function drained(controller: ReturnType<typeof createAdmissionController>): Promise<void> {
  for (let i = 0; i < 200 && controller.stats().inFlight + controller.stats().queued > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
}

describe('installEarlyGate', () => {
  it("answers a shed request before the server's own listener runs, and admits the rest through it", async () => {
    const held: http.ServerResponse[] = []
    const app = await frameworkServer((res) => held.push(res))
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    installEarlyGate(app.server, controller, {
      priority: (req) => (req.url === '/report' ? 'sheddable' : 'normal'),
    })
    try {
      const first = get(app.port, '/checkout')
      while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 2))
      const second = await get(app.port, '/report')
      expect(second.status).toBe(503)
      expect(JSON.parse(second.body)).toMatchObject({ reason: 'queueFull' })
      // The framework saw only the admitted request.
      expect(app.seen).toEqual(['/checkout'])
      held[0]?.end('done')
      expect(await first).toEqual({ status: 200, body: 'done' })
      await drained(controller)
    } finally {
      await app.close()
    }
  })

  it('makes its own controller from options, and uninstall puts the listeners back', async () => {
    const app = await frameworkServer((res) => res.end('ok'))
    const gate = installEarlyGate(app.server, {
      limit: 1,
      pressure: { level: 1 },
    })
    try {
      // Pressure refuses only while something runs.
      const running = gate.controller.tryAcquire()
      expect((await get(app.port)).status).toBe(503)
      expect(app.seen).toEqual([])
      expect(gate.controller.stats().counters.rejected.overloaded).toBe(1)
      running?.release()
      gate.uninstall()
      gate.uninstall()
      expect(app.server.listenerCount('request')).toBe(1)
      expect(await get(app.port)).toEqual({ status: 200, body: 'ok' })
      expect(app.seen).toEqual(['/'])
      await drained(gate.controller)
    } finally {
      await app.close()
    }
  })

  it('rejects invalid options without touching the server', async () => {
    const app = await frameworkServer((res) => res.end('ok'))
    try {
      expect(() => installEarlyGate(app.server, { limit: 0 })).toThrow(
        expect.objectContaining({ code: 'ERR_SPILLWAY_INVALID_OPTION', option: 'limit' }),
      )
      expect(app.server.listenerCount('request')).toBe(1)
      expect(await get(app.port)).toEqual({ status: 200, body: 'ok' })
    } finally {
      await app.close()
    }
  })
})
