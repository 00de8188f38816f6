/** Rate-limited warnings for mistakes that are otherwise invisible. */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/express'
import express5 from 'express5'
import { expectDrained, get } from '../contract/support.js'

/** The codes of the SpillwayWarnings emitted (jest's sandboxed `process` never delivers `warning`). */
function warningsSeen(): { codes: string[]; stop(): void } {
  const codes: string[] = []
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((
    _message: string,
    options?: { type?: string; code?: string },
  ) => {
    if (options?.type === 'SpillwayWarning') codes.push(String(options.code))
  }) as never)
  return { codes, stop: () => spy.mockRestore() }
}

/** `process.emitWarning` delivers on the next tick. */
const tick = () => new Promise((resolve) => setImmediate(resolve))

async function serveTwoLayers(inner: Record<string, unknown>) {
  const controller = createAdmissionController({ limit: 2, queue: { size: 0 } })
  const app = express5()
  app.use(shed(controller))
  app.get('/work', shed(controller, inner), (_req, res) => {
    res.send('ok')
  })
  const server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    controller,
    port,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      controller.close()
    },
  }
}

describe('warnings', () => {
  it('warns once, not per request, when one controller guards a request twice', async () => {
    const seen = warningsSeen()
    const app = await serveTwoLayers({ priority: 'critical' })
    try {
      for (let i = 0; i < 3; i++) expect((await get(app.port, '/work')).status).toBe(200)
      await tick()
      expect(seen.codes).toEqual(['SPILLWAY_SAME_CONTROLLER_TWICE'])
      await expectDrained(app.controller)
    } finally {
      seen.stop()
      await app.close()
    }
  })

  it('stays silent with warnings: false', async () => {
    const seen = warningsSeen()
    const app = await serveTwoLayers({ priority: 'critical', warnings: false })
    try {
      expect((await get(app.port, '/work')).status).toBe(200)
      await tick()
      expect(seen.codes).toEqual([])
      await expectDrained(app.controller)
    } finally {
      seen.stop()
      await app.close()
    }
  })

  it('warns once when shed(options) makes a hundred controllers in a short time', async () => {
    const seen = warningsSeen()
    try {
      const made = Array.from({ length: 250 }, () => shed({ limit: 4 }))
      for (const middleware of made) middleware.controller.close()
      await tick()
      expect(seen.codes).toEqual(['SPILLWAY_CONTROLLER_PER_REQUEST'])
    } finally {
      seen.stop()
    }
  })
})
