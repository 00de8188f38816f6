import { type AdmissionController, createAdmissionController } from '@spillway/core'
import { readiness, shed } from '@spillway/express'
import { collectMetrics } from '@spillway/prometheus'
import express, { type Express } from 'express'
import { Registry } from 'prom-client'
import { createPool } from './pool.js'

/** Milliseconds each `/work` request holds a database connection. */
const WORK_MS = Number(process.env.WORK_MS ?? 200)
/** Connections in the (simulated) database pool: capacity is DB_SLOTS / WORK_MS. */
const DB_SLOTS = Number(process.env.DB_SLOTS ?? 8)
/** `DRY_RUN=1`: decide and count (metrics show what would be shed) but let everything through. */
const DRY_RUN = process.env.DRY_RUN === '1'

/**
 * An Express 5 app as production runs it: `/ready` and `/metrics` before
 * `shed()` (never shed, never counted), every other route behind one shared
 * controller of 8 in flight and 16 queued for up to a second.
 */
export function createApp(): { app: Express; controller: AdmissionController } {
  const controller = createAdmissionController({ limit: 8, queue: { size: 16, timeoutMs: 1000 } })
  const registry = new Registry()
  collectMetrics(controller, { registry, name: 'api' })
  const db = createPool(DB_SLOTS)

  const app = express()
  app.get('/ready', readiness(controller))
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics())
  })
  app.use(shed(controller, { dryRun: DRY_RUN }))
  app.get('/work', async (_req, res) => {
    await db.run(() => new Promise((resolve) => setTimeout(resolve, WORK_MS)))
    res.json({ ok: true })
  })
  return { app, controller }
}
