/**
 * The usage snippet a user pastes from each adapter README runs here, so it
 * cannot rot: it is written to a temporary module (framework imports pointed
 * at the workspace's aliases, the port made ephemeral), loaded, and served.
 */
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { AdmissionController } from '@spillway/core'
import { expectDrained, get } from '../contract/support.js'

const root = path.resolve(__dirname, '../..')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-readme-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

function usageSnippet(pkg: string): string {
  const readme = fs.readFileSync(path.join(root, 'packages', pkg, 'README.md'), 'utf8')
  const usage = readme.slice(readme.indexOf('## Usage'))
  const block = /```ts\n([\s\S]*?)```/.exec(usage)
  if (!block?.[1]) throw new Error(`no ts block under ## Usage in ${pkg}`)
  return block[1]
}

function load<T>(pkg: string, names: string[]): T {
  const code = usageSnippet(pkg)
    .replace("from 'express'", `from ${JSON.stringify(require.resolve('express5'))}`)
    .replace("from 'koa'", `from ${JSON.stringify(require.resolve('koa3'))}`)
    .replace('.listen(3000)', ".listen(0, '127.0.0.1')")
  const file = path.join(dir, `${pkg}.ts`)
  fs.writeFileSync(file, `${code}\nexport { ${names.join(', ')} }\n`)
  return require(file) as T
}

async function serveOnce(listener: http.RequestListener, controller: AdmissionController) {
  const server = http.createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    await get((server.address() as AddressInfo).port, '/')
    await expectDrained(controller)
    expect(controller.stats().counters.admitted).toBe(1)
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    controller.close()
  }
}

describe('README usage snippets', () => {
  it('runs the @spillway/express snippet and admits through its limiter', async () => {
    const { app, limiter } = load<{
      app: http.RequestListener
      limiter: { controller: AdmissionController }
    }>('express', ['app', 'limiter'])
    await serveOnce(app, limiter.controller)
  })

  it('runs the @spillway/koa snippet and admits through its limiter', async () => {
    const { app, limiter } = load<{
      app: { callback(): http.RequestListener }
      limiter: { controller: AdmissionController }
    }>('koa', ['app', 'limiter'])
    await serveOnce(app.callback(), limiter.controller)
  })

  it('runs the @spillway/node snippet and serves through its listener', async () => {
    const { server, listener } = load<{
      server: http.Server
      listener: { controller: AdmissionController }
    }>('node', ['server', 'listener'])
    try {
      if (!server.listening) await new Promise((resolve) => server.once('listening', resolve))
      const reply = await get((server.address() as AddressInfo).port, '/')
      expect(reply).toMatchObject({ status: 200, body: 'hello' })
      await expectDrained(listener.controller)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      listener.controller.close()
    }
  })
})
