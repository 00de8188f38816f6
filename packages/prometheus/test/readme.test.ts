/**
 * The README's usage snippet runs here against a real socket, so what a user
 * pastes cannot rot: `/metrics` shows the controller, `/ready` answers, the
 * guarded route is counted and the probes are not.
 */
import fs from 'node:fs'
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { AdmissionController } from '@spillway/core'
import { expectDrained, get } from '../../../test/contract/support.js'
import { parseExposition, seriesValue } from './exposition.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-prometheus-readme-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

function snippet(): string {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8')
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Usage')))
  if (!block?.[1]) throw new Error('no ts block under "## Usage" in the README')
  return block[1]
}

it('serves the README usage snippet: metrics, readiness and a guarded route', async () => {
  const code = snippet()
    .replace("from 'express'", `from ${JSON.stringify(require.resolve('express5'))}`)
    .replace("from 'prom-client'", `from ${JSON.stringify(require.resolve('prom-client'))}`)
    .replace('app.listen(3000)', "const server = app.listen(0, '127.0.0.1')")
  const file = path.join(dir, 'readme.ts')
  fs.writeFileSync(file, `${code}\nexport { controller, server, stopMetrics }\n`)
  const { controller, server, stopMetrics } = require(file) as {
    controller: AdmissionController
    server: http.Server
    stopMetrics: () => void
  }
  try {
    if (!server.listening) await new Promise((resolve) => server.once('listening', resolve))
    const { port } = server.address() as AddressInfo
    expect(await get(port, '/hello')).toMatchObject({ status: 200, body: 'hello' })
    expect(JSON.parse((await get(port, '/ready')).body)).toMatchObject({ status: 'ok', limit: 64 })
    const m = parseExposition((await get(port, '/metrics')).body)
    expect(seriesValue(m, 'spillway_limit', { controller: 'api' })).toBe(64)
    expect(
      seriesValue(m, 'spillway_admitted_total', { controller: 'api', priority: 'normal' }),
    ).toBe(1)
    await expectDrained(controller)
  } finally {
    stopMetrics()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    controller.close()
  }
})
