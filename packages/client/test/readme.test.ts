/**
 * The README's "one backpressure loop" example, run for real: an Express 5
 * server behind `shed` that reads the client's deadline and priority headers,
 * and `createClient` calling it. Keep in sync with README.md (only the import
 * names differ: `express5` is the workspace's alias of `express@5`).
 */
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient, interceptors, ThrottledError } from '@spillway/client'
import { shed } from '@spillway/express'
import express from 'express5'
import { Agent, request } from 'undici'

describe('README example', () => {
  it('runs the server and the client as one backpressure loop', async () => {
    // --- server (README: "On the server") ---
    const allowed = new Set(['normal', 'sheddable'])
    const app = express()
    const classified: string[] = []
    const protect = shed({
      limit: 1,
      queue: { size: 0 },
      retryAfter: { minSeconds: 1, maxSeconds: 1 },
      deadlineHeader: 'x-request-timeout-ms',
      priority: (req) => {
        const asked = req.get('x-request-priority')
        const priority = asked !== undefined && allowed.has(asked) ? asked : 'normal'
        classified.push(priority)
        return priority
      },
    })
    app.use(protect)
    let finishHeld: (() => void) | undefined
    app.get('/hold', (_req, res) => {
      finishHeld = () => res.send('held')
    })
    app.get('/items/:id', (req, res) => {
      res.json({ id: req.params.id })
    })
    const server: Server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

    try {
      // --- client (README: "On the caller") ---
      const inventory = createClient({ timeoutMs: 5000 })

      async function getItem(id: string): Promise<unknown> {
        try {
          const response = await inventory(`${base}/items/${id}`, undefined, {
            priority: 'critical',
          })
          if (!response.ok) throw new Error(`inventory answered ${response.status}`)
          return await response.json()
        } catch (error) {
          if (error instanceof ThrottledError) {
            // Failed fast, nothing sent: serve a fallback, tell the user to retry later…
          }
          throw error
        }
      }

      // Fill the server's only slot so the next request is shed with 503 + Retry-After.
      const held = fetch(`${base}/hold`)
      // Until its handler runs, not only until it is admitted: an admission in a late
      // turn of a busy loop reaches the handler a turn later.
      while (finishHeld === undefined) await new Promise((r) => setImmediate(r))
      const item = getItem('42')
      while ((inventory.stats()[base]?.counters.refusals ?? 0) === 0) {
        await new Promise((r) => setImmediate(r))
      }
      finishHeld?.()
      await (await held).text()
      expect(await item).toEqual({ id: '42' })
      expect(inventory.stats()[base]?.counters).toMatchObject({
        attempts: 2,
        retries: 1,
        accepts: 1,
      })
      // The client asked for `critical`; a header alone never grants it.
      expect(classified).not.toContain('critical')

      // --- undici (README: "undici's request, Pool and Agent") ---
      const agent = new Agent().compose(interceptors.spillway(inventory)) as unknown as Agent
      const { statusCode, body } = await request(`${base}/items/42`, {
        dispatcher: agent,
        spillway: { priority: 'critical' },
      } as never)
      expect(statusCode).toBe(200)
      expect(await body.json()).toEqual({ id: '42' })
      await agent.close()
      expect(inventory.stats()[base]?.counters.requests).toBe(2)
      expect(protect.controller.stats()).toMatchObject({ inFlight: 0, queued: 0 })
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
