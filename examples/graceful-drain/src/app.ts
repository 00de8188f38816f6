import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { readiness, shed } from '@spillway/express'
import { collectMetrics } from '@spillway/prometheus'
import express, { type Express } from 'express'
import { Registry } from 'prom-client'

/** Milliseconds each `/work` request takes (a stand-in for a database call). */
const WORK_MS = Number(process.env.WORK_MS ?? 200)

/**
 * An Express 5 app as production runs it: `/ready` and `/metrics` before
 * `shed()` (never shed, never counted), every other route behind one shared
 * controller of 8 in flight and 16 queued for up to a second.
 */
export function createApp(): { app: Express; controller: AdmissionController } {
  const controller = createAdmissionController({ limit: 8, queue: { size: 16, timeoutMs: 1000 } })
  const registry = new Registry()
  collectMetrics(controller, { registry, name: 'api' })

  const app = express()
  app.get('/ready', readiness(controller))
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics())
  })
  app.use(shed(controller))
  app.get('/work', async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, WORK_MS))
    res.json({ ok: true })
  })
  return { app, controller }
}
