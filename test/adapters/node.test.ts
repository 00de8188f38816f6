import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/node'
import { errorsOf, expectDrained, get } from '../contract/support.js'

async function listen(listener: http.RequestListener) {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('@spillway/node shed()', () => {
  let controller: AdmissionController
  afterEach(() => controller.close())

  it('answers 500 and reports the error when the handler returns a thenable that rejects', async () => {
    controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const reported = errorsOf(controller)
    const listener = shed(controller, () => ({
      // Not a native Promise: a thenable from another promise library.
      // biome-ignore lint/suspicious/noThenProperty: the case under test is a thenable.
      then(_resolve: unknown, reject: (error: unknown) => void) {
        setImmediate(() => reject(new Error('thenable failed')))
      },
    }))
    const server = await listen(listener)
    try {
      expect((await get(server.port, '/')).status).toBe(500)
      await expectDrained(controller)
      expect(reported.map((e) => e.source)).toEqual(['handler'])
      expect(controller.stats().counters.released.failure).toBe(1)
    } finally {
      await server.close()
    }
  })

  it('holds the slot until a thenable returned by the handler settles', async () => {
    controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    let callbacks: (() => void)[] = []
    const settle = (): void => {
      for (const callback of callbacks) callback()
      callbacks = []
    }
    const listener = shed(controller, (_req, res) => {
      res.end('answered')
      return {
        // biome-ignore lint/suspicious/noThenProperty: the case under test is a thenable.
        then(resolve?: () => void) {
          if (typeof resolve === 'function') callbacks.push(resolve)
        },
      }
    })
    const server = await listen(listener)
    try {
      expect((await get(server.port, '/')).body).toBe('answered')
      expect((await get(server.port, '/')).status).toBe(503)
      settle()
      await expectDrained(controller)
      expect((await get(server.port, '/')).status).toBe(200)
      settle()
      await expectDrained(controller)
    } finally {
      await server.close()
    }
  })
})
