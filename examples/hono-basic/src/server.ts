import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createApp } from './app.js'

// `PORT=0` picks a free port; the URL printed below is the one to use.
const port = Number(process.env.PORT ?? 3000)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  throw new RangeError(`Expected PORT to be an integer from 0 to 65535, got ${process.env.PORT}.`)
}

const { app, controller } = createApp()
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => {
  const { port: bound } = server.address() as AddressInfo
  console.log(`listening on http://127.0.0.1:${bound}`)
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    controller.close()
    server.close()
  })
}
