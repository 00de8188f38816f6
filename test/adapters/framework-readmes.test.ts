/**
 * The usage snippets of the Fastify and Hono READMEs, run as a user would
 * paste them (the Fastify one awaits at top level, so its body is wrapped in
 * an async function after the imports). NestJS's snippet needs decorators:
 * examples/nestjs-basic, run by test/examples, is its runnable twin.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { AdmissionController } from '@spillway/core'
import type { FastifyInstance } from 'fastify'
import type { Hono } from 'hono'
import { expectDrained, get } from '../contract/support.js'

const root = path.resolve(__dirname, '../..')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-framework-readme-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

function usage(pkg: string): { imports: string; body: string } {
  const readme = fs.readFileSync(path.join(root, 'packages', pkg, 'README.md'), 'utf8')
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Usage')))?.[1]
  if (block === undefined) throw new Error(`no ts block under ## Usage in ${pkg}`)
  const lines = block.split('\n')
  // Frameworks resolve from the workspace root; the snippet runs from a temporary folder.
  const imports = lines
    .filter((l) => l.startsWith('import '))
    .join('\n')
    .replace(
      /from '(fastify|hono)'/g,
      (_m, name: string) => `from ${JSON.stringify(require.resolve(name))}`,
    )
  const body = lines.filter((l) => !l.startsWith('import ')).join('\n')
  return { imports, body }
}

function load<T>(pkg: string, returned: string): Promise<T> {
  const { imports, body } = usage(pkg)
  const file = path.join(dir, `${pkg}.ts`)
  fs.writeFileSync(
    file,
    `${imports}\nexport async function run() {\n${body}\nreturn { ${returned} }\n}\n`,
  )
  return (require(file) as { run(): Promise<T> }).run()
}

it('runs the @spillway/fastify snippet: guards /, shows readiness, skips /healthz', async () => {
  const { app } = await load<{ app: FastifyInstance }>('fastify', 'app')
  await app.listen({ port: 0, host: '127.0.0.1' })
  try {
    const address = app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    expect(await get(port, '/')).toMatchObject({ status: 200 })
    expect(await get(port, '/report')).toMatchObject({ status: 200, body: 'report' })
    expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: 'ok' })
    expect(JSON.parse((await get(port, '/ready')).body)).toMatchObject({ status: 'ok' })
    await expectDrained(app.spillway)
    expect(app.spillway.stats().counters.admitted).toBe(2)
  } finally {
    app.server.closeAllConnections()
    await app.close()
    app.spillway.close()
  }
})

it('runs the @spillway/hono snippet: guards /, readiness outside the limiter', async () => {
  const { app, limiter } = await load<{ app: Hono; limiter: { controller: AdmissionController } }>(
    'hono',
    'app, limiter',
  )
  const res = await app.fetch(new Request('http://localhost/'))
  expect(await res.json()).toEqual({ ok: true })
  const ready = await app.fetch(new Request('http://localhost/ready'))
  expect(await ready.json()).toMatchObject({ status: 'ok' })
  await expectDrained(limiter.controller)
  expect(limiter.controller.stats().counters.admitted).toBe(1)
  limiter.controller.close()
})
