/**
 * The usage snippet at the top of the repository's README runs here, so the
 * first thing a user pastes cannot rot.
 */
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { AdmissionController } from '@spillway/core'
import { expectDrained, get } from '../contract/support.js'

const root = path.resolve(__dirname, '../..')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-root-readme-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

function snippet(): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const usage = readme.slice(readme.indexOf('## Use it'))
  const block = /```ts\n([\s\S]*?)```/.exec(usage)
  if (!block?.[1]) throw new Error('no ts block under "## Use it" in README.md')
  return block[1]
}

function request(port: number, method: string, pathname: string, tenant?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: pathname,
        headers: tenant ? { 'x-tenant': tenant } : {},
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

describe('the README usage snippet', () => {
  it('serves each route through both controllers and leaves them drained', async () => {
    const code = snippet()
      .replace("from 'express'", `from ${JSON.stringify(require.resolve('express5'))}`)
      .replace('app.listen(3000)', "const server = app.listen(0, '127.0.0.1')")
    const file = path.join(dir, 'readme.ts')
    fs.writeFileSync(file, `${code}\nexport { app, controller, limiter, server }\n`)
    const { controller, limiter, server } = require(file) as {
      controller: AdmissionController
      limiter: { controller: AdmissionController }
      server: http.Server
    }
    try {
      if (!server.listening) await new Promise((resolve) => server.once('listening', resolve))
      const { port } = server.address() as AddressInfo
      expect(await request(port, 'POST', '/checkout', 'acme')).toEqual({
        status: 200,
        body: 'paid',
      })
      expect(await request(port, 'GET', '/search', 'acme')).toEqual({
        status: 200,
        body: 'results',
      })
      expect(await request(port, 'GET', '/report')).toEqual({ status: 200, body: 'report' })
      expect((await get(port, '/missing')).status).toBe(404)
      await expectDrained(controller)
      await expectDrained(limiter.controller)
      expect(controller.stats().counters.admitted).toBe(3)
      expect(limiter.controller.stats().counters.admitted).toBe(4)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      controller.close()
      limiter.controller.close()
    }
  })
})
