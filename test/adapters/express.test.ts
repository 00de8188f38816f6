import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/express'
import express4 from 'express4'
import express5 from 'express5'
import { expectDrained, get, latch, nextEvent } from '../contract/support.js'

async function listen(
  app: http.RequestListener,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

function thrown(fn: () => unknown): Error & { code?: string; option?: string } {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}

describe('@spillway/express', () => {
  it('works with no options at all, with the core defaults', () => {
    const middleware = shed()
    expect(middleware.controller.stats()).toMatchObject({ limit: 100, inFlight: 0 })
    middleware.controller.close()
  })

  it('rejects an unknown option at construction with a did-you-mean', () => {
    const error = thrown(() => shed({ limit: 5, skipp: () => true } as never))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.code).toBe('ERR_SPILLWAY_INVALID_OPTION')
    expect(error.option).toBe('skipp')
    expect(error.message).toMatch(
      /^Unknown option `skipp`\. Did you mean `skip`\? Allowed: `limit`, /,
    )
  })

  it('rejects a bad route option next to a shared controller', () => {
    const controller = createAdmissionController({ limit: 1 })
    expect(thrown(() => shed(controller, { key: 'tenant' } as never)).message).toBe(
      'Expected `key` to be a function, got `"tenant"` (string).',
    )
    controller.close()
  })

  it('releases the permit as a failure when an Express 5 async handler rejects', async () => {
    const app = express5()
    const middleware = shed({ limit: 1, queue: { size: 0 } })
    app.get('/', middleware, async () => {
      await Promise.resolve()
      throw new Error('async failure')
    })
    const server = await listen(app)
    try {
      expect((await get(server.port, '/')).status).toBe(500)
      await expectDrained(middleware.controller)
      expect(middleware.controller.stats().counters.released.failure).toBe(1)
    } finally {
      await server.close()
      middleware.controller.close()
    }
  })

  it('hands onRejected the Express request and response', async () => {
    const app = express4()
    const hold = latch()
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    app.get('/hold', shed(controller), (_req, res) => {
      hold.promise.then(() => res.send('held'))
    })
    app.get(
      '/busy',
      shed(controller, {
        onRejected: (req, res, rejection) => {
          res.status(rejection.status).json({ path: req.path, reason: rejection.reason })
        },
      }),
      (_req, res) => res.send('served'),
    )
    const server = await listen(app)
    try {
      const admitted = nextEvent(controller, 'admit')
      const first = get(server.port, '/hold')
      await admitted
      const busy = await get(server.port, '/busy')
      expect(busy.status).toBe(503)
      expect(JSON.parse(busy.body)).toEqual({ path: '/busy', reason: 'queueFull' })
      hold.open()
      expect((await first).body).toBe('held')
      await expectDrained(controller)
    } finally {
      await server.close()
      controller.close()
    }
  })
})
