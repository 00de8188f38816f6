import { createApp } from './app.js'

// `PORT=0` picks a free port; the URL printed below is the one to use.
const port = Number(process.env.PORT ?? 3000)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  throw new RangeError(`Expected PORT to be an integer from 0 to 65535, got ${process.env.PORT}.`)
}

const app = await createApp()
const url = await app.listen({ port, host: '127.0.0.1' })
console.log(`listening on ${url}`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.server.closeAllConnections()
    void app.close()
  })
}
