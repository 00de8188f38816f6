/**
 * A `.pipe()`d body whose source fails: `pipe` unpipes and leaves the
 * response open, so without a guard its permit would be held until the client
 * gives up. The response is ended (500 before headers, destroyed after) and the
 * permit released as a failure.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { shed as shedExpress } from '@spillway/express'
import { shed as shedNode } from '@spillway/node'
import express4 from 'express4'
import express5 from 'express5'
import { errorsOf, expectDrained, latch, nextEvent } from '../contract/support.js'

/** A server whose handler pipes `body`, then calls `piped`. */
type Build = (
  controller: AdmissionController,
  body: PassThrough,
  piped: () => void,
) => http.RequestListener

const servers: [string, Build][] = [
  [
    'node:http',
    (controller, body, piped) =>
      shedNode(controller, (_req, res) => {
        body.pipe(res)
        piped()
      }),
  ],
  ...(
    [
      ['Express 4', express4],
      ['Express 5', express5],
    ] as [string, typeof express5][]
  ).map(([name, express]): [string, Build] => [
    name,
    (controller, body, piped) => {
      const app = express()
      app.get('/', shedExpress(controller), (_req, res) => {
        res.type('text/plain')
        body.pipe(res)
        piped()
      })
      return app
    },
  ]),
]

/** Requests `/` and resolves with the status, what arrived, and whether the response was cut. */
function fetch(port: number, onResponse: () => void) {
  return new Promise<{ status: number; text: string; cut: boolean }>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        onResponse()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, cut: false }))
      res.on('error', () => resolve({ status: res.statusCode ?? 0, text, cut: true }))
    })
    req.on('error', () => resolve({ status: 0, text: '', cut: true }))
  })
}

describe.each(servers)('%s', (_name, build) => {
  async function start(controller: AdmissionController, body: PassThrough, piped = () => {}) {
    const server = http.createServer(build(controller, body, piped))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return {
      port: (server.address() as AddressInfo).port,
      close: () => {
        server.closeAllConnections()
        return new Promise<void>((resolve) => server.close(() => resolve()))
      },
    }
  }

  it('ends the response and releases as failure when the piped source fails midway', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const reported = errorsOf(controller)
    const body = new PassThrough()
    const server = await start(controller, body)
    try {
      const admitted = nextEvent(controller, 'admit')
      const released = nextEvent(controller, 'release')
      const reply = fetch(server.port, () => body.destroy(new Error('upstream failed')))
      await admitted
      body.write('first ')
      expect(await reply).toMatchObject({ text: 'first ', cut: true })
      expect((await released).outcome).toBe('failure')
      await expectDrained(controller)
      expect(reported.map((e) => e.source)).toEqual(['body'])
    } finally {
      await server.close()
      controller.close()
    }
  })

  it('answers 500 and releases as failure when the piped source fails before its first byte', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const body = new PassThrough()
    const piped = latch()
    const server = await start(controller, body, piped.open)
    try {
      const released = nextEvent(controller, 'release')
      const reply = fetch(server.port, () => {})
      // The handler, not only the admission: one admitted in a late turn of a busy
      // loop starts a turn later, and a source failing before it is piped has no listener.
      await piped.promise
      body.destroy(new Error('upstream failed'))
      expect(await reply).toMatchObject({ status: 500, cut: false })
      expect((await released).outcome).toBe('failure')
      await expectDrained(controller)
    } finally {
      await server.close()
      controller.close()
    }
  })
})
