import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdmissionController } from '@spillway/core'
import { shed } from '@spillway/node'

async function serve(listener: http.RequestListener) {
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

function get(port: number): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        res.on('error', (error) =>
          resolve({ status: res.statusCode ?? 0, body, error: error.message }),
        )
      })
      .on('error', (error) => resolve({ status: 0, body: '', error: error.message }))
  })
}

async function drained(controller: ReturnType<typeof createAdmissionController>): Promise<void> {
  for (let i = 0; i < 200 && controller.stats().inFlight + controller.stats().queued > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
}

describe('shed for node:http', () => {
  it('answers 500 and reports when the handler returns a rejected promise', async () => {
    const listener = shed({ limit: 1, queue: { size: 0 } }, async () => {
      await Promise.resolve()
      throw new Error('async failure')
    })
    const sources: string[] = []
    listener.controller.on((e) => {
      if (e.type === 'error') sources.push(e.source)
    })
    const server = await serve(listener)
    try {
      expect(await get(server.port)).toMatchObject({ status: 500, body: 'Internal Server Error' })
      await drained(listener.controller)
      expect(sources).toEqual(['handler'])
      expect(listener.controller.stats().counters.released.failure).toBe(1)
    } finally {
      await server.close()
      listener.controller.close()
    }
  })

  it('destroys the response and frees the slot when the handler throws after sending headers', async () => {
    const listener = shed({ limit: 1, queue: { size: 0 } }, (_req, res) => {
      res.writeHead(200)
      res.write('partial')
      throw new Error('midway')
    })
    const server = await serve(listener)
    try {
      const reply = await get(server.port)
      expect(reply.error).toBeDefined()
      await drained(listener.controller)
      expect(listener.controller.stats().counters.released.ignore).toBe(1)
    } finally {
      await server.close()
      listener.controller.close()
    }
  })

  it('takes route options between a shared controller and the handler', async () => {
    const controller = createAdmissionController({ limit: 1, queue: { size: 0 } })
    const priorities: string[] = []
    controller.on((e) => {
      if (e.type === 'admit') priorities.push(e.priority)
    })
    const listener = shed(controller, { priority: 'critical' }, (_req, res) => res.end('ok'))
    expect(listener.controller).toBe(controller)
    const server = await serve(listener)
    try {
      expect(await get(server.port)).toMatchObject({ status: 200, body: 'ok' })
      await drained(controller)
      expect(priorities).toEqual(['critical'])
    } finally {
      await server.close()
      controller.close()
    }
  })

  it('refuses a missing handler at construction', () => {
    expect(() => shed({ limit: 1 }, undefined as never)).toThrow(
      'Expected `handler` to be a function, got `undefined`.',
    )
  })

  it('answers 500 instead of crashing when admission itself throws', async () => {
    let failing = false
    // A clock that fails: the controller cannot decide at all.
    const now = (): number => {
      if (failing) throw new Error('clock broke')
      return Date.now()
    }
    const listener = shed({ limit: 1, queue: { size: 0 }, now }, (_req, res) => res.end('ok'))
    const sources: string[] = []
    listener.controller.on((e) => {
      if (e.type === 'error') sources.push(e.source)
    })
    const server = await serve(listener)
    try {
      failing = true
      const reply = await get(server.port)
      failing = false
      expect(reply.status).toBe(500)
      expect(sources).toEqual(['admit'])
      await drained(listener.controller)
    } finally {
      await server.close()
      listener.controller.close()
    }
  })
})
